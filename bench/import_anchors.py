"""The anchors of the import benchmark: the records of :mod:`bench.imports`, loaded by others.

The benchmark's records are JSON Lines written by :func:`write_records` (seeded, so every run
and every side reads the very same bytes). Each anchor reads that file line by line, parses
each line with orjson and stores the records in a fresh SQLite database:

* ``raw``: ``executemany`` into a plain ``nodes`` table (text primary key, no other index,
  no FTS), one transaction per 5,000 rows, WAL and ``synchronous=NORMAL`` like our store:
  the speed limit of SQLite from Python on this machine.
* ``doltlite``: the same table and the same transactions on doltlite (Dolt's version control
  inside SQLite), then one ``dolt_commit``.
* ``sqlite-utils``: ``Table.insert_all`` of the parsed dicts with ``pk="id"``, its defaults
  otherwise (batches of 100 rows, one transaction, the lists stored as JSON text).
* ``dlt``: a ``dlt`` pipeline to its ``sqlalchemy`` destination at ``sqlite:///...``; the
  resource yields pages of 5,000 parsed records, ``max_table_nesting=0`` keeps ``tags`` a
  JSON column (one table, like every other side); its pipelines folder is a temp folder and
  its telemetry is off.

Reading and parsing the file is inside every anchor's clock, as it is inside ours. Each anchor
runs in its own interpreter (:func:`run_anchor_isolated`): doltlite replaces the SQLite of a
process that imports it, and each child reports its own peak memory. After the clock, each
child checks that its table holds exactly the file's records.

``python -m bench.import_anchors ANCHOR FILE`` runs one anchor alone; ``--generate N FILE``
writes a file of N records.

Nothing in this module imports ``sqlite3`` at module level (doltlite must load first).
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator, Sequence

__all__ = [
    "ANCHORS",
    "ANCHOR_BATCH",
    "AnchorFigures",
    "copy_prefix",
    "record",
    "record_id",
    "run_anchor",
    "run_anchor_isolated",
    "write_records",
]

ANCHORS = ("raw", "doltlite", "sqlite-utils", "dlt")
ANCHOR_BATCH = 5_000
"""Rows per transaction (raw, doltlite) and records per page (dlt)."""

DB_NAME = "anchor.db"
COLUMNS = ("id", "title", "body", "tags", "folder", "created", "modified", "priority", "url")
TABLE_DDL = (
    "CREATE TABLE nodes (id TEXT PRIMARY KEY, title TEXT, body TEXT, tags TEXT, folder TEXT,"
    " created TEXT, modified TEXT, priority INTEGER, url TEXT)"
)
INSERT_SQL = f"INSERT INTO nodes VALUES ({', '.join('?' * len(COLUMNS))})"
_PACKAGES = {"doltlite": "doltlite", "sqlite-utils": "sqlite-utils", "dlt": "dlt"}


# ----------------------------------------------------------------------------- the records

_NAMESPACE = uuid.UUID("8f1d7c2e-6b0a-5e43-9a7d-2c4b1e0f3a55")
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
_BODY_CHARS = 340
_SYLLABLES = (
    "ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ve", "zu", "an", "el", "or", "ix", "um",
    "bra", "sto", "gel", "fin", "dra", "mo", "pe", "qu", "tri",
)  # fmt: skip


def _vocabulary(size: int) -> tuple[list[str], list[float]]:
    """``size`` made-up words of 1-4 syllables, and Zipf-like cumulative weights for them:
    text whose word frequencies look like prose to an FTS index."""
    rng = random.Random("isometry-import-bench-vocabulary")
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(size)))
    return words, cumulative


_WORDS, _CUMULATIVE = _vocabulary(5_000)
_TAGS = _WORDS[:40]


def record_id(i: int) -> str:
    """The ``id`` of record ``i``: a UUIDv5, so random-looking as a key."""
    return str(uuid.uuid5(_NAMESPACE, f"import-bench:{i}"))


def record(i: int, rng: random.Random) -> dict[str, Any]:
    """Record ``i``: about 600 bytes as a JSON line, every field one the json importer maps."""
    words = rng.choices(_WORDS, cum_weights=_CUMULATIVE, k=_BODY_CHARS // 4)
    body = " ".join(words)[:_BODY_CHARS].rstrip()
    created = _EPOCH + timedelta(seconds=37 * i)
    modified = created + timedelta(seconds=rng.randrange(365 * 86_400))
    ident = record_id(i)
    return {
        "id": ident,
        # k<number> is a token no other record holds: the FTS check searches for it.
        "title": f"{words[0].capitalize()} {words[1]} k{i:07d}",
        "body": body,
        "tags": rng.sample(_TAGS, rng.randint(1, 3)),
        "folder": f"Projects/Area {i % 97}",
        "created": created.strftime(_STAMP),
        "modified": modified.strftime(_STAMP),
        "priority": rng.randrange(5),
        "url": f"https://example.org/n/{ident[:8]}",
    }


def title_token(i: int) -> str:
    return f"k{i:07d}"


def write_records(path: Path, n: int, seed: int = 0, start: int = 0) -> int:
    """Write records ``start`` .. ``start + n - 1`` as JSON Lines; returns the bytes written.

    The stream depends on ``seed`` and ``start`` only: a file of fewer records from the same
    start is a prefix of a longer one.
    """
    rng = random.Random(f"import-bench:{seed}:{start}")
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("wb") as out:
        lines: list[bytes] = []
        for i in range(start, start + n):
            lines.append(orjson.dumps(record(i, rng)) + b"\n")
            if len(lines) >= 10_000:
                written += out.write(b"".join(lines))
                lines = []
        written += out.write(b"".join(lines))
    return written


def copy_prefix(source: Path, target: Path, n: int) -> int:
    """The first ``n`` lines of ``source`` into ``target``; returns the bytes written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("wb") as out:
        return sum(out.write(line) for line in itertools.islice(src, n))


# ----------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class AnchorFigures:
    anchor: str
    rows: int
    """Rows in the anchor's table after the load (checked == records in the file)."""
    seconds: float
    """Open the file, read and parse every line, store every row, commit."""
    max_rss_mb: float
    """Peak resident memory of the anchor's own process (VmHWM on Linux)."""
    version: str
    notes: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as stream:
        for line in stream:
            if line.strip():
                yield orjson.loads(line)


def _row(rec: dict[str, Any]) -> tuple[Any, ...]:
    return (
        rec["id"], rec["title"], rec["body"], orjson.dumps(rec["tags"]).decode(),
        rec["folder"], rec["created"], rec["modified"], rec["priority"], rec["url"],
    )  # fmt: skip


def _row_batches(path: Path) -> Iterator[list[tuple[Any, ...]]]:
    records = _records(path)
    while batch := [_row(rec) for rec in itertools.islice(records, ANCHOR_BATCH)]:
        yield batch


def _count_lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for line in stream if line.strip())


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"import anchor sanity check failed: {what}")


def max_rss_mb() -> float:
    """Peak resident memory of this process. On Linux from VmHWM: ru_maxrss carries the
    parent's peak over fork and exec, so every child of a large parent read the parent's."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _version(anchor: str) -> str:
    if anchor == "raw":
        import sqlite3

        return f"sqlite3 {sqlite3.sqlite_version}"
    package = _PACKAGES[anchor]
    try:
        return f"{package} {metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return f"{package} (not installed)"


def _load_in_transactions(conn: sqlite3.Connection, path: Path) -> None:
    for batch in _row_batches(path):
        conn.execute("BEGIN")
        conn.executemany(INSERT_SQL, batch)
        conn.execute("COMMIT")


def _count(conn: sqlite3.Connection, table: str = "nodes") -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# ----------------------------------------------------------------------------- anchors


def _raw(path: Path, workdir: Path) -> tuple[float, int, dict[str, float]]:
    import sqlite3

    conn = sqlite3.connect(workdir / DB_NAME, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(TABLE_DDL)
        t0 = time.perf_counter()
        _load_in_transactions(conn, path)
        seconds = time.perf_counter() - t0
        return seconds, _count(conn), {}
    finally:
        conn.close()


def _doltlite(path: Path, workdir: Path) -> tuple[float, int, dict[str, float]]:
    if "_sqlite3" in sys.modules and "doltlite" not in sys.modules:
        raise RuntimeError("sqlite3 was imported before doltlite; use run_anchor_isolated()")
    importlib.import_module("doltlite")  # loads libdoltlite ahead of the system SQLite
    import sqlite3

    conn = sqlite3.connect(workdir / DB_NAME, isolation_level=None)
    try:
        try:
            conn.execute("SELECT dolt_version()").fetchone()
        except sqlite3.OperationalError as exc:
            raise RuntimeError("sqlite3 is not running on libdoltlite here") from exc
        conn.execute(TABLE_DDL)
        t0 = time.perf_counter()
        _load_in_transactions(conn, path)
        t1 = time.perf_counter()
        commit = conn.execute("SELECT dolt_commit('-A', '-m', 'import records')").fetchone()[0]
        seconds = time.perf_counter() - t0
        _check(bool(commit), "dolt_commit returned a commit")
        clean = conn.execute("SELECT count(*) FROM dolt_status").fetchone()[0]
        _check(clean == 0, f"{clean} change(s) left uncommitted")
        return seconds, _count(conn), {"commit_seconds": seconds - (t1 - t0)}
    finally:
        conn.close()


def _sqlite_utils(path: Path, workdir: Path) -> tuple[float, int, dict[str, float]]:
    import sqlite_utils

    db = sqlite_utils.Database(workdir / DB_NAME)
    try:
        t0 = time.perf_counter()
        db.table("nodes").insert_all(_records(path), pk="id")
        seconds = time.perf_counter() - t0
        return seconds, _count(db.conn), {}
    finally:
        db.close()


def _dlt(path: Path, workdir: Path) -> tuple[float, int, dict[str, float]]:
    # dlt reads its configuration from the environment: no telemetry, data under workdir.
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["DLT_DATA_DIR"] = str(workdir / "dlt-data")
    import dlt

    @dlt.resource(name="nodes", primary_key="id", write_disposition="append", max_table_nesting=0)
    def nodes() -> Iterator[list[dict[str, Any]]]:
        records = _records(path)
        while page := list(itertools.islice(records, ANCHOR_BATCH)):
            yield page

    pipeline = dlt.pipeline(
        pipeline_name="import_bench",
        destination=dlt.destinations.sqlalchemy(credentials=f"sqlite:///{workdir / DB_NAME}"),
        dataset_name="bench",
        pipelines_dir=str(workdir / "dlt-pipelines"),
    )
    t0 = time.perf_counter()
    info = pipeline.run(nodes())
    seconds = time.perf_counter() - t0
    _check(not info.has_failed_jobs, "dlt reported failed jobs")
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT count(*) FROM nodes")
    _check(rows is not None, "dlt's table can be counted")
    assert rows is not None
    return seconds, int(rows[0][0]), {}


_RUNNERS = {"raw": _raw, "doltlite": _doltlite, "sqlite-utils": _sqlite_utils, "dlt": _dlt}


def run_anchor(anchor: str, source: Path, workdir: Path) -> AnchorFigures:
    """Load ``source`` with ``anchor`` into a fresh database in ``workdir``, in this process."""
    if anchor not in _RUNNERS:
        raise ValueError(f"unknown anchor {anchor!r}; use one of {', '.join(ANCHORS)}")
    workdir.mkdir(parents=True, exist_ok=True)
    if (workdir / DB_NAME).exists():
        raise FileExistsError(workdir / DB_NAME)
    seconds, rows, notes = _RUNNERS[anchor](source, workdir)
    expected = _count_lines(source)
    _check(rows == expected, f"{anchor} holds {rows} rows, the file {expected} records")
    return AnchorFigures(anchor, rows, seconds, max_rss_mb(), _version(anchor), notes)


def run_anchor_isolated(anchor: str, source: Path, workdir: Path) -> AnchorFigures:
    """:func:`run_anchor` in a fresh interpreter (its own SQLite library and peak memory)."""
    env = {k: v for k, v in os.environ.items() if k != "_DOLTLITE_BOOTSTRAPPED"}
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "bench.import_anchors", anchor, str(source)]
    argv += ["--workdir", str(workdir), "--json"]
    done = subprocess.run(argv, env=env, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"anchor {anchor} failed ({done.returncode}):\n{done.stderr}")
    fields = json.loads(done.stdout.strip().splitlines()[-1])
    return AnchorFigures(**fields)


def _main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_anchors")
    parser.add_argument("anchor", choices=(*ANCHORS, "generate"))
    parser.add_argument("file", type=Path, help="the JSON Lines file to load (or to write)")
    parser.add_argument("--n", type=int, default=10_000, help="records, with 'generate'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temp dir")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args(argv)
    if args.anchor == "generate":
        size = write_records(args.file, args.n, args.seed)
        print(f"{args.n:,} records, {size:,} bytes: {args.file}")
        return 0
    temporary = args.workdir is None
    workdir: Path = args.workdir if args.workdir is not None else Path(tempfile.mkdtemp())
    try:
        figures = run_anchor(args.anchor, args.file, workdir)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(asdict(figures)))
        return 0
    print(f"{figures.anchor} ({figures.version}): {figures.rows:,} rows in {figures.seconds:.2f} s")
    print(f"  {figures.rows_per_second:,.0f} rows/s, peak RSS {figures.max_rss_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
