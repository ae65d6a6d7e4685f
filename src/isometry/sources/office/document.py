"""Word documents (``.docx``): one ``document`` node per file, its body as Markdown.

Headings come from the paragraph style (``Title`` and ``Heading 1``..``Heading 9``, also
through a style based on one), lists from numbering (see ``lists``), emphasis, links and
pictures from the runs (see ``inline``), tables as Markdown tables (the first row as header;
a merged cell's text once, the cells it covers left empty; a table inside a cell flattened to
lines). Quotes (``Quote``, ``Intense Quote``) become block quotes. Content controls and
tracked insertions are read as text; tracked deletions are not (the document no longer says
them). Footnotes and endnotes are kept, by number, in ``properties``.

The node's name is the title in the core properties, else the first title or heading, else
the file's stem. Core properties give ``created_at``, ``modified_at`` and tags (keywords) and
are kept in ``properties`` (``author``...), with the text of headers, footers and comments.

python-docx reads the whole package into memory: a document is one record, read at once.
The file's SHA-256 is the record's source hash. Cursor ``{"records": 1}`` once it is read.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from zipfile import BadZipFile

import docx
from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.exceptions import PythonDocxError
from docx.opc.exceptions import OpcError
from docx.oxml import parse_xml
from docx.oxml.ns import qn
from docx.styles.style import ParagraphStyle

from isometry.model import JSON
from isometry.sources.base import Draft, Item, Locator, Opener, Options, Rejected, Scan
from isometry.sources.office import markdown
from isometry.sources.office.inline import Images, Inline
from isometry.sources.office.lists import Lists
from isometry.sources.office.package import check_package, count_parts, damaged, measure
from isometry.sources.office.properties import core_fields
from isometry.sources.records import Origin, cursor_position, open_source, sha256_hex

KIND = "Word document"
# What python-docx raises for a package it cannot read: a broken zip, a missing part
# (KeyError), XML it cannot parse (lxml's errors are SyntaxErrors), not a Word file (ValueError).
_LOAD_ERRORS = (
    BadZipFile, KeyError, ValueError, TypeError, SyntaxError, EOFError, zlib.error, OpcError,
)  # fmt: skip

CONVERT_ERRORS = (ValueError, KeyError, TypeError, PythonDocxError)

W_P, W_TBL, W_TR, W_TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
W_SDT, W_SDT_CONTENT, W_CUSTOM_XML = qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")
W_TCPR, W_TRPR, W_GRID_SPAN, W_VMERGE = qn("w:tcPr"), qn("w:trPr"), qn("w:gridSpan"), qn("w:vMerge")
W_GRID_BEFORE, W_VAL = qn("w:gridBefore"), qn("w:val")
_HEADING = re.compile(r"[Hh]eading ([1-9])")
QUOTE_STYLES = frozenset({"Quote", "Intense Quote"})
_TRAILING_BREAKS = re.compile(r"(?:\\\n|\s)+$")
_LEADING_SPACE = re.compile(r"^(?:\\\n|\s)+")


def open_document(path: Path, data: bytes) -> Document:
    try:
        return docx.Document(io.BytesIO(data))
    except _LOAD_ERRORS as error:
        raise damaged(path, KIND, error) from None


def scan_document(path: Path, opener: Opener, options: Options) -> Scan:
    """One record; the file is opened as a document here so one that cannot be is found
    before the import starts (a folder's other files are still imported)."""
    with open_source(path, opener) as stream:
        check_package(path, stream, KIND)
        measured = measure(stream)
        open_document(path, stream.read())
    return Scan(records=1, size=measured.size, fingerprint=measured.fingerprint)


def read_document(
    path: Path, opener: Opener, options: Options, cursor: JSON, origin: Origin
) -> Iterator[tuple[Item, JSON]]:
    (done,) = cursor_position(cursor, ("records",), path)
    if done:
        return
    with open_source(path, opener) as stream:
        check_package(path, stream, KIND)
        data = stream.read()
    document = open_document(path, data)
    try:
        item: Item = _draft(path, origin, document, data)
    except CONVERT_ERRORS as error:
        # python-docx parses attribute values when they are asked for: one it does not know
        # surfaces here, and the document is the record it spoils.
        part = _part_name(document)
        reason = f"{path.name}: {part} cannot be read: {error}".strip()
        item = Rejected(Locator(origin.file, part), "", reason)
    yield item, {"records": 1}


def _draft(path: Path, origin: Origin, document: Document, data: bytes) -> Draft:
    writer = MarkdownWriter(document)
    content = writer.write()
    fields, properties = core_fields(_core(document))
    for name, found in (("headers", _story_texts(document, "header")),
                        ("footers", _story_texts(document, "footer")),
                        ("comments", _comments(document)),
                        ("footnotes", _notes(document, "footnotes")),
                        ("endnotes", _notes(document, "endnotes"))):  # fmt: skip
        if found:
            properties[name] = found
    if writer.images.missing:
        properties["pictures_missing"] = list(writer.images.missing)
    unread = _unread_parts(document)
    if unread:
        properties["not_imported"] = unread
    title = properties.get("title")
    name = title.strip() if isinstance(title, str) else writer.first_heading or path.stem
    node: dict[str, JSON] = {
        "source": origin.source,
        "source_id": origin.file,
        "node_type": "document",
        "name": name,
        **fields,
        "properties": {"file": path.name, **properties},
    }
    if content:
        node["content"] = content
    return Draft(
        node=node,
        locator=Locator(origin.file, _part_name(document)),
        source_hash=sha256_hex(data),
        raw=content,
        attachments=tuple(writer.images.attachments.values()),
    )


def _part_name(document: Document) -> str:
    """The main part's name in the package (``word/document.xml``)."""
    return PurePosixPath(str(document.part.partname)).as_posix().lstrip("/")


def _core(document: Document) -> dict[str, object]:
    core = document.core_properties
    return {
        "title": core.title,
        "subject": core.subject,
        "author": core.author,
        "last_modified_by": core.last_modified_by,
        "description": core.comments,
        "keywords": core.keywords,
        "category": core.category,
        "content_status": core.content_status,
        "identifier": core.identifier,
        "language": core.language,
        "revision": core.revision,
        "version": core.version,
        "created": core.created,
        "modified": core.modified,
        "last_printed": core.last_printed,
    }


def _story_texts(document: Document, kind: str) -> list[JSON]:
    """The distinct texts of the document's headers (or footers), in section order."""
    found: list[JSON] = []
    for section in document.sections:
        for story in (
            getattr(section, kind),
            getattr(section, f"first_page_{kind}"),
            getattr(section, f"even_page_{kind}"),
        ):
            if story.is_linked_to_previous:
                continue
            text = "\n".join(p.text for p in story.paragraphs).strip()
            if text and text not in found:
                found.append(text)
    return found


# Parts of a document the Markdown does not hold, by the prefix of their names in the
# package: counted, so that nothing is left out unsaid.
_UNREAD = (
    ("/word/charts/chart", "charts"),
    ("/word/diagrams/data", "SmartArt diagrams"),
    ("/word/embeddings/", "embedded objects"),
)


def _unread_parts(document: Document) -> dict[str, JSON]:
    return count_parts((str(p.partname) for p in document.part.package.iter_parts()), _UNREAD)


_NOTE_KINDS = {"footnotes": ("w:footnote", "/footnotes"), "endnotes": ("w:endnote", "/endnotes")}


def _notes(document: Document, kind: str) -> list[JSON]:
    """The document's footnotes (or endnotes): id and text, the separators Word keeps
    among them left out. python-docx has no API for them: they are read from their part."""
    tag, reltype = _NOTE_KINDS[kind]
    part = next(
        (rel.target_part for rel in document.part.rels.values()
         if not rel.is_external and rel.reltype.endswith(reltype)),
        None,
    )  # fmt: skip
    if part is None:
        return []
    root = parse_xml(part.blob)
    found: list[JSON] = []
    for note in root.iter(qn(tag)):
        if note.get(qn("w:type")) in ("separator", "continuationSeparator", "continuationNotice"):
            continue
        paragraphs = ["".join(t.text or "" for t in p.iter(qn("w:t"))) for p in note.iter(W_P)]
        text = "\n".join(paragraphs).strip()
        if text:
            found.append({"id": note.get(qn("w:id")), "text": text})
    return found


def _comments(document: Document) -> list[JSON]:
    out: list[JSON] = []
    for comment in document.comments:
        entry: dict[str, JSON] = {"author": comment.author, "text": comment.text}
        if comment.initials:
            entry["initials"] = comment.initials
        if comment.timestamp is not None:
            entry["date"] = comment.timestamp.isoformat()
        out.append(entry)
    return out


class MarkdownWriter:
    """The body of a document as Markdown (see the module docstring)."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.images = Images()
        self.inline = Inline(document.part, self.images)
        self.lists = Lists(document)
        self.first_heading: str | None = None
        self._blocks: list[str] = []
        self._in_list = False
        # The open list's levels: (marker width, numbered) of the last item at each.
        self._levels: list[tuple[int, bool]] = []
        self._styles: dict[str, list[ParagraphStyle]] = {}

    def write(self) -> str:
        for element in blocks(self.document.element.body):
            if element.tag == W_P:
                self._paragraph(element)
            else:
                self._end_list()
                text = self._table(element)
                if text:
                    self._add(text)
        return "".join(self._blocks).strip() + "\n" if self._blocks else ""

    def _add(self, block: str, *, item: bool = False, apart: bool = False) -> None:
        separator = "\n" if item and self._in_list and not apart else "\n\n"
        self._blocks.append((separator if self._blocks else "") + block)
        self._in_list = item

    def _end_list(self) -> None:
        self._in_list = False
        self._levels = []

    def _paragraph(self, element: Any) -> None:
        styles = self._style_chain(element)
        spans = self.inline.spans(element, self.document)
        text = _LEADING_SPACE.sub("", _TRAILING_BREAKS.sub("", markdown.render_spans(spans)))
        if not text:
            return
        level = _heading_level(styles)
        if level is not None:
            self._end_list()
            plain = " ".join("".join(s.text for s in spans if not s.markdown).split())
            if self.first_heading is None and plain:
                self.first_heading = plain
            self._add(markdown.heading(level, text.replace("\\\n", " ")))
            return
        item = self.lists.item(element, styles)
        if item is None:
            self._end_list()
            body = markdown.escape_line_starts(text)
            if any(style.name in QUOTE_STYLES for style in styles):
                body = "\n".join("> " + line for line in body.split("\n"))
            self._add(body)
            return
        numbered = item.number is not None
        marker = f"{item.number}." if numbered else "-"
        above = self._levels[: item.level]
        indent = sum(width for width, _ in above) + 2 * (item.level - len(above))
        # A list numbered from other than 1 cannot interrupt a paragraph in Markdown: where
        # it starts (deeper, or after a bullet) it needs a blank line, else it reads as text.
        starts = len(self._levels) <= item.level or self._levels[item.level][1] != numbered
        apart = numbered and item.number != 1 and starts
        self._levels = [*above, (len(marker) + 1, numbered)]
        body = markdown.escape_line_starts(text)
        body = body.replace("\n", "\n" + " " * (indent + len(marker) + 1))
        self._add(" " * indent + marker + " " + body, item=True, apart=apart)

    def _style_chain(self, element: Any) -> list[ParagraphStyle]:
        """The paragraph's style and the styles it is based on, nearest first."""
        ppr = element.find(qn("w:pPr"))
        ref = ppr.find(qn("w:pStyle")) if ppr is not None else None
        style_id = ref.get(W_VAL) if ref is not None else ""
        chain = self._styles.get(style_id)
        if chain is None:
            chain = []
            style: Any = self.document.part.get_style(style_id or None, WD_STYLE_TYPE.PARAGRAPH)
            while isinstance(style, ParagraphStyle) and style not in chain:
                chain.append(style)
                style = style.base_style
            self._styles[style_id] = chain
        return chain

    def _table(self, table: Any) -> str:
        rows: list[list[str]] = []
        for tr in table.iterchildren(W_TR):
            cells: list[str] = [""] * _grid_before(tr)
            for tc in tr.iterchildren(W_TC):
                tcpr = tc.find(W_TCPR)
                span = _int(_child_val(tcpr, W_GRID_SPAN), 1)
                merge = tcpr.find(W_VMERGE) if tcpr is not None else None
                continued = merge is not None and merge.get(W_VAL) in (None, "continue")
                cells.append("" if continued else self._cell(tc))
                cells.extend([""] * (max(span, 1) - 1))
            rows.append(cells)
        if not rows:
            return ""
        return markdown.table(rows[0], rows[1:])

    def _cell(self, container: Any) -> str:
        """A cell's paragraphs as one line of table Markdown (``<br>`` between them)."""
        lines: list[str] = []
        for element in blocks(container):
            if element.tag == W_P:
                spans = self.inline.spans(element, self.document)
                text = markdown.render_spans(spans, newline="<br>").strip()
                if text:
                    lines.append(text.replace("|", "\\|"))
            else:
                for tr in element.iterchildren(W_TR):
                    texts = [self._cell(tc) for tc in tr.iterchildren(W_TC)]
                    line = " / ".join(t for t in texts if t)
                    if line:
                        lines.append(line)
        return "<br>".join(lines)


def blocks(container: Any) -> Iterator[Any]:
    """The paragraphs and tables of a body or cell, in order, looking into content controls."""
    for child in container:
        tag = child.tag
        if tag in (W_P, W_TBL):
            yield child
        elif tag == W_SDT:
            for content in child.iterchildren(W_SDT_CONTENT):
                yield from blocks(content)
        elif tag == W_CUSTOM_XML:
            yield from blocks(child)


def _heading_level(styles: list[ParagraphStyle]) -> int | None:
    for style in styles:
        name = style.name or ""
        if name == "Title":
            return 1
        match = _HEADING.fullmatch(name)
        if match:
            return int(match.group(1))
    return None


def _grid_before(tr: Any) -> int:
    return _int(_child_val(tr.find(W_TRPR), W_GRID_BEFORE), 0)


def _child_val(parent: Any, tag: str) -> str | None:
    child = parent.find(tag) if parent is not None else None
    return child.get(W_VAL) if child is not None else None


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
