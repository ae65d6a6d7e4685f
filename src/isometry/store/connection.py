"""Opening the SQLite database and running transactions on it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from isometry.errors import StoreError

# A writer waits this long for another process's write transaction before giving up.
BUSY_TIMEOUT_MS = 30_000


class Database:
    """One connection in autocommit mode; writes go through ``transaction()``.

    Write transactions start with ``BEGIN IMMEDIATE`` so the write lock is taken before
    anything is read: two processes never both read a ref and then race to move it.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = OFF")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: cannot open the database: {error}") from None
        self._depth = 0
        # Called after a rollback, so caches of what the transaction wrote can be dropped.
        self.on_rollback: list[Callable[[], None]] = []

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise StoreError(f"{self.path}: cannot start a write: {error}") from None
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            for hook in self.on_rollback:
                hook()
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth = 0

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same state."""
        if self._depth:
            yield self.conn
            return
        self.conn.execute("BEGIN")
        self._depth = 1
        try:
            yield self.conn
        finally:
            self._depth = 0
            self.conn.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (for size measurements and backups)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.conn.close()
