"""Repository settings: standing grants, engine limits and blob quotas, kept in the
``settings`` table."""

from __future__ import annotations

import sqlite3

import orjson

from isometry.model import JSON

DEFAULTS: dict[str, JSON] = {
    "grants": {},
    "max_concurrent": 2,
    "blob_max_size": None,  # bytes; None: no limit
    "blob_max_total": None,
}


def quotas(conn: sqlite3.Connection) -> tuple[int | None, int | None]:
    """The blob store's quotas (largest blob, all stored bytes), None where there is none."""
    found = [get(conn, key) for key in ("blob_max_size", "blob_max_total")]
    size, total = (value if isinstance(value, int) else None for value in found)
    return size, total


def get(conn: sqlite3.Connection, key: str) -> JSON:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return orjson.loads(row[0]) if row else DEFAULTS.get(key)


def put(conn: sqlite3.Connection, key: str, value: JSON) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()),
    )
