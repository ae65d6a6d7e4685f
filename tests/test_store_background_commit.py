"""A write transaction whose COMMIT runs in the background: the next use of the connection
waits for it, and a failed commit is raised there and leaves nothing behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from isometry.errors import StoreError
from isometry.store.connection import Database


def _rows(path: Path) -> list[tuple[int, str]]:
    other = sqlite3.connect(path)
    try:
        return other.execute("SELECT id, name FROM things ORDER BY id").fetchall()
    finally:
        other.close()


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(tmp_path / "x.db")
    db.conn.execute("CREATE TABLE parents (id INTEGER PRIMARY KEY)")
    db.conn.execute(
        "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL, parent INTEGER"
        " REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    return db


def test_the_next_use_sees_the_commit_done(database: Database, tmp_path: Path) -> None:
    with database.transaction(commit_in_background=True) as conn:
        conn.executemany(
            "INSERT INTO things (id, name) VALUES (?, ?)", [(i, f"n{i}") for i in range(1000)]
        )
    with database.snapshot() as conn:
        assert conn.execute("SELECT count(*) FROM things").fetchone() == (1000,)
    # Committed for every other connection too, not only visible to this one.
    assert len(_rows(tmp_path / "x.db")) == 1000


def test_close_waits_for_the_commit(database: Database, tmp_path: Path) -> None:
    with database.transaction(commit_in_background=True) as conn:
        conn.execute("INSERT INTO things (id, name) VALUES (1, 'kept')")
    database.close()
    assert _rows(tmp_path / "x.db") == [(1, "kept")]


def test_a_failed_commit_is_raised_at_the_next_use_and_rolled_back(
    database: Database, tmp_path: Path
) -> None:
    database.conn.execute("PRAGMA foreign_keys = ON")
    with database.transaction() as conn:
        conn.execute("INSERT INTO things (id, name) VALUES (1, 'before')")
    rolled_back: list[bool] = []
    database.on_rollback.append(lambda: rolled_back.append(True))
    # A deferred foreign key is checked at COMMIT: the commit itself fails.
    with database.transaction(commit_in_background=True) as conn:
        conn.execute("INSERT INTO things (id, name, parent) VALUES (2, 'orphan', 99)")
    with pytest.raises(StoreError, match=r"could not be committed.*FOREIGN KEY"):
        database.settle()
    assert rolled_back == [True]
    assert not database.conn.in_transaction
    assert _rows(tmp_path / "x.db") == [(1, "before")]
    # And the database takes the next write as usual.
    with database.transaction() as conn:
        conn.execute("INSERT INTO things (id, name) VALUES (3, 'after')")
    assert _rows(tmp_path / "x.db") == [(1, "before"), (3, "after")]
