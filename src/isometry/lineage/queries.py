"""Asking where nodes came from: one node's history, one operation's output, one file's;
every answer newest first."""

from __future__ import annotations

import sqlite3
from typing import Any

from isometry.model import JSON

_SELECT = (
    "SELECT l.kind, l.key, l.change, l.time, c.id, o.op_id, o.template, o.source_system,"
    " o.file, l.record, l.line, l.offset, l.length, l.source_hash, o.transform,"
    " o.transform_version FROM lineage l JOIN lineage_origins o ON o.id = l.origin"
    " LEFT JOIN commits c ON c.seq = l.commit_seq"
)
# The lineage rows of given keys, found through their changes (filter on ch.kind, ch.key).
OF_CHANGES = (
    "FROM changes ch JOIN lineage l ON l.commit_seq = ch.commit_seq AND l.kind = ch.kind"
    " AND l.key = ch.key JOIN lineage_origins o ON o.id = l.origin"
)
# Within a commit, rows were written in (kind, key) order: newest first is the reverse.
_NEWEST_FIRST = "ORDER BY l.commit_seq DESC, l.kind DESC, l.key DESC"


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
    # Reached through the changes of that key: lineage is keyed by change, not by node.
    rows = conn.execute(
        f"{_SELECT} JOIN changes ch ON ch.commit_seq = l.commit_seq AND ch.kind = l.kind"
        f" AND ch.key = l.key WHERE ch.kind IN (0, 1) AND ch.key = ? {_NEWEST_FIRST} LIMIT ?",
        (key, -1 if limit is None else limit),
    )
    return [_entry(r) for r in rows]


def by_operation(
    conn: sqlite3.Connection, op_id: str, limit: int | None = None
) -> list[dict[str, JSON]]:
    rows = conn.execute(
        f"{_SELECT} WHERE l.origin IN (SELECT id FROM lineage_origins WHERE op_id = ?)"
        f" {_NEWEST_FIRST} LIMIT ?",
        (op_id, -1 if limit is None else limit),
    )
    return [_entry(r) for r in rows]


def by_source(
    conn: sqlite3.Connection, file: str, limit: int | None = None
) -> list[dict[str, JSON]]:
    rows = conn.execute(
        f"{_SELECT} WHERE l.origin IN (SELECT id FROM lineage_origins WHERE file = ?)"
        f" {_NEWEST_FIRST} LIMIT ?",
        (file, -1 if limit is None else limit),
    )
    return [_entry(r) for r in rows]
