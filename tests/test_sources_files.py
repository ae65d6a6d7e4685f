"""file-system-import: every file of a folder through the importer for its type, the rest as
documents with the file attached; hidden files skipped unless asked for."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections import Counter
from pathlib import Path

from isometry import api
from isometry.etl.operations import Operation
from isometry.etl.states import State
from isometry.vcs.repository import Repository
from paths import FIXTURES as SHARED_FIXTURES

AUTHOR = "alice"
FIXTURES = SHARED_FIXTURES
PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def make_folder(root: Path) -> Path:
    folder = root / "Documents"
    (folder / "Notes").mkdir(parents=True)
    (folder / "Notes" / "Idea.md").write_text("# Idea\n\nA thought with a #tag.\n")
    (folder / "tasks.jsonl").write_text(json.dumps({"title": "Water plants"}) + "\n")
    (folder / "people.csv").write_text("name,email\nAna,ana@example.org\n")
    (folder / "scan.png").write_bytes(PICTURE)
    (folder / ".secret.md").write_text("# Hidden\n")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "blob.bin").write_bytes(b"cached")
    shutil.copy(FIXTURES / "icalendar" / "collective-icalendar" / "issue_1050_simple_calendar.ics",
                folder / "calendar.ics")  # fmt: skip
    return folder


def import_folder(repo: Repository, folder: Path, **options: bool) -> Operation:
    return api.import_(repo, "file-system-import", [folder], author=AUTHOR,
                       grants=[f"file-system={folder}"], base=folder.parent,
                       config={"options": dict(options)})  # fmt: skip


def test_each_file_goes_to_its_importer_and_the_rest_become_documents(
    repo: Repository, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path)
    op = import_folder(repo, folder)
    assert op.state is State.SUCCEEDED, op.error
    sources = Counter(str(n["source"]) for n in api.nodes(repo))
    assert sources["markdown"] == 1
    assert sources["json"] == 1
    assert sources["csv"] == 1
    assert sources["apple-calendar"] >= 1
    assert sources["file-system"] == 1  # only the picture: every other file had an importer
    picture = next(n for n in api.nodes(repo) if n["source"] == "file-system")
    assert picture["name"] == "scan.png"
    assert picture["node_type"] == "document"
    assert picture["properties"] == {
        "size": len(PICTURE), "sha256": hashlib.sha256(PICTURE).hexdigest(),
        "relative_path": "scan.png", "mime_type": "image/png",
    }  # fmt: skip
    (stored,) = api.attachments(repo, str(picture["id"]))
    out = io.BytesIO()
    api.read_blob(repo, str(stored["hash"]), out)
    assert out.getvalue() == PICTURE
    assert "Hidden" not in {n["name"] for n in api.nodes(repo)}
    by_source = op.to_json(repo.clock.now())["counts_by_source"]
    assert isinstance(by_source, dict)
    assert {"markdown", "json", "csv", "file-system"} <= set(by_source)
    again = import_folder(repo, folder)
    assert again.counts["inserted"] == again.counts["updated"] == 0


def test_hidden_files_are_read_when_asked_for(repo: Repository, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    op = import_folder(repo, folder, include_hidden=True)
    assert op.state is State.SUCCEEDED, op.error
    names = {n["name"] for n in api.nodes(repo)}
    assert "Hidden" in names
    assert "blob.bin" in names


def test_a_takeout_keep_folder_gives_each_note_once(repo: Repository, tmp_path: Path) -> None:
    keep = tmp_path / "Takeout" / "Keep"
    keep.mkdir(parents=True)
    note = FIXTURES / "google-keep" / "obsidian-importer" / "notes" / "Labelled note.json"
    shutil.copy(note, keep / note.name)
    (keep / "Labelled note.html").write_text("<html><title>Labelled note</title></html>")
    (keep / "Labels.txt").write_text("Label one\n")
    op = import_folder(repo, tmp_path / "Takeout")
    assert op.state is State.SUCCEEDED, op.error
    assert [n["source"] for n in api.nodes(repo)] == ["google-keep"]
