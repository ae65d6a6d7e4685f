"""The ``csv`` importer: CSV and TSV files with a header row.

How the file is written (encoding, line ends, delimiter) is told by ``csvformat``; its
lines and rows, each with its exact bytes, are read by ``csvlines``.

Cursor ``{"offset": byte offset after the row, "row": its row number, "line": lines read}``:
resume reads the header again, then seeks to ``offset``. Rows that are empty are skipped; a row
with another number of fields than the header, or that is not valid CSV or not in the file's
encoding, is ``Rejected``; so is a row without an id whose row number is the id of another row,
and a row that repeats the id of an earlier one (``records.KeyClashes``). The option
``dayfirst`` reads ``01/05/2024`` as 1 May.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from isometry.model import JSON
from isometry.sources.base import Draft, Item, Locator, Opener, Options, Rejected, Scan
from isometry.sources.csvformat import CsvFormat, delimiter_named, detect_format, encoding_named
from isometry.sources.csvlines import Lines, Row, data_rows, read_header
from isometry.sources.options import OptionSpec
from isometry.sources.records import (
    DAYFIRST,
    ID_NAMES,
    KeyClashes,
    Origin,
    cursor_position,
    normal_name,
    open_source,
    row_key,
    sha256_hex,
)

SUFFIXES = frozenset({".csv", ".tsv", ".tab"})

DELIMITER = OptionSpec(
    "delimiter",
    "one character, or tab, comma, semicolon, pipe, space",
    "The character between fields (by default told from the file).",
    delimiter_named,
)
ENCODING = OptionSpec(
    "encoding",
    "an encoding's name",
    "The file's encoding, e.g. cp1252 or utf-16 (by default told from the file).",
    encoding_named,
)


class CsvImporter:
    """Reads CSV and TSV files with a header row (see the module docstring)."""

    name: ClassVar[str] = "csv"
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = (DELIMITER, ENCODING, DAYFIRST)

    def accepts(self, path: Path) -> bool:
        return path.suffix.lower() in SUFFIXES

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        with open_source(path, opener) as stream:
            form = detect_format(path, stream, options)
            digest = hashlib.sha256()
            stream.seek(0)
            digest.update(stream.read(form.start))
            lines = Lines(stream, form, form.start, digest)
            header = read_header(path, lines, form)
            records, clashes = 0, KeyClashes()
            if header is not None:
                records = _add_rows(lines, form, header, clashes)
            size = lines.drain()
            if header is not None and clashes.second_look():
                again = Lines(stream, form, form.start)
                read_header(path, again, form)
                _add_rows(again, form, header, clashes)
        return Scan(records, size, digest.hexdigest(), clashes.keys(), clashes.repeated())

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        origin = Origin.of(self.name, path, options)
        with open_source(path, opener) as stream:
            form = detect_format(path, stream, options)
            lines = Lines(stream, form, form.start)
            header = read_header(path, lines, form)
            if header is None:
                return
            offset, row, line = cursor_position(cursor, ("offset", "row", "line"), path)
            if cursor is not None:
                lines.seek(offset, line)
            for record in data_rows(lines, form, row):
                cursor_after = {"offset": lines.offset, "row": record.number, "line": lines.line}
                yield _item(origin, header, record), cursor_after


def _add_rows(lines: Lines, form: CsvFormat, header: list[str], clashes: KeyClashes) -> int:
    """Give the id cells of every row to ``clashes``; how many rows there are."""
    # Only the id columns can make keys clash; without one no row has an id.
    ids = [(i, name) for i, name in enumerate(header) if normal_name(name) in ID_NAMES]
    records = 0
    for row in data_rows(lines, form, 0):
        records += 1
        if ids and (cells := _record_cells(row, header)) is not None:
            clashes.add({name: cells[i] for i, name in ids}, row.number)
    return records


def _record_cells(row: Row, header: list[str]) -> list[str] | None:
    """The row's cells when it becomes a record; None when ``_item`` rejects it."""
    if row.cells is None or row.problem is not None or len(row.cells) != len(header):
        return None
    return row.cells


def _item(origin: Origin, header: list[str], row: Row) -> Item:
    locator = Locator(origin.file, str(row.number), row.line, row.start, len(row.data))
    if row.cells is None or row.problem is not None:
        return Rejected(locator, row.text, f"row {row.number} (line {row.line}): {row.problem}")
    if len(row.cells) != len(header):
        reason = (
            f"row {row.number} (line {row.line}) has {len(row.cells)} fields "
            f"where the header has {len(header)}"
        )
        return Rejected(locator, row.text, reason)
    fields = dict(zip(header, row.cells, strict=True))
    key = row_key(fields, row.number)
    if origin.checks_keys:

        def label(number: int) -> str:  # this row with its line, an earlier one without
            return f"row {number} (line {row.line})" if number == row.number else f"row {number}"

        if refused := origin.refusal(key, fields, row.number, label):
            return Rejected(locator, row.text, refused, origin.identity(key))
    return Draft(
        node=origin.node(fields, key),
        locator=Locator(origin.file, key, row.line, row.start, len(row.data)),
        source_hash=sha256_hex(row.data),
        raw=row.text,
    )
