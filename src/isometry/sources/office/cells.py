"""The rows of one worksheet, streamed: each cell's value as Excel last calculated it, the text
of its formula when it has one, and the sheet's merged ranges and hyperlinks.

openpyxl's read-only worksheet streams rows, but with ``data_only`` it drops every formula's
text, and it never reports merged ranges or hyperlinks. The sheet parser it streams with,
``WorkSheetParser``, sees all of them in the same pass: a small subclass keeps the formula
beside the cached value and turns a row it cannot read into a problem for that row rather than
an end to the sheet. One parse of the sheet gives values, formulas, merges and links; no
second workbook load.

That parser, and the read-only worksheet's ``_get_source``/``_shared_strings``/
``_worksheet_path`` and the workbook's ``_date_formats``/``_timedelta_formats``/``_archive``
it is fed from, are openpyxl internals: they are the arguments openpyxl's own read-only
worksheet passes, and they are reached only here. The tests read formulas, merges, links and
dates back, so a change in openpyxl shows there.
"""

from __future__ import annotations

import math
import posixpath
import warnings
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zipfile import BadZipFile

from openpyxl.formula.translate import TranslatorError
from openpyxl.packaging.relationship import get_dependents
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from isometry.model import JSON

# What openpyxl raises for a cell it cannot convert (a shared string index out of range, a
# number that is not one, a date serial out of range, a shared formula it cannot move).
CELL_ERRORS = (ValueError, IndexError, KeyError, TypeError, OverflowError, TranslatorError)
# What breaks the stream itself: XML that stops being XML (ParseError is a SyntaxError;
# defusedxml refuses entities with ValueErrors), a zip member that is cut short or corrupt.
STREAM_ERRORS = (SyntaxError, zlib.error, BadZipFile, EOFError, *CELL_ERRORS)


@dataclass(frozen=True, slots=True)
class Cell:
    column: int
    value: JSON
    """Plain JSON: text, a number, true/false; dates and times as ISO-8601 text; None for a
    formula Excel never calculated."""
    formula: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    """The row's number in the sheet, as Excel shows it."""
    cells: tuple[Cell, ...] = ()
    """The cells that hold a value or a formula, left to right."""
    problem: str | None = None
    """Why the row cannot be read (its cells are then empty)."""
    ends_sheet: bool = False
    """The problem broke the sheet's stream: nothing after it can be read."""
    position: int = 0
    """Which of the sheet's stored rows this is (1 for the first): unlike the number, it only
    grows, even in a sheet whose rows are out of order, so resuming can count on it."""


def in_order(rows: Iterable[Row]) -> Iterator[Row]:
    """The rows, each that comes after a row of its number or higher made a problem: a sheet
    whose rows are out of order cannot say where its cells belong."""
    last = 0
    for row in rows:
        if row.problem is not None:
            yield row
        elif row.number <= last:
            yield Row(row.number, problem=f"row {row.number} comes after row {last}: the "
                      "sheet's rows are out of order", position=row.position)  # fmt: skip
        else:
            last = row.number
            yield row


class SheetRows:
    """Iterates a read-only worksheet's rows (empty rows included, as openpyxl gives them).
    Once the iteration is over, ``merged`` lists the merged ranges and ``hyperlinks`` maps
    cells to their links' targets: a sheet keeps both after its rows."""

    def __init__(self, sheet: ReadOnlyWorksheet) -> None:
        self._sheet = sheet
        self.merged: list[str] = []
        self.hyperlinks: dict[str, str] = {}

    def __iter__(self) -> Generator[Row]:
        sheet: Any = self._sheet  # the internals named in the module docstring
        book: Any = sheet.parent
        last = position = 0
        try:
            source = sheet._get_source()
        except (BadZipFile, KeyError, zlib.error, EOFError) as error:
            yield Row(1, problem=f"the sheet's data cannot be opened: {_reason(error)}",
                      ends_sheet=True, position=1)  # fmt: skip
            return
        with source:
            parser = _Parser(
                source,
                sheet._shared_strings,
                data_only=True,
                epoch=book.epoch,
                date_formats=book._date_formats,
                timedelta_formats=book._timedelta_formats,
            )
            rows = parser.parse()
            while True:
                try:
                    with warnings.catch_warnings():
                        # openpyxl warns about sheet features it does not keep (extensions,
                        # conditional formats): nothing a reader of values loses.
                        warnings.simplefilter("ignore")
                        number, cells = next(rows)
                except StopIteration:
                    break
                except STREAM_ERRORS as error:
                    reason = f"the sheet cannot be read past row {last}: {_reason(error)}"
                    yield Row(last + 1, problem=reason, ends_sheet=True, position=position + 1)
                    return
                last, position = number, position + 1
                if isinstance(cells, str):
                    yield Row(number, problem=cells, position=position)
                else:
                    yield Row(number, tuple(_cells(cells)), position=position)
            merged = parser.merged_cells
            self.merged = [str(m.ref) for m in merged.mergeCell] if merged is not None else []
            self.hyperlinks = _link_targets(sheet, parser.hyperlinks.hyperlink)


class _Parser(WorkSheetParser):
    """openpyxl's sheet parser, keeping formula text beside the cached value."""

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell: dict[str, Any] = super().parse_cell(element)
        if element.find(FORMULA_TAG) is not None:
            parsed = self.parse_formula(element)  # type: ignore[no-untyped-call]  # untyped stub
            cell["formula"] = formula_text(parsed)
        return cell

    def parse_row(self, row: Any) -> tuple[int, Any]:
        """A row's cells, or the reason (a string) it cannot be read."""
        before = self.row_counter
        try:
            return super().parse_row(row)
        except CELL_ERRORS as error:
            if self.row_counter == before:  # its own number was what could not be read
                self.row_counter = before + 1
            return self.row_counter, f"row {self.row_counter} cannot be read: {_reason(error)}"


def _link_targets(sheet: Any, links: list[Any]) -> dict[str, str]:
    """Cell -> target of the sheet's hyperlinks: a URL (from the sheet's relationships), a
    place in the workbook (``#Sheet!A1``), or both."""
    found: dict[str, str] = {}
    relationships: dict[str, Any] | None = None
    for link in links:
        target = ""
        if link.id:
            if relationships is None:
                relationships = _relationships(sheet)
            relationship = relationships.get(link.id)
            target = str(relationship.Target) if relationship is not None else ""
        if link.location:
            target += "#" + str(link.location)
        if target and link.ref:
            found[str(link.ref)] = target
    return found


def _relationships(sheet: Any) -> dict[str, Any]:
    # A part's relationships live beside it: xl/worksheets/_rels/sheet1.xml.rels (OPC).
    folder, name = posixpath.split(str(sheet._worksheet_path))
    path = posixpath.join(folder, "_rels", f"{name}.rels")
    try:
        return dict(get_dependents(sheet.parent._archive, path).to_dict())
    except (KeyError, SyntaxError, ValueError, BadZipFile, zlib.error, EOFError):
        return {}  # links whose targets cannot be read keep their place in the sheet only


def formula_text(formula: object) -> str | None:
    """The text of a formula as openpyxl parses it (plain, array or data table)."""
    if isinstance(formula, str):
        return formula
    if isinstance(formula, ArrayFormula):
        return str(formula.text) if formula.text else None
    if isinstance(formula, DataTableFormula):
        refs = ",".join(str(r) for r in (formula.r1, formula.r2) if r)
        return f"=TABLE({refs})"
    return None


def _cells(parsed: list[dict[str, Any]]) -> Iterator[Cell]:
    for cell in parsed:
        value, formula = plain(cell["value"]), cell.get("formula")
        if value is None and formula is None:
            continue
        if isinstance(value, str) and not value and formula is None:
            continue
        yield Cell(int(cell["column"]), value, formula)


def plain(value: object) -> JSON:
    """A cell value as plain JSON. Spreadsheet dates carry no time zone: they are written as
    ISO-8601 without one (a date alone when the time is midnight)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return duration(value)
    return str(value)  # rich text, and whatever a later openpyxl may hand over


def duration(value: timedelta) -> str:
    """A duration as Excel's ``[h]:mm:ss`` shows it (``26:30:00``)."""
    seconds = value.total_seconds()
    sign = "-" if seconds < 0 else ""
    whole, fraction = divmod(abs(seconds), 1)
    hours, rest = divmod(int(whole), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    if fraction:
        text += f"{fraction:.6f}".rstrip("0")[1:]
    return text


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
