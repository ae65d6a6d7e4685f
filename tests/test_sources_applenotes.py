"""The Apple Notes importer on the real stores written by macOS 12, 13, 14 and 15 (read in
place from the shared fixtures) and on synthetic stores in the real schema.

The expected-output files beside the macOS 12-14 stores were dumped by the Notes app: for
every note that is not protected they give its title, folder (its own name, not the path),
and its plain text with attachments as U+FFFC. The comparison is made twice: the plain text
the importer decodes from the body must equal the app's exactly (the fair comparison: same
characters, same attachment markers), and the Markdown it imports, rendered and read back as
text, must show every line of it in order (what a reader of the imported node sees).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from isometry import api
from isometry.errors import SourceError, SourceUnreadable
from isometry.etl.states import State
from isometry.model import JSON, node_id_for
from isometry.sources.applenotes import AppleNotesImporter
from isometry.sources.applenotes.proto import parse_note
from isometry.sources.base import Draft, Item, Options, Rejected, Skipped
from isometry.sources.sqlitefile import snapshot
from isometry.vcs.repository import Repository
from notestore_factory import (
    FUTURE,
    LINK_UTI,
    NOTES_FIXTURES,
    Body,
    NoteStoreWriter,
    core_time,
    link,
    synthetic_store,
)
from openers import DirectOpener

RHETTBULL = NOTES_FIXTURES / "rhettbull"
VERSIONS = ("12-Monterey", "13-Ventura", "14-Sonoma")
CONTAINER = RHETTBULL / "GroupContainers" / "macOS15-Sequioa" / "group.com.apple.notes"
PARSER = MarkdownIt("commonmark").enable(["strikethrough", "table"])
# The expected-output files give local times of the machine that wrote them (UTC-7).
DUMP_OFFSET = timedelta(hours=7)
IMPORTER = AppleNotesImporter()
INCLUDE_DELETED = Options({"include_deleted": True})


DEFAULT = Options()


def read(path: Path, options: Options = DEFAULT, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, DirectOpener(), options, cursor))


def drafts(items: list[tuple[Item, JSON]]) -> dict[str, Draft]:
    return {str(i.node["name"]): i for i, _ in items if isinstance(i, Draft)}


def rejected(items: list[tuple[Item, JSON]]) -> list[Rejected]:
    return [i for i, _ in items if isinstance(i, Rejected)]


def skipped(items: list[tuple[Item, JSON]]) -> list[Skipped]:
    return [i for i, _ in items if isinstance(i, Skipped)]


def expected_notes(version: str) -> list[dict[str, str]]:
    """The notes of an expected-output file: ``note.KEY=value`` lines, the body and plain
    text running on over lines until the next key (the plain text until the next note)."""
    notes: list[dict[str, str]] = []
    key = ""
    text = (RHETTBULL / f"Notes-macOS-{version}.txt").read_text(encoding="utf-8")
    for line in text.split("\n"):
        match = re.fullmatch(r"note\.(\w+)=(.*)", line)
        starts = match is not None and (match.group(1) == "id" or key not in ("plaintext", ""))
        if match and starts:
            key = match.group(1)
            if key == "id":
                notes.append({})
            notes[-1][key] = match.group(2)
        else:
            notes[-1][key] += "\n" + line
    return notes


def shown_text(markdown: str) -> list[str]:
    html = PARSER.render(markdown)
    text = BeautifulSoup(html, "html.parser").get_text().replace("\u00a0", " ")
    lines = (line.strip().removeprefix("[ ] ").removeprefix("[x] ") for line in text.split("\n"))
    return [line for line in lines if line]


def bodies(path: Path) -> dict[str, str]:
    """Identifier -> plain text of every readable body of a store (read from a copy)."""
    with snapshot(path, DirectOpener()) as snap:
        rows = snap.connection.execute(
            "SELECT o.ZIDENTIFIER, d.ZDATA FROM ZICCLOUDSYNCINGOBJECT o "
            "JOIN ZICNOTEDATA d ON d.Z_PK = o.ZNOTEDATA WHERE d.ZCRYPTOTAG IS NULL"
        ).fetchall()
    return {str(i): str(parse_note(data).note_text) for i, data in rows if data}


# -- the real stores -----------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_each_store_imports_as_the_notes_app_shows_it(version: str) -> None:
    path = RHETTBULL / f"NoteStore-macOS-{version}.sqlite"
    items = read(path, INCLUDE_DELETED)
    found = drafts(items)
    texts = bodies(path)
    expected = expected_notes(version)
    assert IMPORTER.scan(path, DirectOpener(), INCLUDE_DELETED).records == len(items)
    for note in expected:
        if note["password_protected"] == "True":
            reasons = [r.reason for r in skipped(items)]
            assert any(
                note["name"] in r and "password protected" in r and "skipped" in r for r in reasons
            )
            assert note["name"] not in found
            continue
        draft = found[note["name"]]
        node = draft.node
        folder = str(node["folder"])
        assert folder.rsplit("/", maxsplit=1)[-1] == note["folder"]
        assert node["properties"]["account"] == note["account"]
        created = datetime.fromisoformat(str(node["created_at"]).replace("Z", ""))
        assert (created - DUMP_OFFSET).strftime("%Y-%m-%d %H:%M:%S") == note["creation_date"]
        modified = datetime.fromisoformat(str(node["modified_at"]).replace("Z", ""))
        assert (modified - DUMP_OFFSET).strftime("%Y-%m-%d %H:%M:%S") == (note["modification_date"])
        # The last note of a file ends with the file's newline: trailing newlines are moot.
        plain = texts[str(node["source_id"])]
        assert plain.rstrip("\n") == note["plaintext"].rstrip("\n")
        shown = shown_text(str(node["content"]))
        position = 0
        for line in note["plaintext"].split("\n"):
            wanted = line.replace("\ufffc", "").strip()
            if wanted:
                while position < len(shown) and shown[position] != wanted:
                    position += 1
                assert position < len(shown), f"{wanted!r} missing from {note['name']!r}"
    assert len(found) + len(skipped(items)) == len(expected)


def test_folders_nest_through_their_parents() -> None:
    found = drafts(read(RHETTBULL / "NoteStore-macOS-13-Ventura.sqlite"))
    assert found["This is a deeply buried note"].node["folder"] == "Folder2/Subfolder/Subsubfolder"
    assert found["This note is in a subfolder"].node["folder"] == "Folder2/Subfolder"
    assert found["This is a note"].node["folder"] == "Notes"


def test_hashtags_become_tags_and_tables_markdown() -> None:
    found = drafts(read(RHETTBULL / "NoteStore-macOS-13-Ventura.sqlite"))
    tagged = found["This note has tags"]
    assert tagged.node["tags"] == ["travel", "vacation"]
    assert "\\#travel" in str(tagged.node["content"])
    formatted = str(found["This note has special formatting"].node["content"])
    assert "| Header 1 | Header 2 |\n| --- | --- |\n| Item 1 | Item 2 |" in formatted
    assert "- [ ] Item 1\n- [ ] Item 2\n- [ ] Item 3" in formatted
    assert "**<u>This is bold underlined text.</u>**" in formatted


def test_recently_deleted_is_skipped_unless_asked_for() -> None:
    path = RHETTBULL / "NoteStore-macOS-12-Monterey.sqlite"
    default = read(path)
    assert "This note is deleted" not in drafts(default)
    assert IMPORTER.scan(path, DirectOpener(), Options()).records == len(default) == 6
    deleted = drafts(read(path, INCLUDE_DELETED))["This note is deleted"].node
    assert deleted["folder"] == "Recently Deleted"
    assert deleted["properties"]["recently_deleted"] is True
    assert str(deleted["deleted_at"]) >= str(deleted["modified_at"])


def test_old_copies_marked_for_deletion_are_never_read() -> None:
    """Ventura and Sonoma keep the unlocked copy of the protected note, marked for deletion:
    importing it would reveal what the password protects."""
    for version in ("13-Ventura", "14-Sonoma"):
        items = read(RHETTBULL / f"NoteStore-macOS-{version}.sqlite", INCLUDE_DELETED)
        for item, _ in items:
            if isinstance(item, Draft):
                assert "This is a secret" not in str(item.node["content"])


def test_the_macos_15_container_imports_with_its_pdf() -> None:
    items = read(CONTAINER / "NoteStore.sqlite")
    found = drafts(items)
    assert len(found) == 7
    assert rejected(items) == []
    assert [r.reason for r in skipped(items)] == [
        "note 'This note is password protected' (B64DC4B7-133B-4BD5-9F1D-89E0C4042B44) is "
        "password protected and was skipped: its body is encrypted"
    ]
    note = found["This note has an attachment"]
    on_disk = next((CONTAINER / "Accounts" / "LocalAccount" / "Media").rglob("bitcoin.pdf"))
    digest = hashlib.sha256(on_disk.read_bytes()).hexdigest()
    assert digest == hashlib.sha256((RHETTBULL / "bitcoin.pdf").read_bytes()).hexdigest()
    (attachment,) = note.attachments
    assert attachment.filename == "bitcoin.pdf"
    assert attachment.mime_type == "application/pdf"
    data = attachment.data if attachment.data is not None else attachment.path.read_bytes()  # type: ignore[union-attr]
    assert hashlib.sha256(data).hexdigest() == digest
    assert f"[bitcoin.pdf](attachment:{digest})" in str(note.node["content"])
    (record,) = note.node["properties"]["attachments"]
    assert record["sha256"] == digest
    assert record["found"] is True
    assert found["This note has tags"].node["tags"] == ["travel", "vacation"]
    assert found["This note is deeply buried"].node["folder"] == "Folder2/Subfolder/Subsubfolder"
    assert note.node["source_url"] == "applenotes:note/51E87529-F622-46DB-A224-DE3923C16CAC"


def test_a_store_without_its_container_keeps_the_note_and_names_the_missing_file() -> None:
    note = drafts(read(RHETTBULL / "NoteStore-macOS-14-Sonoma.sqlite"))[
        "This note has an attachment"
    ]
    assert note.attachments == ()
    assert "attachment bitcoin.pdf is not beside the store" in str(note.node["content"])
    (record,) = note.node["properties"]["attachments"]
    assert record["found"] is False


def test_accepts_notes_stores_only(tmp_path: Path) -> None:
    assert IMPORTER.accepts(RHETTBULL / "NoteStore-macOS-14-Sonoma.sqlite")
    assert IMPORTER.accepts(CONTAINER / "NoteStore.sqlite")
    assert IMPORTER.accepts(tmp_path / "notestore.SQLITE")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    assert not IMPORTER.accepts(other)
    assert not IMPORTER.accepts(RHETTBULL / "Notes-macOS-14-Sonoma.txt")
    before = sorted(p.name for p in RHETTBULL.iterdir())
    IMPORTER.accepts(RHETTBULL / "NoteStore-macOS-12-Monterey.sqlite")
    assert sorted(p.name for p in RHETTBULL.iterdir()) == before  # nothing left beside it


def test_a_file_that_is_not_a_notes_store_is_named(tmp_path: Path) -> None:
    path = tmp_path / "NoteStore.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE ZNOTE (x)")
    db.close()
    with pytest.raises(SourceUnreadable, match=r"NoteStore\.sqlite: not an Apple Notes store"):
        IMPORTER.scan(path, DirectOpener(), Options())
    with pytest.raises(SourceError, match="not a cursor"):
        read(RHETTBULL / "NoteStore-macOS-14-Sonoma.sqlite", cursor={"offset": 3})


# -- synthetic stores ----------------------------------------------------------------------


def test_a_version_never_seen_is_read_by_what_it_has(tmp_path: Path) -> None:
    known = read(synthetic_store(tmp_path / "known", 24, seed=3))
    future = read(synthetic_store(tmp_path / "future", 24, seed=3, layout=FUTURE))
    assert len(known) == len(future) == 24
    for (a, _), (b, _) in zip(known, future, strict=True):
        assert isinstance(a, Draft)
        assert isinstance(b, Draft)
        node_a, node_b = dict(a.node), dict(b.node)
        for node in (node_a, node_b):  # the folders' identifiers are random per store
            node["properties"] = {k: v for k, v in node["properties"].items()
                                  if k not in ("folder_identifier", "attachments")}  # fmt: skip
        assert node_a == node_b
        assert a.edges == b.edges


def test_protected_damaged_and_empty_notes_are_reported_by_name(tmp_path: Path) -> None:
    with NoteStoreWriter(tmp_path) as store:
        store.note("Fine", Body().title("Fine"))
        store.note("Locked", Body().title("Locked"), protected=True)
        store.note("Damaged", b"\x1f\x8b\x08\x00garbage")
        store.note("Not protobuf", b"\x08\x96\x01\x12\x07")
        store.note("Empty", None)
        store.note("Gone", Body().title("Gone"), marked_for_deletion=True)
        store.note("Trashed", Body().title("Trashed"), folder=store.trash)
    items = read(store.path)
    assert list(drafts(items)) == ["Fine"]
    (locked,) = skipped(items)
    assert re.fullmatch(r"note 'Locked' \(.+\) is password protected and was skipped: .*",
                        locked.reason)  # fmt: skip
    reasons = [r.reason for r in rejected(items)]
    assert len(reasons) == 3
    assert "'Damaged'" in reasons[0]
    assert "gzip data is damaged" in reasons[0]
    assert "'Not protobuf'" in reasons[1]
    assert "'Empty'" in reasons[2]
    assert "no body" in reasons[2]
    assert all(r.locator.record.startswith("ZICCLOUDSYNCINGOBJECT.Z_PK=") for r in rejected(items))
    assert IMPORTER.scan(store.path, DirectOpener(), Options()).records == 5


def test_links_between_notes_become_edges(tmp_path: Path) -> None:
    """A link to a note is an inline attachment (macOS 14 and later) or a link on a run of
    text; both give one LINK edge to the target's node, whether or not it is imported."""
    with NoteStoreWriter(tmp_path) as store:
        target = store.note("Target", Body().title("Target"))
        source = store.note("Source", None)
        target_id, source_id = store.identifier(target), store.identifier(source)
        link_id = store.note_link(source, "the target", target_id)
        body = Body().title("Source").attachment(link_id, LINK_UTI)
        body.line("and ", link("again", f"applenotes:note/{target_id.lower()}"), " by a run")
        body.line(link("elsewhere", "applenotes:note/0A0A0A0A-0000-4000-8000-000000000000"))
        store.bodies[-1] = (store.bodies[-1][0], source, body.encode(), None)
    note = drafts(read(store.path))["Source"]
    node_id = node_id_for("apple-notes", source_id)
    assert note.edges == (
        {"edge_type": "LINK", "source_id": node_id,
         "target_id": node_id_for("apple-notes", target_id)},
        {"edge_type": "LINK", "source_id": node_id,
         "target_id": node_id_for("apple-notes", "0A0A0A0A-0000-4000-8000-000000000000")},
    )  # fmt: skip
    content = str(note.node["content"])
    assert f"[the target](applenotes:note/{target_id.lower()}?ownerIdentifier=LocalAccount)" in (
        content
    )
    assert f"and [again](applenotes:note/{target_id.lower()}) by a run" in content


def test_pinned_checklists_and_summary_go_to_their_places(tmp_path: Path) -> None:
    with NoteStoreWriter(tmp_path) as store:
        folder = store.folder("Top")
        inner = store.folder("Inner", parent=folder)
        body = Body().title("Pinned").line("done", style=103, checked=True)
        store.note("Pinned", body, folder=inner, pinned=True, snippet="done",
                   created=core_time(0), modified=core_time(1))  # fmt: skip
    node = drafts(read(store.path))["Pinned"].node
    assert node["folder"] == "Top/Inner"
    assert node["summary"] == "done"
    assert node["created_at"] == "2025-01-01T00:00:00Z"
    assert node["modified_at"] == "2025-01-02T00:00:00Z"
    assert node["properties"]["pinned"] is True
    assert node["properties"]["account"] == "On My Mac"
    assert node["content"] == "# Pinned\n\n- [x] done"


@pytest.fixture(scope="module")
def store_for_resume(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[tuple[Item, JSON]]]:
    path = synthetic_store(tmp_path_factory.mktemp("resume"), 40, seed=11)
    return path, read(path)


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=39))
def test_resuming_from_any_cursor_reads_exactly_what_followed(
    store_for_resume: tuple[Path, list[tuple[Item, JSON]]], index: int
) -> None:
    path, whole = store_for_resume
    _, cursor = whole[index]
    assert read(path, cursor=cursor) == whole[index + 1 :]


def test_a_synthetic_container_stores_its_files(tmp_path: Path) -> None:
    items = read(synthetic_store(tmp_path, 45, seed=5))
    with_files = [i for i, _ in items if isinstance(i, Draft) and i.attachments]
    assert len(with_files) == 3
    for draft in with_files:
        (attachment,) = draft.attachments
        assert attachment.data is not None
        digest = hashlib.sha256(attachment.data).hexdigest()
        assert f"attachment:{digest}" in str(draft.node["content"])
        role = "inline-image" if attachment.filename.endswith(".png") else "attachment"
        assert attachment.role == role
    tables = [
        i for i, _ in items if isinstance(i, Draft) and "| Name | Value |" in str(i.node["content"])
    ]
    assert len(tables) == 5


# -- through the engine --------------------------------------------------------------------


def test_importing_the_container_through_the_engine(repo: Repository, tmp_path: Path) -> None:
    """The user names the container folder; the engine finds NoteStore.sqlite in it."""
    grants = [f"notes={CONTAINER}", f"file-system={CONTAINER}"]
    op = api.import_(repo, "apple-notes-import", [CONTAINER], author="alice", grants=grants,
                     base=tmp_path)  # fmt: skip
    assert op.state is State.SUCCEEDED  # a protected note is left out on purpose: no error
    assert op.counts["read"] == 8
    assert op.counts["inserted"] == 7
    assert op.counts["skipped"] == 1
    assert op.counts["quarantined"] == 0
    (logged,) = [e for e in api.operation_log(repo, op.id) if e["event"] == "skipped"]
    assert "This note is password protected" in str(logged["reason"])
    assert str(logged["record"]).startswith("ZICCLOUDSYNCINGOBJECT.Z_PK=")
    nodes = {str(n["name"]): n for n in api.nodes(repo)}
    assert len(nodes) == 7
    note = nodes["This note has an attachment"]
    (stored,) = api.attachments(repo, str(note["id"]))
    digest = hashlib.sha256((RHETTBULL / "bitcoin.pdf").read_bytes()).hexdigest()
    assert stored["hash"] == digest
    assert stored["mime_type"] == "application/pdf"
    assert f"attachment:{digest}" in str(note["content"])
    assert nodes["This note has tags"]["tags"] == ["travel", "vacation"]
    again = api.import_(repo, "apple-notes-import", [CONTAINER], author="alice", grants=grants,
                        base=tmp_path)  # fmt: skip
    assert again.counts["unchanged"] == 7
    assert again.counts.get("inserted", 0) == again.counts.get("updated", 0) == 0


def test_a_changed_note_updates_its_node_and_links_are_edges(
    repo: Repository, tmp_path: Path
) -> None:
    folder = tmp_path / "src"
    path = synthetic_store(folder, 30, seed=2)
    grants = [f"notes={folder}", f"file-system={folder}"]
    first = api.import_(repo, "apple-notes-import", [path], author="alice", grants=grants,
                        base=tmp_path)  # fmt: skip
    assert first.state is State.SUCCEEDED
    assert first.counts["inserted"] == 30
    edges = api.edges(repo)
    assert len(edges) == 3  # notes 5, 15 and 25 link to the note before
    assert all(e["edge_type"] == "LINK" for e in edges)
    ids = {str(n["id"]) for n in api.nodes(repo)}
    assert {str(e["target_id"]) for e in edges} <= ids
    with sqlite3.connect(path) as db:
        pk, title = db.execute(
            "SELECT Z_PK, ZTITLE1 FROM ZICCLOUDSYNCINGOBJECT WHERE ZTITLE1 IS NOT NULL "
            "AND Z_ENT = 11 ORDER BY Z_PK LIMIT 1"
        ).fetchone()
        db.execute("UPDATE ZICNOTEDATA SET ZDATA = ? WHERE ZNOTE = ?",
                   (Body().title(title).line("rewritten").encode(), pk))  # fmt: skip
    db.close()
    second = api.import_(repo, "apple-notes-import", [path], author="alice", grants=grants,
                         base=tmp_path)  # fmt: skip
    assert second.counts["updated"] == 1
    assert second.counts["unchanged"] == 29
    nodes = {str(n["name"]): n for n in api.nodes(repo)}
    assert len(nodes) == 30
    assert nodes[title]["content"] == f"# {title}\n\nrewritten"


def test_the_notes_permission_is_required(repo: Repository, tmp_path: Path) -> None:
    op = api.import_(repo, "apple-notes-import", [CONTAINER], author="alice",
                     grants=[f"file-system={CONTAINER}"], base=tmp_path)  # fmt: skip
    assert op.state is State.FAILED
    assert "needs the permission(s) notes" in str(op.error)
    assert api.nodes(repo) == []
    assert AppleNotesImporter.permissions == frozenset({"notes", "file-system"})
