"""One worksheet as items: a ``spreadsheet`` node holding the sheet as a Markdown table and,
with the option ``rows_as_nodes``, a node per row when the header row names node fields.

The sheet's node comes after its rows: its table, size, merged ranges and hyperlinks are known
only once the sheet has been read through, and reading it once is what keeps a big sheet streaming.
Each row node carries the NEST edge from its sheet, so the edge is written and skipped with it.

The header is the first row that is not empty when it looks like one (every cell text, no two
the same); otherwise the columns are named by their letters and every row is data. The table
keeps at most ``TABLE_ROWS`` data rows and ``TABLE_CHARS`` characters; the rows left out are
counted in the node's ``rows_left_out`` (row nodes still carry every row). Cells show the
value Excel cached; formulas are kept as text in ``formulas`` by cell (a formula no spreadsheet
ever calculated, as in files other programs write, has no value to show: its cell is empty).

Row nodes are mapped from their cells by header name as the ``csv`` importer maps its fields
(``records.map_record``: title, content/notes, due, tags, type...; ``dayfirst`` reads text
dates day first); their key is an ``id`` column's value, else the row number (a row without
an id whose number is another row's id, and a row that repeats an earlier row's id, are
``Rejected``: ``records.KeyClashes``). A cell's
hyperlink is on the sheet's node (``hyperlinks``) only: the sheet keeps its links after its
rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import orjson
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from isometry.model import JSON, node_id_for
from isometry.sources.base import Draft, Item, Locator, Rejected
from isometry.sources.office import markdown
from isometry.sources.office.cells import Cell, Row, SheetRows, in_order
from isometry.sources.records import (
    FIELD_OF,
    Origin,
    normal_name,
    row_key,
    sha256_hex,
    source_id_for,
)

TABLE_ROWS = 10_000
TABLE_CHARS = 2_000_000


@dataclass(frozen=True)
class Book:
    """What every sheet of one workbook shares."""

    origin: Origin
    stem: str
    fields: Mapping[str, JSON]
    """Node fields from the workbook's properties (created_at, modified_at, tags)."""
    properties: Mapping[str, JSON]
    """The workbook's properties, kept on each sheet's node under ``workbook``."""
    rows_as_nodes: bool


@lru_cache(maxsize=1024)
def letter(column: int) -> str:
    return get_column_letter(column)


def looks_like_header(row: Row) -> bool:
    """Every cell holds text, and no two the same: names, not data."""
    texts = [cell.value.strip() for cell in row.cells if isinstance(cell.value, str)]
    return len(texts) == len(row.cells) > 0 and all(texts) and len(set(texts)) == len(texts)


def names_node_fields(names: Mapping[int, str]) -> bool:
    return any(normal_name(name) in FIELD_OF for name in names.values())


class Columns:
    """A column's name: its header text, else its letter (``column C`` when a header already
    uses that letter as a name)."""

    def __init__(self, header: Row | None) -> None:
        self.header: dict[int, str] = {}
        if header is not None:
            self.header = {c.column: str(c.value).strip() for c in header.cells}
        self._taken = set(self.header.values())

    def name(self, column: int) -> str:
        found = self.header.get(column)
        if found is not None:
            return found
        name = letter(column)
        return f"column {name}" if name in self._taken else name


@dataclass
class _Table:
    """The Markdown table being gathered, with what the node says about the sheet."""

    rows: list[tuple[int, dict[int, str]]] = field(default_factory=list)
    chars: int = 0
    left_out: int = 0
    formulas: dict[str, str] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        texts = {cell.column: markdown.cell_text(display(cell.value)) for cell in row.cells}
        size = sum(len(text) + 3 for text in texts.values())
        if len(self.rows) >= TABLE_ROWS or self.chars + size > TABLE_CHARS:
            self.left_out += 1
            return
        self.chars += size
        self.rows.append((row.number, texts))
        for cell in row.cells:
            if cell.formula is not None:
                self.formulas[f"{letter(cell.column)}{row.number}"] = cell.formula


def display(value: JSON) -> str:
    """A value as the table shows it (booleans as Excel writes them)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return value if isinstance(value, str) else str(value)


class SheetImport:
    """Reads one sheet into items (see the module docstring)."""

    def __init__(self, book: Book, sheet: ReadOnlyWorksheet, index: int) -> None:
        self.book = book
        self.sheet = sheet
        self.index = index
        self.title = sheet.title
        self.source_id = source_id_for(book.origin.file, self.title)
        self.node_id = node_id_for(book.origin.source, self.source_id)

    def items(self, after: int) -> Iterator[tuple[Item, JSON]]:
        """Every item of the sheet but those of its first ``after`` stored rows: they are read
        again all the same, since the sheet's node needs the whole sheet."""
        rows = SheetRows(self.sheet)
        digest = hashlib.sha256()
        table = _Table()
        header: Row | None = None
        columns: Columns | None = None
        as_nodes = False
        counts = {"rows": 0, "rejected": 0, "row_nodes": 0}
        extent = _Extent()
        for row in in_order(rows):
            if row.problem is not None:
                counts["rejected"] += 1
                if row.position > after:
                    yield self._rejected(row), self._cursor(row.position)
                if row.ends_sheet:
                    break
                continue
            if not row.cells:
                continue
            counts["rows"] += 1
            digest.update(orjson.dumps([row.number, [_cell_json(c) for c in row.cells]]))
            extent.widen(row)
            if columns is None:
                header = row if looks_like_header(row) else None
                columns = Columns(header)
                as_nodes = self.book.rows_as_nodes and names_node_fields(columns.header)
                if header is not None:
                    continue
            table.add(row)
            if as_nodes:
                counts["row_nodes"] += 1
                if row.position > after:
                    yield self._row_draft(row, columns), self._cursor(row.position)
        node = self._sheet_node(table, header, columns, counts, extent, rows)
        digest.update(orjson.dumps(node, option=orjson.OPT_SORT_KEYS))
        raw = str(node.get("content") or "")
        draft = Draft(
            node=node,
            locator=Locator(self.book.origin.file, self.title),
            source_hash=digest.hexdigest(),
            raw=raw,
        )
        yield draft, {"sheet": self.index + 1, "row": 0}

    def _cursor(self, position: int) -> JSON:
        return {"sheet": self.index, "row": position}

    def _locator(self, number: int) -> Locator:
        return Locator(self.book.origin.file, f"{self.title}!{number}", line=number)

    def _label(self, number: int) -> str:
        return f"sheet {self.title!r}: row {number}"

    def _rejected(self, row: Row) -> Rejected:
        reason = f"sheet {self.title!r}: {row.problem}"
        return Rejected(self._locator(row.number), "", reason)

    def _row_draft(self, row: Row, columns: Columns) -> Draft | Rejected:
        fields: dict[str, JSON] = {}
        formulas: dict[str, JSON] = {}
        raw: dict[str, JSON] = {}
        for cell in row.cells:
            name = columns.name(cell.column)
            fields[name] = cell.value
            coordinate = f"{letter(cell.column)}{row.number}"
            if cell.formula is None:
                raw[coordinate] = cell.value
            else:
                formulas[name] = cell.formula
                raw[coordinate] = {"value": cell.value, "formula": cell.formula}
        key = f"{self.title}!{row_key(fields, row.number)}"
        origin = self.book.origin
        if origin.checks_keys and (refused := origin.refusal(key, fields, row.number, self._label)):
            return Rejected(self._locator(row.number), orjson.dumps(raw).decode(), refused,
                            origin.identity(key))  # fmt: skip
        node = self.book.origin.node(fields, key)
        if formulas:
            properties = dict(node.get("properties") or {})
            properties[_free_name(properties, "formulas")] = formulas
            node["properties"] = properties
        target = node_id_for(self.book.origin.source, str(node["source_id"]))
        edge: dict[str, JSON] = {
            "edge_type": "NEST",
            "source_id": self.node_id,
            "target_id": target,
            "sequence_order": row.number,
        }
        encoded = orjson.dumps(raw)
        names = orjson.dumps([columns.name(cell.column) for cell in row.cells])
        return Draft(
            node=node,
            locator=self._locator(row.number),
            source_hash=sha256_hex(names + b"\n" + encoded),
            raw=encoded.decode(),
            edges=(edge,),
        )

    def _sheet_node(
        self,
        table: _Table,
        header: Row | None,
        columns: Columns | None,
        counts: dict[str, int],
        extent: _Extent,
        rows: SheetRows,
    ) -> dict[str, JSON]:
        properties: dict[str, JSON] = {
            "sheet_index": self.index,
            "sheet_title": self.title,
            "rows": counts["rows"],
            "columns": extent.width,
        }
        if counts["rows"]:
            properties["dimensions"] = extent.dimensions
        if self.sheet.sheet_state != "visible":
            properties["state"] = self.sheet.sheet_state
        if header is not None and columns is not None:
            properties["header_row"] = header.number
            properties["header"] = [columns.name(c.column) for c in header.cells]
        if rows.merged:
            properties["merged_cells"] = rows.merged
        if rows.hyperlinks:
            properties["hyperlinks"] = dict(rows.hyperlinks)
        if table.formulas:
            properties["formulas"] = dict(table.formulas)
        if table.left_out:
            properties["rows_left_out"] = table.left_out
        if counts["rejected"]:
            properties["rows_rejected"] = counts["rejected"]
        if self.book.rows_as_nodes:
            if counts["row_nodes"]:
                properties["row_nodes"] = counts["row_nodes"]
            else:
                properties["rows_not_nodes"] = (
                    "no header row naming node fields (title, content, due, tags...)"
                )
        if self.book.properties:
            properties["workbook"] = dict(self.book.properties)
        node: dict[str, JSON] = {
            "source": self.book.origin.source,
            "source_id": self.source_id,
            "node_type": "spreadsheet",
            "name": f"{self.book.stem} / {self.title}",
            **self.book.fields,
            "properties": properties,
        }
        content = _render(table, header, columns, extent)
        if content:
            node["content"] = content
        return node


def _render(table: _Table, header: Row | None, columns: Columns | None, extent: _Extent) -> str:
    if columns is None or (header is None and not table.rows):
        return ""
    order = range(extent.first_column, extent.last_column + 1)
    if header is not None:
        head = [markdown.cell_text(columns.header.get(c, "")) for c in order]
    else:
        head = [letter(c) for c in order]
    body = ([texts.get(c, "") for c in order] for _, texts in table.rows)
    return markdown.table(head, body)


@dataclass
class _Extent:
    """The range the sheet's cells take (0 before the first)."""

    first_column: int = 0
    last_column: int = 0
    first_row: int = 0
    last_row: int = 0

    def widen(self, row: Row) -> None:
        columns = [cell.column for cell in row.cells]
        first, final = min(columns), max(columns)
        self.first_column = min(self.first_column, first) if self.first_column else first
        self.last_column = max(self.last_column, final)
        self.first_row = self.first_row or row.number
        self.last_row = row.number

    @property
    def width(self) -> int:
        return self.last_column - self.first_column + 1 if self.first_column else 0

    @property
    def dimensions(self) -> str:
        start = f"{letter(self.first_column)}{self.first_row}"
        return f"{start}:{letter(self.last_column)}{self.last_row}"


def _cell_json(cell: Cell) -> JSON:
    return [cell.column, cell.value, cell.formula]


def _free_name(properties: Mapping[str, JSON], name: str) -> str:
    """``name``, or a variant no column of the row already uses."""
    while name in properties:
        name = "_" + name
    return name
