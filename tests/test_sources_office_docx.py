"""The ``office`` importer on Word documents: one ``document`` node with the text as Markdown
(headings, nested lists, emphasis, links, tables), pictures as attachments, core properties,
and an import through the engine. The documents are written here with python-docx."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.exceptions import PythonDocxError
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Inches
from docx.text.paragraph import Paragraph
from markdown_it import MarkdownIt

from isometry import api
from isometry.etl.states import State
from isometry.model import JSON, node_row
from isometry.sources.base import Draft, Item, Options, Rejected, attachment_link
from isometry.sources.office import OfficeImporter
from isometry.vcs.repository import Repository
from openers import DirectOpener

IMPORTER = OfficeImporter()
NO_OPTIONS = Options()


OPENER = DirectOpener()


def read(path: Path, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, OPENER, NO_OPTIONS, cursor))


def draft_of(path: Path) -> Draft:
    (item, _), *_ = read(path)
    assert isinstance(item, Draft)
    return item


def png(red: int, green: int, blue: int) -> bytes:
    """A real 1x1 PNG (python-docx reads the picture's header for its size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, green, blue]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


RED, BLUE = png(255, 0, 0), png(0, 0, 255)
W = nsdecls("w")
MULTILEVEL = f"""
<w:abstractNum {W} w:abstractNumId="90">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="bullet"/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="3"/><w:numFmt w:val="decimal"/></w:lvl>
  <w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="bullet"/></w:lvl>
</w:abstractNum>"""
MULTILEVEL_NUM = f'<w:num {W} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'


def numbered(paragraph: Paragraph, num_id: int, level: int) -> None:
    paragraph._p.get_or_add_pPr().append(
        parse_xml(f'<w:numPr {W}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>')
    )


def add_link(paragraph: Paragraph, text: str, url: str) -> None:
    rid = paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True)
    paragraph._p.append(parse_xml(
        f'<w:hyperlink {nsdecls("w", "r")} r:id="{rid}"><w:r><w:t>{text}</w:t></w:r></w:hyperlink>'
    ))  # fmt: skip


def make_document(path: Path, *, title: str | None = "Trip plan") -> Path:
    document = docx.Document()
    core = document.core_properties
    if title is not None:
        core.title = title
    core.author = "Ann"
    core.keywords = "travel, 2024"
    core.subject = "Summer"
    core.created = datetime(2024, 3, 1, 10, 0)
    core.modified = datetime(2024, 3, 2, 11, 30)
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(MULTILEVEL))
    numbering.append(parse_xml(MULTILEVEL_NUM))

    document.add_paragraph("Summer in Lisbon", style="Title")
    document.add_heading("Before we go", level=1)
    intro = document.add_paragraph("We need ")
    intro.add_run("passports").bold = True
    intro.add_run(", ")
    intro.add_run("sun cream").italic = True
    intro.add_run(", ")
    intro.add_run("maps").underline = True
    intro.add_run(" and no ")
    intro.add_run("umbrella").font.strike = True
    intro.add_run(". Prices * 2 [approx]; see ")
    add_link(intro, "the guide", "https://example.org/lisbon?x=1")
    intro.add_run(".")
    for text, level in (("Documents", 0), ("Passport", 1), ("Visa", 1), ("Copies", 2),
                        ("Money", 0), ("Cards", 1)):  # fmt: skip
        numbered(document.add_paragraph(text), 90, level)
    document.add_heading("Packing", level=2)
    document.add_paragraph("Shirts", style="List Bullet")
    document.add_paragraph("Blue one", style="List Bullet 2")
    document.add_paragraph("Book flights", style="List Number")
    document.add_paragraph("Book hotel", style="List Number")
    document.add_heading("Budget", level=2)
    table = document.add_table(rows=3, cols=3)
    for (row, col), text in {(0, 0): "Item", (0, 1): "Cost", (0, 2): "Who",
                             (1, 0): "Flights | return", (1, 1): "300",
                             (2, 0): "Hotel", (2, 1): "450"}.items():  # fmt: skip
        table.cell(row, col).text = text
    table.cell(1, 2).merge(table.cell(2, 2)).text = "Ann"
    document.add_heading("Pictures", level=2)
    document.add_picture(io.BytesIO(RED), width=Inches(1))
    document.add_picture(io.BytesIO(BLUE), width=Inches(1))
    document.add_paragraph("Same red again:").add_run().add_picture(io.BytesIO(RED))
    document.add_paragraph("Travel light.", style="Quote")
    document.sections[0].header.paragraphs[0].text = "Family plans"
    document.sections[0].footer.paragraphs[0].text = "Page footer"
    run = document.paragraphs[2].runs[0]
    document.add_comment(run, text="Check dates", author="Bo", initials="B")
    document.save(str(path))
    return path


EXPECTED = """\
# Summer in Lisbon

# Before we go

We need **passports**, *sun cream*, <u>maps</u> and no ~~umbrella~~. Prices \\* 2 \\[approx\\]; \
see [the guide](https://example.org/lisbon?x=1).

- Documents

  3. Passport
  4. Visa
     - Copies
- Money

  3. Cards

## Packing

- Shirts
  - Blue one
1. Book flights
2. Book hotel

## Budget

| Item | Cost | Who |
|---|---|---|
| Flights \\| return | 300 | Ann |
| Hotel | 450 |   |

## Pictures

![image1.png](attachment:{red})

![image2.png](attachment:{blue})

Same red again:![image1.png](attachment:{red})

> Travel light.
"""


@pytest.fixture
def document(tmp_path: Path) -> Path:
    return make_document(tmp_path / "trip.docx")


def test_a_document_is_one_node_with_its_text_as_markdown(document: Path) -> None:
    draft = draft_of(document)
    red, blue = hashlib.sha256(RED).hexdigest(), hashlib.sha256(BLUE).hexdigest()
    assert draft.node["content"] == EXPECTED.format(red=red, blue=blue)
    assert draft.node["node_type"] == "document"
    assert draft.node["name"] == "Trip plan"
    assert draft.node["source_id"] == str(document.resolve())
    assert draft.node["created_at"] == "2024-03-01T10:00:00Z"
    assert draft.node["modified_at"] == "2024-03-02T11:30:00Z"
    assert draft.node["tags"] == ["travel", "2024"]
    props = draft.node["properties"]
    assert isinstance(props, dict)
    assert (props["author"], props["subject"], props["file"]) == ("Ann", "Summer", "trip.docx")
    assert props["headers"] == ["Family plans"]
    assert props["footers"] == ["Page footer"]
    assert props["comments"] == [{"author": "Bo", "initials": "B", "text": "Check dates",
                                  "date": props["comments"][0]["date"]}]  # fmt: skip
    assert draft.locator.record == "word/document.xml"
    assert draft.source_hash == hashlib.sha256(document.read_bytes()).hexdigest()
    assert node_row(draft.node)["name"] == "Trip plan"


def test_pictures_are_attachments_stored_once_each(document: Path) -> None:
    draft = draft_of(document)
    assert [(a.filename, a.mime_type, a.role) for a in draft.attachments] == [
        ("image1.png", "image/png", "inline-image"),
        ("image2.png", "image/png", "inline-image"),
    ]
    assert [a.data for a in draft.attachments] == [RED, BLUE]
    content = str(draft.node["content"])
    assert content.count(attachment_link(hashlib.sha256(RED).hexdigest())) == 2


def test_alt_text_names_a_picture_and_one_that_is_missing_or_linked_is_said_so(
    tmp_path: Path,
) -> None:
    document = docx.Document()
    document.add_picture(io.BytesIO(RED))
    document.add_picture(io.BytesIO(BLUE))
    document.add_picture(io.BytesIO(RED))
    url = "https://example.org/map.png"
    external = document.part.relate_to(url, RT.IMAGE, is_external=True)
    described, missing, _ = document.element.body.iter(qn("wp:docPr"))
    described.set("descr", "A red square")
    missing.set("descr", "Blue")
    blips = list(document.element.body.iter(qn("a:blip")))
    blips[1].set(qn("r:embed"), "rId999")
    del blips[2].attrib[qn("r:embed")]
    blips[2].set(qn("r:link"), external)
    path = tmp_path / "pictures.docx"
    document.save(str(path))
    draft = draft_of(path)
    red = hashlib.sha256(RED).hexdigest()
    assert draft.node["content"] == (
        f"![A red square](attachment:{red})\n\n\\[picture Blue\\]\n\n![]({url})\n"
    )
    assert [a.data for a in draft.attachments] == [RED]
    assert draft.node["properties"]["pictures_missing"] == ["rId999"]


def test_formatting_and_links_the_package_cannot_back_keep_their_text(tmp_path: Path) -> None:
    document = docx.Document()
    paragraph = document.add_paragraph()
    paragraph._p.append(parse_xml(
        f'<w:r {W}><w:rPr><w:u w:val="squiggly"/><w:b/></w:rPr><w:t>odd underline</w:t></w:r>'
    ))  # fmt: skip
    paragraph._p.append(parse_xml(
        f'<w:hyperlink {nsdecls("w", "r")} r:id="rId404"><w:r><w:t> lost link</w:t></w:r>'
        "</w:hyperlink>"
    ))  # fmt: skip
    path = tmp_path / "odd.docx"
    document.save(str(path))
    assert draft_of(path).node["content"] == "**odd underline** lost link\n"


def test_a_document_python_docx_cannot_convert_is_rejected_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from isometry.sources.office import document as module

    def broken(*args: object) -> None:
        raise PythonDocxError("no such style")

    monkeypatch.setattr(module, "_draft", broken)
    path = make_document(tmp_path / "trip.docx")
    ((item, cursor),) = read(path)
    assert isinstance(item, Rejected)
    assert item.reason == "trip.docx: word/document.xml cannot be read: no such style"
    assert (item.locator.record, cursor) == ("word/document.xml", {"records": 1})


def test_the_markdown_reads_back_as_the_structure_of_the_document(document: Path) -> None:
    tokens = (
        MarkdownIt("commonmark")
        .enable("table")
        .enable("strikethrough")
        .parse(str(draft_of(document).node["content"]))
    )
    kinds = [t.type for t in tokens if t.nesting == 1]
    assert kinds.count("heading_open") == 5
    assert kinds.count("table_open") == 1
    assert kinds.count("blockquote_open") == 1
    nesting = [t.level for t in tokens if t.type == "list_item_open"]
    assert nesting[:6] == [1, 3, 3, 5, 1, 3]  # Documents > Passport, Visa > Copies; Money > Cards
    inline = next(t for t in tokens if t.type == "inline" and t.content.startswith("We need"))
    assert inline.children is not None
    kinds = [c.type for c in inline.children]
    for kind in ("strong_open", "em_open", "s_open", "link_open"):
        assert kind in kinds
    text = "".join(c.content for c in inline.children if c.type == "text")
    assert "Prices * 2 [approx]" in text  # escaped characters read back as themselves


def test_the_name_falls_back_to_the_first_heading_then_the_file_name(tmp_path: Path) -> None:
    untitled = make_document(tmp_path / "untitled.docx", title=None)
    assert draft_of(untitled).node["name"] == "Summer in Lisbon"
    bare = docx.Document()
    bare.core_properties.title = ""
    bare.add_paragraph("just text")
    bare.save(str(tmp_path / "notes-2024.docx"))
    assert draft_of(tmp_path / "notes-2024.docx").node["name"] == "notes-2024"


def test_tracked_changes_controls_and_equations_read_as_the_text_now_reads(tmp_path: Path) -> None:
    document = docx.Document()
    paragraph = document.add_paragraph("Meet at ")
    paragraph._p.append(parse_xml(
        f'<w:del {W} w:id="1" w:author="Bo"><w:r><w:delText>noon</w:delText></w:r></w:del>'
    ))  # fmt: skip
    paragraph._p.append(parse_xml(
        f'<w:ins {W} w:id="2" w:author="Bo"><w:r><w:t>one o\'clock</w:t></w:r></w:ins>'
    ))  # fmt: skip
    paragraph._p.append(parse_xml(
        f'<m:oMath {nsdecls("m")}><m:r><m:t> (x+1)</m:t></m:r></m:oMath>'
    ))  # fmt: skip
    control = parse_xml(
        f"<w:sdt {W}><w:sdtContent><w:p><w:r><w:t>Inside a control</w:t></w:r></w:p>"
        "</w:sdtContent></w:sdt>"
    )
    document.element.body.insert(1, control)
    path = tmp_path / "tracked.docx"
    document.save(str(path))
    assert draft_of(path).node["content"] == "Meet at one o'clock (x+1)\n\nInside a control\n"


def test_text_that_looks_like_markdown_stays_text(tmp_path: Path) -> None:
    document = docx.Document()
    for text in ("# not a heading", "- not an item", "1. not a number", "snake_case_name",
                 "_under_ and `tick`", "a\nb"):  # fmt: skip
        document.add_paragraph(text)
    path = tmp_path / "plain.docx"
    document.save(str(path))
    content = str(draft_of(path).node["content"])
    assert content == (
        "\\# not a heading\n\n\\- not an item\n\n1\\. not a number\n\nsnake_case_name\n\n"
        "\\_under\\_ and \\`tick\\`\n\na\\\nb\n"
    )
    rendered = MarkdownIt("commonmark").render(content)
    assert "<h1>" not in rendered
    assert "<li>" not in rendered
    assert "<em>" not in rendered


def test_resume_after_the_document_yields_nothing(document: Path) -> None:
    whole = read(document)
    assert [cursor for _, cursor in whole] == [{"records": 1}]
    assert read(document, {"records": 1}) == []
    assert read(document, None) == whole


def test_scan_is_one_record_with_the_files_fingerprint(document: Path) -> None:
    scan = IMPORTER.scan(document, OPENER, NO_OPTIONS)
    data = document.read_bytes()
    assert (scan.records, scan.size) == (1, len(data))
    assert scan.fingerprint == hashlib.sha256(data).hexdigest()


# -- through the engine ----------------------------------------------------------------------


def test_import_through_the_engine_stores_pictures_and_again_writes_nothing(
    repo: Repository, tmp_path: Path
) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    make_document(folder / "trip.docx")
    make_document(folder / "copy.docx", title="Copy of the plan")
    grants = [f"file-system={folder}"]
    op = api.import_(repo, "bulk-office-import", [folder], author="alice", grants=grants,
                     base=tmp_path)  # fmt: skip
    assert op.state is State.SUCCEEDED
    assert (op.counts["read"], op.counts["inserted"]) == (2, 2)
    nodes: dict[str, Any] = {str(n["name"]): n for n in api.nodes(repo)}
    assert set(nodes) == {"Trip plan", "Copy of the plan"}
    trip = nodes["Trip plan"]
    assert trip["node_type"] == "document"
    assert str(trip["content"]).startswith("# Summer in Lisbon\n")
    stored = api.attachments(repo, str(trip["id"]))
    assert {a["hash"] for a in stored} == {
        hashlib.sha256(RED).hexdigest(),
        hashlib.sha256(BLUE).hexdigest(),
    }
    assert {a["role"] for a in stored} == {"inline-image"}
    assert all(a["mime_type"] == "image/png" for a in stored)
    out = io.BytesIO()
    api.read_blob(repo, hashlib.sha256(RED).hexdigest(), out)
    assert out.getvalue() == RED
    again = api.import_(repo, "bulk-office-import", [folder], author="alice", grants=grants,
                        base=tmp_path)  # fmt: skip
    counts = again.counts
    assert (counts["unchanged"], counts["inserted"], counts["updated"]) == (2, 0, 0)


FOOTNOTES = (
    f"<w:footnotes {nsdecls('w')}>"
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    '<w:footnote w:id="1"><w:p><w:r><w:t>First printed in 1923.</w:t></w:r></w:p></w:footnote>'
    '<w:footnote w:id="2"><w:p><w:r><w:t>See the </w:t></w:r><w:r><w:t>appendix.</w:t></w:r>'
    "</w:p></w:footnote></w:footnotes>"
)


def test_footnotes_are_kept_by_id_and_the_separators_left_out(tmp_path: Path) -> None:
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    document = docx.Document()
    document.add_paragraph("A sentence with a note.")
    part = Part(
        PackURI("/word/footnotes.xml"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml",
        FOOTNOTES.encode(),
        document.part.package,
    )
    document.part.relate_to(part, RT.FOOTNOTES)
    path = tmp_path / "noted.docx"
    document.save(str(path))
    properties = draft_of(path).node["properties"]
    assert isinstance(properties, dict)
    assert properties["footnotes"] == [
        {"id": "1", "text": "First printed in 1923."},
        {"id": "2", "text": "See the appendix."},
    ]
    assert "endnotes" not in properties


def test_parts_the_markdown_cannot_hold_are_counted(tmp_path: Path) -> None:
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    document = docx.Document()
    document.add_paragraph("A spreadsheet is embedded below.")
    embedded = Part(
        PackURI("/word/embeddings/Microsoft_Excel_Worksheet1.xlsx"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        b"PK\x03\x04 an embedded workbook",
        document.part.package,
    )
    document.part.relate_to(embedded, RT.PACKAGE)
    path = tmp_path / "embedding.docx"
    document.save(str(path))
    properties = draft_of(path).node["properties"]
    assert isinstance(properties, dict)
    assert properties["not_imported"] == {"embedded objects": 1}
    plain = tmp_path / "plain.docx"
    docx.Document().save(str(plain))
    plain_properties = draft_of(plain).node["properties"]
    assert isinstance(plain_properties, dict)
    assert "not_imported" not in plain_properties
