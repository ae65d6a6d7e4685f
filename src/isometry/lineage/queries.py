"""Asking where nodes came from: one node's history, one operation's output, one file's;
every answer newest first."""

from __future__ import annotations

import sqlite3
from typing import Any

from isometry.model import JSON

_SELECT = (
    "SELECT l.kind, l.key, l.change, l.time, c.id, l.op_id, l.template, l.source_system,"
    " l.file, l.record, l.line, l.offset, l.length, l.source_hash, l.transform,"
    " l.transform_version FROM lineage l LEFT JOIN commits c ON c.seq = l.commit_seq"
)


def _entry(row: tuple[Any, ...]) -> dict[str, JSON]:
    (kind, key, change, time, commit, op_id, template, system, file, record, line, offset,
     length, source_hash, transform, version) = row  # fmt: skip
    locator: dict[str, JSON] = {"file": file, "record": record}
    for name, value in (("line", line), ("offset", offset), ("length", length)):
        if value is not None:
            locator[name] = value
    return {
        "kind": "node" if kind == 0 else "edge",
        "id": key,
        "change": change,
        "time": time,
        "commit": bytes(commit).hex() if commit is not None else None,
        "operation": op_id,
        "template": template,
        "source_system": system,
        "locator": locator,
        "source_hash": source_hash,
        "transform": transform,
        "transform_version": version,
    }


def history(conn: sqlite3.Connection, key: str, limit: int | None = None) -> list[dict[str, JSON]]:
    """Every recorded version of one node (or edge), newest first."""
    rows = conn.execute(f"{_SELECT} WHERE l.key = ? ORDER BY l.commit_seq DESC, l.id DESC", (key,))
    return [_entry(r) for r in rows]


def by_operation(
    conn: sqlite3.Connection, op_id: str, limit: int | None = None
) -> list[dict[str, JSON]]:
    rows = conn.execute(
        f"{_SELECT} WHERE l.op_id = ? ORDER BY l.id DESC LIMIT ?",
        (op_id, -1 if limit is None else limit),
    )
    return [_entry(r) for r in rows]


def by_source(
    conn: sqlite3.Connection, file: str, limit: int | None = None
) -> list[dict[str, JSON]]:
    rows = conn.execute(
        f"{_SELECT} WHERE l.file = ? ORDER BY l.id DESC LIMIT ?",
        (file, -1 if limit is None else limit),
    )
    return [_entry(r) for r in rows]
