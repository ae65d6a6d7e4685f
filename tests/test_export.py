"""Exporting a branch, tag or commit, and importing the archive again with the same root hash."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import orjson
import pytest
import yaml

from isometry import api
from isometry.errors import IsometryError
from isometry.etl.states import State
from isometry.model import JSON, node_id_for
from isometry.vcs.ops import parse_op
from isometry.vcs.repository import Repository

AUTHOR = "alice"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\n%%EOF\n"


def populate(repo: Repository, tmp_path: Path) -> None:
    """Imported notes with an attachment, a hand-made node, edges, and a soft-deleted node."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "report.pdf").write_bytes(PDF)
    records = [
        {"id": "a", "title": "Trip plan", "body": "See the report.", "tags": "travel,plans",
         "folder": "Travel/2025", "attachments": ["report.pdf"], "mood": "hopeful"},
        {"id": "b", "title": "Packing", "type": "task", "due": "2025-05-01"},
        {"id": "c", "title": "Old idea", "folder": "attachments"},
    ]  # fmt: skip
    (src / "notes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    op = api.import_(repo, "json-import", [src / "notes.jsonl"], author=AUTHOR,
                     grants=[f"file-system={src}"], base=tmp_path)  # fmt: skip
    assert op.state is State.SUCCEEDED
    a = str(node_id_for("json", f"{src / 'notes.jsonl'}#a"))
    b = str(node_id_for("json", f"{src / 'notes.jsonl'}#b"))
    c = str(node_id_for("json", f"{src / 'notes.jsonl'}#c"))
    ops = [
        parse_op({"op": "upsert", "node": {"id": "0" * 8 + "-0000-4000-8000-" + "0" * 12,
                                           "name": "Hand-made", "content": "Typed here."}}),
        parse_op({"op": "upsert", "edge": {"edge_type": "LINK", "source_id": a,
                                           "target_id": b, "label": "needs"}}),
        parse_op({"op": "upsert", "edge": {"edge_type": "NEST", "source_id": b,
                                           "target_id": a}}),
        parse_op({"op": "patch", "node": {"id": c, "deleted_at": "2025-01-01T00:00:00Z"}}),
    ]  # fmt: skip
    api.apply(repo, ops, branch="main", message="by hand", author=AUTHOR)


def test_a_jsonl_archive_restores_the_same_root_hash(
    repo: Repository, tmp_path: Path, repo_path: Path
) -> None:
    populate(repo, tmp_path)
    out = tmp_path / "archive"
    report = api.export(repo, out, author=AUTHOR)
    head = repo.commit("main")
    assert (report.commit, report.root) == (head.id, head.root)
    assert (report.nodes, report.edges, report.attachments) == (4, 2, 1)
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["root"] == head.root
    assert manifest["counts"]["nodes"] == 4
    for name, facts in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == facts["sha256"]
    assert (out / "attachments" / hashlib.sha256(PDF).hexdigest()).read_bytes() == PDF
    assert not (tmp_path / "archive.partial").exists()

    other = api.init(tmp_path / "other", clock=repo.clock, author=AUTHOR)
    try:
        op = api.import_(other, "archive-import", [out], author=AUTHOR,
                         grants=[f"file-system={out}"], base=tmp_path)  # fmt: skip
        assert op.state is State.SUCCEEDED
        assert op.counts["inserted"] == 4
        assert other.commit("main").root == head.root
        trip = next(n for n in api.nodes(other) if n["name"] == "Trip plan")
        (linked,) = api.attachments(other, str(trip["id"]))
        assert linked["hash"] == hashlib.sha256(PDF).hexdigest()
        data = io.BytesIO()
        api.read_blob(other, str(linked["hash"]), data)
        assert data.getvalue() == PDF
        again = api.import_(other, "archive-import", [out], author=AUTHOR,
                            grants=[f"file-system={out}"], base=tmp_path)  # fmt: skip
        assert again.counts["unchanged"] == 4
    finally:
        other.close()


def test_a_damaged_archive_is_refused_whole(repo: Repository, tmp_path: Path) -> None:
    populate(repo, tmp_path)
    out = tmp_path / "archive"
    api.export(repo, out, author=AUTHOR)
    nodes = out / "nodes.jsonl"
    nodes.write_bytes(nodes.read_bytes().replace(b"Trip plan", b"Trip plan!"))
    other = api.init(tmp_path / "other", clock=repo.clock, author=AUTHOR)
    try:
        op = api.import_(other, "archive-import", [out / "manifest.json"], author=AUTHOR,
                         grants=[f"file-system={out}"], base=tmp_path)  # fmt: skip
        assert op.state is State.FAILED
        assert "nodes.jsonl" in str(op.error)
        assert "not what the manifest says" in str(op.error)
        assert api.nodes(other) == []
    finally:
        other.close()


def test_a_markdown_vault_has_a_note_per_node_with_its_files_beside(
    repo: Repository, tmp_path: Path
) -> None:
    populate(repo, tmp_path)
    out = tmp_path / "vault"
    report = api.export(repo, out, form="markdown", author=AUTHOR)
    assert report.nodes == 4
    trip = out / "Travel" / "2025" / "Trip plan.md"
    text = trip.read_text()
    _, front_text, body = text.split("---\n", 2)
    front = yaml.safe_load(front_text)
    assert front["name"] == "Trip plan"
    assert front["tags"] == ["plans", "travel"]
    assert front["properties"]["mood"] == "hopeful"
    assert front["links"] == [
        {"edge_type": "LINK", "target_id": str(front["links"][0]["target_id"]), "label": "needs"}
    ]
    (attached,) = front["attachments"]
    assert (trip.parent / attached).resolve().read_bytes() == PDF
    assert body == "See the report.\n"
    # A node folder named like the export's own attachments folder does not mix with it.
    assert (out / "attachments_" / "Old idea.md").exists()
    assert (out / "Hand-made.md").read_text().endswith("Typed here.\n")


def test_an_export_never_writes_into_an_existing_folder(repo: Repository, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep me")
    with pytest.raises(IsometryError, match="already exists"):
        api.export(repo, tmp_path / "taken", author=AUTHOR)
    with pytest.raises(IsometryError, match="unknown export format"):
        api.export(repo, tmp_path / "new", form="pdf", author=AUTHOR)
    assert (tmp_path / "taken" / "mine.txt").read_text() == "keep me"
    assert not (tmp_path / "new").exists()


def test_an_older_commit_exports_as_it_was(repo: Repository, tmp_path: Path) -> None:
    populate(repo, tmp_path)
    before = repo.commit("main")
    api.tag(repo, "before", "main")
    ops = [parse_op({"op": "upsert", "node": {"id": "1" * 8 + "-1111-4111-8111-" + "1" * 12,
                                              "name": "Later"}})]  # fmt: skip
    api.apply(repo, ops, branch="main", message="later", author=AUTHOR)
    report = api.export(repo, tmp_path / "old", at="before", author=AUTHOR)
    assert report.root == before.root
    rows: list[JSON] = [
        orjson.loads(line) for line in (tmp_path / "old" / "nodes.jsonl").read_bytes().splitlines()
    ]
    assert "Later" not in {r["name"] for r in rows if isinstance(r, dict)}


def test_an_export_is_an_operation_that_can_be_queued(repo: Repository, tmp_path: Path) -> None:
    populate(repo, tmp_path)
    report = api.export(repo, tmp_path / "now", author=AUTHOR)
    (done,) = [op for op in api.operations(repo) if op.template == "data-export-archive"]
    assert done.state is State.SUCCEEDED
    assert done.result["export"]["root"] == report.root
    assert done.counts["read"] == report.nodes + report.edges
    assert "data-export-archive" in {t.id for t in api.templates()}
    queued = api.queue_operation(repo, "data-export-archive", [tmp_path / "later"],
                                 grants=[f"file-system={tmp_path}"], base=tmp_path,
                                 config={"options": {"format": "markdown"}})  # fmt: skip
    api.run_queue(repo, author=AUTHOR)
    assert api.operation(repo, queued.id).state is State.SUCCEEDED
    assert (tmp_path / "later" / "Travel" / "2025" / "Trip plan.md").exists()
    with pytest.raises(IsometryError, match="nope"):
        api.export(repo, tmp_path / "never", at="nope", author=AUTHOR)
    assert not (tmp_path / "never").exists()
    assert not (tmp_path / "never.partial").exists()


def test_an_export_that_cannot_be_written_fails_with_one_clear_error(
    repo: Repository, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(IsometryError, match="cannot write the export there"):
        api.export(repo, tmp_path / "a-file" / "out", author=AUTHOR)
    (failed,) = api.operations(repo)
    assert failed.state is State.FAILED  # ended, not left running


def test_an_edge_whose_source_node_is_not_in_the_archive_is_reported(
    repo: Repository, tmp_path: Path
) -> None:
    populate(repo, tmp_path)
    out = tmp_path / "archive"
    api.export(repo, out, author=AUTHOR)
    stray = {"id": "f" * 8 + "-ffff-4fff-8fff-" + "f" * 12, "edge_type": "LINK",
             "source_id": "f" * 8 + "-ffff-4fff-8fff-" + "f" * 11 + "e",
             "target_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12}  # fmt: skip
    edges = out / "edges.jsonl"
    edges.write_bytes(edges.read_bytes() + orjson.dumps(stray) + b"\n")  # sorts last
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    manifest["files"]["edges.jsonl"]["sha256"] = hashlib.sha256(edges.read_bytes()).hexdigest()
    (out / "manifest.json").write_bytes(orjson.dumps(manifest))
    other = api.init(tmp_path / "other", clock=repo.clock, author=AUTHOR)
    try:
        op = api.import_(other, "archive-import", [out], author=AUTHOR, base=tmp_path,
                         grants=[f"file-system={out}"], config={"max_error_rate": 0.5})  # fmt: skip
        assert op.counts["inserted"] == 4
        (orphan,) = api.quarantine(other, op.id)
        assert "is not in the archive" in str(orphan["reason"])
        assert len(api.edges(other)) == 2
    finally:
        other.close()
