"""The ``csv`` importer: CSV and TSV files with a header row.

The encoding is told from a prefix of the bytes (a byte order mark, else UTF-8 when it decodes,
else charset-normalizer's best guess), the delimiter by ``csv.Sniffer`` over a prefix (comma,
semicolon, tab or pipe); the options ``encoding`` and ``delimiter`` override both. The header
row names the fields (empty and repeated names made unique, e.g. ``column_3``).

The file is read as bytes and split into lines here, and ``csv.reader`` is fed one decoded line
at a time (it asks for more inside a quoted field), so the byte range of every row is exact.
Cursor ``{"offset": byte offset after the row, "row": its row number, "line": lines read}``:
resume reads the header again, then seeks to ``offset``. Rows that are empty are skipped; a row
with another number of fields than the header, or that is not valid CSV or not in the file's
encoding, is ``Rejected``; so is a row without an id whose row number is the id of another row,
and a row that repeats the id of an earlier one (``records.KeyClashes``). The option
``dayfirst`` reads ``01/05/2024`` as 1 May.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar, Protocol

from charset_normalizer import from_bytes

from isometry.errors import SourceError, SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Draft, Item, Locator, Opener, Options, Rejected, Scan
from isometry.sources.records import (
    BOMS,
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
TAB_SUFFIXES = frozenset({".tsv", ".tab"})
DELIMITERS = ",;\t|"
# Among encodings that read a sample equally well, the one most CSV exports were written in.
PREFERRED_LEGACY = "cp1252"
_PREFIX = 1 << 16
_SAMPLE_LINES = 50
_SNIFF_CHARS = 8192
_CHUNK = 1 << 16
_SYNTAX = '\r\n,;\t|"'


@dataclass(frozen=True, slots=True)
class CsvFormat:
    """How a CSV file is written, as told from its first bytes."""

    encoding: str
    start: int  # bytes of the byte order mark, skipped
    delimiter: str
    newline: bytes  # "\n" in the encoding
    carriage: bytes  # "\r" in the encoding


class CsvImporter:
    """Reads CSV and TSV files with a header row (see the module docstring)."""

    name: ClassVar[str] = "csv"
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})

    def accepts(self, path: Path) -> bool:
        return path.suffix.lower() in SUFFIXES

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        with open_source(path, opener) as stream:
            form = detect_format(path, stream, options)
            digest = hashlib.sha256()
            stream.seek(0)
            digest.update(stream.read(form.start))
            lines = _Lines(stream, form, form.start, digest)
            header = _header(path, lines, form)
            records, clashes = 0, KeyClashes()
            if header is not None:
                records = _add_rows(lines, form, header, clashes)
            lines.drain()
            if header is not None and clashes.second_look():
                stream.seek(form.start)
                again = _Lines(stream, form, form.start)
                _header(path, again, form)
                _add_rows(again, form, header, clashes)
        return Scan(records, lines.offset, digest.hexdigest(), clashes.keys(), clashes.repeated())

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        origin = Origin.of(self.name, path, options)
        with open_source(path, opener) as stream:
            form = detect_format(path, stream, options)
            stream.seek(form.start)
            lines = _Lines(stream, form, form.start)
            header = _header(path, lines, form)
            if header is None:
                return
            offset, row, line = cursor_position(cursor, ("offset", "row", "line"), path)
            if cursor is not None:
                lines.seek(offset, line)
            for record in _rows(lines, form, row):
                cursor_after = {"offset": lines.offset, "row": record.number, "line": lines.line}
                yield _item(origin, header, record), cursor_after


# -- format --------------------------------------------------------------------------------


def detect_format(path: Path, stream: BinaryIO, options: Options) -> CsvFormat:
    """Encoding, byte order mark and delimiter of a CSV file, from its first bytes."""
    prefix = stream.read(_PREFIX)
    whole = len(prefix) < _PREFIX
    bom, encoding = next(((b, e) for b, e in BOMS if prefix.startswith(b)), (b"", None))
    chosen = options.get("encoding")
    if isinstance(chosen, str):
        try:
            encoding = codecs.lookup(chosen).name
        except LookupError:
            raise SourceError(f"{path}: unknown encoding {chosen!r}") from None
    if encoding is None:
        encoding = _guess_encoding(path, prefix, whole)
    newline, carriage = "\n".encode(encoding), "\r".encode(encoding)
    body = prefix[len(bom) :]
    if not whole:
        body = body[: _last_line_end(body, newline)]
    sample = body.decode(encoding, "replace")
    chosen = options.get("delimiter")
    if isinstance(chosen, str) and len(chosen) == 1:
        delimiter = chosen
    else:
        delimiter = _sniff(sample, path.suffix.lower())
    return CsvFormat(encoding, len(bom), delimiter, newline, carriage)


def _guess_encoding(path: Path, prefix: bytes, whole: bool) -> str:
    if b"\x00" in prefix:
        raise SourceUnreadable(
            f"{path} is not text (it holds NUL bytes; UTF-16 needs a byte order mark)"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(prefix, final=whole)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    matches = [m for m in from_bytes(prefix) if _ascii_compatible(m.encoding)]
    if not matches:
        raise SourceUnreadable(f"{path} is not text in an encoding this importer knows")
    best = matches[0]
    tied = [m for m in matches if m.chaos <= best.chaos and m.coherence >= best.coherence]
    if any(PREFERRED_LEGACY in m.could_be_from_charset for m in tied):
        return PREFERRED_LEGACY
    return str(best.encoding)


def _ascii_compatible(encoding: str) -> bool:
    try:
        return _SYNTAX.encode(encoding) == _SYNTAX.encode("ascii")
    except (LookupError, UnicodeError):
        return False


def _last_line_end(data: bytes, newline: bytes) -> int:
    """Where the last whole line of ``data`` ends (all of it when no line ends)."""
    index = data.rfind(newline)
    while index > 0 and index % len(newline):
        index = data.rfind(newline, 0, index)
    return index + len(newline) if index >= 0 else len(data)


def _sniff(sample: str, suffix: str) -> str:
    lines = [line for line in sample.splitlines() if line.strip()][:_SAMPLE_LINES]
    default = "\t" if suffix in TAB_SUFFIXES else ","
    first = lines[0] if lines else ""
    if not any(c in first for c in DELIMITERS):
        return default  # one column: the delimiter never shows
    if suffix in TAB_SUFFIXES and "\t" in first:
        return "\t"
    try:
        sample = "\n".join(lines)[:_SNIFF_CHARS]  # the sniffer's regexes are quadratic
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and sniffed in first:
        return sniffed
    return max(DELIMITERS, key=first.count)


# -- lines and rows ------------------------------------------------------------------------


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


class _Lines:
    """The lines of a file as text, for ``csv.reader``, counting the bytes they took."""

    def __init__(
        self, stream: BinaryIO, form: CsvFormat, offset: int, digest: _Digest | None = None
    ) -> None:
        self._stream = stream
        self._form = form
        self._digest = digest
        self._buffer = bytearray()
        self._pos = 0
        self._eof = False
        self.offset = offset  # of the next line
        self.line = 0  # lines read
        self.start = offset  # of the current row
        self.first_line = 1  # of the current row
        self.problem: str | None = None
        self._data: list[bytes] = []
        self._text: list[str] = []

    def seek(self, offset: int, line: int) -> None:
        self._stream.seek(offset)
        self._buffer.clear()
        self._pos, self._eof = 0, False
        self.offset, self.line = offset, line

    def begin(self) -> None:
        """Start a row: what is read from here on belongs to it."""
        self.start, self.first_line, self.problem = self.offset, self.line + 1, None
        self._data.clear()
        self._text.clear()

    def taken(self) -> tuple[bytes, str]:
        """The current row's bytes and text, without the line break that ends it."""
        data, text = b"".join(self._data), "".join(self._text)
        if data.endswith(self._form.newline):
            data, text = data[: -len(self._form.newline)], text[:-1]
            if data.endswith(self._form.carriage):
                data, text = data[: -len(self._form.carriage)], text[:-1]
        return data, text

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        data = self._next_line()
        if not data:
            raise StopIteration
        self.offset += len(data)
        self.line += 1
        self._data.append(data)
        try:
            text = data.decode(self._form.encoding)
        except UnicodeDecodeError as error:
            if self.problem is None:
                self.problem = f"line {self.line} is not {self._form.encoding}: {error.reason}"
            text = data.decode(self._form.encoding, "replace")
        self._text.append(text)
        return text

    def _next_line(self) -> bytes:
        newline, width = self._form.newline, len(self._form.newline)
        search = self._pos
        while True:
            index = self._buffer.find(newline, search)
            while index >= 0 and (index - self._pos) % width:
                index = self._buffer.find(newline, index + 1)
            if index >= 0 or self._eof:
                end = index + width if index >= 0 else len(self._buffer)
                data = bytes(self._buffer[self._pos : end])
                self._pos = end
                return data
            # Keep the unread part, and search on from where this search stopped.
            search = max(0, len(self._buffer) - self._pos - width + 1)
            del self._buffer[: self._pos]
            self._pos = 0
            chunk = self._stream.read(_CHUNK)
            if self._digest is not None:
                self._digest.update(chunk)
            self._buffer += chunk
            self._eof = not chunk

    def drain(self) -> None:
        """Read to the end (so a scan hashes every byte)."""
        while chunk := self._stream.read(_CHUNK):
            self.offset += len(chunk)
            if self._digest is not None:
                self._digest.update(chunk)


@dataclass(frozen=True, slots=True)
class _Row:
    number: int
    line: int
    start: int
    data: bytes
    text: str
    cells: list[str] | None
    problem: str | None


def _reader(lines: _Lines, form: CsvFormat) -> Iterator[list[str]]:
    return csv.reader(lines, delimiter=form.delimiter, quotechar='"', doublequote=True)


def _header(path: Path, lines: _Lines, form: CsvFormat) -> list[str] | None:
    """The field names from the first row that is not empty; None for a file without one."""
    reader = _reader(lines, form)
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                return unique_names(cells)
    except csv.Error as error:
        raise SourceUnreadable(f"{path}: the header row is not valid CSV: {error}") from None
    return None


def unique_names(names: list[str]) -> list[str]:
    """Header names with empty ones named ``column_N`` and repeats given their position."""
    seen: set[str] = set()
    out = []
    for position, name in enumerate(names, 1):
        candidate = name if name.strip() else f"column_{position}"
        suffix = 0
        while candidate in seen:
            suffix += 1
            candidate = f"{name.strip() or 'column'}_{position}" + "_" * (suffix - 1)
        seen.add(candidate)
        out.append(candidate)
    return out


def _rows(lines: _Lines, form: CsvFormat, number: int) -> Iterator[_Row]:
    """Every row after the header that is not empty, numbered on from ``number``."""
    reader = _reader(lines, form)
    while True:
        lines.begin()
        try:
            cells: list[str] | None = next(reader)
            problem = lines.problem
        except StopIteration:
            return
        except csv.Error as error:
            cells, problem = None, f"not valid CSV: {error}"
        if problem is None and cells is not None and not any(cell.strip() for cell in cells):
            continue
        number += 1
        data, text = lines.taken()
        yield _Row(number, lines.first_line, lines.start, data, text, cells, problem)


def _add_rows(lines: _Lines, form: CsvFormat, header: list[str], clashes: KeyClashes) -> int:
    """Give the id cells of every row to ``clashes``; how many rows there are."""
    # Only the id columns can make keys clash; without one no row has an id.
    ids = [(i, name) for i, name in enumerate(header) if normal_name(name) in ID_NAMES]
    records = 0
    for row in _rows(lines, form, 0):
        records += 1
        if ids and (cells := _record_cells(row, header)) is not None:
            clashes.add({name: cells[i] for i, name in ids}, row.number)
    return records


def _record_cells(row: _Row, header: list[str]) -> list[str] | None:
    """The row's cells when it becomes a record; None when ``_item`` rejects it."""
    if row.cells is None or row.problem is not None or len(row.cells) != len(header):
        return None
    return row.cells


def _item(origin: Origin, header: list[str], row: _Row) -> Item:
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
            return Rejected(locator, row.text, refused)
    return Draft(
        node=origin.node(fields, key),
        locator=Locator(origin.file, key, row.line, row.start, len(row.data)),
        source_hash=sha256_hex(row.data),
        raw=row.text,
    )
