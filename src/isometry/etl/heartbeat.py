"""The lease heartbeat: while an operation runs, its lease is renewed from a side thread, so a
long step (a large merge) never makes a live operation look abandoned.

One thread per process renews the leases of all its running operations, each every
``INTERVAL_SECONDS`` from its start: a thread (and a connection) of its own cost a small
operation more than the rest of its work outside the database.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from types import TracebackType

from isometry.clock import Clock, stamp
from isometry.etl.operations import LEASE

INTERVAL_SECONDS = LEASE.total_seconds() / 3


class Heartbeat:
    def __init__(self, database: str, op_id: str, owner: str, clock: Clock) -> None:
        self._database = database
        self._op_id = op_id
        self._owner = owner
        self._clock = clock
        self.due = 0.0  # on the monotonic clock
        self.beating = threading.Lock()  # held by the keeper while it renews this lease
        self.ended = False

    def __enter__(self) -> Heartbeat:
        self.due = time.monotonic() + INTERVAL_SECONDS
        _keeper.add(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        _keeper.remove(self)
        with self.beating:  # a renewal under way ends first; none comes after
            self.ended = True

    def beat(self) -> None:
        try:
            conn = sqlite3.connect(self._database, isolation_level=None, timeout=5.0)
        except sqlite3.Error:
            return  # the next beat tries again
        try:
            conn.execute(
                "UPDATE operations SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                (stamp(self._clock.now() + LEASE), self._op_id, self._owner),
            )
        except sqlite3.Error:
            pass  # the writer holds the lock: the next beat tries again
        finally:
            conn.close()


class _Keeper:
    """The thread that renews every lease of this process when it is due."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._leases: dict[int, Heartbeat] = {}
        self._thread: threading.Thread | None = None
        self._wake = 0.0  # when the thread looks next, on the monotonic clock

    def add(self, lease: Heartbeat) -> None:
        with self._lock:
            self._leases[id(lease)] = lease
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="isometry-leases", daemon=True
                )
                self._thread.start()
            elif lease.due < self._wake:
                # Rare: the thread looks at least every interval, and a lease is first due
                # an interval after it is taken.
                self._lock.notify()

    def remove(self, lease: Heartbeat) -> None:
        with self._lock:
            self._leases.pop(id(lease), None)

    def _run(self) -> None:
        while True:
            with self._lock:
                leases = list(self._leases.values())
            now = time.monotonic()
            for lease in leases:
                if lease.due <= now:
                    with lease.beating:
                        if lease.ended:
                            continue
                        try:
                            lease.beat()
                        except Exception:
                            # As its own thread would have: this lease is renewed no more,
                            # the others still are.
                            self.remove(lease)
                            sys.excepthook(*sys.exc_info())
                        lease.due = time.monotonic() + INTERVAL_SECONDS
            with self._lock:
                now = time.monotonic()
                self._wake = min(
                    (lease.due for lease in self._leases.values()), default=now + INTERVAL_SECONDS
                )
                self._lock.wait(max(0.0, self._wake - now))


_keeper = _Keeper()


def _after_fork() -> None:
    """A forked child has none of its parent's threads, nor its operations."""
    global _keeper
    _keeper = _Keeper()


if hasattr(os, "register_at_fork"):  # POSIX only; elsewhere nothing forks
    os.register_at_fork(after_in_child=_after_fork)
