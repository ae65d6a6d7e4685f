"""The import benchmark of the issue: our ETL engine against four ways of loading the same file.

``python -m bench.run --suite imports [--n N]`` runs it (``python -m bench.imports --n N`` too);
``python -m bench.imports --profile --n N [--save PATH]`` profiles our import alone instead.
Workloads, each on fresh repositories in a work folder:

1. **Import** of ``n`` JSON Lines records (:func:`bench.import_anchors.write_records`: seeded,
   about 600 bytes a line, UUIDv5 ids) through ``api.import_`` with the ``json-import``
   template and its defaults: an isolated branch, batches of 500 with a checkpoint and lineage
   rows each, auto-merge into ``main`` (whose ``nodes`` table and FTS index are then up to
   date). Each size (n/4, n/2, n) runs in a child process of its own that reports its own
   peak RSS; the figures of the largest are compared with the anchors
   (:mod:`bench.import_anchors`), each also in a child of its own, on the same file.
2. **Lineage**: 1,000 ``api.lineage(repo, node=...)`` calls for random imported nodes on the
   repository of the size-n import: p50 and p99.
3. **Queue**: small operations of 10 records each (1,000 at n = 1M), each its own file,
   ``api.queue_operation`` for each, then one ``api.run_queue``: operations per second over
   both (``run_queue`` alone is reported too).
4. **Resume**: an import (200,000 records at n = 1M, batches of 1,000) in a child that is
   killed with SIGKILL once half its records are loaded; a new child resumes it with
   ``api.run_operation``; the executor's ``recovery_seconds`` (resume called to first new
   batch written) is reported, and the result is checked against an uninterrupted import of
   the same file (same root hash, node count, lineage rows).

Below n = 1,000,000 the queue and resume workloads shrink in proportion (the output says so);
the lineage calls do not (they take a fraction of a second). Ratios and goals are reported, never
asserted; a wrong result (a count, a state, a root hash) fails the run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.import_anchors import (
    ANCHOR_BATCH,
    ANCHORS,
    copy_prefix,
    max_rss_mb,
    record_id,
    run_anchor_isolated,
    title_token,
    write_records,
)
from isometry import api
from isometry.clock import SystemClock
from isometry.etl.executor import Progress
from isometry.etl.states import State
from isometry.model import RowKind, node_id_for
from isometry.sources.records import source_id_for
from isometry.vcs.repository import DB_NAME

__all__ = ["FULL_N", "Scale", "render", "run_imports", "scale_for"]

FULL_N = 1_000_000
QUEUE_OPS_FULL = 1_000
QUEUE_RECORDS = 10
RESUME_FULL = 200_000
RESUME_BATCH = 1_000
LINEAGE_CALLS = 1_000
TEMPLATE = "json-import"
AUTHOR = "bench <bench@isometry.invalid>"
ROOT = Path(__file__).resolve().parent.parent

# Goals of the issue: our rows/s over the anchor's (>= unless "more than").
SPEED_GOALS: dict[str, tuple[float, str]] = {
    "raw": (0.5, ">="),
    "doltlite": (1.0, ">="),
    "sqlite-utils": (1.0, ">"),
    "dlt": (5.0, ">="),
}
ANCHOR_LABELS = {
    "raw": "(a) raw executemany, no FTS",
    "doltlite": "(b) doltlite + dolt_commit",
    "sqlite-utils": "(c) sqlite-utils insert_all",
    "dlt": "(d) dlt -> sqlalchemy/sqlite",
}
RSS_GOAL_MB = 100.0
FLAT_TOLERANCE = 0.10  # peak RSS of the largest size within 10% of the smallest's: "flat"
QUEUE_GOAL_OPS = 100.0
LINEAGE_GOAL_P99_MS = 1.0
RECOVERY_GOAL_S = 1.0


@dataclass(frozen=True)
class Scale:
    """How big each workload is for a given n."""

    n: int
    sizes: tuple[int, ...]
    queue_ops: int
    resume_records: int
    lineage_calls: int

    @property
    def scaled(self) -> bool:
        return self.n < FULL_N


def scale_for(n: int) -> Scale:
    if n < 1000:
        raise ValueError("n must be at least 1000")
    factor = min(1.0, n / FULL_N)
    return Scale(
        n=n,
        sizes=tuple(sorted({n // 4, n // 2, n})),
        queue_ops=max(10, round(QUEUE_OPS_FULL * factor)),
        resume_records=max(5 * RESUME_BATCH, round(RESUME_FULL * factor)),
        lineage_calls=LINEAGE_CALLS,
    )


_LINEAGE_OF_OP = (
    "SELECT count(*) FROM lineage WHERE origin IN (SELECT id FROM lineage_origins WHERE op_id = ?)"
)


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"import benchmark sanity check failed: {what}")


def _db_bytes(repo_path: Path) -> int:
    db = repo_path / DB_NAME
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def _node_id(source: Path, i: int) -> str:
    """The id our json importer gives record ``i`` of ``source``."""
    return node_id_for("json", source_id_for(str(source.resolve()), record_id(i)))


def _grants(source: Path) -> list[str]:
    return [f"file-system={source.parent}"]


# ----------------------------------------------------------------------------- children


class _PhaseClock:
    """A progress sink that notes when each phase is first seen, and the first new batch."""

    def __init__(self, started: float, done_before: int = 0) -> None:
        self.started = started
        self.done_before = done_before
        self.first_seen: dict[str, float] = {}
        self.first_batch: float | None = None
        self.echo = False

    def __call__(self, progress: Progress) -> None:
        now = time.perf_counter() - self.started
        self.first_seen.setdefault(progress.phase, now)
        if (
            self.first_batch is None
            and progress.phase == "loading"
            and progress.done > self.done_before
        ):
            self.first_batch = now
        if self.echo:
            print(json.dumps([progress.phase, progress.done, progress.total]), flush=True)


def _child_import(repo_path: Path, source: Path, n: int, batch: int | None) -> dict[str, Any]:
    """Import ``source`` (n records) into a new repository; timed, then checked."""
    config = {} if batch is None else {"batch_size": batch}
    repo = api.init(repo_path, clock=SystemClock(), author=AUTHOR)
    try:
        started = time.perf_counter()
        phases = _PhaseClock(started)
        op = api.import_(
            repo, TEMPLATE, [source], author=AUTHOR, grants=_grants(source),
            config=config, base=source.parent, on_progress=phases,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        max_rss = max_rss_mb()
        _check(op.state is State.SUCCEEDED, f"import ended {op.state}: {op.error}")
        _check(op.counts.get("inserted") == n, f"inserted {op.counts.get('inserted')} of {n}")
        _check(op.result.get("merge") in ("merged", "fast-forward"), f"merge {op.result}")
        _check(repo.count(RowKind.NODE) == n, f"main holds {repo.count(RowKind.NODE)} nodes")
        conn = repo.conn
        fts_docs = int(conn.execute("SELECT count(*) FROM nodes_fts_docsize").fetchone()[0])
        _check(fts_docs == n, f"main's FTS index holds {fts_docs} documents, not {n}")
        rng = random.Random(f"import-check:{n}")
        for i in rng.sample(range(n), min(n, 20)):
            found = conn.execute(
                "SELECT nodes.id FROM nodes_fts JOIN nodes ON nodes.rowid = nodes_fts.rowid"
                " WHERE nodes_fts MATCH ?",
                (f'"{title_token(i)}"',),
            ).fetchall()
            _check(found == [(_node_id(source, i),)], f"FTS finds record {i} as its node")
        lineage_rows = _scalar(conn, _LINEAGE_OF_OP, op.id)
        _check(lineage_rows == n, f"{lineage_rows} lineage rows for {n} records")
        (batches,) = conn.execute(
            "SELECT batches FROM checkpoints WHERE op_id = ?", (op.id,)
        ).fetchone()
        _check(batches == math.ceil(n / op.config.batch_size), f"{batches} checkpointed batches")
        marks = phases.first_seen
        load_start = marks.get("extracting", seconds)
        finalize_start = marks.get("finalizing", seconds)
        return {
            "n": n,
            "seconds": seconds,
            "rows_per_second": n / seconds,
            "batch_size": op.config.batch_size,
            "batches": batches,
            "prepare_scan_seconds": load_start,
            "load_seconds": finalize_start - load_start,
            "finalize_seconds": seconds - finalize_start,
            "max_rss_mb": max_rss,
            "engine_peak_rss_mb": (op.peak_rss or 0) / 2**20,
            "op_id": op.id,
            "merge": op.result.get("merge"),
            "root": api.show_commit(repo, "main").root,
            "db_bytes": _db_bytes(repo_path),
        }
    finally:
        repo.close()


def _child_run(repo_path: Path, op_id: str, report: bool) -> dict[str, Any]:
    """Run (or resume) an existing operation; with ``report``, echo progress as JSON lines."""
    repo = api.open_repository(repo_path, clock=SystemClock())
    try:
        done_before = int(api.operation(repo, op_id).counts.get("read", 0))
        started = time.perf_counter()
        phases = _PhaseClock(started, done_before)
        phases.echo = report
        op = api.run_operation(repo, op_id, author=AUTHOR, on_progress=phases)
        seconds = time.perf_counter() - started
        return {
            "state": str(op.state),
            "error": op.error,
            "done_before": done_before,
            "seconds": seconds,
            "first_batch_seconds": phases.first_batch,
            "recovery_seconds": op.recovery_seconds,
            "max_rss_mb": max_rss_mb(),
        }
    finally:
        repo.close()


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "_DOLTLITE_BOOTSTRAPPED"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _child_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.imports", "--child", *args]


def _run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        _child_argv(*args), env=_child_env(), cwd=ROOT, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"child {' '.join(args[:1])} failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def import_isolated(repo_path: Path, source: Path, n: int, batch: int | None) -> dict[str, Any]:
    """:func:`_child_import` in a fresh interpreter (its own peak RSS)."""
    args = ["import", str(repo_path), str(source), str(n)]
    return _run_child(*args, *([] if batch is None else [str(batch)]))


# ----------------------------------------------------------------------------- workloads


def _lineage(repo_path: Path, source: Path, n: int, op_id: str, calls: int) -> dict[str, Any]:
    rng = random.Random(f"lineage:{n}")
    picks = [rng.randrange(n) for _ in range(calls)]
    wanted = [(i, _node_id(source, i)) for i in picks]
    times: list[float] = []
    with api.open_repository(repo_path, clock=SystemClock()) as repo:
        for i, key in wanted:
            t0 = time.perf_counter()
            entries = api.lineage(repo, node=key)
            times.append(time.perf_counter() - t0)
            _check(len(entries) == 1, f"lineage of record {i}: {len(entries)} entries")
            entry = entries[0]
            locator = entry["locator"]
            _check(
                entry["operation"] == op_id
                and entry["change"] == "insert"
                and isinstance(locator, dict)
                and locator.get("record") == record_id(i)
                and locator.get("line") == i + 1,
                f"lineage of record {i} names its operation, record and line",
            )
    ordered = sorted(times)
    return {
        "calls": calls,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] * 1000,
        "max_ms": ordered[-1] * 1000,
        "first_ms": times[0] * 1000,
    }


def _queue(workdir: Path, ops: int, seed: int) -> dict[str, Any]:
    data = workdir / "data"
    files = []
    for k in range(ops):
        path = data / f"op-{k:05d}.jsonl"
        write_records(path, QUEUE_RECORDS, seed, start=1_000_000_000 + k * QUEUE_RECORDS)
        files.append(path)
    with api.init(workdir / "repo", clock=SystemClock(), author=AUTHOR) as repo:
        t0 = time.perf_counter()
        for path in files:
            api.queue_operation(
                repo, TEMPLATE, [path], grants=_grants(path), base=path.parent
            )  # fmt: skip
        t1 = time.perf_counter()
        finished = api.run_queue(repo, author=AUTHOR)
        t2 = time.perf_counter()
        _check(len(finished) == ops, f"run_queue ran {len(finished)} of {ops} operations")
        bad = [op for op in finished if op.state is not State.SUCCEEDED]
        _check(not bad, f"{len(bad)} queued operation(s) did not succeed, e.g. {bad[:1]}")
        wrong = [op.id for op in finished if op.counts.get("inserted") != QUEUE_RECORDS]
        _check(not wrong, f"{len(wrong)} operation(s) did not insert {QUEUE_RECORDS} nodes")
        nodes = repo.count(RowKind.NODE)
        _check(nodes == ops * QUEUE_RECORDS, f"main holds {nodes} nodes")
        merges = {str(op.result.get("merge")) for op in finished}
    return {
        "operations": ops,
        "records_each": QUEUE_RECORDS,
        "queue_seconds": t1 - t0,
        "run_seconds": t2 - t1,
        "ops_per_second": ops / (t2 - t0),
        "run_ops_per_second": ops / (t2 - t1),
        "merges": sorted(merges),
    }


def _kill_mid_load(repo_path: Path, op_id: str, kill_at: int, log: Path) -> int:
    """Run the operation in a child and SIGKILL it once ``kill_at`` records are loaded;
    returns how many records it reported done."""
    with log.open("w") as errors:
        child = subprocess.Popen(
            _child_argv("run", str(repo_path), op_id, "--report"), env=_child_env(), cwd=ROOT,
            stdout=subprocess.PIPE, stderr=errors, text=True,
        )  # fmt: skip
        assert child.stdout is not None
        seen = -1
        for line in child.stdout:
            event = json.loads(line)
            if isinstance(event, list) and event[0] == "loading" and event[1] >= kill_at:
                seen = int(event[1])
                child.send_signal(signal.SIGKILL)
                break
        child.stdout.close()
        child.wait(600)
    _check(seen >= 0, f"the child ended before it loaded {kill_at} records: {log.read_text()}")
    _check(child.returncode == -signal.SIGKILL, f"the child was not killed ({child.returncode})")
    return seen


def _state_of(repo_path: Path, op_id: str) -> dict[str, Any]:
    with api.open_repository(repo_path, clock=SystemClock()) as repo:
        conn = repo.conn
        op = api.operation(repo, op_id)
        return {
            "state": op.state,
            "counts": op.counts,
            "recovery_seconds": op.recovery_seconds,
            "root": api.show_commit(repo, "main").root,
            "nodes": repo.count(RowKind.NODE),
            "distinct_sources": _scalar(conn, "SELECT count(DISTINCT source_id) FROM nodes"),
            "lineage_rows": _scalar(conn, _LINEAGE_OF_OP, op.id),
            "checkpoint_read": _checkpoint_read(conn, op.id),
        }


def _scalar(conn: sqlite3.Connection, sql: str, *params: object) -> int:
    return int(conn.execute(sql, params).fetchone()[0])


def _checkpoint_read(conn: sqlite3.Connection, op_id: str) -> int:
    row = conn.execute("SELECT counts FROM checkpoints WHERE op_id = ?", (op_id,)).fetchone()
    return int(json.loads(row[0]).get("read", 0)) if row else 0


def _resume(workdir: Path, source: Path, records: int) -> dict[str, Any]:
    reference = import_isolated(workdir / "reference", source, records, RESUME_BATCH)
    repo_path = workdir / "repo"
    with api.init(repo_path, clock=SystemClock(), author=AUTHOR) as repo:
        op_id = api.create_operation(
            repo, TEMPLATE, [source], grants=_grants(source),
            config={"batch_size": RESUME_BATCH}, base=source.parent,
        ).id  # fmt: skip
    reported = _kill_mid_load(repo_path, op_id, records // 2, workdir / "killed-child.log")
    killed = _state_of(repo_path, op_id)
    _check(killed["state"] is State.RUNNING, f"the killed operation is {killed['state']}")
    _check(0 < killed["checkpoint_read"] < records, "the kill came mid-load")
    resumed = _run_child("run", str(repo_path), op_id)
    after = _state_of(repo_path, op_id)
    _check(resumed["state"] == "succeeded", f"the resumed import ended {resumed}")
    _check(after["state"] is State.SUCCEEDED, f"the resumed operation is {after['state']}")
    _check(after["recovery_seconds"] is not None, "the executor recorded recovery_seconds")
    _check(after["nodes"] == records, f"main holds {after['nodes']} nodes, not {records}")
    _check(after["distinct_sources"] == records, "no record was imported twice")
    _check(after["lineage_rows"] == records, f"{after['lineage_rows']} lineage rows")
    _check(after["counts"].get("inserted") == records, f"resumed counts {after['counts']}")
    _check(after["root"] == reference["root"], "resumed root hash == uninterrupted root hash")
    return {
        "records": records,
        "batch_size": RESUME_BATCH,
        "killed_after_reported": reported,
        "killed_at_checkpoint": killed["checkpoint_read"],
        "recovery_seconds": after["recovery_seconds"],
        "resume_to_first_batch_seconds": resumed["first_batch_seconds"],
        "resume_seconds": resumed["seconds"],
        "resume_max_rss_mb": resumed["max_rss_mb"],
        "uninterrupted_seconds": reference["seconds"],
        "same_root": after["root"] == reference["root"],
        "root": after["root"],
    }


# ----------------------------------------------------------------------------- the suite


def _met(value: float | None, goal: float, way: str) -> bool | None:
    if value is None:
        return None
    return {">=": value >= goal, ">": value > goal, "<=": value <= goal}[way]


def run_imports(
    n: int,
    workdir: Path,
    seed: int = 0,
    *,
    skip_anchors: bool = False,
    keep: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every workload for ``n`` in ``workdir``; returns every figure (see ``render``)."""
    scale = scale_for(n)
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    wall: dict[str, float] = {}
    if scale.scaled:
        say(
            f"quick run (n={n:,} < {FULL_N:,}): the queue and resume workloads are scaled by"
            f" n/{FULL_N:,}: {scale.queue_ops:,} operations (1,000 at 1M) and"
            f" {scale.resume_records:,} records to resume ({RESUME_FULL:,} at 1M);"
            f" lineage calls are not scaled ({scale.lineage_calls:,})"
        )

    t0 = time.perf_counter()
    source = data / f"records-{n}.jsonl"
    size = write_records(source, n, seed)
    sources = {n: source}
    for k in scale.sizes:
        if k != n:
            sources[k] = data / f"records-{k}.jsonl"
            copy_prefix(source, sources[k], k)
    wall["generate"] = time.perf_counter() - t0
    say(f"data: {n:,} records, {size / n:.0f} bytes a line on average, {size / 1e6:,.0f} MB")

    ours: dict[int, dict[str, Any]] = {}
    for k in scale.sizes:
        say(f"ours: importing {k:,} records in a child process ...")
        t0 = time.perf_counter()
        ours[k] = import_isolated(workdir / f"ours-{k}" / "repo", sources[k], k, None)
        wall[f"ours_{k}"] = time.perf_counter() - t0
        say(
            f"ours: {k:,} in {ours[k]['seconds']:,.1f} s ({ours[k]['rows_per_second']:,.0f}"
            f" rows/s), peak RSS {ours[k]['max_rss_mb']:.0f} MB"
        )
        if k != n and not keep:
            shutil.rmtree(workdir / f"ours-{k}", ignore_errors=True)

    say(f"lineage: {scale.lineage_calls:,} calls on the {n:,}-node repository ...")
    t0 = time.perf_counter()
    lineage = _lineage(
        workdir / f"ours-{n}" / "repo", source, n, ours[n]["op_id"], scale.lineage_calls
    )
    wall["lineage"] = time.perf_counter() - t0

    anchors: dict[str, dict[str, Any]] = {}
    if not skip_anchors:
        for anchor in ANCHORS:
            say(f"{anchor}: loading the same {n:,} records in its own interpreter ...")
            t0 = time.perf_counter()
            figures = run_anchor_isolated(anchor, source, workdir / "anchors" / anchor)
            wall[f"anchor_{anchor}"] = time.perf_counter() - t0
            anchors[anchor] = {
                "version": figures.version,
                "rows": figures.rows,
                "seconds": figures.seconds,
                "rows_per_second": figures.rows_per_second,
                "max_rss_mb": figures.max_rss_mb,
                "notes": figures.notes,
            }
            say(f"{anchor}: {figures.seconds:,.1f} s ({figures.rows_per_second:,.0f} rows/s)")
            if not keep:
                shutil.rmtree(workdir / "anchors" / anchor, ignore_errors=True)

    say(f"queue: {scale.queue_ops:,} operations of {QUEUE_RECORDS} records ...")
    t0 = time.perf_counter()
    queue = _queue(workdir / "queue", scale.queue_ops, seed)
    wall["queue"] = time.perf_counter() - t0

    say(f"resume: {scale.resume_records:,} records, killed half-way, resumed ...")
    t0 = time.perf_counter()
    resume_source = data / f"resume-{scale.resume_records}.jsonl"
    if scale.resume_records <= n:
        copy_prefix(source, resume_source, scale.resume_records)
    else:
        write_records(resume_source, scale.resume_records, seed)
    resume = _resume(workdir / "resume", resume_source, scale.resume_records)
    wall["resume"] = time.perf_counter() - t0

    main = ours[n]
    speed = []
    for anchor, theirs in anchors.items():
        goal, way = SPEED_GOALS[anchor]
        ratio = main["rows_per_second"] / theirs["rows_per_second"]
        speed.append(
            {"anchor": anchor, "ratio": ratio, "goal": goal, "way": way,
             "met": _met(ratio, goal, way)}
        )  # fmt: skip
    peaks = [ours[k]["max_rss_mb"] for k in scale.sizes]
    growth = peaks[-1] - peaks[0]
    return {
        "n": n,
        "seed": seed,
        "scale": {
            "scaled": scale.scaled,
            "sizes": list(scale.sizes),
            "queue_ops": scale.queue_ops,
            "resume_records": scale.resume_records,
            "lineage_calls": scale.lineage_calls,
        },
        "source_bytes": size,
        "ours": {str(k): v for k, v in ours.items()},
        "anchors": anchors,
        "anchor_batch": ANCHOR_BATCH,
        "speed": speed,
        "memory": {
            "peaks_mb": peaks,
            "max_mb": max(peaks),
            "growth_mb": growth,
            "within_goal": max(peaks) <= RSS_GOAL_MB,
            "flat": growth <= FLAT_TOLERANCE * peaks[0],
        },
        "lineage": lineage | {"met": lineage["p99_ms"] <= LINEAGE_GOAL_P99_MS},
        "queue": queue | {"met": queue["ops_per_second"] >= QUEUE_GOAL_OPS},
        "resume": resume
        | {
            "met": resume["recovery_seconds"] is not None
            and resume["recovery_seconds"] <= RECOVERY_GOAL_S
        },
        "wall_seconds": wall,
    }


def _table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    rows = [tuple(header), *(tuple(line) for line in lines)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    out = []
    for number, row in enumerate(rows):
        cells = [
            row[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
        ]
        out.append("  ".join(cells))
        if number == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _yes(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "NO")


def render(results: dict[str, Any]) -> str:
    """The figures as plain-text tables."""
    n = results["n"]
    scale = results["scale"]
    main = results["ours"][str(n)]
    parts = []
    lines = [
        [
            "ours: json-import, isolated, auto-merge",
            f"{main['rows_per_second']:,.0f}",
            f"{main['seconds']:,.2f} s",
            f"{main['max_rss_mb']:.0f} MB",
            "-",
            "-",
            "-",
        ]
    ]
    by_anchor = {s["anchor"]: s for s in results["speed"]}
    for anchor, figures in results["anchors"].items():
        s = by_anchor[anchor]
        lines.append(
            [
                ANCHOR_LABELS[anchor],
                f"{figures['rows_per_second']:,.0f}",
                f"{figures['seconds']:,.2f} s",
                f"{figures['max_rss_mb']:.0f} MB",
                f"{s['ratio']:.2f}x",
                f"{s['way']} {s['goal']:g}x",
                _yes(s["met"]),
            ]
        )
    parts.append(f"import of {n:,} records, {results['source_bytes'] / n:.0f} B a line:")
    parts.append(
        _table(("side", "rows/s", "time", "peak RSS", "ours/theirs", "goal", "met"), lines)
    )
    parts.append("(ours/theirs: our rows/s over theirs; > 1 means we are faster)")

    memory = results["memory"]
    lines = [
        [
            f"{int(k):,}",
            f"{v['seconds']:,.2f} s",
            f"{v['rows_per_second']:,.0f}",
            f"{v['max_rss_mb']:.0f} MB",
            f"{v['engine_peak_rss_mb']:.0f} MB",
            f"{v['prepare_scan_seconds']:.2f} / {v['load_seconds']:.2f} / "
            f"{v['finalize_seconds']:.2f}",
        ]
        for k, v in results["ours"].items()
    ]
    parts.append("")
    parts.append("our import by size (one child process each):")
    parts.append(
        _table(
            (
                "records",
                "time",
                "rows/s",
                "child peak RSS",
                "engine peak_rss",
                "scan / load / finalize s",
            ),
            lines,
        )
    )
    parts.append(
        f"peak RSS goal <= {RSS_GOAL_MB:.0f} MB: {_yes(memory['within_goal'])};"
        f" growth from {int(scale['sizes'][0]):,} to {n:,} records {memory['growth_mb']:+.1f} MB"
        f" (flat, within {FLAT_TOLERANCE:.0%}: {_yes(memory['flat'])})"
    )

    lineage, queue, resume = results["lineage"], results["queue"], results["resume"]
    parts.append("")
    parts.append(
        _table(
            ("workload", "figure", "goal", "met"),
            [
                [
                    f"lineage of one node, {lineage['calls']:,} calls on {n:,} nodes",
                    f"p50 {lineage['p50_ms']:.3f} ms, p99 {lineage['p99_ms']:.3f} ms",
                    f"p99 <= {LINEAGE_GOAL_P99_MS:g} ms",
                    _yes(lineage["met"]),
                ],
                [
                    f"queue: {queue['operations']:,} operations of {queue['records_each']} records",
                    f"{queue['ops_per_second']:,.1f} ops/s",
                    f">= {QUEUE_GOAL_OPS:g} ops/s",
                    _yes(queue["met"]),
                ],
                [
                    f"resume after SIGKILL ({resume['records']:,} records, killed at"
                    f" {resume['killed_at_checkpoint']:,})",
                    f"recovery {resume['recovery_seconds']:.3f} s",
                    f"<= {RECOVERY_GOAL_S:g} s",
                    _yes(resume["met"]),
                ],
            ],
        )
    )
    parts.append(
        f"queue: queue_operation {queue['queue_seconds']:.2f} s, run_queue"
        f" {queue['run_seconds']:.2f} s ({queue['run_ops_per_second']:,.1f} ops/s alone)."
        f" Resume: first new batch {resume['resume_to_first_batch_seconds']:.3f} s after the"
        f" call in the new child; resumed root hash equals the uninterrupted one:"
        f" {_yes(resume['same_root'])}; lineage first call {lineage['first_ms']:.2f} ms,"
        f" max {lineage['max_ms']:.2f} ms"
    )
    if scale["scaled"]:
        parts.append(
            f"(quick run: queue and resume scaled by n/{FULL_N:,}; the goals are for n = 1M)"
        )
    return "\n".join(parts)


# ----------------------------------------------------------------------------- profile


def profile(n: int, workdir: Path, seed: int = 0, top: int = 25, save: Path | None = None) -> str:
    """Our import of n records in this process under cProfile: the top functions by own
    time, and own time summed per module (``save``: also dump the stats there, for
    ``pstats`` or snakeviz)."""
    source = workdir / "data" / f"records-{n}.jsonl"
    write_records(source, n, seed)
    profiler = cProfile.Profile()
    with api.init(workdir / "repo", clock=SystemClock(), author=AUTHOR) as repo:
        profiler.enable()
        started = time.perf_counter()
        op = api.import_(
            repo, TEMPLATE, [source], author=AUTHOR, grants=_grants(source), base=source.parent
        )
        seconds = time.perf_counter() - started
        profiler.disable()
        _check(op.state is State.SUCCEEDED and repo.count(RowKind.NODE) == n, "profiled import")
    if save is not None:
        profiler.dump_stats(save)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    per_module: dict[str, float] = {}
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _, name), (_, _, tottime, _, _) in raw.items():
        module = _module_of(filename, name)
        per_module[module] = per_module.get(module, 0.0) + tottime
    total = sum(per_module.values())
    lines = [f"our import of {n:,} records under cProfile: {seconds:.1f} s wall", ""]
    lines.append("own time per module:")
    for module, spent in sorted(per_module.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {spent:8.2f} s {spent / total:6.1%}  {module}")
    lines.append("")
    lines.append(text.getvalue())
    return "\n".join(lines)


def _module_of(filename: str, name: str) -> str:
    if filename == "~":
        return name.strip("<>").split(" of ")[0].replace("built-in method ", "builtin ")
    path = Path(filename)
    parts = path.with_suffix("").parts
    for anchor in ("isometry", "bench"):
        if anchor in parts:
            return ".".join(parts[parts.index(anchor) :])
    return path.stem


# ----------------------------------------------------------------------------- command line


def _child_main(args: Sequence[str]) -> int:
    command, *rest = args
    if command == "import":
        repo, source, n, *batch = rest
        result = _child_import(Path(repo), Path(source), int(n), int(batch[0]) if batch else None)
    elif command == "run":
        repo, op_id, *flags = rest
        result = _child_run(Path(repo), op_id, "--report" in flags)
    else:
        raise SystemExit(f"unknown child command {command!r}")
    print(json.dumps(result), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``--profile``: profile our import; ``--child ...``: one side of the suite (internal);
    anything else runs the suite through ``bench.run --suite imports``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return _child_main(argv[1:])
    if "--profile" not in argv:
        from bench.run import main as run_main

        return run_main(["--suite", "imports", *argv])
    parser = argparse.ArgumentParser(prog="python -m bench.imports --profile")
    parser.add_argument("--profile", action="store_true", required=True)
    parser.add_argument("--n", type=int, default=100_000, help="records to import")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=25, help="functions and modules to list")
    parser.add_argument("--save", type=Path, default=None, help="also dump the pstats here")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="isometry-profile-"))
    try:
        print(profile(args.n, base, args.seed, args.top, args.save))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
