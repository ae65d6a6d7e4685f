"""Operation states and the only place where an operation moves from one to another."""

from __future__ import annotations

import sqlite3
from enum import StrEnum

from isometry.errors import InvalidTransition


class State(StrEnum):
    CREATED = "created"
    QUEUED = "queued"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially-succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({State.SUCCEEDED, State.PARTIALLY_SUCCEEDED, State.FAILED, State.CANCELLED})

TRANSITIONS: dict[State, frozenset[State]] = {
    State.CREATED: frozenset({State.QUEUED, State.RUNNING, State.CANCELLED}),
    State.QUEUED: frozenset({State.RUNNING, State.CANCELLED}),
    # A running operation ends, or is found with its process gone (interrupted).
    State.RUNNING: frozenset(FINAL | {State.INTERRUPTED}),
    State.INTERRUPTED: frozenset({State.RUNNING, State.CANCELLED, State.FAILED}),
    State.SUCCEEDED: frozenset(),
    State.PARTIALLY_SUCCEEDED: frozenset(),
    State.FAILED: frozenset(),
    State.CANCELLED: frozenset(),
}


def check(current: State, new: State, op_id: str) -> None:
    if new not in TRANSITIONS[current]:
        raise InvalidTransition(f"operation {op_id} is {current}; it cannot become {new}")


def move(conn: sqlite3.Connection, op_id: str, current: State, new: State) -> None:
    """Move ``op_id`` from ``current`` to ``new``, only if it is still ``current``."""
    check(current, new, op_id)
    moved = conn.execute(
        "UPDATE operations SET state = ? WHERE id = ? AND state = ?", (new, op_id, current)
    ).rowcount
    if moved != 1:
        raise InvalidTransition(f"operation {op_id} is no longer {current}")
