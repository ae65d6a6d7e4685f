"""The ``google-keep`` importer: Takeout Keep notes, on the real fixtures and on notes written
here (attachments, web links, odd input), and through the engine."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isometry import api
from isometry.errors import PermissionRefused, SourceError, SourceUnreadable
from isometry.etl import templates
from isometry.etl.states import State
from isometry.model import JSON, node_id_for, node_row
from isometry.sources import registry
from isometry.sources.base import Draft, Item, Options, Rejected, attachment_link
from isometry.sources.keep import GoogleKeepImporter, plain_markdown
from isometry.vcs.repository import Repository
from openers import DirectOpener, RefusingOpener
from paths import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "google-keep" / "obsidian-importer"
NOTES = FIXTURES / "notes"
IMPORTER = GoogleKeepImporter()
NO_OPTIONS = Options()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
AUTHOR = "alice"


OPENER = DirectOpener()


def read_all(path: Path, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, OPENER, NO_OPTIONS, cursor))


def only(path: Path) -> Item:
    (pair,) = read_all(path)
    return pair[0]


def draft(path: Path) -> Draft:
    item = only(path)
    assert isinstance(item, Draft), item
    return item


def node(path: Path) -> dict[str, JSON]:
    return dict(draft(path).node)


def properties(path: Path) -> dict[str, JSON]:
    found = node(path)["properties"]
    assert isinstance(found, dict)
    return found


def keep_note(**fields: JSON) -> dict[str, JSON]:
    note: dict[str, JSON] = {
        "color": "DEFAULT",
        "isTrashed": False,
        "isPinned": False,
        "isArchived": False,
        "textContent": "Body",
        "title": "A note",
        "userEditedTimestampUsec": 1700000000123456,
        "createdTimestampUsec": 1690000000000000,
    }
    note.update(fields)
    return note


def write_note(folder: Path, name: str, note: dict[str, JSON]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(note), encoding="utf-8")
    return path


# -- registration and acceptance ------------------------------------------------------------


def test_registered_with_the_permissions_of_its_template() -> None:
    loaded = registry.load("google-keep")
    assert isinstance(loaded, GoogleKeepImporter)
    assert loaded.name == "google-keep"
    assert loaded.version == "1"
    assert loaded.permissions == frozenset({"file-system"})
    assert templates.get("google-keep-import").permissions == loaded.permissions


def test_accepts_every_keep_json_of_the_fixtures_and_claims_their_neighbours() -> None:
    accepted = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*")
                if p.is_file() and IMPORTER.accepts(p)}  # fmt: skip
    notes = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.json")}
    assert len(notes) == 15  # 13 notes, the broken one and the invalid one
    assert notes <= accepted
    # The other files beside Keep notes are taken and read as nothing (see the module).
    for name in accepted - notes:
        path = FIXTURES / name
        assert IMPORTER.scan(path, OPENER, Options()).records == 0
        assert list(IMPORTER.read(path, OPENER, Options(), None)) == []
    assert not IMPORTER.accepts(SHARED_FIXTURES / "bookmarks" / "bookmarks_chrome.json")
    assert not IMPORTER.accepts(SHARED_FIXTURES / "bookmarks" / "bookmarks_chrome.html")


def test_other_json_is_left_to_the_json_importer(tmp_path: Path) -> None:
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"id": 1, "title": "x", "textContent": "y"}]))
    lone_object = tmp_path / "object.json"
    lone_object.write_text(json.dumps({"title": "x", "textContent": "y", "color": "RED"}))
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": 1, "title": "no comma" "x": 2}')
    text = tmp_path / "note.txt"
    text.write_text(json.dumps(keep_note()))
    assert not IMPORTER.accepts(records)
    assert not IMPORTER.accepts(lone_object)
    assert not IMPORTER.accepts(broken)
    assert not IMPORTER.accepts(text)
    assert not IMPORTER.accepts(tmp_path / "missing.json")


def test_a_broken_file_in_a_keep_folder_is_taken_to_be_reported(tmp_path: Path) -> None:
    """No Keep field to recognise it by: its place says whose it is."""
    takeout = tmp_path / "Takeout" / "Keep"
    takeout.mkdir(parents=True)
    in_keep = takeout / "garbled.json"
    in_keep.write_bytes(b"\x00\x01 not json")
    beside = tmp_path / "export"
    write_note(beside, "real.json", keep_note())
    truncated = beside / "truncated.json"
    truncated.write_text('{"color": "DEF')
    assert IMPORTER.accepts(in_keep)
    assert IMPORTER.accepts(truncated)
    assert "not valid JSON" in reason_of(only(truncated))
    assert "not UTF-8" in reason_of(only(in_keep)) or "not valid JSON" in reason_of(only(in_keep))


def test_a_note_larger_than_the_peek_is_still_recognised(tmp_path: Path) -> None:
    long_text = "word " * 20_000  # 100 KB: only its first bytes are looked at
    path = write_note(tmp_path, "long.json", keep_note(textContent=long_text))
    assert IMPORTER.accepts(path)
    assert node(path)["content"] == long_text.strip("\n")


def reason_of(item: Item) -> str:
    assert isinstance(item, Rejected), item
    return item.reason


# -- the fixtures --------------------------------------------------------------------------


def test_every_fixture_note_becomes_a_node() -> None:
    paths = sorted(NOTES.glob("*.json"))
    nodes = {p.name: node(p) for p in paths}
    assert len(nodes) == 13
    for path in paths:
        found = nodes[path.name]
        assert found["source"] == "google-keep"
        assert found["source_id"] == f"{path.resolve()}#note"
        assert found["node_type"] == "note"
        node_row(found)  # valid for the model as it is
    names = {found["name"] for found in nodes.values()}
    assert names == {
        "This note has a drawing but no title",
        "Archived note",
        "Background colour note",
        "Checklist note",
        "Deleted note",
        "Drawings (multiple) note",
        "Hashtags & labels note",
        "Image, label, and body text note",
        "Invalid title characters note !@#$%^&*()_+~`{}[]\\|;:'<>',./?/*-+",
        "Labelled note",
        "Multiline title note Second line",
        "Pinned text note",
        "Voice recording",
    }


def test_times_are_microseconds_since_1970_in_utc() -> None:
    found = node(NOTES / "Pinned text note.json")
    assert found["created_at"] == "2023-07-27T02:45:09.718000Z"  # 1690425909718000 us
    assert found["modified_at"] == "2023-08-01T04:42:07.360000Z"  # 1690864927360000 us


def test_flags_colour_and_trash() -> None:
    assert properties(NOTES / "Pinned text note.json")["isPinned"] is True
    assert properties(NOTES / "Archived note.json")["isArchived"] is True
    assert properties(NOTES / "Background colour note.json")["color"] == "RED"
    deleted = node(NOTES / "Deleted note.json")
    assert deleted["deleted_at"] == deleted["modified_at"] == "2023-08-11T01:47:34.836000Z"
    assert properties(NOTES / "Deleted note.json")["isTrashed"] is True
    assert "deleted_at" not in node(NOTES / "Archived note.json")


def test_checklist_as_markdown_tasks_and_labels_as_tags() -> None:
    found = node(NOTES / "Checklist note.json")
    assert found["content"] == (
        "- [ ] First item\n"
        "- [ ] Second item and #hashtag\n"
        "- [ ] First sub-item\n"
        "- [ ] Second sub-item and #labelWith!'@:$\"Symbols\n"
        "- [ ] Third item"
    )
    assert found["tags"] == ["labelWith!'@:$\"Symbols"]
    assert "listContent" not in properties(NOTES / "Checklist note.json")  # all in the content
    labelled = node(NOTES / "Hashtags _ labels note.json")
    assert labelled["tags"] == [
        "!'@:$\"LabelStartingWithSymbols", "92labelStartingWithNumber", "hyphenated-label",
        "label with spaces", "labelWith!'@:$\"Symbols", "camelCaseLabel", "LabelWith#Inside",
        "label with !'@:$\" Symbols and spaces",
    ]  # fmt: skip


def test_text_is_kept_as_typed_except_what_could_become_html() -> None:
    found = node(NOTES / "Invalid title characters note !@#$_^_()_+~`{}[]_.json")
    assert found["content"] == (
        "These are the characters that were in the title:\n"
        "!@#$%^&*()_+~`{}[]\\|;:'\\<>',./?/*-+\n\n"
        "The unsanitized title should also appear as an alias in the note."
    )
    multiline = NOTES / "Multiline title note_Second line.json"
    assert properties(multiline)["title"] == "Multiline title note\nSecond line"


def test_missing_attachment_files_are_listed_and_the_note_kept() -> None:
    path = NOTES / "Drawings (multiple) note.json"
    found = draft(path)
    assert found.attachments == ()
    assert properties(path)["missingAttachments"] == [
        {"filePath": "1690514342456.1074605235.png", "reason": "not in the folder"},
        {"filePath": "1690514400167.1149307624.png", "reason": "not in the folder"},
    ]
    assert properties(path)["attachments"] == [
        {"filePath": "1690514342456.1074605235.png", "mimetype": "image/png"},
        {"filePath": "1690514400167.1149307624.png", "mimetype": "image/png"},
    ]
    untitled = node(NOTES / "2023-08-01T14_29_43.842+10_00.json")
    assert untitled["name"] == "This note has a drawing but no title"


def test_the_broken_and_the_invalid_fixture_are_rejected_with_what_is_wrong() -> None:
    broken = only(FIXTURES / "broken-json-note.json")
    assert isinstance(broken, Rejected)
    assert broken.reason == (
        "broken-json-note.json is not valid JSON: Expecting ',' delimiter at line 8, column 5"
    )
    assert broken.locator.line == 8
    assert broken.locator.file == str((FIXTURES / "broken-json-note.json").resolve())
    assert '"title": "_Text note"' in broken.raw
    invalid = only(FIXTURES / "invalid-keep-json-note.json")
    assert reason_of(invalid) == (
        "invalid-keep-json-note.json is not a Keep note: userEditedTimestampUsec "
        "(its last edit time) is missing"
    )


def test_scan_counts_one_record_and_fingerprints_the_bytes() -> None:
    path = NOTES / "Labelled note.json"
    scan = IMPORTER.scan(path, OPENER, NO_OPTIONS)
    data = path.read_bytes()
    assert (scan.records, scan.size) == (1, len(data))
    assert scan.fingerprint == hashlib.sha256(data).hexdigest()
    assert draft(path).source_hash == hashlib.sha256(data).hexdigest()  # no attachments
    assert draft(path).locator.to_json() == {
        "file": str(path.resolve()), "record": "note", "line": 1, "offset": 0, "length": len(data)
    }  # fmt: skip


# -- attachments, links, odd input -----------------------------------------------------------


def test_attachments_are_read_hashed_and_linked_from_the_content(tmp_path: Path) -> None:
    keep = tmp_path / "Keep"
    keep.mkdir()
    (keep / "drawing.png").write_bytes(PNG)
    (keep / "voice.3gp").write_bytes(b"3gp audio")
    (keep / "photo.jpg").write_bytes(PNG + b"jpg")  # listed as .jpeg, written as .jpg
    attachments: JSON = [
        {"filePath": "drawing.png", "mimetype": "image/png"},
        {"filePath": "voice.3gp", "mimetype": "audio/3gp"},
        {"filePath": "photo.jpeg", "mimetype": "image/jpeg"},
        {"filePath": "gone.png", "mimetype": "image/png"},
    ]
    path = write_note(keep, "n.json", keep_note(attachments=attachments, textContent="Look"))
    found = draft(path)
    png, voice, photo = found.attachments
    assert (png.filename, png.data, png.role, png.mime_type) == (
        "drawing.png", PNG, "inline-image", "image/png"
    )  # fmt: skip
    assert (voice.filename, voice.role, voice.mime_type) == ("voice.3gp", "attachment", "audio/3gp")
    assert (photo.filename, photo.data) == ("photo.jpg", PNG + b"jpg")
    digest = hashlib.sha256(PNG).hexdigest()
    assert found.node["content"] == (
        "Look\n\n"
        f"![drawing.png]({attachment_link(digest)})\n"
        f"[voice.3gp]({attachment_link(hashlib.sha256(b'3gp audio').hexdigest())})\n"
        f"![photo.jpg]({attachment_link(hashlib.sha256(PNG + b'jpg').hexdigest())})"
    )
    props = found.node["properties"]
    assert isinstance(props, dict)
    assert props["missingAttachments"] == [{"filePath": "gone.png", "reason": "not in the folder"}]
    before = found.source_hash
    (keep / "drawing.png").write_bytes(PNG + b"changed")
    assert draft(path).source_hash != before  # same JSON, another file: the node changes


def test_a_large_attachment_is_handed_over_by_path(tmp_path: Path) -> None:
    big = tmp_path / "movie.mp4"
    big.write_bytes(b"\0" * (5 * 1024 * 1024))
    path = write_note(tmp_path, "n.json", keep_note(attachments=[{"filePath": "movie.mp4"}]))
    (attachment,) = draft(path).attachments
    assert (attachment.data, attachment.path) == (None, big)
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    assert f"[movie.mp4]({attachment_link(digest)})" in str(draft(path).node["content"])


def test_an_attachment_the_opener_refuses_is_listed_not_read(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    path = write_note(tmp_path, "n.json", keep_note(attachments=[{"filePath": "a.png"}]))
    data = path.read_bytes()

    class NoteOnly:
        def open_binary(self, opened: Path) -> BinaryIO:
            if opened.name != "n.json":
                raise PermissionRefused(f"{opened} is outside this operation's grants")
            return opened.open("rb")

    ((item, _),) = list(IMPORTER.read(path, NoteOnly(), NO_OPTIONS, None))
    assert isinstance(item, Draft)
    assert item.attachments == ()
    props = item.node["properties"]
    assert isinstance(props, dict)
    (missing,) = props["missingAttachments"]
    assert "outside this operation's grants" in str(missing)
    assert item.source_hash != hashlib.sha256(data).hexdigest()


def test_web_links_one_is_the_source_url(tmp_path: Path) -> None:
    one = [{"description": "A page", "source": "WEBLINK", "title": "Example",
            "url": "https://example.com/a"}]  # fmt: skip
    path = write_note(tmp_path, "one.json", keep_note(annotations=one, textContent="See"))
    found = node(path)
    assert found["source_url"] == "https://example.com/a"
    assert found["content"] == "See\n\n- [Example](<https://example.com/a>)"
    assert properties(path)["annotations"] == one
    two = [*one, {"url": "https://example.org/b"}]
    other = write_note(tmp_path, "two.json", keep_note(annotations=two))
    assert "source_url" not in node(other)
    assert str(node(other)["content"]).endswith(
        "- [https://example.org/b](<https://example.org/b>)"
    )


def test_untitled_notes_take_their_first_line_else_the_file_name(tmp_path: Path) -> None:
    text = write_note(tmp_path, "a.json", keep_note(title="", textContent="\n\n  First  \nnext"))
    assert node(text)["name"] == "First"
    listed = write_note(tmp_path, "b.json", keep_note(title="", textContent="",
                        listContent=[{"text": "Milk", "isChecked": True}]))  # fmt: skip
    assert node(listed)["name"] == "Milk"
    assert node(listed)["content"] == "- [x] Milk"
    bare = write_note(tmp_path, "2024-01-01T10_00_00.000+01_00.json", keep_note(title="",
                      textContent=""))  # fmt: skip
    assert node(bare)["name"] == "2024-01-01T10_00_00.000+01_00"
    assert node(bare)["content"] == ""


def test_never_edited_notes_and_unknown_fields(tmp_path: Path) -> None:
    path = write_note(tmp_path, "n.json", keep_note(userEditedTimestampUsec=0,
                      sharees=[{"isOwner": True, "type": "WRITER", "email": "a@example.com"}],
                      textContentHtml="<p>Body</p>", futureField={"x": 1}))  # fmt: skip
    found = node(path)
    assert found["modified_at"] == found["created_at"] == "2023-07-22T04:26:40Z"
    props = properties(path)
    assert props["sharees"] == [{"isOwner": True, "type": "WRITER", "email": "a@example.com"}]
    assert props["textContentHtml"] == "<p>Body</p>"
    assert props["futureField"] == {"x": 1}
    assert "userEditedTimestampUsec" not in props  # it is the node's modified_at


def test_html_typed_into_a_note_stays_text(tmp_path: Path) -> None:
    item: JSON = {"text": "<img src=x onerror=alert(1)>", "isChecked": False}
    note = keep_note(textContent="<script>alert(1)</script>", listContent=[item])
    path = write_note(tmp_path, "n.json", note)
    assert node(path)["content"] == (
        "\\<script>alert(1)\\</script>\n\n- [ ] \\<img src=x onerror=alert(1)>"
    )


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ([1, 2], "it holds a list, not an object"),
        (keep_note(createdTimestampUsec="yesterday"), "createdTimestampUsec is 'yesterday'"),
        (keep_note(createdTimestampUsec=0), "createdTimestampUsec is 0"),
        (keep_note(userEditedTimestampUsec=10**30), "userEditedTimestampUsec is 10000"),
        (keep_note(textContent=["a"]), "textContent is a list, not text"),
        (keep_note(isPinned="yes"), "isPinned is text, not true or false"),
        (keep_note(listContent={"text": "a"}), "listContent is an object, not a list"),
        (keep_note(labels=["work"]), "item 1 of labels is text, not an object"),
        (keep_note(labels=[{"name": 3}]), "name of item 1 of labels is a number, not text"),
        (keep_note(attachments=[{"mimetype": "image/png"}]), "an attachment has no filePath"),
    ],
)
def test_notes_keep_could_not_have_written_are_rejected(
    tmp_path: Path, note: JSON, expected: str
) -> None:
    path = tmp_path / "n.json"
    path.write_text(json.dumps(note))
    assert expected in reason_of(only(path))


def test_bytes_that_are_not_utf8_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    path.write_bytes(
        json.dumps(keep_note(textContent="caf\u00e9"), ensure_ascii=False).encode("latin-1")
    )
    assert reason_of(only(path)).startswith("n.json is not UTF-8 text (byte ")


def test_a_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(keep_note()).encode())
    assert IMPORTER.accepts(path)
    assert node(path)["name"] == "A note"


def test_unopenable_files_and_foreign_cursors(tmp_path: Path) -> None:
    with pytest.raises(SourceUnreadable, match=r"missing\.json"):
        read_all(tmp_path / "missing.json")
    with pytest.raises(SourceUnreadable, match=r"missing\.json"):
        IMPORTER.scan(tmp_path / "missing.json", OPENER, NO_OPTIONS)
    path = write_note(tmp_path, "n.json", keep_note())
    with pytest.raises(PermissionRefused):
        list(IMPORTER.read(path, RefusingOpener(), NO_OPTIONS, None))
    for cursor in ({"done": False}, {"offset": 3}, [1], "done", {"done": True, "x": 1}):
        with pytest.raises(SourceError, match="not a cursor"):
            read_all(path, cursor)


# -- resume ---------------------------------------------------------------------------------

_texts = st.text(st.characters(codec="utf-8"), max_size=40)
_notes = st.fixed_dictionaries(
    {
        "title": _texts,
        "textContent": _texts,
        "createdTimestampUsec": st.integers(1, 4_000_000_000_000_000),
        "userEditedTimestampUsec": st.integers(0, 4_000_000_000_000_000),
        "isTrashed": st.booleans(),
        "isPinned": st.booleans(),
        "isArchived": st.booleans(),
    },
    optional={
        "color": st.sampled_from(["DEFAULT", "RED", "BLUE"]),
        "labels": st.lists(st.fixed_dictionaries({"name": _texts}), max_size=3),
        "listContent": st.lists(
            st.fixed_dictionaries({"text": _texts, "isChecked": st.booleans()}), max_size=4
        ),
    },
)


@given(note=_notes)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_note_reads_the_same_twice_and_resumes_to_nothing(
    tmp_path: Path, note: dict[str, JSON]
) -> None:
    path = write_note(tmp_path, "note.json", note)
    assert IMPORTER.accepts(path)
    first = read_all(path)
    assert first == read_all(path)  # deterministic
    ((item, cursor),) = first
    assert cursor == {"done": True}
    assert json.loads(json.dumps(cursor)) == cursor
    assert read_all(path, cursor) == []  # resuming after the only record yields nothing
    assert isinstance(item, Draft)
    row = node_row(item.node)  # every generated note is a valid node
    assert str(row["name"]).strip()
    assert "<" not in str(row["content"]).replace("\\<", "")
    checklist = note.get("listContent") or []
    assert isinstance(checklist, list)
    assert str(row["content"]).count("- [") >= len(checklist)


# -- through the engine -----------------------------------------------------------------------


def test_the_fixture_folder_through_the_engine(repo: Repository, tmp_path: Path) -> None:
    grants = [f"file-system={FIXTURES}"]
    config = {"max_error_rate": 0.5}  # two of its fifteen files are bad on purpose
    op = api.import_(repo, "google-keep-import", [FIXTURES], author=AUTHOR, grants=grants,
                     config=config, base=tmp_path)  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert (op.counts["read"], op.counts["inserted"], op.counts["quarantined"]) == (15, 13, 2)
    nodes = {str(n["name"]): n for n in api.nodes(repo)}
    assert len(nodes) == 13
    checklist = nodes["Checklist note"]
    assert checklist["id"] == node_id_for(
        "google-keep", f"{(NOTES / 'Checklist note.json').resolve()}#note"
    )
    assert nodes["Deleted note"]["deleted_at"] == "2023-08-11T01:47:34.836000Z"
    reasons = sorted(str(q["reason"]) for q in api.quarantine(repo, op.id))
    assert "Expecting ',' delimiter at line 8" in reasons[0]
    assert "userEditedTimestampUsec" in reasons[1]
    lineage = api.lineage(repo, node=str(checklist["id"]))
    assert lineage
    again = api.import_(repo, "google-keep-import", [FIXTURES], author=AUTHOR, grants=grants,
                        config=config, base=tmp_path)  # fmt: skip
    assert (again.counts["inserted"], again.counts["updated"]) == (0, 0)
    assert again.counts["unchanged"] == 13


def test_attachments_through_the_engine(repo: Repository, tmp_path: Path) -> None:
    keep = tmp_path / "Takeout" / "Keep"
    shutil.copytree(NOTES, keep, ignore=shutil.ignore_patterns("expected"))
    (keep / "1690514572032.76900194.png").write_bytes(PNG)  # the image one fixture names
    grants = [f"file-system={keep}"]
    op = api.import_(repo, "google-keep-import", [keep], author=AUTHOR, grants=grants,
                     base=tmp_path)  # fmt: skip
    assert op.state is State.SUCCEEDED
    assert op.counts["inserted"] == 13
    found = next(n for n in api.nodes(repo) if n["name"] == "Image, label, and body text note")
    (linked,) = api.attachments(repo, str(found["id"]))
    digest = hashlib.sha256(PNG).hexdigest()
    assert linked["hash"] == digest
    assert linked["mime_type"] == "image/png"
    assert f"![1690514572032.76900194.png]({attachment_link(digest)})" in str(found["content"])
    again = api.import_(repo, "google-keep-import", [keep], author=AUTHOR, grants=grants,
                        base=tmp_path)  # fmt: skip
    assert again.counts["unchanged"] == 13
    (keep / "1690514572032.76900194.png").write_bytes(PNG + b"edited")
    changed = api.import_(repo, "google-keep-import", [keep], author=AUTHOR, grants=grants,
                          base=tmp_path)  # fmt: skip
    assert (changed.counts["updated"], changed.counts["unchanged"]) == (1, 12)


def test_plain_markdown_escapes_only_what_could_become_html() -> None:
    assert plain_markdown("a < b & *c* _d_ #e") == "a \\< b & *c* _d_ #e"
    assert plain_markdown("\\<tag>") == "\\\\\\<tag>"
