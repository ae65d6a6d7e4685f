"""Keep the ordinary ``nodes`` and ``edges`` tables equal to the head of ``main``.

Called in the same transaction that moves ``main``; the FTS index is updated for exactly the
rows that changed, in bulk, rather than by per-row triggers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress
from operator import ne

import orjson

from isometry.model import EDGE_FIELDS, JSON, NODE_FIELDS, RowKind, compact
from isometry.vcs.rows import Key, chunks, fetch_rows, marks

MAIN = "main"
FTS_COLUMNS = ("name", "content", "summary", "tags")
_JSON_COLUMNS = frozenset({"tags", "properties"})


def _columns(kind: RowKind) -> tuple[str, ...]:
    return NODE_FIELDS if kind is RowKind.NODE else EDGE_FIELDS


def _table(kind: RowKind) -> str:
    return "nodes" if kind is RowKind.NODE else "edges"


def to_columns(kind: RowKind, row: Mapping[str, JSON]) -> tuple[object, ...]:
    """A stored row as the values of its table's columns (hot path: one list, few branches)."""
    values: list[object] = list(map(row.get, _columns(kind)))
    if kind is RowKind.NODE:
        values[_NODE_TAGS] = orjson.dumps(values[_NODE_TAGS] or []).decode()
        values[_NODE_PROPS] = _dump_properties(values[_NODE_PROPS])
        if values[_NODE_NAME] is None:
            values[_NODE_NAME] = ""
    else:
        values[_EDGE_PROPS] = _dump_properties(values[_EDGE_PROPS])
        values[_EDGE_WEIGHT] = 1.0 if values[_EDGE_WEIGHT] is None else values[_EDGE_WEIGHT]
        values[_EDGE_DIRECTED] = (
            1 if values[_EDGE_DIRECTED] is None else int(bool(values[_EDGE_DIRECTED]))
        )
    return tuple(values)


def _dump_properties(value: object) -> str:
    return orjson.dumps(value or {}, option=orjson.OPT_SORT_KEYS).decode()


_FTS_INDEXES = frozenset(NODE_FIELDS.index(name) for name in FTS_COLUMNS)
_FTS_ORDER = tuple(NODE_FIELDS.index(name) for name in FTS_COLUMNS)  # as the index lists them
_NODE_TAGS = NODE_FIELDS.index("tags")
_NODE_PROPS = NODE_FIELDS.index("properties")
_NODE_NAME = NODE_FIELDS.index("name")
_EDGE_PROPS = EDGE_FIELDS.index("properties")
_EDGE_WEIGHT = EDGE_FIELDS.index("weight")
_EDGE_DIRECTED = EDGE_FIELDS.index("directed")


def from_columns(kind: RowKind, values: Iterable[object]) -> dict[str, JSON]:
    """A table row back to its stored (compact) form."""
    row: dict[str, JSON] = {}
    for name, value in zip(_columns(kind), values, strict=True):
        if name in _JSON_COLUMNS and isinstance(value, str):
            row[name] = orjson.loads(value)
        elif name == "directed":
            row[name] = bool(value)
        else:
            row[name] = value
    return compact(row)


def _current(
    conn: sqlite3.Connection, table: str, keys: list[str]
) -> dict[str, tuple[object, ...]]:
    """The table rows of ``keys`` as they are now: rowid first, then the columns."""
    found: dict[str, tuple[object, ...]] = {}
    for part in chunks(keys):
        for values in conn.execute(
            f"SELECT rowid, * FROM {table} WHERE id IN ({marks(len(part))})", part
        ):
            found[values[1]] = values
    return found


@dataclass
class _Plan:
    """The statements that bring one table from its current rows to the new ones."""

    removed: list[str] = field(default_factory=list)
    inserted: list[tuple[object, ...]] = field(default_factory=list)
    # Updates grouped by the columns they change: untouched columns (and their indexes)
    # are not rewritten, which halves the pages a large merge dirties. Each ends with the
    # row's rowid, so the table is reached directly, not through its id index.
    updated: dict[tuple[int, ...], list[tuple[object, ...]]] = field(default_factory=dict)
    unindex: list[tuple[object, ...]] = field(default_factory=list)
    reindex: list[str] = field(default_factory=list)  # inserted rows: rowids not known yet
    # Updated rows keep their rowid: indexed again from the new values, without a look-up.
    refill: list[tuple[object, ...]] = field(default_factory=list)

    @property
    def indexed(self) -> int:
        return len(self.reindex) + len(self.refill)


def _plan(
    kind: RowKind,
    changed: Mapping[str, Mapping[str, JSON] | None],
    current: Mapping[str, tuple[object, ...]],
) -> _Plan:
    plan = _Plan()
    fts = kind is RowKind.NODE
    for key in sorted(changed):
        row, old = changed[key], current.get(key)
        new = to_columns(kind, row) if row is not None else None
        if new is None:
            if old is not None:
                plan.removed.append(key)
                if fts:
                    plan.unindex.append(_fts_values(old))
            continue
        if old is None:
            plan.inserted.append(new)
            if fts:
                plan.reindex.append(key)
            continue
        # Column i of the row is column i + 1 of ``old``, which starts with the rowid.
        differing = tuple(compress(range(1, len(new)), map(ne, old[2:], new[1:])))
        if not differing:
            continue
        plan.updated.setdefault(differing, []).append((*(new[i] for i in differing), old[0]))
        if fts and not _FTS_INDEXES.isdisjoint(differing):
            plan.unindex.append(_fts_values(old))
            plan.refill.append((old[0], *(new[i] for i in _FTS_ORDER)))
    # FTS5 flushes its pending terms to a new segment whenever a rowid comes lower than the
    # one before, so the index is fed in rowid order: in key order (random rowids) a
    # 10,000-row merge spent five times as long in the index. Rows are updated in the same
    # order, so neighbouring rows share their pages.
    plan.unindex.sort(key=_rowid)
    plan.refill.sort(key=_rowid)
    for values in plan.updated.values():
        values.sort(key=_last)
    return plan


def _rowid(values: tuple[object, ...]) -> int:
    rowid = values[0]
    assert isinstance(rowid, int)
    return rowid


def _last(values: tuple[object, ...]) -> int:
    rowid = values[-1]
    assert isinstance(rowid, int)
    return rowid


def _fts_values(old: tuple[object, ...]) -> tuple[object, ...]:
    return (old[0], *(old[i + 1] for i in _FTS_ORDER))


def _execute(conn: sqlite3.Connection, kind: RowKind, plan: _Plan) -> None:
    table, columns = _table(kind), _columns(kind)
    cols = ", ".join(FTS_COLUMNS)
    # The index must forget a row with exactly the values it was given, so before the update.
    conn.executemany(
        f"INSERT INTO nodes_fts (nodes_fts, rowid, {cols}) VALUES ('delete', ?, ?, ?, ?, ?)",
        plan.unindex,
    )
    for part in chunks(plan.removed):
        conn.execute(f"DELETE FROM {table} WHERE id IN ({marks(len(part))})", part)
    for differing, values in plan.updated.items():
        assignments = ", ".join(f"{columns[i]} = ?" for i in differing)
        conn.executemany(f"UPDATE {table} SET {assignments} WHERE rowid = ?", values)
    before = _max_rowid(conn, table) if plan.reindex else 0
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(len(columns))})",
        plan.inserted,
    )
    conn.executemany(f"INSERT INTO nodes_fts (rowid, {cols}) VALUES (?, ?, ?, ?, ?)", plan.refill)
    if not plan.reindex:
        return
    # SQLite gives each new row the highest rowid plus one, so the inserted rows are those
    # above the highest before: read back in one range, not looked up by id one by one.
    # (Once the highest rowid possible is taken, it picks free ones at random instead.)
    if _max_rowid(conn, table) - before == len(plan.reindex):
        conn.execute(
            f"INSERT INTO nodes_fts (rowid, {cols}) SELECT rowid, {cols} FROM nodes"
            " WHERE rowid > ? ORDER BY rowid",
            (before,),
        )
        return
    for part in chunks(plan.reindex):
        conn.execute(
            f"INSERT INTO nodes_fts (rowid, {cols}) SELECT rowid, {cols} FROM nodes"
            f" WHERE id IN ({marks(len(part))}) ORDER BY rowid",
            part,
        )


def _max_rowid(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()[0])


def apply_to_main(
    conn: sqlite3.Connection,
    delta: Mapping[Key, bytes | None],
    known: Mapping[bytes, Mapping[str, JSON]] | None = None,
    *,
    compact: bool = True,
) -> int:
    """Write the new value (hash, or None for removed) of every changed key into main's tables.

    ``known`` holds rows the caller already has decoded, so they are not read back. Returns
    how many nodes were (re)indexed; with ``compact=False`` the caller decides on the index
    compaction after its last chunk.
    """
    known = known or {}
    rows = {**fetch_rows(conn, (h for h in delta.values() if h not in known)), **known}
    indexed = 0
    for kind in RowKind:
        changed = {
            key: rows[digest] if digest is not None else None
            for (k, key), digest in delta.items()
            if k is kind
        }
        if not changed:
            continue
        plan = _plan(kind, changed, _current(conn, _table(kind), sorted(changed)))
        _execute(conn, kind, plan)
        if kind is RowKind.NODE:
            indexed = plan.indexed
            if compact:
                compact_fts_after_bulk(conn, indexed)
    return indexed


# Large index segments that stay apart are rewritten again and again as later small segments
# merge into them: a one-node commit grew the file by 100-350 pages at 100k nodes, and a
# 10,000-row merge into a million nodes took 1.0 s against 0.86 s on a folded index. So the
# rows indexed since the index was last folded into one segment are counted (in ``meta``),
# and once they reach a tenth of all nodes the index is folded: its cost grows with the whole
# index, so folding at a fixed share keeps the total linear in what was indexed.
BULK_CHANGES = 5_000
_UNFOLDED = "fts_unfolded_rows"


def compact_fts_after_bulk(conn: sqlite3.Connection, changed: int) -> None:
    if not changed:
        return
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_UNFOLDED,)).fetchone()
    unfolded = (int(row[0]) if row else 0) + changed
    if unfolded >= BULK_CHANGES:
        # The highest rowid bounds the row count from above, read in O(log n), not O(n).
        total = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM nodes").fetchone()[0]
        if unfolded * 10 >= total:
            conn.execute("INSERT INTO nodes_fts (nodes_fts) VALUES ('optimize')")
            unfolded = 0
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (_UNFOLDED, str(unfolded)),
    )
