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


def _origin_ids(
    conn: sqlite3.Connection, context: Context, files: Iterable[str | None]
) -> dict[str | None, int]:
    """The id of each (operation, file) origin, made on first use."""
    common = (context.template, context.source_system, context.transform, context.transform_version)
    ids: dict[str | None, int] = {}
    for file in files:
        found = conn.execute(
            "SELECT id FROM lineage_origins WHERE op_id = ? AND file IS ? AND template = ?"
            " AND source_system = ? AND transform = ? AND transform_version = ?",
            (context.op_id, file, *common),
        ).fetchone()
        if found is None:
            made = conn.execute(
                "INSERT INTO lineage_origins (op_id, file, template, source_system, transform,"
                " transform_version) VALUES (?, ?, ?, ?, ?, ?)",
                (context.op_id, file, *common),
            ).lastrowid
            assert made is not None
            ids[file] = made
        else:
            ids[file] = int(found[0])
    return ids


def write(
    conn: sqlite3.Connection,
    context: Context,
    commit_seq: int,
    time: str,
    rows: Iterable[tuple[RowKind, str, str, Origin | None]],
) -> int:
    """One lineage row per (kind, key, change, origin) of the commit ``commit_seq``, at most
    one per row of it; returns how many were written."""
    entries = list(rows)
    origin = _origin_ids(conn, context, {o.file if o else None for _, _, _, o in entries})
    batch = [
        (
            commit_seq, int(kind), key, origin[o.file if o else None],
            o.record if o else None, o.line if o else None, o.offset if o else None,
            o.length if o else None, o.source_hash if o else None, change, time,
        )
        for kind, key, change, o in entries
    ]  # fmt: skip
    conn.executemany(
        "INSERT INTO lineage (commit_seq, kind, key, origin, record, line, offset, length,"
        " source_hash, change, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )
    return len(batch)
