"""Row versions: stored once by hash, fetched in batches, and the history-independent root."""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from isometry.model import JSON, RowKind, decode, encode, row_hash

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


# Row versions are stored deflated against a preset dictionary of the model's field names and
# common values: small JSON rows compress to about half. The first byte names the format, so
# this dictionary is frozen forever: a new one gets a new format byte.
RAW = 0
DEFLATE_V1 = 1
_DICTIONARY_V1 = (
    b'"properties":{"source":"source_id":"source_url":"location_name":"location_address":'
    b'"latitude":"longitude":"summary":"status":"importance":"sort_order":"deleted_at":'
    b'"due_at":"completed_at":"event_start":"event_end":"label":"weight":1.0,"directed":true,'
    b'"sequence_order":"edge_type":"LINK""NEST""SEQUENCE""AFFINITY""target_id":'
    b'"bookmark""document""event""person""task""article""spreadsheet"'
    b'"priority":"tags":["folder":"modified_at":"created_at":"content":"name":'
    b'"node_type":"note","id":"T00:00:00Z","'
)


def pack(data: bytes) -> bytes:
    """A canonical encoding as stored: deflated when that is smaller, else as it is."""
    # A 2 KB window and a small state: rows are small, and a large state (the default 256 KB)
    # made creating the compressor cost more than compressing (measured: 50 us a row). Level 6:
    # level 2 saved 2 us a row for 1.5% more bytes in every version kept, and a one-node
    # commit must stay under 1 KB.
    packer = zlib.compressobj(6, zlib.DEFLATED, -11, 6, zlib.Z_DEFAULT_STRATEGY, _DICTIONARY_V1)
    packed = packer.compress(data) + packer.flush()
    if len(packed) < len(data):
        return bytes((DEFLATE_V1,)) + packed
    return bytes((RAW,)) + data


def unpack(stored: bytes) -> bytes:
    """The canonical encoding back from its stored form."""
    if stored[0] == DEFLATE_V1:
        return zlib.decompressobj(-15, _DICTIONARY_V1).decompress(stored[1:])
    if stored[0] == RAW:
        return stored[1:]
    raise ValueError(f"row version stored in unknown format {stored[0]}")


def fetch_rows(conn: sqlite3.Connection, hashes: Iterable[bytes | None]) -> dict[bytes, JSON]:
    """Decoded rows for the given hashes (NULLs skipped)."""
    # In hash order: neighbouring look-ups share index pages (a third faster at 200k rows).
    wanted = sorted({h for h in hashes if h is not None})
    found: dict[bytes, JSON] = {}
    for part in chunks(wanted):
        for digest, data in conn.execute(
            f"SELECT hash, data FROM row_versions WHERE hash IN ({marks(len(part))})", part
        ):
            found[digest] = decode(unpack(data))
    return found


def pack_ahead(rows: Iterable[Mapping[str, JSON]]) -> dict[bytes, bytes]:
    """The stored form of each row by its hash, made before a write transaction: deflating
    is most of a row's cost, and it needs no database."""
    packed: dict[bytes, bytes] = {}
    for row in rows:
        data = encode(row)
        packed[row_hash(data)] = pack(data)
    return packed


def store_rows(
    conn: sqlite3.Connection,
    rows: Iterable[tuple[bytes, RowKind, bytes]],
    packed: Mapping[bytes, bytes] | None = None,
) -> None:
    """Store new row versions (digest, kind, canonical encoding); ``packed`` holds stored
    forms made ahead (by :func:`pack_ahead`), the others are packed here."""
    ahead = packed or {}
    conn.executemany(
        "INSERT OR IGNORE INTO row_versions (hash, kind, data) VALUES (?, ?, ?)",
        ((digest, int(kind), ahead.get(digest) or pack(data)) for digest, kind, data in rows),
    )


def _share(prefix: bytes, digest: bytes) -> int:
    """One row version's share of a root hash, ``prefix`` naming its row (kind, key, NUL);
    the root is the sum of the shares, so order never matters."""
    return int.from_bytes(hashlib.sha256(prefix + digest).digest(), "big")


def advance_root(root: str, changes: Iterable[tuple[Key, bytes | None, bytes | None]]) -> str:
    """The root after ``changes`` (key, old hash, new hash) are applied to a state with ``root``."""
    total = int(root, 16)
    for (kind, key), old, new in changes:
        # The prefix is made once for both ends: a 10,000-row merge hashes 20,000 shares.
        prefix = bytes((int(kind),)) + key.encode() + b"\0"
        if old is not None:
            total -= _share(prefix, old)
        if new is not None:
            total += _share(prefix, new)
    return f"{total % ROOT_MODULUS:064x}"
