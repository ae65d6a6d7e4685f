"""How the rows of a SQLite table become nodes: a small TOML mapping, or options.

```toml
# Only the tables named here are imported (without a mapping: every table).
[tables.tasks]
node_type = "task"            # every row of the table is a task (default: "note")
key = ["id"]                  # the columns that identify a row (default: its primary key)

[tables.tasks.columns]        # column = node field; every other column goes to properties
title = "name"
body = "content"
due = "due_at"
labels = "tags"
```

The same, given as importer options: ``tables`` (a list of table names, or an object of table
name to the mapping above; as text, either in JSON, or names separated by commas) and
``mapping`` (the path of a TOML file like the one above, absolute or relative to the
database's folder, read through the grants). A table with no ``columns`` is mapped by the usual
field-name synonyms (title, body, due...).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from isometry.errors import SourceError
from isometry.model import JSON
from isometry.sources.base import Opener, Options
from isometry.sources.options import OptionSpec, text
from isometry.sources.records import MAPPABLE, NODE_TYPES, open_source


class MappingError(SourceError):
    """A mapping that does not make sense (an unknown node field, a wrong type)."""


@dataclass(frozen=True)
class TableMapping:
    node_type: str = "note"
    key: tuple[str, ...] = ()  # empty: the table's primary key, else its rowid
    columns: Mapping[str, str] = field(default_factory=dict)  # empty: by synonyms

    def fingerprint(self) -> bytes:
        """The mapping as bytes, part of every row's source hash: a changed mapping gives
        changed nodes, so the rows are imported again rather than skipped as unchanged."""
        return orjson.dumps(
            {"node_type": self.node_type, "key": list(self.key), "columns": dict(self.columns)},
            option=orjson.OPT_SORT_KEYS,
        )


@dataclass(frozen=True)
class DatabaseMapping:
    tables: Mapping[str, TableMapping] | None = None  # None: every table, by synonyms

    def mapping_for(self, table: str) -> TableMapping:
        if self.tables is None:
            return TableMapping()
        return self.tables.get(table, TableMapping())

    def chooses(self, table: str) -> bool:
        return self.tables is None or table in self.tables


def _table(name: str, spec: object, where: str) -> TableMapping:
    if spec is True or spec == {}:
        return TableMapping()
    if not isinstance(spec, Mapping):
        raise MappingError(f"{where}: the mapping of table {name!r} must be a table of settings")
    unknown = set(spec) - {"node_type", "key", "columns"}
    if unknown:
        raise MappingError(
            f"{where}: table {name!r}: unknown setting(s) {', '.join(sorted(unknown))}"
        )
    node_type = spec.get("node_type", "note")
    if not isinstance(node_type, str) or node_type not in NODE_TYPES:
        raise MappingError(
            f"{where}: table {name!r}: node_type {node_type!r} is not one of "
            f"{', '.join(sorted(NODE_TYPES))}"
        )
    key = spec.get("key", [])
    key = [key] if isinstance(key, str) else key
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise MappingError(f"{where}: table {name!r}: key must be a column name or a list of them")
    columns = spec.get("columns", {})
    if not isinstance(columns, Mapping) or not all(
        isinstance(c, str) and isinstance(f, str) for c, f in columns.items()
    ):
        raise MappingError(f"{where}: table {name!r}: columns must map column names to fields")
    wrong = sorted(f for f in columns.values() if f not in MAPPABLE)
    if wrong:
        raise MappingError(
            f"{where}: table {name!r}: {', '.join(wrong)} is not a node field a column can "
            f"fill (use one of {', '.join(sorted(MAPPABLE))}; anything else goes to properties "
            "by itself)"
        )
    return TableMapping(node_type, tuple(key), dict(columns))


def _tables(value: object, where: str) -> dict[str, TableMapping]:
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return {str(t): TableMapping() for t in value}
    if isinstance(value, Mapping):
        return {str(name): _table(str(name), spec, where) for name, spec in value.items()}
    raise MappingError(f"{where}: tables must be a list of table names or a table per name")


def _tables_option(value: JSON) -> JSON:
    """A value of the option ``tables`` checked: a list of table names or an object of
    mappings, given as such or as JSON text; other text is table names separated by commas."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            value = [name.strip() for name in value.split(",") if name.strip()]
    try:
        _tables(value, "")
    except MappingError as error:
        raise ValueError(str(error).removeprefix(": ")) from None
    return value


MAPPING = text(
    "mapping",
    "A TOML file saying which tables become nodes and how (relative to the database's folder).",
    takes="a TOML file's path",
)
TABLES = OptionSpec(
    "tables",
    "table names, or JSON: a list of them or an object of mappings",
    "Only these tables, each mapped by field names or as the object says (as in a mapping).",
    _tables_option,
)


def load(database: Path, opener: Opener, options: Options) -> DatabaseMapping:
    """The mapping the operation gives for ``database`` (see the module docstring)."""
    tables: dict[str, TableMapping] | None = None
    given = options.get("mapping")
    if given is not None:
        if not isinstance(given, str) or not given.strip():
            raise MappingError("the option mapping must be the path of a TOML file")
        path = Path(given).expanduser()
        path = path if path.is_absolute() else database.parent / path
        with open_source(path, opener) as stream:
            try:
                document = tomllib.load(stream)
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
                raise MappingError(f"{path}: not a valid TOML mapping: {error}") from None
        unknown = set(document) - {"tables"}
        if unknown:
            raise MappingError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}")
        tables = _tables(document.get("tables", {}), str(path))
    listed: JSON = options.get("tables")
    if listed is not None:
        more = _tables(listed, "the option tables")
        tables = {**(tables or {}), **more}
    return DatabaseMapping(tables)
