"""Writing lineage rows, in the transaction of the commit they describe."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from isometry.model import RowKind


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one node version came from."""

    file: str | None
    record: str | None
    line: int | None
    offset: int | None
    length: int | None
    source_hash: str | None


@dataclass(frozen=True, slots=True)
class Context:
    """What is common to every row one operation writes."""

    op_id: str
    template: str
    source_system: str
    transform: str
    transform_version: str


def write(
    conn: sqlite3.Connection,
    context: Context,
    commit_seq: int,
    time: str,
    rows: Iterable[tuple[RowKind, str, str, Origin | None]],
) -> int:
    """One lineage row per (kind, key, change, origin); returns how many were written."""
    batch = [
        (
            int(kind), key, commit_seq, context.op_id, context.template, context.source_system,
            o.file if o else None, o.record if o else None, o.line if o else None,
            o.offset if o else None, o.length if o else None, o.source_hash if o else None,
            context.transform, context.transform_version, change, time,
        )
        for kind, key, change, o in rows
    ]  # fmt: skip
    conn.executemany(
        "INSERT INTO lineage (kind, key, commit_seq, op_id, template, source_system, file,"
        " record, line, offset, length, source_hash, transform, transform_version, change, time)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )
    return len(batch)
