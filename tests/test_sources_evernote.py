"""The ``evernote`` importer on the real .enex exports in the shared fixtures.

Every file is read whole; the tests check what a user sees: the Markdown of each feature, the
fields and properties, the files stored (each checked against the MD5 the note names it by),
the exact place of every note, and a real import through the engine.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from functools import cache
from pathlib import Path

from isometry import api
from isometry.etl.states import State
from isometry.etl.templates import get as template
from isometry.model import JSON, edge_row, node_id_for, node_row
from isometry.sources import registry
from isometry.sources.base import Draft, Item, Options, Rejected, Skipped, attachment_link
from isometry.sources.evernote import EvernoteImporter
from isometry.vcs.repository import Repository
from openers import DirectOpener
from paths import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "evernote-enex" / "yarle"
FILES = sorted(FIXTURES.glob("*.enex"))
IMPORTER = EvernoteImporter()
NO_OPTIONS = Options()
EN_MEDIA_HASH = re.compile(rb'<en-media[^>]*?hash="([0-9a-f]{32})"')


OPENER = DirectOpener()


@cache
def _read(name: str) -> tuple[tuple[Item, JSON], ...]:
    return tuple(IMPORTER.read(FIXTURES / name, OPENER, NO_OPTIONS, None))


def items(name: str) -> list[Item]:
    return [item for item, _ in _read(name)]


def notes(name: str) -> list[Draft]:
    found = [i for i in items(name) if isinstance(i, Draft) and i.node["node_type"] == "note"]
    assert found, name
    return found


def note(name: str) -> Draft:
    (only,) = notes(name)
    return only


def content(name: str) -> str:
    text = note(name).node["content"]
    assert isinstance(text, str)
    return text


def properties(draft: Draft) -> dict[str, JSON]:
    found = draft.node.get("properties", {})
    assert isinstance(found, dict)
    return found


# -- every file ----------------------------------------------------------------------------


def test_the_fixtures_are_there() -> None:
    assert len(FILES) == 53


def test_every_file_imports_with_every_resource_verified() -> None:
    kinds: Counter[str] = Counter()
    stored_md5s: set[str] = set()
    named_md5s: set[str] = set()
    for path in FILES:
        read = _read(path.name)
        scan = IMPORTER.scan(path, OPENER, NO_OPTIONS)
        assert scan.records == len(read), path.name
        assert scan.size == path.stat().st_size
        assert scan.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()
        named_md5s |= {m.decode() for m in EN_MEDIA_HASH.findall(path.read_bytes())}
        for item, _ in read:
            assert not isinstance(item, Rejected | Skipped), (path.name, item.reason)
            row = node_row(item.node)  # what validation will say: every draft is a valid node
            for edge in item.edges:
                edge_row(edge)
            kinds[str(row["node_type"])] += 1
            for resource in properties(item).get("resources", []):
                assert resource["verified"], (path.name, resource)
                assert resource["stored"], (path.name, resource)
            assert "damaged_resources" not in properties(item)
            assert "missing_resources" not in properties(item)
            for attachment in item.attachments:
                assert attachment.data is not None
                digest = hashlib.sha256(attachment.data).hexdigest()
                assert attachment_link(digest) in str(row["content"])
                stored_md5s.add(hashlib.md5(attachment.data).hexdigest())
    assert kinds == {"note": 59, "task": 5}
    assert named_md5s  # every en-media hash names a file that was stored, byte for byte
    assert named_md5s <= stored_md5s


def test_every_note_is_found_again_by_its_locator() -> None:
    for path in FILES:
        data = path.read_bytes()
        lines = data.split(b"\n")
        for item in items(path.name):
            locator = item.locator
            assert locator.file == str(path.resolve())
            assert locator.line is not None
            if locator.offset is None:  # a task: its line holds its element
                assert lines[locator.line - 1].strip() == b"<task>"
                continue
            assert locator.length is not None
            whole = data[locator.offset : locator.offset + locator.length]
            assert whole.startswith(b"<note>")
            assert whole.endswith(b"</note>")
            assert lines[locator.line - 1].lstrip().startswith(b"<note>")
            assert locator.record.startswith("note ")


def test_resuming_from_any_cursor_gives_what_followed() -> None:
    for name in ("test-things-to-do.enex", "two-untitled-notes-with-toc.enex"):
        whole = list(_read(name))
        for position, (_, cursor) in enumerate(whole):
            rest = list(IMPORTER.read(FIXTURES / name, OPENER, NO_OPTIONS, cursor))
            assert rest == whole[position + 1 :]


def test_the_importer_is_registered_with_the_templates_permissions() -> None:
    loaded = registry.load("evernote")
    assert isinstance(loaded, EvernoteImporter)
    assert EvernoteImporter.permissions == template("evernote-import").permissions
    assert loaded.accepts(Path("Notebook.ENEX"))
    assert not loaded.accepts(Path("notes.xml"))


# -- what each feature looks like ----------------------------------------------------------


def test_checklists_nested_lists_and_code_blocks() -> None:
    assert content("test-checklist.enex") == (
        "- [ ] Checklist item 1\n"
        "  - [ ] Nested item 1a\n"
        "  - [x] Nested checked item\n"
        "- [x] Checked checklist item 2\n"
        "  - Nested unordered 2a\n"
        "- [ ] Checklist item 3\n"
        "  1. Nested ordered 3a\n"
        "\n"
        "- unordered item\n"
        "  - [ ] nested checklist\n"
        "\n"
        "- [ ] Checklist **bold** and & [link](https://example.com/?a=1&b=2)\n"
        "\n"
        "```\n"
        "codeblock\n"
        "```\n"
    )


def test_en_todo_checked_and_unchecked() -> None:
    assert content("test-empty-en-todo.enex") == (
        "***For this week***\n"
        "\n"
        "- [x] Add view_post_X_forum variable\n"
        "- [x] Handle the two non-\\_ttl variables to allow for analysis\n"
        "- [ ] Begin stepwise regression work\n"
    )
    assert "- [ ] Checkbox1\n- [x] CheckedCheckbox2\n" in content("test-specialItems.enex")
    assert content("test-checkboxes.enex") == "- [ ] Checkbox not completed\n- [x] Checkbox done\n"


def test_tables_become_markdown_tables() -> None:
    assert content("test-table.enex") == (
        "|  |  |  |\n| --- | --- | --- |\n| c1r1 | c2r1 | c3r1 |\n| c1r2 | **c2r2** | C3r2 |\n"
    )


def test_code_blocks_keep_their_lines_and_indentation() -> None:
    text = content("test-noteWithCodeBlock.enex")
    first_block = "# This program prints *Hello, world* in _Python_\nprint('Hello, world!\\n')"
    assert f"```\n{first_block}\n```" in text
    assert "fn main() {\n    for n in 1..=100 {\n        if n % 15 == 0 {\n" in text
    assert text.count("```") == 4


def test_encrypted_text_is_kept_marked_and_never_fails() -> None:
    draft = note("test-encryption.enex")
    cipher = (
        "RU5DMCR2SQ/8U0qVD+xGDzmnMy6oAqeGr8h/g31V3E8g6RGPFpO1lnyzsCv2gWba2VhCqaGHk3Hd6iDqWUpYxVmD"
        "dUeKnBFxz7Sr7gKteM65cNG9k8thhEav8g19qsIrA80DHk79HULx/EklgDqaJZFebKvDUXODy6Biyaf1XQ0HVO12"
    )
    assert draft.node["content"] == (
        "This is NOT an encrypted test\n\n"
        '```evernote-encrypted cipher="AES" length=128 hint="this is a hint"\n'
        f"{cipher}\n"
        "```\n\n"
        "This is NOT an encrypted test again\n"
    )
    assert properties(draft)["encrypted_blocks"] == [
        {"cipher": "AES", "length": 128, "hint": "this is a hint", "cipher_text": cipher}
    ]


def test_highlights_underline_strikethrough_and_headings() -> None:
    # The no-break space after the highlight is the note's own.
    assert content("test-highlights.enex") == (
        "Let's ==highlight a text==.\xa0This is a normal text again.\n"
    )
    assert content("text styles.enex") == (
        "<u>This is an underline text</u>\n\n**This is a bold text**\n\n"
        "*This is an italic text*\n\n==This is a highlighted text==\n"
    )
    colors = content("Colors.enex")
    assert "Red line\n" in colors
    assert "==Red line" not in colors  # colour alone is no highlight
    assert "**==Red highlighed red line==**" in colors
    assert "# ==Red highlighed red line==" in colors
    assert content("test-strikethrough.enex") == "Normal ~~strikethrough~~ normal\n"
    assert content("test-headings.enex") == "# Large\n\n## Medium\n\n### Small\n\nbody\n"


def test_lists_nested_the_ways_evernote_writes_them() -> None:
    expected = "- Level1\n  - Level2\n    - Level3\n"
    assert content("test-sublists.enex") == expected
    assert content("test-sublists-valid.enex") == expected
    assert content("test-sublists-invalid.enex").startswith(
        "- List item 1\n  - List item 1.1\n    - List item 1.1.1\n"
    )


def test_links_and_text_that_looks_like_markdown() -> None:
    assert content("test-externalLink.enex") == "[url: https://444.hu/](https://444.hu/)\n"
    assert content("test-pure-external-url.enex") == "<https://444.hu/>\n"
    assert content("test-externalLink-naked.enex") == "<https://444.hu/>\n"  # a link, no text
    assert "[Google](https://google.com)" in content("link to telephone 202-555-0179.enex")
    first, _ = notes("test-links.enex")
    assert "[NoteA](evernote:///view/10000000/s150/" in str(first.node["content"])
    # Text stays text: a quote mark and a list number typed in a note are not Markdown.
    assert content("test-markdown-en.enex").startswith("\\> this is a quote\n\n 1\\. listItem 1")
    assert '"regex": "\\[@\\]",' in content("charmapNotebookTest.enex")


def test_attachments_are_stored_and_linked_where_they_appear() -> None:
    pdf = note("test-pdfAttachment.enex")
    (attachment,) = pdf.attachments
    assert attachment.filename == "sample.pdf"
    assert attachment.role == "attachment"
    assert attachment.mime_type == "application/pdf"
    assert attachment.data is not None
    assert hashlib.md5(attachment.data).hexdigest() == "4b41a3475132bd861b30a878e30aa56a"
    digest = hashlib.sha256(attachment.data).hexdigest()
    assert pdf.node["content"] == (
        f"Note with PDF attachment\n\n[sample.pdf](attachment:{digest})\n"
    )
    (resource,) = properties(pdf)["resources"]
    assert resource["md5"] == "4b41a3475132bd861b30a878e30aa56a"
    assert resource["file_name"] == "sample.pdf"
    assert resource["timestamp"] == "1970-01-01T00:00:00Z"
    script = note("test-scriptAttachment.enex")
    assert script.attachments[0].filename == "sample.pdf.scpt"


def test_images_inline_and_from_data_urls_become_files() -> None:
    clip = note("test-image-dataUrl.enex")
    photo = next(a for a in clip.attachments if a.filename == "photo.png")
    assert photo.role == "inline-image"
    assert photo.data is not None
    assert hashlib.md5(photo.data).hexdigest() == "64c11ef139c91b3826da3b5a4989a9ca"
    text = str(clip.node["content"])
    assert f"![photo.png](attachment:{hashlib.sha256(photo.data).hexdigest()})" in text
    inline = [a for a in clip.attachments if a.filename.startswith("image-")]
    assert {a.mime_type for a in inline} == {"image/png", "image/svg+xml"}
    assert all(a.role == "inline-image" for a in inline)
    assert "data:" not in text  # no base64 left in the Markdown
    assert clip.node["source_url"] == "https://unsplash.com/photos/3ym6i13Y9LU"
    assert properties(clip)["source"] == "web.clip7"


def test_reminders_places_and_note_attributes() -> None:
    reminder = note("test-reminder.enex")
    assert reminder.node["name"] == "reminders title"  # the export's padding is not the title
    assert reminder.node["due_at"] == "2022-01-20T07:00:00Z"
    assert reminder.node["completed_at"] == "2022-01-19T20:01:23Z"
    assert reminder.node["latitude"] == 47.625
    assert reminder.node["longitude"] == 19.1387093306179
    assert properties(reminder)["reminder_order"] == 1642621213000
    attributes = note("test-note-attributes.enex")
    assert attributes.node["location_name"] == "Reichstag Building, Berlin"
    assert attributes.node["due_at"] == "2025-01-01T00:00:00Z"  # ISO-8601 in newer exports
    assert attributes.node["source_url"] == (
        "https://github.com/akosbalasko/yarle/tree/master/test/data/test-note-attributes.enex"
    )
    assert attributes.node["tags"] == ["test", "note-attributes"]
    props = properties(attributes)
    assert props["author"] == "author@example.com"
    assert props["subject_date"] == "2024-12-21T12:51:00Z"
    assert props["altitude"] == 50.0
    assert props["source_application"] == "Notepad++"
    assert props["content_class"] == "democratic-content"
    assert props["application_data"] == {"color": "blue", "priority": "high", "impact": "medium"}
    latlong = note("test-noteWithLatLong.enex")
    assert (latlong.node["latitude"], latlong.node["longitude"]) == (0.0001, 0.0001)
    assert note("test-noteWithSourceUrl.enex").node["source_url"] == (
        "https://en.wikipedia.org/wiki/Evernote"
    )


def test_tags_nested_tags_and_odd_characters() -> None:
    assert note("test-noteWithTags.enex").node["tags"] == ["tag1", "tag2"]
    nested = FIXTURES / "test-noteWithNestedTags.enex"
    (flat,) = [i for i, _ in IMPORTER.read(nested, OPENER, NO_OPTIONS, None)]
    assert isinstance(flat, Draft)
    assert flat.node["tags"] == ["tag1_nestedTag1", "tag2_nestedTag2"]
    split = Options({"tag_separator": "_"})
    (tree,) = [i for i, _ in IMPORTER.read(nested, OPENER, split, None)]
    assert isinstance(tree, Draft)
    assert tree.node["tags"] == ["tag1/nestedTag1", "tag2/nestedTag2"]
    assert tree.source_hash != flat.source_hash  # another option, another node: not skipped
    assert note("test-invalid-tags.enex").node["tags"] == ["tagPt1@+`\"'\\_tagPt2éáűőőúöüóí"]


def test_times_old_and_new_export_headers() -> None:
    old = note("test-old-note.enex")
    assert old.node["created_at"] == "1969-10-06T08:44:13Z"  # before 1970 is still a time
    assert old.node["modified_at"] == "2018-10-06T10:14:36Z"
    assert properties(old)["export_version"] == "Evernote Mac 7.5 (457109)"
    assert properties(old)["export_date"] == "2018-10-06T10:14:55Z"
    new = note("test-headings.enex")
    assert properties(new)["export_application"] == "Evernote"
    assert properties(new)["export_version"] == "10.17.6"
    legacy = note("test-sublists.enex")
    assert properties(legacy)["export_application"] == "Evernote Legacy"
    assert note("test-noteWithTags.enex").node["folder"] == "test-noteWithTags"


def test_tasks_become_task_nodes_nested_under_their_note() -> None:
    read = items("test-things-to-do.enex")
    tasks = [i for i in read if isinstance(i, Draft) and i.node["node_type"] == "task"]
    owner = read[-1]
    assert isinstance(owner, Draft)
    assert [t.node["name"] for t in tasks] == [
        "Simple task", "Done", "Task with due date", "Task with a flag", "Task with a reminder"
    ]  # fmt: skip
    by_name = {t.node["name"]: t for t in tasks}
    done = by_name["Done"].node
    assert done["status"] == "completed"
    assert done["completed_at"] == "2022-05-20T22:12:21Z"
    assert by_name["Task with due date"].node["due_at"] == "2022-05-28T21:59:59Z"
    assert properties(by_name["Task with a flag"])["flagged"] is True
    (reminder,) = properties(by_name["Task with a reminder"])["reminders"]
    assert reminder["reminder_date"] == "2022-05-22T07:00:00Z"
    assert by_name["Simple task"].node["source_id"] == "task:c78e74a2-8984-41b7-8ce8-052da41204c0"
    note_id = node_id_for("evernote", str(owner.node["source_id"]))
    assert [(e["edge_type"], e["source_id"], e["target_id"]) for e in owner.edges] == [
        ("NEST", note_id, node_id_for("evernote", str(t.node["source_id"]))) for t in tasks
    ]
    # The placeholder Evernote leaves in the text becomes the checklist, in Evernote's order.
    assert owner.node["content"] == (
        "- [ ] Simple task\n- [ ] Task with a reminder\n- [x] Done\n"
        "- [ ] Task with due date\n- [ ] Task with a flag\n"
    )


def test_identical_notes_in_one_file_are_told_apart() -> None:
    table, first, second = notes("two-untitled-notes-with-toc.enex")
    assert table.node["name"] == "Table of Contents"
    assert first.node["name"] == second.node["name"] == "Untitled Note"
    ids = {str(n.node["source_id"]) for n in (table, first, second)}
    assert len(ids) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}:1", i) for i in ids)  # their creation times differ


# -- through the engine --------------------------------------------------------------------


def test_importing_the_fixture_folder_end_to_end(repo: Repository, tmp_path: Path) -> None:
    grants = [f"file-system={FIXTURES}"]
    op = api.import_(repo, "evernote-import", [FIXTURES], author="alice", grants=grants,
                     base=tmp_path)  # fmt: skip
    assert op.state is State.SUCCEEDED
    assert op.counts["read"] == 64
    assert op.counts["inserted"] == 64
    assert op.counts["quarantined"] == 0
    nodes = api.nodes(repo)
    assert Counter(str(n["node_type"]) for n in nodes) == {"note": 59, "task": 5}
    assert len([e for e in api.edges(repo) if e["edge_type"] == "NEST"]) == 5
    pdf = next(n for n in nodes if n["name"] == "pdfAttachment")
    (linked,) = api.attachments(repo, str(pdf["id"]))
    assert linked["mime_type"] == "application/pdf"
    out = io.BytesIO()
    api.read_blob(repo, str(linked["hash"]), out)
    assert hashlib.md5(out.getvalue()).hexdigest() == "4b41a3475132bd861b30a878e30aa56a"
    assert f"attachment:{linked['hash']}" in str(pdf["content"])
    clip = next(n for n in nodes if n["name"] == "test - image - dataUrl")
    assert len(api.attachments(repo, str(clip["id"]))) == 5
    (origin,) = api.lineage(repo, node=str(pdf["id"]))
    assert origin["locator"] == {
        "file": str((FIXTURES / "test-pdfAttachment.enex").resolve()),
        "record": "note 1: pdfAttachment",
        "line": 4,
        "offset": 221,
        "length": 4966,
    }
    again = api.import_(repo, "evernote-import", [FIXTURES], author="alice", grants=grants,
                        base=tmp_path)  # fmt: skip
    assert again.state is State.SUCCEEDED
    assert again.counts["unchanged"] == 64
    assert again.counts["inserted"] == again.counts["updated"] == 0
