"""A batch whose COMMIT fails (the disk, say): the operation fails with that error, and ends
as of the last batch that was committed: its counts, its commits and, under
rollback-on-failure, its target as it was."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from isometry import api
from isometry.etl.operations import Operation
from isometry.etl.states import State
from isometry.store.connection import Database
from isometry.vcs.repository import Repository
from test_engine import grants, head_id, records, root, write_jsonl

BATCH = 50


@pytest.fixture
def second_commit_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second commit made in the background fails as a full disk would make it fail:
    nothing of its transaction is kept."""
    made = 0
    commit = Database._commit_in_background

    def failing(self: Database) -> None:
        nonlocal made
        made += 1
        if made != 2:
            commit(self)
            return

        def fail() -> None:
            self._conn.execute("ROLLBACK")
            self._commit_error = sqlite3.OperationalError("database or disk is full")

        self._committing = threading.Thread(target=fail)
        self._committing.start()

    monkeypatch.setattr(Database, "_commit_in_background", failing)


def _import(repo: Repository, tmp_path: Path, **config: str | int) -> Operation:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(4 * BATCH))
    return api.import_(
        repo, "json-import", [path], author="alice", grants=grants(tmp_path),
        config={"batch_size": BATCH, **config}, base=tmp_path,
    )  # fmt: skip


@pytest.mark.usefixtures("second_commit_fails")
def test_the_operation_fails_as_of_its_last_committed_batch(
    repo: Repository, tmp_path: Path
) -> None:
    op = _import(repo, tmp_path, post_execution="preserve-branch")
    assert op.state is State.FAILED
    assert op.error is not None
    assert "could not be committed" in op.error
    assert "disk is full" in op.error
    # Only the first batch holds: counted once, its commit the branch's head.
    assert (op.counts["read"], op.counts["inserted"]) == (BATCH, BATCH)
    assert op.branch is not None
    assert op.commits[-1] == head_id(repo, op.branch)
    for commit in op.commits:
        api.show_commit(repo, commit)  # every commit it names exists
    assert len(api.lineage(repo, op_id=op.id)) == BATCH
    assert len(api.nodes(repo, at=op.branch)) == BATCH


@pytest.mark.usefixtures("second_commit_fails")
def test_rollback_on_failure_leaves_the_target_as_it_was(repo: Repository, tmp_path: Path) -> None:
    before = root(repo)
    op = _import(repo, tmp_path, post_execution="rollback-on-failure")
    assert op.state is State.FAILED
    assert op.result.get("rolled_back") is True, op.result
    assert root(repo) == before
    assert api.nodes(repo) == []
