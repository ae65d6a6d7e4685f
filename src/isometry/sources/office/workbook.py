"""Workbooks (``.xlsx``, ``.xlsm``): opened with openpyxl in read-only, values-only mode, so a
sheet is streamed row by row and never held whole; each sheet read by ``sheet.SheetImport``.

Cursor ``{"sheet": index, "row": n}``: ``n`` of the sheet's rows, as the file stores them, are
read (empty rows a file leaves out are not counted; where none is left out, ``n`` is the last
row's number). Resuming reads sheet ``index`` again from its start (its node needs all of it)
and yields what follows; ``row`` 0 starts a sheet.

Scanning counts one record per sheet and, with ``rows_as_nodes``, the rows after a header row
that names node fields, as far as the sheet's declared size tells (rows left empty inside it
are counted but yield nothing); a sheet that declares no size is counted row by row.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import BinaryIO
from zipfile import BadZipFile, ZipFile

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from isometry.model import JSON
from isometry.sources.base import Item, Opener, Options, Scan
from isometry.sources.office.cells import SheetRows, in_order
from isometry.sources.office.package import check_package, count_parts, damaged, measure
from isometry.sources.office.properties import core_fields
from isometry.sources.office.sheet import (
    Book,
    Columns,
    SheetImport,
    looks_like_header,
    names_node_fields,
)
from isometry.sources.options import flag
from isometry.sources.records import (
    ID_NAMES,
    KeyClashes,
    Origin,
    cursor_position,
    normal_name,
    open_source,
)

KIND = "workbook"
ROWS_AS_NODES = flag(
    "rows_as_nodes", "Also a node per row of a sheet whose header row names node fields."
)
# What openpyxl raises for a package it cannot read: a broken zip, a missing part (KeyError),
# XML it cannot parse (a SyntaxError, or ValueError, its own wrapper), no workbook part (OSError).
_LOAD_ERRORS = (
    BadZipFile, KeyError, ValueError, TypeError, SyntaxError, OSError, EOFError, zlib.error,
    InvalidFileException,
)  # fmt: skip


@contextmanager
def open_workbook(path: Path, stream: BinaryIO) -> Iterator[Workbook]:
    """The workbook in ``stream``, read-only and values-only; ``SourceUnreadable`` when it is
    not one."""
    check_package(path, stream, KIND)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # features openpyxl does not keep: not our concern
            book = load_workbook(stream, read_only=True, data_only=True, keep_links=False)
    except _LOAD_ERRORS as error:
        raise damaged(path, KIND, error) from None
    try:
        yield book
    finally:
        book.close()


def sheets(book: Workbook) -> list[ReadOnlyWorksheet]:
    """The worksheets (chart sheets hold no cells), in workbook order."""
    return [s for s in book.worksheets if isinstance(s, ReadOnlyWorksheet)]


def scan_workbook(path: Path, opener: Opener, options: Options) -> Scan:
    rows_as_nodes = options.flag(ROWS_AS_NODES.name)
    with open_source(path, opener) as stream:
        check_package(path, stream, KIND)
        measured = measure(stream)
        with open_workbook(path, stream) as book:
            found = sheets(book)
            records, clashes = len(found), KeyClashes()
            if rows_as_nodes:
                records += sum(_row_records(sheet, clashes) for sheet in found)
                if clashes.second_look():
                    for sheet in found:
                        _row_records(sheet, clashes)
    return Scan(records, measured.size, measured.fingerprint, clashes.keys(), clashes.repeated())


def _row_records(sheet: ReadOnlyWorksheet, clashes: KeyClashes) -> int:
    """How many row nodes the sheet will give (see the module docstring); the keys of its
    rows go to ``clashes`` when it has an id column (else no row has an id)."""
    with closing(iter(SheetRows(sheet))) as stored:
        rows = in_order(stored)  # as SheetImport.items reads them
        for row in rows:
            if row.cells:
                first = row
                break
        else:
            return 0
        header = Columns(first).header
        if not looks_like_header(first) or not names_node_fields(header):
            return 0
        ids = {column: name for column, name in header.items() if normal_name(name) in ID_NAMES}
        declared = sheet.max_row
        if not ids and declared is not None and declared >= first.number:
            return declared - first.number
        counted = 0
        for row in rows:
            counted += bool(row.cells or row.problem)
            if row.cells:  # a row with a problem has none
                fields = {ids[c.column]: c.value for c in row.cells if c.column in ids}
                clashes.add(fields, row.number, f"{sheet.title}!")
        if declared is not None and declared >= first.number:
            return declared - first.number
        return counted


def read_workbook(
    path: Path, opener: Opener, options: Options, cursor: JSON, origin: Origin
) -> Iterator[tuple[Item, JSON]]:
    start, after = cursor_position(cursor, ("sheet", "row"), path)
    with open_source(path, opener) as stream:
        unread = _unread_parts(stream)
        stream.seek(0)
        with open_workbook(path, stream) as book:
            shared = _book(path, origin, book, options, unread)
            for index, sheet in enumerate(sheets(book)):
                if index >= start:
                    resume = after if index == start else 0
                    yield from SheetImport(shared, sheet, index).items(resume)


# Parts of a workbook this importer does not turn into nodes or text, by the prefix of their
# names in the package: counted on every sheet node, so that nothing is left out unsaid.
_UNREAD = (
    ("xl/comments", "cell comment parts"),
    ("xl/threadedComments/", "threaded comment parts"),
    ("xl/charts/chart", "charts"),
    ("xl/chartsheets/", "chart sheets"),
    ("xl/media/", "images"),
    ("xl/pivotTables/", "pivot tables"),
)


def _unread_parts(stream: BinaryIO) -> dict[str, JSON]:
    """How many of each kind of part the importer leaves out (see ``_UNREAD``)."""
    try:
        with ZipFile(stream) as package:
            names = [n for n in package.namelist() if not n.endswith("/")]
    except BadZipFile:
        return {}  # openpyxl says what is wrong with the file
    return count_parts(names, _UNREAD)


def _book(
    path: Path, origin: Origin, book: Workbook, options: Options, unread: dict[str, JSON]
) -> Book:
    props = book.properties
    fields, properties = core_fields(
        {
            "title": props.title,
            "subject": props.subject,
            "creator": props.creator,
            "last_modified_by": props.lastModifiedBy,
            "description": props.description,
            "keywords": props.keywords,
            "category": props.category,
            "content_status": props.contentStatus,
            "identifier": props.identifier,
            "language": props.language,
            "revision": props.revision,
            "version": props.version,
            "created": props.created,
            "modified": props.modified,
            "last_printed": props.lastPrinted,
        }
    )
    properties = {"file": path.name, **properties}
    if unread:
        properties["not_imported"] = unread
    rows_as_nodes = options.flag(ROWS_AS_NODES.name)
    return Book(origin, path.stem, fields, properties, rows_as_nodes)
