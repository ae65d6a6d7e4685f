"""Opening the SQLite database and running transactions on it."""

from __future__ import annotations

import sqlite3
import threading
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

    def __init__(
        self, path: Path | str, *, check: Callable[[sqlite3.Connection], None] | None = None
    ) -> None:
        """Open (or create) the database at ``path``. ``check`` looks at it first and raises to
        refuse it: it runs before the connection is set up, since switching on WAL writes to
        the file."""
        self.path = str(path)
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: cannot open the database: {error}") from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if check is not None:
                check(self._conn)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = OFF")
        except sqlite3.DatabaseError as error:
            self._conn.close()
            raise StoreError(f"{self.path}: cannot open the database: {error}") from None
        except BaseException:
            self._conn.close()
            raise
        self._depth = 0
        # Called after a rollback, so caches of what the transaction wrote can be dropped.
        self.on_rollback: list[Callable[[], None]] = []
        self._committing: threading.Thread | None = None
        self._commit_error: sqlite3.Error | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection, once a commit running in the background has ended."""
        if self._committing is not None:
            self.settle()
        return self._conn

    def settle(self) -> None:
        """Wait for a commit running in the background; raise if it failed (rolled back)."""
        committing = self._committing
        if committing is None:
            return
        # Forgotten only once it has ended: an interrupt (Ctrl-C) during the wait must not let
        # the next statement run beside the commit.
        committing.join()
        self._committing = None
        error, self._commit_error = self._commit_error, None
        if error is not None:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            for hook in self.on_rollback:
                hook()
            raise StoreError(f"{self.path}: a write could not be committed: {error}")

    def _commit_in_background(self) -> None:
        def commit() -> None:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as error:
                self._commit_error = error

        # Not a daemon: the interpreter waits for it at exit rather than cut a commit short.
        self._committing = threading.Thread(target=commit, name="isometry-commit")
        self._committing.start()

    @contextmanager
    def transaction(self, *, commit_in_background: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls join the outer one.

        With ``commit_in_background`` the COMMIT runs on a thread of its own and this returns
        at once: SQLite writes the pages (and any checkpoint) while the caller goes on with
        work that needs no database, such as reading and transforming the next batch. The
        next use of the connection waits for it, and raises if it failed.
        """
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
            if commit_in_background:
                self._commit_in_background()
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
        try:
            self.settle()
        finally:
            self._conn.close()
