"""Files that come with records: stored once in the content store, linked to the node version
that brought them, readable back; an operation's log and report kept as artifacts."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from isometry import api
from isometry.content.store import ContentStore, Staged
from isometry.etl import operations as etl_operations
from isometry.etl.attachments import store_attachments
from isometry.etl.states import State
from isometry.lineage.records import Origin
from isometry.model import JSON
from isometry.sources.base import Attachment
from isometry.vcs.repository import Repository
from openers import DirectOpener

AUTHOR = "alice"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def write(folder: Path, records: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "notes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_attachments_are_stored_once_linked_and_read_back(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "files").mkdir(parents=True)
    (src / "files" / "report.pdf").write_bytes(PDF)
    (src / "files" / "copy.pdf").write_bytes(PDF)  # the same bytes under another name
    path = write(
        src,
        [
            {"id": "a", "title": "With a PDF", "attachments": ["files/report.pdf"]},
            {"id": "b", "title": "Same PDF again",
             "attachments": [{"path": "files/copy.pdf", "name": "Copy.pdf"}]},
        ],
    )  # fmt: skip
    op = api.import_(repo, "json-import", [path], author=AUTHOR,
                     grants=[f"file-system={src}"], base=tmp_path)  # fmt: skip
    assert op.state is State.SUCCEEDED
    node_a = next(n for n in api.nodes(repo) if n["name"] == "With a PDF")
    node_b = next(n for n in api.nodes(repo) if n["name"] == "Same PDF again")
    linked_a = api.attachments(repo, str(node_a["id"]))
    linked_b = api.attachments(repo, str(node_b["id"]))
    assert len(linked_a) == len(linked_b) == 1
    assert linked_a[0]["hash"] == linked_b[0]["hash"]  # one blob for both
    assert linked_a[0]["mime_type"] == "application/pdf"
    assert set(linked_a[0]["names"]) == {"report.pdf", "Copy.pdf"}
    assert api.blob_stats(repo).blobs == 3  # the PDF, the operation's log and report
    out = io.BytesIO()
    api.read_blob(repo, str(linked_a[0]["hash"]), out)
    assert out.getvalue() == PDF
    assert api.blob_verify(repo).ok
    again = api.import_(repo, "json-import", [path], author=AUTHOR,
                        grants=[f"file-system={src}"], base=tmp_path)  # fmt: skip
    assert again.counts["unchanged"] == 2
    assert len(api.attachments(repo, str(node_a["id"]))) == 1


def test_an_attachment_that_cannot_be_read_is_quarantined_and_the_node_kept(
    repo: Repository, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(PDF)
    path = write(
        src,
        [
            {"id": "a", "title": "Missing file", "attachments": ["nowhere.pdf"]},
            {"id": "b", "title": "Outside the grant", "attachments": ["../outside.pdf"]},
        ],
    )
    op = api.import_(repo, "json-import", [path], author=AUTHOR,
                     grants=[f"file-system={src}"], base=tmp_path)  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert {n["name"] for n in api.nodes(repo)} == {"Missing file", "Outside the grant"}
    reasons = [str(q["reason"]) for q in api.quarantine(repo, op.id)]
    assert any("nowhere.pdf" in r for r in reasons)
    assert any("outside" in r and "grant" in r for r in reasons)
    assert all(not api.attachments(repo, str(n["id"])) for n in api.nodes(repo))


def test_lost_attachments_are_counted_apart_from_the_records(
    repo: Repository, tmp_path: Path
) -> None:
    """A record whose files cannot be stored is kept: its files count as attachments in
    quarantine, not as quarantined records, and never toward the error rate."""
    src = tmp_path / "src"
    path = write(
        src,
        [
            {"id": "a", "title": "Three missing", "attachments": ["x.pdf", "y.pdf", "z.pdf"]},
            {"id": "b", "title": "Whole"},
        ],
    )
    op = api.import_(repo, "json-import", [path], author=AUTHOR,
                     grants=[f"file-system={src}"], base=tmp_path)  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED, op.error
    assert {n["name"] for n in api.nodes(repo)} == {"Three missing", "Whole"}
    counts = op.to_json(repo.clock.now())["counts"]
    assert isinstance(counts, dict)
    assert (counts["read"], counts["inserted"], counts["quarantined"]) == (2, 2, 0)
    assert counts["attachments_quarantined"] == 3
    assert op.counts["json/attachments_quarantined"] == 3
    assert len(api.quarantine(repo, op.id)) == 3
    metrics = api.metrics(repo)
    assert (metrics["error_rate"], metrics["attachments_quarantined"]) == (0.0, 3)
    history = metrics["history"]
    assert isinstance(history, list)
    assert isinstance(history[0], dict)
    assert (history[0]["error_rate"], history[0]["attachments_quarantined"]) == (0.0, 3)


def test_an_operation_keeps_its_log_and_report_as_artifacts(
    repo: Repository, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    path = write(src, [{"id": "a", "title": "One"}])
    op = api.import_(repo, "json-import", [path], author=AUTHOR,
                     grants=[f"file-system={src}"], base=tmp_path)  # fmt: skip
    artifacts = op.result["artifacts"]
    log, report = io.BytesIO(), io.BytesIO()
    api.read_blob(repo, artifacts["log"], log)
    api.read_blob(repo, artifacts["report"], report)
    events = [json.loads(line)["event"] for line in log.getvalue().splitlines()]
    assert events[0] == "started"
    assert events[-1] == "succeeded"
    assert json.loads(report.getvalue())["id"] == op.id
    roles = {r.role for r in api.blob_info(repo, artifacts["log"]).references}
    assert roles == {"log"}


def artifacts_of(repo: Repository, op_id: str) -> tuple[list[object], dict[str, object]]:
    found = api.operation(repo, op_id).result["artifacts"]
    log, report = io.BytesIO(), io.BytesIO()
    api.read_blob(repo, found["log"], log)
    api.read_blob(repo, found["report"], report)
    return [json.loads(line) for line in log.getvalue().splitlines()], json.loads(report.getvalue())


@pytest.mark.parametrize("foreseen", ["right", "wrong"])
def test_the_artifacts_are_the_log_and_the_report_as_the_operation_ended(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, foreseen: str
) -> None:
    """They are staged before the closing transaction from what it is to write; when that is
    not what it finds, the ones it finds are stored, and nothing staged is left behind."""
    if foreseen == "wrong":
        real = etl_operations.logged

        def logged(*args: Any, **kwargs: Any) -> list[dict[str, JSON]]:
            return [*real(*args, **kwargs), {"seq": 0, "event": "never written"}]

        monkeypatch.setattr(etl_operations, "logged", logged)
    kinds: list[str] = []
    store_many = ContentStore.store_many

    def spy(self: ContentStore, items: Any, **kwargs: Any) -> Any:
        items = list(items)
        kinds.extend("staged" if isinstance(i[0], Staged) else "bytes" for i in items)
        return store_many(self, items, **kwargs)

    monkeypatch.setattr(ContentStore, "store_many", spy)
    src = tmp_path / "src"
    path = write(src, [{"id": "a", "title": "One"}, {"id": "b", "title": "Two"}])
    op = api.import_(repo, "json-import", [path], author=AUTHOR,
                     grants=[f"file-system={src}"], base=tmp_path)  # fmt: skip
    assert op == api.operation(repo, op.id)
    log, report = artifacts_of(repo, op.id)
    assert log == api.operation_log(repo, op.id)
    ended = op.to_json(repo.clock.now())
    ended["result"] = {k: v for k, v in op.result.items() if k != "artifacts"}
    assert report == ended
    assert kinds == ["staged" if foreseen == "right" else "bytes"] * 2
    assert list((repo.path / "blobs" / "tmp").iterdir()) == []
    assert api.blob_stats(repo).blobs == 2


def test_gc_keeps_a_file_a_tagged_commit_reaches_and_removes_one_nothing_reaches(
    repo: Repository, tmp_path: Path
) -> None:
    """Version control decides which node versions live; the blob store follows it."""
    src = tmp_path / "src"
    (src / "kept").mkdir(parents=True)
    (src / "gone").mkdir(parents=True)
    (src / "kept" / "a.pdf").write_bytes(PDF)
    (src / "gone" / "b.pdf").write_bytes(PDF + b"another")
    kept_src = write(src / "kept", [{"id": "a", "title": "Kept", "attachments": ["a.pdf"]}])
    gone_src = write(src / "gone", [{"id": "b", "title": "Gone", "attachments": ["b.pdf"]}])
    config = {"post_execution": "preserve-branch"}
    first = api.import_(repo, "json-import", [kept_src], author=AUTHOR, config=config,
                        grants=[f"file-system={src}"], base=tmp_path)  # fmt: skip
    second = api.import_(repo, "json-import", [gone_src], author=AUTHOR, config=config,
                         grants=[f"file-system={src}"], base=tmp_path)  # fmt: skip
    assert first.branch is not None
    assert second.branch is not None
    api.tag(repo, "kept", first.branch)
    api.delete_branch(repo, first.branch)
    api.delete_branch(repo, second.branch)
    kept_node = api.nodes(repo, at="kept")[0]
    kept_hash = str(api.attachments(repo, str(kept_node["id"]), at="kept")[0]["hash"])
    gone_node = str(api.lineage(repo, op_id=second.id)[0]["id"])
    gone_hashes = {r.hash for r in api.content_store(repo).references_of("node", gone_node)}
    assert len(gone_hashes) == 1
    api.gc(repo, keep_unreachable=timedelta(0))
    report = api.blob_gc(repo, grace=timedelta(0))
    assert report.removed == 1
    stored = _stored_hashes(repo)
    assert kept_hash in stored
    assert not gone_hashes & stored
    out = io.BytesIO()
    api.read_blob(repo, kept_hash, out)
    assert out.getvalue() == PDF
    assert api.blob_verify(repo).ok


def _stored_hashes(repo: Repository) -> set[str]:
    return {str(row[0]) for row in repo.conn.execute("SELECT hash FROM blobs")}


def test_a_refused_file_is_quarantined_and_the_rest_of_the_batch_stored(
    repo: Repository, tmp_path: Path
) -> None:
    """Files of a batch are stored together; when the store refuses one (too big here), only
    that one is quarantined and the others are stored and linked as usual."""
    store = ContentStore.open(repo.path, repo.db, repo.clock, max_blob_size=1000)
    (tmp_path / "small.txt").write_bytes(b"small file\n")
    items = {
        "n1": (Attachment("note.txt", data=b"a note\n"),),
        "n2": (Attachment("big.bin", data=bytes(5000)),
               Attachment("small.txt", path=tmp_path / "small.txt")),
    }  # fmt: skip
    origins = {key: Origin("src.jsonl", key, None, None, None, "0" * 64) for key in items}
    with repo.db.transaction():
        problems = store_attachments(store, DirectOpener(), 1, ["n1", "n2"], items, origins)
    (refused,) = problems
    assert refused.reason.startswith("attachment 'big.bin' of node n2: ")
    assert refused.locator.record == "n2"
    assert [r.owner for r in store.references_by_kind("node")] == ["n1", "n2"]
    assert store.stats().blobs == 2
