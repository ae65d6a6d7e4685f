"""The ``evernote`` importer on exports written by the tests: damaged files and resources,
hostile XML, resuming, identity across exports, and the corners of ENML."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isometry import api
from isometry.errors import PermissionRefused, SourceError, SourceUnreadable
from isometry.etl.states import State
from isometry.model import JSON
from isometry.sources.base import Draft, Item, Options, Rejected
from isometry.sources.evernote import EvernoteImporter, stream
from isometry.vcs.repository import Repository
from openers import DirectOpener, RefusingOpener

IMPORTER = EvernoteImporter()
NO_OPTIONS = Options()
HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE en-export SYSTEM "http://xml.evernote.com/pub/evernote-export4.dtd">\n'
    '<en-export export-date="20240301T100000Z" application="Evernote" version="10.80.1">\n'
)
ENML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    '<!DOCTYPE en-note SYSTEM "http://xml.evernote.com/pub/enml2.dtd">'
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + bytes(range(200)) + b"\n%%EOF\n"


OPENER = DirectOpener()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def note_xml(
    title: str,
    body: str = "<div>text</div>",
    *,
    created: str = "20240101T120000Z",
    extra: str = "",
    resources: str = "",
) -> str:
    return (
        f"  <note>\n    <title>{title}</title>\n    <created>{created}</created>\n"
        f"    <updated>20240102T120000Z</updated>\n{extra}"
        f"    <content><![CDATA[{ENML}<en-note>{body}</en-note>]]></content>\n"
        f"{resources}  </note>\n"
    )


def resource_xml(
    data: bytes, mime: str, name: str | None = None, *, raw: str | None = None, reco: str = ""
) -> str:
    encoded = raw if raw is not None else base64.encodebytes(data).decode()
    attributes = f"<resource-attributes><file-name>{name}</file-name></resource-attributes>"
    recognition = (
        f'<recognition><![CDATA[<?xml version="1.0"?><recoIndex objID="{reco}"/>]]></recognition>'
        if reco
        else ""
    )
    return (
        f'    <resource><data encoding="base64">{encoded}</data><mime>{mime}</mime>'
        f"{recognition}{attributes if name else ''}</resource>\n"
    )


def media(data: bytes, mime: str) -> str:
    return f'<div><en-media hash="{md5(data)}" type="{mime}"/></div>'


def write(folder: Path, *notes: str, name: str = "Notebook.enex", tail: str = "</en-export>\n",
          header: str = HEADER) -> Path:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(header + "".join(notes) + tail, encoding="utf-8")
    return path


def read(path: Path, cursor: JSON = None, options: Options = NO_OPTIONS) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, OPENER, options, cursor))


def items(path: Path, options: Options = NO_OPTIONS) -> list[Item]:
    return [item for item, _ in read(path, options=options)]


def only(path: Path) -> Draft:
    (item,) = items(path)
    assert isinstance(item, Draft)
    return item


def props(draft: Draft) -> dict[str, JSON]:
    found = draft.node.get("properties", {})
    assert isinstance(found, dict)
    return found


# -- resources -----------------------------------------------------------------------------


def test_a_resource_whose_data_changed_is_listed_not_stored(tmp_path: Path) -> None:
    changed = PNG[:-1] + b"\x00"
    path = write(tmp_path, note_xml(
        "Photo", "<div>before</div>" + media(PNG, "image/png"),
        resources=resource_xml(changed, "image/png", "photo.png"),
    ))  # fmt: skip
    draft = only(path)
    assert draft.attachments == ()
    assert props(draft)["damaged_resources"] == [
        {
            "file_name": "photo.png",
            "mime": "image/png",
            "expected_md5": md5(PNG),
            "actual_md5": md5(changed),
            "reason": "its data's MD5 is not the one the note's text names",
        }
    ]
    assert draft.node["content"] == "before\n\n\\[damaged attachment: photo.png\\]\n"


def test_a_resource_that_is_not_base64_is_damaged_and_the_note_kept(tmp_path: Path) -> None:
    path = write(tmp_path, note_xml(
        "Broken file", media(PDF, "application/pdf"),
        resources=resource_xml(PDF, "application/pdf", "a.pdf", raw="abc"),
    ))  # fmt: skip
    draft = only(path)
    (damaged,) = props(draft)["damaged_resources"]
    assert damaged["file_name"] == "a.pdf"
    assert (damaged["expected_md5"], damaged["actual_md5"]) == (md5(PDF), None)
    assert str(damaged["reason"]).startswith("its data is not valid base64")
    assert draft.attachments == ()
    assert draft.node["content"] == "\\[damaged attachment: a.pdf\\]\n"
    assert "missing_resources" not in props(draft)


def test_a_file_the_text_names_but_the_note_lacks_is_listed_missing(tmp_path: Path) -> None:
    draft = only(write(tmp_path, note_xml("Lost", media(PDF, "application/pdf"))))
    assert props(draft)["missing_resources"] == [md5(PDF)]
    assert draft.node["content"] == f"\\[missing attachment: {md5(PDF)}\\]\n"


def test_a_recognition_index_that_names_another_hash_marks_the_resource(tmp_path: Path) -> None:
    path = write(tmp_path, note_xml(
        "Scan", "<div>no media in the text</div>",
        resources=resource_xml(PNG, "image/png", "scan.png", reco="0" * 32),
    ))  # fmt: skip
    draft = only(path)
    (damaged,) = props(draft)["damaged_resources"]
    assert (damaged["expected_md5"], damaged["actual_md5"]) == ("0" * 32, md5(PNG))
    assert draft.attachments == ()


def test_files_the_text_does_not_show_are_stored_and_listed_at_the_end(tmp_path: Path) -> None:
    path = write(tmp_path, note_xml(
        "Two files", media(PNG, "image/png"),
        resources=resource_xml(PNG, "image/png", reco=md5(PNG))
        + resource_xml(PDF, "application/pdf", "report.pdf"),
    ))  # fmt: skip
    draft = only(path)
    png_sha, pdf_sha = hashlib.sha256(PNG).hexdigest(), hashlib.sha256(PDF).hexdigest()
    assert draft.node["content"] == (
        f"![{md5(PNG)}.png](attachment:{png_sha})\n\n[report.pdf](attachment:{pdf_sha})\n"
    )
    roles = {(a.filename, a.role, a.mime_type) for a in draft.attachments}
    assert roles == {
        (f"{md5(PNG)}.png", "inline-image", "image/png"),
        ("report.pdf", "attachment", "application/pdf"),
    }
    described = props(draft)["resources"]
    assert [r["verified"] for r in described] == [True, False]  # nothing names the PDF
    assert [r["stored"] for r in described] == [True, True]


# -- damaged and hostile files -------------------------------------------------------------


def test_a_note_that_is_not_well_formed_is_one_rejected_record(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        note_xml("First"),
        note_xml("Second", extra="    <bogus>\n"),  # never closed: </note> mismatches
        note_xml("Third"),
    )
    data = path.read_bytes()
    read_items = items(path)
    assert [type(i).__name__ for i in read_items] == ["Draft", "Rejected", "Draft"]
    _, broken, third = read_items
    assert isinstance(broken, Rejected)
    assert broken.locator.record == "note 2: Second"
    assert broken.reason.startswith("note 2: Second: this note is not well-formed XML: mismatched")
    second_start = data.index(b"  <note>", data.index(b"First")) + 2
    assert broken.locator.line == data[:second_start].count(b"\n") + 1
    assert broken.locator.offset == second_start
    assert "<title>Second</title>" in broken.raw
    assert isinstance(third, Draft)
    assert third.node["name"] == "Third"
    assert third.locator.line == data[: data.index(b"<title>Third")].count(b"\n")  # line before
    start, length = third.locator.offset, third.locator.length
    assert start is not None
    assert length is not None
    assert data[start : start + length].startswith(b"<note>")
    assert data[start : start + length].endswith(b"</note>")
    assert IMPORTER.scan(path, OPENER, NO_OPTIONS).records == 3


def test_a_cut_off_file_keeps_every_whole_note(tmp_path: Path) -> None:
    whole = HEADER + note_xml("Kept") + note_xml("Cut")
    path = tmp_path / "cut.enex"
    path.write_text(whole[: whole.index("<content>", whole.index("Cut"))], encoding="utf-8")
    kept, cut = items(path)
    assert isinstance(kept, Draft)
    assert kept.node["name"] == "Kept"
    assert isinstance(cut, Rejected)
    assert "no element found" in cut.reason or "unclosed" in cut.reason
    missing_end = write(tmp_path, note_xml("Alone"), name="open.enex", tail="")
    assert [type(i).__name__ for i in items(missing_end)] == ["Draft"]  # no </en-export>: fine


def test_junk_between_notes_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    path = write(tmp_path, note_xml("One"), "  <<< junk\n", note_xml("Two"))
    one, junk, two = items(path)
    assert isinstance(junk, Rejected)
    assert "this part of the file outside any note is not well-formed XML" in junk.reason
    assert junk.locator.line == path.read_text().splitlines().index("  <<< junk") + 1
    assert isinstance(one, Draft)
    assert isinstance(two, Draft)
    assert two.node["name"] == "Two"


@pytest.mark.parametrize(
    ("doctype", "what"),
    [
        (
            '<!DOCTYPE en-export [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
            "entity expansion",
        ),
        ('<!DOCTYPE en-export [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "external entity"),
    ],
)
def test_entity_attacks_are_refused_naming_the_file(
    tmp_path: Path, doctype: str, what: str
) -> None:
    path = tmp_path / "attack.enex"
    path.write_text(f'<?xml version="1.0"?>\n{doctype}\n<en-export>{note_xml("&b;")}</en-export>\n')
    with pytest.raises(SourceUnreadable, match=r"attack\.enex is refused: .*entities"):
        IMPORTER.scan(path, OPENER, NO_OPTIONS)
    with pytest.raises(SourceUnreadable, match=r"attack\.enex"):
        read(path)


def test_entities_declared_inside_a_notes_text_are_never_expanded(tmp_path: Path) -> None:
    body = '<!DOCTYPE x [<!ENTITY a "lollollol">]><div>&a; stays</div>'
    note = f"  <note><title>T</title><content><![CDATA[{body}]]></content></note>\n"
    path = write(tmp_path, note)
    text = str(only(path).node["content"])
    assert "lollollol" not in text
    assert "stays" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<html><body/></html>", "its root element is <html>, not <en-export>"),
        ("this is not XML", "is not an Evernote export: syntax error"),
        ("", "is not an Evernote export: no element found"),
    ],
)
def test_a_file_that_is_no_export_cannot_be_read(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "other.enex"
    path.write_text(text)
    with pytest.raises(SourceUnreadable, match=message):
        read(path)


def test_a_cursor_from_elsewhere_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, note_xml("A"))
    for cursor in ({"line": 3}, {"note": -1}, {"note": 0, "part": "x"}, [1]):
        with pytest.raises(SourceError, match="is not a cursor"):
            read(path, cursor)


# -- reading in pieces, resuming, identity -------------------------------------------------


def _tasks(count: int, seed: str) -> str:
    return "".join(
        f"    <task><title>Task {seed}{k}</title><taskStatus>open</taskStatus>"
        f"<noteLevelID>{seed}-{k}</noteLevelID></task>\n"
        for k in range(count)
    )


def _mixed_file(folder: Path) -> Path:
    return write(
        folder,
        note_xml("With tasks", extra=_tasks(2, "a")),
        note_xml("Broken", extra="    <oops>\n"),
        note_xml("Photo", media(PNG, "image/png"), resources=resource_xml(PNG, "image/png")),
        note_xml("Photo", media(PNG, "image/png"), resources=resource_xml(PNG, "image/png")),
    )


@pytest.mark.parametrize("chunk", [7, 300])
def test_the_chunk_size_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    path = _mixed_file(tmp_path)
    expected = read(path)
    monkeypatch.setattr(stream, "CHUNK", chunk)
    assert read(path) == expected
    assert IMPORTER.scan(path, OPENER, NO_OPTIONS).fingerprint == (
        hashlib.sha256(path.read_bytes()).hexdigest()
    )


def test_resuming_from_every_cursor_of_a_damaged_file(tmp_path: Path) -> None:
    path = _mixed_file(tmp_path)
    whole = read(path)
    assert [type(i).__name__ for i, _ in whole] == ["Draft"] * 3 + ["Rejected"] + ["Draft"] * 2
    assert IMPORTER.scan(path, OPENER, NO_OPTIONS).records == len(whole)
    for position, (_, cursor) in enumerate(whole):
        assert read(path, cursor) == whole[position + 1 :]


_TITLES = st.sampled_from(["Alpha", "Beta", "Gamma & co", "Ünïcode"])
_NOTES = st.lists(
    st.tuples(_TITLES, st.integers(0, 2), st.booleans(), st.booleans()), min_size=1, max_size=5
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=_NOTES)
def test_resuming_anywhere_equals_reading_straight_through(
    tmp_path_factory: pytest.TempPathFactory, specs: list[tuple[str, int, bool, bool]]
) -> None:
    parts = []
    for position, (title, tasks, broken, with_file) in enumerate(specs):
        escaped = title.replace("&", "&amp;")
        extra = _tasks(tasks, f"n{position}-") + ("    <oops>\n" if broken else "")
        files = resource_xml(PDF, "application/pdf") if with_file else ""
        parts.append(note_xml(escaped, media(PDF, "application/pdf"), extra=extra,
                              resources=files))  # fmt: skip
    path = write(tmp_path_factory.mktemp("enex"), *parts)
    whole = read(path)
    assert IMPORTER.scan(path, OPENER, NO_OPTIONS).records == len(whole)
    for position, (_, cursor) in enumerate(whole):
        assert read(path, cursor) == whole[position + 1 :]


def test_a_note_keeps_its_node_when_others_are_added_or_changed(tmp_path: Path) -> None:
    first = write(tmp_path / "a", note_xml("Kept"), note_xml("Changed"))
    later = write(
        tmp_path / "b",
        note_xml("New", created="20240105T000000Z"),
        note_xml("Kept"),
        note_xml("Changed", "<div>edited</div>"),
    )
    before = {str(d.node["name"]): d for d in items(first) if isinstance(d, Draft)}
    after = {str(d.node["name"]): d for d in items(later) if isinstance(d, Draft)}
    for name in ("Kept", "Changed"):
        assert before[name].node["source_id"] == after[name].node["source_id"]
    assert before["Kept"].source_hash == after["Kept"].source_hash  # nothing to write again
    assert before["Changed"].source_hash != after["Changed"].source_hash


def test_notes_with_the_same_title_and_time_guids_and_notebooks(tmp_path: Path) -> None:
    twins = write(tmp_path, note_xml("Twin"), note_xml("Twin"))
    one, two = (str(d.node["source_id"]) for d in items(twins) if isinstance(d, Draft))
    assert (one[-2:], two[-2:]) == (":1", ":2")
    assert one[:-2] == two[:-2]
    other_book = write(tmp_path, note_xml("Twin"), name="Other notebook.enex")
    assert only(other_book).node["source_id"] != one
    assert only(other_book).node["folder"] == "Other notebook"
    with_guid = write(tmp_path, note_xml("G", extra="    <guid>abc-123</guid>\n"), name="g.enex")
    assert only(with_guid).node["source_id"] == "abc-123"
    assert props(only(with_guid))["guid"] == "abc-123"


def test_notes_in_the_trash_only_with_include_deleted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        note_xml("Live"),
        note_xml("Trashed", extra="    <deleted>20240201T080000Z</deleted>\n"),
    )
    assert [d.node["name"] for d in items(path) if isinstance(d, Draft)] == ["Live"]
    assert IMPORTER.scan(path, OPENER, NO_OPTIONS).records == 1
    wanted = Options({"include_deleted": True})
    trashed = items(path, wanted)[1]
    assert isinstance(trashed, Draft)
    assert trashed.node["deleted_at"] == "2024-02-01T08:00:00Z"
    assert IMPORTER.scan(path, OPENER, wanted).records == 2


# -- ENML corners --------------------------------------------------------------------------


def test_text_that_looks_like_markup_stays_text(tmp_path: Path) -> None:
    body = (
        "<div>&lt;script&gt;alert(1)&lt;/script&gt;</div><div># not a heading</div>"
        "<div>a *star* and [brackets] and snake_case_name and _under_</div>"
    )
    text = str(only(write(tmp_path, note_xml("Escapes", body))).node["content"])
    assert text == (
        "\\<script>alert(1)\\</script>\n\n\\# not a heading\n\n"
        "a \\*star\\* and \\[brackets\\] and snake_case_name and \\_under\\_\n"
    )


def test_links_whatever_their_targets(tmp_path: Path) -> None:
    body = (
        '<div><a href="file:///My Files/plan (v2).pdf">plan</a></div>'
        '<div><a href="https://example.com/a_b" title="The &quot;site&quot;">site</a></div>'
        '<div><a href="https://example.com/a_b">https://example.com/a_b</a></div>'
    )
    text = only(write(tmp_path, note_xml("Links", body))).node["content"]
    assert text == (
        "[plan](<file:///My Files/plan (v2).pdf>)\n\n"
        '[site](https://example.com/a_b "The \\"site\\"")\n\n'
        "<https://example.com/a_b>\n"
    )


def test_files_are_opened_through_the_opener_only(tmp_path: Path) -> None:
    path = write(tmp_path, note_xml("Secret"))
    with pytest.raises(PermissionRefused):
        IMPORTER.scan(path, RefusingOpener(), NO_OPTIONS)
    with pytest.raises(PermissionRefused):
        list(IMPORTER.read(path, RefusingOpener(), NO_OPTIONS, None))


def test_legacy_todos_on_lines_of_one_paragraph(tmp_path: Path) -> None:
    body = '<div><en-todo checked="true"/>one<br/><en-todo/>two<br/><en-todo/>three</div>'
    text = only(write(tmp_path, note_xml("Todos", body))).node["content"]
    assert text == "- [x] one\n- [ ] two\n- [ ] three\n"


def test_tables_markdown_cannot_hold_stay_html(tmp_path: Path) -> None:
    body = (
        '<table><tr><td colspan="2" style="color:red">wide</td></tr>'
        f"<tr><td><ul><li>item</li></ul></td><td>{media(PDF, 'application/pdf')}</td></tr>"
        "</table><table><tr><td>a|b<br/>second line</td><td>c</td></tr></table>"
    )
    files = resource_xml(PDF, "application/pdf", "f.pdf")
    draft = only(write(tmp_path, note_xml("Tables", body, resources=files)))
    sha = hashlib.sha256(PDF).hexdigest()
    assert draft.node["content"] == (
        '<table><tr><td colspan="2">wide</td></tr><tr><td><ul><li>item</li></ul></td>'
        f'<td><div><a href="attachment:{sha}">f.pdf</a></div></td></tr></table>\n\n'
        "|  |  |\n| --- | --- |\n| a\\|b<br>second line | c |\n"
    )


def test_deep_nesting_is_flattened_not_rejected(tmp_path: Path) -> None:
    body = "<span>" * 2000 + "deep text" + "</span>" * 2000
    assert only(write(tmp_path, note_xml("Deep", body))).node["content"] == "deep text\n"
    hostile = note_xml("Nested", extra="<x>" * 5000 + "</x>" * 5000 + "\n")
    (rejected,) = items(write(tmp_path, hostile, note_xml("After"), name="deep.enex"))[:1]
    assert isinstance(rejected, Rejected)
    assert rejected.reason == "note 1: Nested: its elements are nested too deeply to be read"


def test_a_secret_in_a_table_stays_html_and_a_time_that_is_none_is_kept(tmp_path: Path) -> None:
    body = '<table><tr><td><en-crypt hint="h">QUJD</en-crypt></td></tr></table>'
    draft = only(write(tmp_path, note_xml("Odd", body, created="sometime")))
    assert draft.node["content"] == (
        '<table><tr><td><pre class="evernote-encrypted" data-hint="h">QUJD</pre></td></tr>'
        "</table>\n"
    )
    assert props(draft)["encrypted_blocks"] == [{"cipher_text": "QUJD", "hint": "h"}]
    assert "created_at" not in draft.node
    assert props(draft)["created"] == "sometime"


# -- through the engine --------------------------------------------------------------------


def test_a_damaged_export_imports_what_it_can(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    path = _mixed_file(src)
    op = api.import_(repo, "evernote-import", [path], author="alice",
                     grants=[f"file-system={src}"], base=tmp_path,
                     config={"max_error_rate": 0.5})  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert op.counts["read"] == 6
    assert op.counts["quarantined"] == 1
    (entry,) = api.quarantine(repo, op.id)
    assert "note 2: Broken: this note is not well-formed XML" in str(entry["reason"])
    names = sorted(str(n["name"]) for n in api.nodes(repo))
    assert names == ["Photo", "Photo", "Task a0", "Task a1", "With tasks"]
    photo = next(n for n in api.nodes(repo) if n["name"] == "Photo")
    (stored,) = api.attachments(repo, str(photo["id"]))
    assert stored["hash"] == hashlib.sha256(PNG).hexdigest()
    again = api.import_(repo, "evernote-import", [path], author="alice",
                        grants=[f"file-system={src}"], base=tmp_path,
                        config={"max_error_rate": 0.5})  # fmt: skip
    assert again.counts["unchanged"] == 5
