"""The peer half of the benchmark: the same workload run on doltlite.

doltlite is Dolt's version control inside SQLite. ``import doltlite`` loads
``libdoltlite`` into the process ahead of the system SQLite, so the standard
``sqlite3`` module then talks to it and gains SQL functions such as
``dolt_commit``, ``dolt_branch``, ``dolt_checkout``, ``dolt_merge`` and the
table functions ``dolt_diff_<table>(from, to)`` and ``dolt_at_<table>(rev)``.

Two consequences shape this module:

* ``doltlite`` must be imported before anything imports ``sqlite3``, or its
  bootstrap re-executes the interpreter. This module therefore imports it only
  inside :func:`run_peer`, and refuses to run if ``sqlite3`` came first.
* Once loaded, *every* ``sqlite3`` connection in the process runs on
  libdoltlite, and a database file it creates is in doltlite's own format. To
  time the project's own store fairly in the same benchmark, run this side in
  a separate interpreter: :func:`run_peer_isolated` does that.

Workload notes, all in the figures' docstrings below:

* Row generation is not timed; only the SQL calls are.
* doltlite has no ``AS OF`` clause (a syntax error); ``dolt_at_nodes(rev)`` is
  its equivalent and is what ``as_of_ms`` times.
* ``PRAGMA wal_checkpoint`` exists but doltlite keeps no SQLite WAL: the pragma
  runs its garbage collection instead. It is run before both size readings.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator, Sequence

__all__ = [
    "PeerFigures",
    "content_text",
    "node_id",
    "node_rows",
    "run_peer",
    "run_peer_isolated",
]

CHUNK_ROWS = 10_000
BRANCH_REPEATS = 20
DIFF_REPEATS = 5
DIFF_ROWS = 100
MERGE_ROWS = 10_000
MAIN_MOVE_ROWS = 100
COMMIT_REPEATS = 200
AS_OF_REPEATS = 200

DB_NAME = "peer.db"
TABLE_DDL = (
    "CREATE TABLE nodes(id TEXT PRIMARY KEY, node_type TEXT, name TEXT, content TEXT,"
    " folder TEXT, tags TEXT, priority INTEGER, created_at TEXT, modified_at TEXT)"
)
INSERT_SQL = "INSERT INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
UPDATE_SQL = "UPDATE nodes SET content = ?, modified_at = ? WHERE id = ?"

_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_WORDS = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "note",
    "idea",
    "draft",
    "river",
    "stone",
    "cloud",
    "paper",
    "ink",
    "garden",
    "orbit",
    "signal",
    "market",
    "winter",
    "summer",
    "lamp",
    "bridge",
    "harbor",
    "field",
    "echo",
    "copper",
    "velvet",
    "margin",
    "thread",
    "anchor",
    "pixel",
    "meadow",
    "quartz",
    "lantern",
    "compass",
    "atlas",
)
_CONTENT_CHARS = 200

Row = tuple[str, str, str, str, str, str, int, str, str]
Update = tuple[str, str, str]


@dataclass(frozen=True)
class PeerFigures:
    """What one run of the doltlite side measured."""

    build_seconds: float
    """Load n rows (executemany, chunks of 10,000, one transaction) and dolt_commit them."""
    branch_ms: float
    """Median of 20 ``dolt_branch(name, 'main')`` calls."""
    diff_100_ms: float
    """Median of 5 full fetches of ``dolt_diff_nodes('main', branch)``, 100 modified rows."""
    merge_10000_s: float
    """``dolt_merge`` of a 10,000-row branch into a main that moved too (a merge commit)."""
    commit_one_bytes: float
    """Average file growth per one-row commit over 200 commits, GC'd at both ends."""
    as_of_ms: float
    """Median of 200 primary-key reads from ``dolt_at_nodes(<load commit>)``."""


# ----------------------------------------------------------------------------- data


def node_id(i: int) -> str:
    """The id of row ``i``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{i}"))


def content_text(rng: random.Random) -> str:
    """A deterministic pseudo-random text of exactly 200 characters."""
    words = rng.choices(_WORDS, k=_CONTENT_CHARS // 4)
    return " ".join(words)[:_CONTENT_CHARS].ljust(_CONTENT_CHARS, ".")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_rows(start: int, stop: int, rng: random.Random) -> list[Row]:
    """Rows ``start`` to ``stop - 1``; call in order with one ``rng`` for the same data."""
    rows: list[Row] = []
    for i in range(start, stop):
        stamp = _iso(_EPOCH + timedelta(seconds=i))
        rows.append(
            (
                node_id(i),
                "note",
                f"Note {i}",
                content_text(rng),
                f"Folder {i % 50}",
                '["a","b"]',
                i % 5,
                stamp,
                stamp,
            )
        )
    return rows


def _chunks(n: int, rng: random.Random) -> Iterator[list[Row]]:
    for start in range(0, n, CHUNK_ROWS):
        yield node_rows(start, min(n, start + CHUNK_ROWS), rng)


def _updates(indices: Sequence[int], rng: random.Random, tick: int) -> list[Update]:
    stamp = _iso(_EPOCH + timedelta(days=365, seconds=tick))
    return [(content_text(rng), stamp, node_id(i)) for i in indices]


# ----------------------------------------------------------------------------- doltlite


def _connect(path: Path) -> sqlite3.Connection:
    """Open ``path`` on libdoltlite, in autocommit mode (explicit BEGIN/COMMIT)."""
    if "_sqlite3" in sys.modules and "doltlite" not in sys.modules:
        raise RuntimeError(
            "sqlite3 was imported before doltlite, so doltlite cannot load in this process "
            "without re-executing it; use run_peer_isolated() or `python -m bench.doltlite_side`"
        )
    # The import's side effect loads libdoltlite; it must come before sqlite3's.
    importlib.import_module("doltlite")
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        (version,) = conn.execute("SELECT dolt_version()").fetchone()
    except sqlite3.OperationalError as exc:
        conn.close()
        raise RuntimeError(
            "sqlite3 is not running on libdoltlite here (an inherited _DOLTLITE_BOOTSTRAPPED "
            "environment variable can cause this); use run_peer_isolated()"
        ) from exc
    if not str(version):
        raise RuntimeError("dolt_version() returned nothing")
    return conn


def _scalar(conn: sqlite3.Connection, sql: str, *params: object) -> object:
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"no result from {sql!r}")
    value: object = row[0]
    return value


def _commit(conn: sqlite3.Connection, message: str) -> str:
    """Stage everything and make a Dolt commit; returns its hash."""
    return str(_scalar(conn, "SELECT dolt_commit('-A', '-m', ?)", message))


def _checkout(conn: sqlite3.Connection, branch: str) -> None:
    _scalar(conn, "SELECT dolt_checkout(?)", branch)


def _branch(conn: sqlite3.Connection, name: str, start: str = "main") -> None:
    _scalar(conn, "SELECT dolt_branch(?, ?)", name, start)


def _update(conn: sqlite3.Connection, updates: list[Update]) -> None:
    conn.execute("BEGIN")
    conn.executemany(UPDATE_SQL, updates)
    conn.execute("COMMIT")


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"doltlite benchmark sanity check failed: {what}")


def _disk_bytes(workdir: Path) -> int:
    """Size of the database file and every side file doltlite keeps beside it."""
    total = 0
    for entry in workdir.iterdir():
        if entry.is_file() and DB_NAME in entry.name:
            total += entry.stat().st_size
    return total


def _checkpointed_bytes(conn: sqlite3.Connection, workdir: Path) -> int:
    # doltlite has no SQLite WAL; this pragma runs its garbage collection instead.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return _disk_bytes(workdir)


def _ms(seconds: Sequence[float]) -> float:
    return statistics.median(seconds) * 1000.0


# ----------------------------------------------------------------------------- workload


def run_peer(n: int, workdir: Path, seed: int = 0) -> PeerFigures:
    """Run the whole workload on a fresh doltlite database in ``workdir``.

    Needs ``n >= 1000``. The merge branch changes ``min(10_000, n - 100)`` rows, so that
    main's own 100 changes after the fork touch other rows and the merge has no conflict.
    """
    if n < 1000:
        raise ValueError("n must be at least 1000")
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / DB_NAME
    if db_path.exists():
        raise FileExistsError(db_path)

    data_rng = random.Random(seed)
    work_rng = random.Random(f"doltlite-side:{seed}")
    conn = _connect(db_path)
    try:
        conn.execute(TABLE_DDL)

        # Build: generation outside the clock, every SQL call inside it.
        build = 0.0
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        build += time.perf_counter() - t0
        for chunk in _chunks(n, data_rng):
            t0 = time.perf_counter()
            conn.executemany(INSERT_SQL, chunk)
            build += time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute("COMMIT")
        load_commit = _commit(conn, f"load {n} nodes")
        build += time.perf_counter() - t0
        _check(_scalar(conn, "SELECT count(*) FROM nodes") == n, "row count after load")

        # Branch creation from main.
        branch_times: list[float] = []
        for k in range(BRANCH_REPEATS):
            t0 = time.perf_counter()
            _branch(conn, f"bench-branch-{k}")
            branch_times.append(time.perf_counter() - t0)

        # Diff: a branch whose one commit changes 100 rows, against main.
        _branch(conn, "diff-100")
        _checkout(conn, "diff-100")
        _update(conn, _updates(work_rng.sample(range(n), DIFF_ROWS), work_rng, 1))
        _commit(conn, "change 100 rows")
        _checkout(conn, "main")
        diff_sql = "SELECT * FROM dolt_diff_nodes(?, ?)"
        diff_times: list[float] = []
        for _ in range(DIFF_REPEATS):
            t0 = time.perf_counter()
            changed = conn.execute(diff_sql, ("main", "diff-100")).fetchall()
            diff_times.append(time.perf_counter() - t0)
            _check(len(changed) == DIFF_ROWS, f"diff listed {len(changed)} rows")
            _check(all(row[-1] == "modified" for row in changed), "diff types")

        # Merge: branch changes up to 10,000 rows, main changes 100 others after the fork.
        merge_rows = min(MERGE_ROWS, n - MAIN_MOVE_ROWS)
        picked = work_rng.sample(range(n), merge_rows + MAIN_MOVE_ROWS)
        theirs, ours = picked[:merge_rows], picked[merge_rows:]
        _branch(conn, "merge-10000")
        _checkout(conn, "merge-10000")
        _update(conn, _updates(theirs, work_rng, 2))
        _commit(conn, f"change {merge_rows} rows")
        _checkout(conn, "main")
        _update(conn, _updates(ours, work_rng, 3))
        _commit(conn, f"change {MAIN_MOVE_ROWS} other rows on main")
        t0 = time.perf_counter()
        _scalar(conn, "SELECT dolt_merge(?)", "merge-10000")
        merge_seconds = time.perf_counter() - t0
        parents = _scalar(
            conn,
            "SELECT count(*) FROM dolt_commit_ancestors WHERE commit_hash = dolt_hashof(?)",
            "HEAD",
        )
        _check(parents == 2, f"merge commit has {parents} parent(s), expected 2")
        diverged = _scalar(
            conn,
            "SELECT count(*) FROM nodes AS cur JOIN dolt_at_nodes(?) AS old USING (id)"
            " WHERE cur.id IN (?, ?) AND cur.content <> old.content",
            load_commit,
            node_id(theirs[0]),
            node_id(ours[0]),
        )
        _check(diverged == 2, "merged main holds both sides' changes")

        # Disk growth per one-row commit.
        before = _checkpointed_bytes(conn, workdir)
        for k, i in enumerate(work_rng.sample(range(n), COMMIT_REPEATS)):
            conn.executemany(UPDATE_SQL, _updates([i], work_rng, 10 + k))
            _commit(conn, f"one-row commit {k}")
        after = _checkpointed_bytes(conn, workdir)
        commit_one_bytes = (after - before) / COMMIT_REPEATS

        # Point reads as of the load commit, while main has moved on.
        as_of_sql = "SELECT * FROM dolt_at_nodes(?) WHERE id = ?"
        as_of_times: list[float] = []
        for i in work_rng.choices(range(n), k=AS_OF_REPEATS):
            key = node_id(i)
            t0 = time.perf_counter()
            found = conn.execute(as_of_sql, (load_commit, key)).fetchall()
            as_of_times.append(time.perf_counter() - t0)
            _check(len(found) == 1 and found[0][0] == key, "as-of read found its row")
    finally:
        conn.close()

    return PeerFigures(
        build_seconds=build,
        branch_ms=_ms(branch_times),
        diff_100_ms=_ms(diff_times),
        merge_10000_s=merge_seconds,
        commit_one_bytes=commit_one_bytes,
        as_of_ms=_ms(as_of_times),
    )


def run_peer_isolated(n: int, workdir: Path, seed: int = 0) -> PeerFigures:
    """:func:`run_peer` in a fresh interpreter, so libdoltlite never enters this process."""
    env = {k: v for k, v in os.environ.items() if k != "_DOLTLITE_BOOTSTRAPPED"}
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "bench.doltlite_side", str(n)]
    argv += ["--workdir", str(workdir), "--seed", str(seed), "--json"]
    done = subprocess.run(argv, env=env, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"doltlite side failed ({done.returncode}):\n{done.stderr}")
    fields = json.loads(done.stdout.strip().splitlines()[-1])
    return PeerFigures(**{key: float(value) for key, value in fields.items()})


def _main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.doltlite_side")
    parser.add_argument("n", type=int, help="rows to load")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temp dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir if args.workdir is not None else Path(tempfile.mkdtemp())
    started = time.perf_counter()
    figures = run_peer(args.n, workdir, args.seed)
    wall = time.perf_counter() - started
    if args.json:
        print(json.dumps(asdict(figures)))
        return 0
    print(f"doltlite side, n={args.n}, seed={args.seed}, workdir={workdir}")
    for key, value in asdict(figures).items():
        print(f"  {key:<18} {value:,.3f}")
    print(f"  {'wall_seconds':<18} {wall:,.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
