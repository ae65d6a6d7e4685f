"""SQLite tables and plain folders: rows and files per second through the whole engine, each
against merely reading the same data in the same command.

``python -m bench.sqlite_files [--rows N] [--files F] [--workdir DIR] [--keep]`` writes a
database of ``N`` task rows (default 20,000) in two tables linked by a foreign key, imports it
with ``sqlite-database-import``, changes one row in a hundred and deletes one in a thousand,
and runs ``sqlite-direct-sync`` over it; the baseline reads every row with a plain ``SELECT``.
Then ``F`` files (default 1,000: small binary files no format importer takes) are imported
with ``file-system-import`` as documents with the file attached; the baseline reads and
SHA-256-hashes them. A wrong count fails the run; the figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from isometry import api
from isometry.clock import SystemClock
from isometry.etl.states import State

AUTHOR = "bench <bench@isometry.invalid>"


def write_database(path: Path, rows: int, rng: random.Random) -> None:
    projects = max(1, rows // 100)
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT);"
            "CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT, notes TEXT, due TEXT,"
            " tags TEXT, estimate REAL, project_id INTEGER REFERENCES projects (id));"
        )
        db.executemany(
            "INSERT INTO projects VALUES (?, ?)", ((i, f"project {i}") for i in range(projects))
        )
        db.executemany(
            "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (i, f"task {i}", "words " * rng.randint(5, 60),
                 f"2026-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}",
                 "home,garden" if i % 3 else "work", rng.random() * 8, i % projects)
                for i in range(rows)
            ),
        )  # fmt: skip


def select_all(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
        count = sum(1 for _ in db.execute("SELECT * FROM projects"))
        count += sum(1 for _ in db.execute("SELECT * FROM tasks"))
    return count, time.perf_counter() - started


def write_files(folder: Path, count: int, rng: random.Random) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        path = folder / f"sub{i % 10}" / f"scan-{i:05}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(2_000, 40_000)))
        paths.append(path)
    return paths


def read_and_hash(paths: Sequence[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        hashlib.sha256(path.read_bytes()).hexdigest()
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sqlite_files", description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(0)
    work = Path(tempfile.mkdtemp(prefix="bench-sqlite-files-", dir=args.workdir))
    try:
        database = work / "data" / "app.db"
        database.parent.mkdir()
        write_database(database, args.rows, rng)
        total = args.rows + max(1, args.rows // 100)
        repo = api.init(work / "repo", clock=SystemClock(), author=AUTHOR)
        grants = [f"file-system={work}"]
        try:
            started = time.perf_counter()
            op = api.import_(repo, "sqlite-database-import", [database], author=AUTHOR,
                             grants=grants, base=work, config={"batch_size": 1000})  # fmt: skip
            imported = time.perf_counter() - started
            if op.state is not State.SUCCEEDED or op.counts["inserted"] != total:
                print(f"wrong result: {op.state} {op.counts}", file=sys.stderr)
                return 1
            with sqlite3.connect(database) as db:
                db.execute("UPDATE tasks SET title = title || ' (changed)' WHERE id % 100 = 0")
                db.execute("DELETE FROM tasks WHERE id % 1000 = 7")
            started = time.perf_counter()
            sync = api.import_(repo, "sqlite-direct-sync", [database], author=AUTHOR,
                               grants=grants, base=work, config={"batch_size": 1000})  # fmt: skip
            synced = time.perf_counter() - started
            changed, deleted = args.rows // 100, len(range(7, args.rows, 1000))
            if (sync.counts["updated"], sync.counts["deleted"]) != (changed, deleted):
                print(f"wrong sync: {sync.counts}", file=sys.stderr)
                return 1
            rows, selected = select_all(database)
            folder = work / "files"
            paths = write_files(folder, args.files, rng)
            started = time.perf_counter()
            files = api.import_(repo, "file-system-import", [folder], author=AUTHOR,
                                grants=grants, base=work, config={"batch_size": 1000})  # fmt: skip
            filed = time.perf_counter() - started
            if files.counts["inserted"] != args.files:
                print(f"wrong file import: {files.counts}", file=sys.stderr)
                return 1
            hashed = read_and_hash(paths)
        finally:
            repo.close()
        print(f"sqlite: {total:,} rows in 2 tables; files: {args.files:,} files "
              f"({sum(p.stat().st_size for p in paths) / 2**20:.1f} MB)")  # fmt: skip
        lines = [
            ("sqlite-database-import", imported, total, "rows"),
            (f"sqlite-direct-sync ({changed} changed, {deleted} deleted)", synced, total, "rows"),
            ("SELECT * only", selected, rows, "rows"),
            ("file-system-import", filed, args.files, "files"),
            ("read + SHA-256 only", hashed, args.files, "files"),
        ]
        for label, seconds, count, unit in lines:
            print(f"  {label:<44} {seconds:7.2f} s  {count / seconds:>10,.0f} {unit}/s")
        print(f"  import / baseline: rows {imported / selected:,.0f} x, "
              f"files {filed / hashed:,.0f} x")  # fmt: skip
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
