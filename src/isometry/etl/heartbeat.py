"""The lease heartbeat: while an operation runs, its lease is renewed from a side thread, so a
long step (a large merge) never makes a live operation look abandoned."""

from __future__ import annotations

import sqlite3
import threading
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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{op_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        conn = sqlite3.connect(self._database, isolation_level=None, timeout=5.0)
        try:
            while not self._stop.wait(INTERVAL_SECONDS):
                try:
                    conn.execute(
                        "UPDATE operations SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                        (stamp(self._clock.now() + LEASE), self._op_id, self._owner),
                    )
                except sqlite3.Error:
                    continue  # the writer holds the lock: the next beat tries again
        finally:
            conn.close()
