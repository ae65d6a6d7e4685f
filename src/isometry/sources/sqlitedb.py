"""The ``sqlite`` importer: the rows of any SQLite database as nodes.

Every table (or the ones a mapping names: see ``sqlitemap``) is read in its key order, one
node per row, ``source_id`` = database path + table + key (``/data/app.db#tasks:42``), so a
re-import updates the same nodes and ``sqlite-direct-sync`` (the same importer with deletions
synced) applies only what changed: an unchanged row has an unchanged source hash and is
skipped, a row gone from the table is marked deleted. The key is the table's primary key, or
the ``key`` columns the mapping gives, else the rowid (which ``VACUUM`` may renumber in a table
without an INTEGER PRIMARY KEY: give such a table a key in the mapping).

Values: text, numbers and NULLs as they are; a BLOB is stored as an attachment and its column
holds the ``attachment:`` link; text that is not UTF-8 is kept the same way, as bytes. A
foreign key to another imported table, on that table's key, becomes a ``LINK`` edge labelled
with the column. Internal, virtual (FTS) and shadow tables are not read. Columns are matched to
node fields as ``records.map_record`` does (or as the mapping says); the option ``dayfirst``
reads ``01/05/2024`` as 1 May.

Cursor ``{"table": index of the table, "after": [order key of the last row]}``: rows are read
in rowid order (primary-key order in a WITHOUT ROWID table), so resume continues right after.
The database is read through a private copy (``sqlitefile.snapshot``), never touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, cast

import orjson

from isometry.errors import SourceError
from isometry.model import JSON, node_id_for
from isometry.sources.base import (
    Attachment,
    Draft,
    Item,
    Locator,
    Opener,
    Options,
    Scan,
    attachment_link,
)
from isometry.sources.options import OptionSpec
from isometry.sources.records import DAYFIRST, cursor_position, map_columns, map_record
from isometry.sources.sqlitefile import Snapshot, is_sqlite, quoted, snapshot
from isometry.sources.sqlitemap import (
    MAPPING,
    TABLES,
    DatabaseMapping,
    MappingError,
    TableMapping,
    load,
)

SOURCE = "sqlite"


class _Bytes(bytes):
    """Text the database holds that is not UTF-8: kept as bytes, like a BLOB."""


def _text(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _Bytes(data)


@dataclass(frozen=True)
class Link:
    """A foreign key whose target is an imported table's key: one edge per row."""

    columns: tuple[str, ...]
    table: str


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]  # the columns that identify a row ("rowid" when it has none)
    order: tuple[str, ...]  # the columns rows are read and resumed in
    mapping: TableMapping
    links: tuple[Link, ...] = ()

    def select(self, resume: bool) -> str:
        order = ", ".join(quoted(c) if c != "rowid" else "rowid" for c in self.order)
        picked = ", ".join(f"{quoted(c) if c != 'rowid' else 'rowid'}" for c in self.order)
        where = f" WHERE ({order}) > ({', '.join('?' * len(self.order))})" if resume else ""
        return f"SELECT {picked}, * FROM {quoted(self.name)}{where} ORDER BY {order}"


def _listed(snap: Snapshot) -> list[tuple[str, bool]]:
    """Ordinary tables (name, without rowid), sorted: not sqlite_*, virtual or shadow ones."""
    rows = snap.connection.execute(
        "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table'"
        " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ).fetchall()
    return [(str(name), bool(wr)) for name, wr in rows]


def _primary_key(snap: Snapshot, table: str) -> tuple[str, ...]:
    rows = snap.connection.execute(
        "SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (table,)
    ).fetchall()
    return tuple(str(name) for name, _ in rows)


def tables_of(path: Path, snap: Snapshot, mapping: DatabaseMapping) -> list[Table]:
    """The tables to import, in name order, with how each is keyed and linked."""
    listed = dict(_listed(snap))
    if mapping.tables is not None:
        missing = sorted(set(mapping.tables) - set(listed))
        if missing:
            raise MappingError(
                f"{path}: no table {', '.join(map(repr, missing))} in this database "
                f"(its tables: {', '.join(listed) or 'none'})"
            )
    found: list[Table] = []
    for name, without_rowid in listed.items():
        if not mapping.chooses(name):
            continue
        table_mapping = mapping.mapping_for(name)
        columns = set(snap.columns(name))
        unknown = sorted(
            c for c in {*table_mapping.key, *table_mapping.columns} if c not in columns
        )
        if unknown:
            raise MappingError(
                f"{path}: table {name!r} has no column {', '.join(map(repr, unknown))}"
            )
        primary = _primary_key(snap, name)
        order = primary if without_rowid else ("rowid",)
        key = table_mapping.key or primary or ("rowid",)
        found.append(Table(name, key, order, table_mapping))
    keys = {t.name: t.key for t in found}
    return [Table(t.name, t.key, t.order, t.mapping, _links(snap, t.name, keys)) for t in found]


def _links(snap: Snapshot, table: str, keys: Mapping[str, tuple[str, ...]]) -> tuple[Link, ...]:
    by_id: dict[int, list[tuple[int, str, str, str | None]]] = {}
    for fk_id, seq, target, source_col, target_col in snap.connection.execute(
        'SELECT id, seq, "table", "from", "to" FROM pragma_foreign_key_list(?)', (table,)
    ):
        to = None if target_col is None else str(target_col)
        by_id.setdefault(int(fk_id), []).append((int(seq), str(target), str(source_col), to))
    links: list[Link] = []
    for parts in by_id.values():
        parts.sort()
        target = parts[0][1]
        target_key = keys.get(target)
        if target_key is None:
            continue  # the referenced table is not imported
        # REFERENCES t (no columns) means t's primary key, which is its key unless remapped.
        named = tuple(p[3] for p in parts if p[3] is not None)
        if named and named != target_key:
            continue
        links.append(Link(tuple(p[2] for p in parts), target))
    return tuple(links)


def _digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def _source_id(path: Path, table: str, key: Sequence[JSON]) -> str:
    shown = ",".join(orjson.dumps(v).decode() if not isinstance(v, str) else v for v in key)
    return f"{path}#{table}:{shown}"


class SqliteImporter:
    """Reads the tables of any SQLite database (see the module docstring)."""

    name: ClassVar[str] = SOURCE
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = (MAPPING, TABLES, DAYFIRST)

    def accepts(self, path: Path) -> bool:
        return is_sqlite(path)

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        mapping = load(path, opener, options)
        with snapshot(path, opener) as snap:
            records = sum(_rows(snap, table) for table in tables_of(path, snap, mapping))
            return Scan(records=records, size=snap.size, fingerprint=snap.fingerprint)

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        start, after = _position(cursor, path)
        mapping = load(path, opener, options)
        dayfirst = options.flag(DAYFIRST.name)
        with snapshot(path, opener) as snap:
            snap.connection.text_factory = _text
            tables = tables_of(path, snap, mapping)
            for index in range(start, len(tables)):
                table = tables[index]
                resume = after if index == start else None
                if resume is not None and len(resume) != len(table.order):
                    raise SourceError(f"{path}: {cursor!r} is not a cursor for this database")
                rows = snap.connection.execute(table.select(resume is not None), resume or ())
                names = [str(d[0]) for d in rows.description][len(table.order) :]
                for row in rows:
                    order: list[JSON] = list(row[: len(table.order)])
                    values = dict(zip(names, row[len(table.order) :], strict=True))
                    item = _item(path, table, order, values, dayfirst)
                    yield item, {"table": index, "after": order}


def _rows(snap: Snapshot, table: Table) -> int:
    (count,) = snap.connection.execute(f"SELECT count(*) FROM {quoted(table.name)}").fetchone()
    return int(count)


def _position(cursor: JSON, path: Path) -> tuple[int, list[JSON] | None]:
    if cursor is None:
        return 0, None
    (index,) = cursor_position(
        {"table": cursor.get("table")} if isinstance(cursor, Mapping) else cursor, ("table",), path
    )
    after = cursor.get("after") if isinstance(cursor, Mapping) else None
    if not isinstance(after, list):
        raise SourceError(f"{path}: {cursor!r} is not a cursor for this database")
    return index, after


def _item(
    path: Path, table: Table, order: list[JSON], row: dict[str, object], dayfirst: bool
) -> Draft:
    fields: dict[str, JSON] = {}
    hashed: dict[str, JSON] = {}
    attachments: list[Attachment] = []
    for column, value in row.items():
        if isinstance(value, bytes):
            digest = _digest(value)
            fields[column] = attachment_link(digest)
            hashed[column] = {"bytes": digest}
            attachments.append(Attachment(f"{table.name}.{column}.bin", data=bytes(value)))
        else:
            fields[column] = hashed[column] = cast(JSON, value)
    key = [fields.get(c) if c != "rowid" else order[0] for c in table.key]
    source_id = _source_id(path, table.name, key)
    encoded = orjson.dumps(hashed, option=orjson.OPT_SORT_KEYS)
    if table.mapping.columns:
        node = map_columns(fields, table.mapping.columns, source=SOURCE, source_id=source_id,
                           node_type=table.mapping.node_type, dayfirst=dayfirst)  # fmt: skip
    else:
        node = map_record(fields, source=SOURCE, source_id=source_id, dayfirst=dayfirst)
        if node.get("node_type") == "note":
            node["node_type"] = table.mapping.node_type
    if not node.get("name"):
        node["name"] = f"{table.name} {','.join(str(k) for k in key)}"
    properties = node.get("properties")
    props = dict(properties) if isinstance(properties, Mapping) else {}
    props["table"] = table.name
    node["properties"] = props
    edges: list[Mapping[str, JSON]] = []
    me = str(node_id_for(SOURCE, source_id))
    for link in table.links:
        values = [fields.get(c) for c in link.columns]
        if any(v is None for v in values):
            continue
        target = str(node_id_for(SOURCE, _source_id(path, link.table, values)))
        edges.append({"edge_type": "LINK", "source_id": me, "target_id": target,
                      "label": ",".join(link.columns)})  # fmt: skip
    return Draft(
        node=node,
        locator=Locator(str(path), source_id.partition("#")[2]),
        source_hash=_digest(table.mapping.fingerprint() + encoded),
        raw=orjson.dumps(fields).decode(),
        edges=tuple(edges),
        attachments=tuple(attachments),
    )


@dataclass(frozen=True)
class TableInfo:
    """What ``isometry tables`` shows of one table, to write a mapping from."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    rows: int
    links: tuple[Link, ...]

    def to_json(self) -> dict[str, JSON]:
        return {
            "table": self.name,
            "columns": list(self.columns),
            "key": list(self.key),
            "rows": self.rows,
            "links": [{"columns": list(k.columns), "table": k.table} for k in self.links],
        }


def describe(path: Path, opener: Opener) -> list[TableInfo]:
    """The tables the ``sqlite`` importer would read from ``path``, with their columns, keys,
    row counts and links."""
    with snapshot(path, opener) as snap:
        found: list[TableInfo] = []
        for table in tables_of(path, snap, DatabaseMapping()):
            found.append(TableInfo(table.name, tuple(snap.columns(table.name)), table.key,
                                   _rows(snap, table), table.links))  # fmt: skip
        return found
