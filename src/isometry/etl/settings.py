"""Repository settings: standing grants and engine limits, kept in the ``settings`` table."""

from __future__ import annotations

import sqlite3

import orjson

from isometry.model import JSON

DEFAULTS: dict[str, JSON] = {"grants": {}, "max_concurrent": 2}


def get(conn: sqlite3.Connection, key: str) -> JSON:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return orjson.loads(row[0]) if row else DEFAULTS.get(key)


def put(conn: sqlite3.Connection, key: str, value: JSON) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()),
    )
