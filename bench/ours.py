"""Our half of the benchmark: the doltlite side's workload, run on the project's own store.

The rows, the rows each step changes and the new values are the peer's (see
:mod:`bench.doltlite_side`): the same ``node_rows`` stream from ``Random(seed)`` and the same
work stream, drawn in the same order, so both sides change and read the very same rows.
Importing that module's helpers does not load doltlite.

Everything goes through the public API (:mod:`isometry.api`). Each timed step is checked
afterwards, outside the clock, so a fast wrong answer fails the run instead of scoring.

Differences from the peer that the figures must be read with:

* The load is committed in commits of :data:`LOAD_ROWS` rows (how the ETL engine loads, one
  batch per transaction), not in one commit. ``build_seconds`` counts turning each generated
  tuple into a validated node row (``isometry.model.node_row``), the ``Upsert`` ops and every
  ``apply``; only the tuple generation shared with the peer is left out.
* An update is a ``Patch`` of ``content`` and ``modified_at``: the peer's
  ``UPDATE nodes SET content = ?, modified_at = ?``.
* The AS OF read is ``api.show(repo, id, at=<load commit id>)``: the last load commit.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from bench.doltlite_side import (
    AS_OF_REPEATS,
    BRANCH_REPEATS,
    COMMIT_REPEATS,
    DIFF_REPEATS,
    DIFF_ROWS,
    MAIN_MOVE_ROWS,
    MERGE_ROWS,
    content_text,
    node_id,
    node_rows,
)
from isometry import api
from isometry.clock import FixedStepClock
from isometry.model import JSON, RowKind, node_row
from isometry.vcs.ops import Op, Patch, Upsert
from isometry.vcs.repository import DB_NAME

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bench.doltlite_side import Row
    from isometry.vcs.repository import Repository

__all__ = ["LOAD_ROWS", "OurFigures", "run_ours"]

LOAD_ROWS = 50_000
"""Rows per load commit."""

AUTHOR = "bench <bench@isometry.invalid>"
REPO_DIR = "repo"
# The peer's update stamps: a year after the rows' own, one second per "tick".
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
_CHECK_CHUNK = 900
# The b-trees a one-row commit writes to, for the per-table growth notes.
_TREES = (
    "row_versions",
    "commits",
    "sqlite_autoindex_commits_1",
    "changes",
    "changes_by_key",
    "nodes",
    "nodes_fts_data",
    "nodes_fts_idx",
)


@dataclass(frozen=True)
class OurFigures:
    """What one run of our side measured; the fields match ``PeerFigures``."""

    build_seconds: float
    """Validate n generated rows into node rows and ``apply`` them as Upserts, 50,000 a commit."""
    branch_ms: float
    """Median of 20 ``api.create_branch(name, 'main')`` calls."""
    diff_100_ms: float
    """Median of 5 full field-level ``api.diff(repo, 'main', branch)``, 100 modified rows."""
    merge_10000_s: float
    """``api.merge`` of a 10,000-row branch into a main that moved too (a merge commit)."""
    commit_one_bytes: float
    """Average growth per one-row commit over 200 of db + -wal, checkpointed at both ends, less
    the pages on SQLite's free list (which new pages are taken from before the file grows)."""
    as_of_ms: float
    """Median of 200 ``api.show(repo, id, at=<load commit>)`` reads while main has moved on."""


# ----------------------------------------------------------------------------- helpers


def _node(row: Row) -> dict[str, JSON]:
    """The peer's tuple as our validated, stored node row."""
    ident, node_type, name, content, folder, tags, priority, created, modified = row
    return node_row(
        {
            "id": ident,
            "node_type": node_type,
            "name": name,
            "content": content,
            "folder": folder,
            "tags": orjson.loads(tags),
            "priority": priority,
            "created_at": created,
            "modified_at": modified,
        }
    )


def _patches(indices: Sequence[int], rng: random.Random, tick: int) -> list[Patch]:
    """The peer's ``_updates``: same draws from ``rng`` in the same order, as Patch ops."""
    stamp = (_EPOCH + timedelta(days=365, seconds=tick)).strftime(_STAMP)
    return [
        Patch(RowKind.NODE, node_id(i), {"content": content_text(rng), "modified_at": stamp})
        for i in indices
    ]


def _apply(repo: Repository, ops: Sequence[Op], branch: str, message: str) -> str:
    result = api.apply(repo, ops, branch=branch, message=message, author=AUTHOR)
    _check(result.changes == len(ops), f"{message}: {result.changes} changes, not {len(ops)}")
    return result.commit.id


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"isometry benchmark sanity check failed: {what}")


def _main_contents(repo: Repository, keys: Sequence[str]) -> dict[str, str]:
    """``content`` of ``keys`` in main's ordinary ``nodes`` table."""
    found: dict[str, str] = {}
    for start in range(0, len(keys), _CHECK_CHUNK):
        part = keys[start : start + _CHECK_CHUNK]
        marks = ",".join("?" * len(part))
        query = f"SELECT id, content FROM nodes WHERE id IN ({marks})"
        found.update(repo.conn.execute(query, part).fetchall())
    return found


def _expect_main(repo: Repository, patches: Sequence[Patch], what: str) -> None:
    have = _main_contents(repo, [p.key for p in patches])
    wrong = [p.key for p in patches if have.get(p.key) != p.fields["content"]]
    _check(not wrong, f"{what}: {len(wrong)} row(s) of main lack the value set, e.g. {wrong[:1]}")


def _disk_bytes(repo: Repository) -> int:
    db = repo.path / DB_NAME
    wal = db.with_name(db.name + "-wal")
    return sum(p.stat().st_size for p in (db, wal) if p.exists())


def _checkpointed_bytes(repo: Repository) -> tuple[int, int]:
    """File bytes (db + -wal) after a checkpoint, and those bytes less its free pages."""
    repo.db.checkpoint()
    free = int(repo.conn.execute("PRAGMA freelist_count").fetchone()[0])
    size = int(repo.conn.execute("PRAGMA page_size").fetchone()[0])
    on_disk = _disk_bytes(repo)
    return on_disk, on_disk - free * size


def _btree_bytes(repo: Repository) -> dict[str, int]:
    """Bytes of pages each table and index holds (SQLite's dbstat, aggregated per b-tree)."""
    query = "SELECT name, pgsize FROM dbstat('main', 1)"
    return {str(name): int(size) for name, size in repo.conn.execute(query)}


def _commit_window(repo: Repository, n: int, rng: random.Random, tick: int) -> tuple[float, ...]:
    """200 one-row commits on main; per commit: file growth, in-use growth, per-b-tree growth."""
    before, used_before = _checkpointed_bytes(repo)
    trees_before = _btree_bytes(repo)
    last: list[Patch] = []
    for k, i in enumerate(rng.sample(range(n), COMMIT_REPEATS)):
        last = _patches([i], rng, tick + k)
        _apply(repo, last, "main", f"one-row commit {tick + k}")
    after, used_after = _checkpointed_bytes(repo)
    trees_after = _btree_bytes(repo)
    _expect_main(repo, last, "the last one-row commit")
    return (
        (after - before) / COMMIT_REPEATS,
        (used_after - used_before) / COMMIT_REPEATS,
        *((trees_after.get(t, 0) - trees_before.get(t, 0)) / COMMIT_REPEATS for t in _TREES),
    )


def _ms(seconds: Sequence[float]) -> float:
    return statistics.median(seconds) * 1000.0


# ----------------------------------------------------------------------------- workload


def run_ours(
    n: int, workdir: Path, seed: int = 0, *, notes: dict[str, float] | None = None
) -> OurFigures:
    """Run the whole workload on a fresh repository in ``workdir / 'repo'``.

    Needs ``n >= 1000``, like the peer. ``notes``, when given, receives figures that explain
    the main ones (load commits, validation time, file size, pages in use, phase wall times).
    """
    if n < 1000:
        raise ValueError("n must be at least 1000")
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / REPO_DIR
    if (path / DB_NAME).exists():
        raise FileExistsError(path / DB_NAME)
    extra: dict[str, float] = notes if notes is not None else {}

    data_rng = random.Random(seed)
    # The peer's work stream: the same rows are changed and read on both sides.
    work_rng = random.Random(f"doltlite-side:{seed}")
    clock = FixedStepClock(datetime(2025, 1, 1, tzinfo=UTC), timedelta(milliseconds=1))
    repo = api.init(path, clock=clock, author=AUTHOR)
    try:
        # Build: tuple generation outside the clock; validation and apply inside it.
        phase = time.perf_counter()
        build = validate = 0.0
        load_commit = ""
        commits = 0
        for start in range(0, n, LOAD_ROWS):
            stop = min(n, start + LOAD_ROWS)
            generated = node_rows(start, stop, data_rng)
            t0 = time.perf_counter()
            ops: list[Op] = [Upsert(RowKind.NODE, _node(row)) for row in generated]
            t1 = time.perf_counter()
            load_commit = _apply(repo, ops, "main", f"load nodes {start}..{stop - 1}")
            t2 = time.perf_counter()
            build += t2 - t0
            validate += t1 - t0
            commits += 1
            del generated, ops
        _check(repo.count(RowKind.NODE) == n, "row count after load")
        sample = api.show(repo, node_id(n - 1), at=load_commit)[1]
        _check(sample.get("name") == f"Note {n - 1}", "last loaded row reads back")
        extra["load_commits"] = commits
        extra["load_validate_seconds"] = validate
        extra["load_wall_seconds"] = time.perf_counter() - phase
        extra["db_bytes_after_load"] = _checkpointed_bytes(repo)[0]

        # Branch creation from main.
        head = api.show_commit(repo, "main").id
        branch_times: list[float] = []
        for k in range(BRANCH_REPEATS):
            t0 = time.perf_counter()
            made = api.create_branch(repo, f"bench-branch-{k}", "main")
            branch_times.append(time.perf_counter() - t0)
            _check(made.id == head, "a new branch starts at main's head")

        # Diff: a branch whose one commit changes 100 rows, against main.
        phase = time.perf_counter()
        api.create_branch(repo, "diff-100", "main")
        changed = _patches(work_rng.sample(range(n), DIFF_ROWS), work_rng, 1)
        _apply(repo, changed, "diff-100", f"change {DIFF_ROWS} rows")
        wanted = {p.key: p.fields for p in changed}
        diff_times: list[float] = []
        for _ in range(DIFF_REPEATS):
            t0 = time.perf_counter()
            delta = api.diff(repo, "main", "diff-100")
            diff_times.append(time.perf_counter() - t0)
            _check(
                delta.summary()["nodes"] == {"added": 0, "removed": 0, "modified": DIFF_ROWS},
                f"diff summary {delta.summary()}",
            )
            _check(not any(delta.summary()["edges"].values()), "diff lists no edges")
            for entry in delta.nodes.modified:
                fields = entry["fields"]
                expected = wanted.get(str(entry["id"]))
                _check(expected is not None, f"diff lists an unchanged row {entry['id']}")
                assert expected is not None
                _check(set(fields) == set(expected), f"diff fields {sorted(fields)}")
                _check(
                    all(fields[f]["to"] == v for f, v in expected.items()),
                    "diff shows the new values",
                )
        extra["diff_setup_wall_seconds"] = time.perf_counter() - phase

        # Merge: branch changes up to 10,000 rows, main changes 100 others after the fork.
        phase = time.perf_counter()
        merge_rows = min(MERGE_ROWS, n - MAIN_MOVE_ROWS)
        picked = work_rng.sample(range(n), merge_rows + MAIN_MOVE_ROWS)
        theirs_idx, ours_idx = picked[:merge_rows], picked[merge_rows:]
        api.create_branch(repo, "merge-10000", "main")
        theirs = _patches(theirs_idx, work_rng, 2)
        _apply(repo, theirs, "merge-10000", f"change {merge_rows} rows")
        ours = _patches(ours_idx, work_rng, 3)
        _apply(repo, ours, "main", f"change {MAIN_MOVE_ROWS} other rows on main")
        t0 = time.perf_counter()
        merged = api.merge(repo, "merge-10000", "main", author=AUTHOR)
        merge_seconds = time.perf_counter() - t0
        _check(merged.status == "merged", f"merge status {merged.status!r}")
        _check(
            merged.commit is not None and len(merged.commit.parents) == 2,
            "the merge made a commit with two parents",
        )
        _check(
            merged.commit is not None and merged.commit.changes == merge_rows,
            f"the merge commit changed {merged.commit.changes if merged.commit else 0} rows",
        )
        _expect_main(repo, theirs, "merged main holds the branch's values")
        _expect_main(repo, ours, "merged main keeps its own values")
        extra["merge_setup_wall_seconds"] = time.perf_counter() - phase - merge_seconds

        # Disk growth per one-row commit on main.
        phase = time.perf_counter()
        file_growth, commit_one_bytes, *trees = _commit_window(repo, n, work_rng, 10)
        extra["commit_one_file_bytes"] = file_growth
        extra |= {f"commit_one_bytes[{t}]": b for t, b in zip(_TREES, trees, strict=True)}
        extra["commit_phase_wall_seconds"] = time.perf_counter() - phase

        # Point reads as of the load commit, while main has moved on.
        moved = {p.key for p in (*changed, *theirs, *ours)}
        as_of_times: list[float] = []
        hits = 0
        for i in work_rng.choices(range(n), k=AS_OF_REPEATS):
            key = node_id(i)
            stamp = (_EPOCH + timedelta(seconds=i)).strftime(_STAMP)
            t0 = time.perf_counter()
            kind, row = api.show(repo, key, at=load_commit)
            as_of_times.append(time.perf_counter() - t0)
            _check(kind == "node" and row["id"] == key, "as-of read found its row")
            _check(
                row.get("name") == f"Note {i}" and row.get("modified_at") == stamp,
                "as-of read returned the load-time version",
            )
            hits += key in moved
        extra["as_of_reads_of_rows_changed_since"] = hits

        # A second window of one-row commits, away from the merge's aftermath (see README).
        file_growth, used, *_ = _commit_window(
            repo, n, random.Random(f"second-window:{seed}"), 1000
        )
        extra["commit_one_bytes_window2"] = used
        extra["commit_one_file_bytes_window2"] = file_growth
        extra["db_bytes_at_end"] = _checkpointed_bytes(repo)[0]
    finally:
        repo.close()

    return OurFigures(
        build_seconds=build,
        branch_ms=_ms(branch_times),
        diff_100_ms=_ms(diff_times),
        merge_10000_s=merge_seconds,
        commit_one_bytes=commit_one_bytes,
        as_of_ms=_ms(as_of_times),
    )
