"""Folding the write-ahead log into the database file off the writer's path.

SQLite's automatic checkpoint runs inside the COMMIT of whichever write crosses its threshold,
so one unlucky commit (a large merge, say) pays for everything written before it. SQLite's
documentation suggests the alternative used here: automatic checkpoints off, and a thread of
its own, on its own connection, running PASSIVE checkpoints, which never block readers or
writers. The thread is woken by every commit and folds the log at most every ``PAUSE``
seconds, so a run of small commits shares one checkpoint (and one fsync of the file).
"""

from __future__ import annotations

import sqlite3
import threading

PAUSE = 0.25


class Checkpointer:
    """One daemon thread per open database, woken after each commit."""

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        self._path = path
        self._busy = busy_timeout_ms
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="isometry-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """A commit added to the log: fold it in soon."""
        self._wake.set()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return  # closing the database still folds the log in
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy}")
            while True:
                self._wake.wait()
                if self._stopping.is_set():
                    return
                self._wake.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    continue  # busy or going away: the next commit wakes it again
                if self._stopping.wait(PAUSE):
                    return
        finally:
            conn.close()

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join()
