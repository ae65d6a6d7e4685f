"""Checkpoints: where an operation continues after a crash, written with the work they cover.

``stage`` says how far finishing got: ``loading`` (the source is being read), then
``deleted`` (a sync's deletions are committed), ``committed`` (the post-execution commit is
made), ``merged`` (the post-execution strategy is carried out). Each finishing step writes its
stage in the transaction of its commit, so a resumed operation never does one twice.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import orjson

from isometry.model import JSON

STAGES = ("loading", "deleted", "committed", "merged")


@dataclass
class Checkpoint:
    op_id: str
    source_index: int = 0
    cursor: JSON = None
    counts: dict[str, int] = field(default_factory=dict)
    branch_head: int = 0
    batches: int = 0
    stage: str = "loading"


def read(conn: sqlite3.Connection, op_id: str) -> Checkpoint | None:
    row = conn.execute(
        "SELECT source_index, cursor, counts, branch_head, batches, stage FROM checkpoints"
        " WHERE op_id = ?",
        (op_id,),
    ).fetchone()
    if row is None:
        return None
    index, cursor, counts, head, batches, stage = row
    return Checkpoint(
        op_id,
        int(index),
        orjson.loads(cursor) if cursor is not None else None,
        {k: int(v) for k, v in orjson.loads(counts).items()},
        int(head),
        int(batches),
        str(stage),
    )


def write(conn: sqlite3.Connection, point: Checkpoint, stamp: str) -> None:
    conn.execute(
        "INSERT INTO checkpoints (op_id, source_index, cursor, counts, branch_head, batches,"
        " stage, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (op_id) DO UPDATE SET"
        " source_index = excluded.source_index, cursor = excluded.cursor,"
        " counts = excluded.counts, branch_head = excluded.branch_head,"
        " batches = excluded.batches, stage = excluded.stage, written_at = excluded.written_at",
        (
            point.op_id, point.source_index,
            None if point.cursor is None else orjson.dumps(point.cursor).decode(),
            orjson.dumps(dict(point.counts)).decode(), point.branch_head, point.batches,
            point.stage, stamp,
        ),
    )  # fmt: skip
