"""Row versions: stored once by hash, fetched in batches, and the history-independent root."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from isometry.model import JSON, RowKind, decode

Key = tuple[RowKind, str]
T = TypeVar("T")

CHUNK = 900
ROOT_MODULUS = 1 << 256
EMPTY_ROOT = "0" * 64


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(count: int) -> str:
    return ",".join("?" * count)


def fetch_rows(conn: sqlite3.Connection, hashes: Iterable[bytes | None]) -> dict[bytes, JSON]:
    """Decoded rows for the given hashes (NULLs skipped)."""
    wanted = list({h for h in hashes if h is not None})
    found: dict[bytes, JSON] = {}
    for part in chunks(wanted):
        for digest, data in conn.execute(
            f"SELECT hash, data FROM row_versions WHERE hash IN ({marks(len(part))})", part
        ):
            found[digest] = decode(data)
    return found


def store_rows(conn: sqlite3.Connection, rows: Iterable[tuple[bytes, RowKind, bytes]]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO row_versions (hash, kind, data) VALUES (?, ?, ?)",
        ((digest, int(kind), data) for digest, kind, data in rows),
    )


def contribution(kind: RowKind, key: str, digest: bytes) -> int:
    """One row's share of a root hash; the root is their sum, so order never matters."""
    material = bytes((int(kind),)) + key.encode() + b"\0" + digest
    return int.from_bytes(hashlib.sha256(material).digest(), "big")


def advance_root(root: str, changes: Iterable[tuple[Key, bytes | None, bytes | None]]) -> str:
    """The root after ``changes`` (key, old hash, new hash) are applied to a state with ``root``."""
    total = int(root, 16)
    for (kind, key), old, new in changes:
        if old is not None:
            total -= contribution(kind, key, old)
        if new is not None:
            total += contribution(kind, key, new)
    return f"{total % ROOT_MODULUS:064x}"
