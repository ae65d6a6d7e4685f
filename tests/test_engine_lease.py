"""The lease heartbeat: one thread renews the lease of every operation this process runs, each
at its own interval, and never after the operation let go of it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from isometry import api
from isometry.etl import heartbeat
from isometry.etl import operations as etl_operations
from isometry.etl.heartbeat import Heartbeat
from isometry.vcs.repository import Repository

INTERVAL = 0.05


def leases(repo: Repository, *op_ids: str) -> list[str | None]:
    with repo.db.snapshot() as conn:
        return [
            conn.execute("SELECT lease_until FROM operations WHERE id = ?", (op_id,)).fetchone()[0]
            for op_id in op_ids
        ]


def held(repo: Repository, tmp_path: Path, owner: str) -> str:
    source = tmp_path / "src" / f"{owner}.jsonl"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text('{"id": "a", "title": "A"}\n')
    op = api.create_operation(
        repo, "json-import", [source], grants=[f"file-system={source.parent}"], base=tmp_path
    )
    with repo.db.transaction() as conn:
        etl_operations.update(conn, op.id, lease_owner=owner, lease_until="old")
    return op.id


def test_leases_are_renewed_while_held_and_never_after(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heartbeat, "INTERVAL_SECONDS", INTERVAL)
    first, second = held(repo, tmp_path, "one"), held(repo, tmp_path, "two")
    with Heartbeat(repo.db.path, first, "one", repo.clock):
        with Heartbeat(repo.db.path, second, "two", repo.clock):
            deadline = time.monotonic() + 5
            while "old" in leases(repo, first, second) and time.monotonic() < deadline:
                time.sleep(INTERVAL / 5)
            assert "old" not in leases(repo, first, second)
        with repo.db.transaction() as conn:
            etl_operations.update(conn, second, lease_until="let go")
        time.sleep(INTERVAL * 4)
        assert leases(repo, second) == ["let go"]
        assert leases(repo, first) != ["old"]
    with repo.db.transaction() as conn:
        etl_operations.update(conn, first, lease_until="let go")
    time.sleep(INTERVAL * 4)
    assert leases(repo, first, second) == ["let go", "let go"]


def test_a_lease_another_owner_took_is_left_alone(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heartbeat, "INTERVAL_SECONDS", INTERVAL)
    op_id = held(repo, tmp_path, "someone else")
    with Heartbeat(repo.db.path, op_id, "me", repo.clock):
        time.sleep(INTERVAL * 4)
        assert leases(repo, op_id) == ["old"]
