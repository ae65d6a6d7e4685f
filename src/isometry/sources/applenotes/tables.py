"""Embedded tables (``com.apple.notes.table``): the mergeable data object rebuilt as rows of
cells, and written as a Markdown table.

A table is a tree of objects that point at each other by index: the root (its type is
``com.apple.notes.ICTable``) maps ``crRows`` and ``crColumns`` to ordered sets of UUIDs (their
order is the table's order; later edits map new UUIDs onto the original ones) and
``cellColumns`` to a dictionary column UUID -> (row UUID -> cell text as a ``Note``).
``crTableColumnDirection`` says whether the columns read right to left; they are then
reversed so the Markdown reads as the table looks.
"""

from __future__ import annotations

from isometry.sources.applenotes.markdown import Renderer
from isometry.sources.applenotes.proto import BodyError, ProtoMessage, parse_mergeable

TABLE_TYPE = "com.apple.notes.ICTable"
RIGHT_TO_LEFT = "CRTableColumnDirectionRightToLeft"


class _Table:
    def __init__(self, data: ProtoMessage) -> None:
        self.entries = list(data.entry)
        self.keys = list(data.key_item)
        self.types = list(data.type_item)
        self.uuids = {bytes(u): i for i, u in enumerate(data.uuid_item)}

    def entry(self, index: int) -> ProtoMessage:
        if not 0 <= index < len(self.entries):
            raise BodyError(f"the table points at object {index}, which it does not hold")
        return self.entries[index]

    def uuid_index(self, entry: ProtoMessage) -> int:
        """The UUID an object stands for (a one-entry map holding its index)."""
        if not entry.HasField("custom_map") or not entry.custom_map.map_entry:
            raise BodyError("a table row or column is not a UUID reference")
        return int(entry.custom_map.map_entry[0].value.unsigned_integer_value)

    def root(self) -> ProtoMessage:
        for entry in self.entries:
            if entry.HasField("custom_map"):
                kind = entry.custom_map.type
                if 0 <= kind < len(self.types) and self.types[kind] == TABLE_TYPE:
                    return entry
        raise BodyError("the embedded object holds no table")

    def order(self, entry: ProtoMessage) -> dict[int, int]:
        """UUID index -> position, for the rows or the columns."""
        if not entry.HasField("ordered_set"):
            raise BodyError("the table's rows or columns are not an ordered set")
        ordering = entry.ordered_set.ordering
        positions: dict[int, int] = {}
        for attachment in ordering.array.attachment:
            index = self.uuids.get(bytes(attachment.uuid))
            if index is not None:
                positions[index] = len(positions)
        for element in ordering.contents.element:
            key = self.uuid_index(self.entry(element.key.object_index))
            value = self.uuid_index(self.entry(element.value.object_index))
            if key in positions:
                positions[value] = positions[key]
        return positions

    def rows(self) -> list[list[ProtoMessage | None]]:
        root = self.root()
        parts: dict[str, ProtoMessage] = {}
        direction = ""
        for item in root.custom_map.map_entry:
            name = self.keys[item.key] if 0 <= item.key < len(self.keys) else ""
            if name == "crTableColumnDirection":
                direction = self._direction(item.value)
            elif name in ("crRows", "crColumns", "cellColumns"):
                parts[name] = self.entry(item.value.object_index)
        if set(parts) != {"crRows", "crColumns", "cellColumns"}:
            missing = sorted({"crRows", "crColumns", "cellColumns"} - set(parts))
            raise BodyError(f"the table has no {', '.join(missing)}")
        rows, columns = self.order(parts["crRows"]), self.order(parts["crColumns"])
        height = max(rows.values(), default=-1) + 1
        width = max(columns.values(), default=-1) + 1
        grid: list[list[ProtoMessage | None]] = [[None] * width for _ in range(height)]
        for column_element in parts["cellColumns"].dictionary.element:
            column = columns.get(self.uuid_index(self.entry(column_element.key.object_index)))
            cells = self.entry(column_element.value.object_index)
            if column is None:
                continue
            for cell_element in cells.dictionary.element:
                row = rows.get(self.uuid_index(self.entry(cell_element.key.object_index)))
                cell = self.entry(cell_element.value.object_index)
                if row is not None and cell.HasField("note"):
                    grid[row][column] = cell.note
        if direction == RIGHT_TO_LEFT:
            grid = [list(reversed(row)) for row in grid]
        return grid

    def _direction(self, value: ProtoMessage) -> str:
        if value.HasField("string_value"):
            return str(value.string_value)
        target = self.entry(value.object_index)
        if target.HasField("register_latest"):
            inner = target.register_latest.contents
            if inner.HasField("string_value"):
                return str(inner.string_value)
            target = self.entry(inner.object_index)
        for item in target.custom_map.map_entry if target.HasField("custom_map") else ():
            if item.value.HasField("string_value"):
                return str(item.value.string_value)
        return ""


def table_rows(data: bytes) -> list[list[ProtoMessage | None]]:
    """The cells of a stored table (its ``ZMERGEABLEDATA``), row by row; a cell nobody wrote
    is None. Raises ``BodyError`` saying what is wrong with a damaged one."""
    return _Table(parse_mergeable(data)).rows()


def table_markdown(rows: list[list[ProtoMessage | None]], renderer: Renderer) -> str:
    """A Markdown table; its first row is the header, as Markdown tables need one."""
    if not rows or not rows[0]:
        return ""
    lines = []
    for index, row in enumerate(rows):
        cells = [renderer.cell(cell) if cell is not None else "" for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("|" + "|".join(" --- " for _ in row) + "|")
    return "\n".join(lines)
