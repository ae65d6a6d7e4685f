"""Reading someone else's SQLite file: a private copy, the source never touched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from isometry.errors import SourceUnreadable
from isometry.sources.records import core_data_time
from isometry.sources.sqlitefile import is_sqlite, snapshot
from openers import DirectOpener


def test_snapshot_reads_rows_still_in_the_write_ahead_log(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # keep the row in the log only
    writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    writer.execute("INSERT INTO t (v) VALUES ('in the log')")
    writer.commit()
    before = sorted(p.name for p in tmp_path.iterdir())
    assert (tmp_path / "app.sqlite-wal").stat().st_size > 0
    with snapshot(path, DirectOpener()) as snap:
        assert snap.connection.execute("SELECT v FROM t").fetchall() == [("in the log",)]
        assert snap.tables() == ["t"]
        assert snap.columns("t") == ["id", "v"]
        assert snap.columns("missing") == []
        with pytest.raises(sqlite3.OperationalError):
            snap.connection.execute("INSERT INTO t (v) VALUES ('x')")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    writer.close()


def test_the_fingerprint_follows_the_content(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (v)")
    with snapshot(path, DirectOpener()) as snap:
        first = snap.fingerprint
    with snapshot(path, DirectOpener()) as snap:
        assert snap.fingerprint == first
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO t VALUES (1)")
    with snapshot(path, DirectOpener()) as snap:
        assert snap.fingerprint != first


def test_a_file_that_is_not_sqlite_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("not a database at all, just words " * 100)
    assert not is_sqlite(path)
    with pytest.raises(SourceUnreadable, match=r"notes\.sqlite"), snapshot(path, DirectOpener()):
        pass


def test_core_data_times_count_from_2001() -> None:
    assert core_data_time(0) == "2001-01-01T00:00:00Z"
    assert core_data_time(86400.25) == "2001-01-02T00:00:00.250000Z"
    assert core_data_time(None) is None
    assert core_data_time("12") is None
    assert core_data_time(float("nan")) is None
    assert core_data_time(1e300) is None


def test_a_damaged_schema_is_named_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "damaged.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (v)")
        db.execute("PRAGMA writable_schema = ON")
        db.execute("UPDATE sqlite_schema SET name = CAST(x'ff' AS TEXT) WHERE name = 't'")
    with pytest.raises(SourceUnreadable, match=r"damaged\.sqlite"), snapshot(path, DirectOpener()):
        pass
