"""The lines and rows of a CSV file, with the exact bytes of each.

The file is read as bytes and split into lines here, and ``csv.reader`` is fed one decoded line
at a time (it asks for more inside a quoted field), so the byte range of every row is exact. A
cell may be as large as the file (the csv module's limit of 128 KiB is lifted).

The header is the first row that is not blank; it names the fields
(an empty or repeated name is named ``column_N`` or ``name_N``, N its position, and never takes
a name the header gives another column). A header that names no column (a line of delimiters
only) is refused: such a line is an empty spreadsheet row, and the names are on a later line or
missing.

A quoted field that never closes (the file ends inside it) would make the rest of the file one
cell. Its row is ``Rejected`` instead, up to the line where that field opens, and reading goes
on with the next line (the cursor after the row stands there too). That the field never closes
is known at the end of the file, or sooner: once a row is ``_LOOKAHEAD`` bytes long inside a
quoted field, the lines after it are scanned (``_quote_scan``, without keeping them) to tell,
so such a row is not held whole. No later row can be cut so: the lines after that field hold
quotes only in pairs (a single one would close it), and such lines never leave a field open.
So the rows of a file are read at most twice over, whatever its quotes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from isometry.errors import SourceUnreadable
from isometry.sources.csvformat import CsvFormat

# A cell can be as large as its file, so the csv module's default limit (128 KiB) is lifted.
# 2**31 - 1 is the largest limit every platform takes (it is a C long: 32 bits on Windows);
# memory is bounded otherwise, as a quoted field that never closes is cut (see the docstring).
FIELD_LIMIT = 2**31 - 1
csv.field_size_limit(FIELD_LIMIT)
_CHUNK = 1 << 16
# A row this long inside a quoted field: scan ahead whether the field closes.
_LOOKAHEAD = 1 << 20


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


class Lines:
    """The lines of a file as text, for ``csv.reader``, counting the bytes they took; they
    end a row whose quoted field never closes (see the module docstring)."""

    def __init__(
        self, stream: BinaryIO, form: CsvFormat, offset: int, digest: Digest | None = None
    ) -> None:
        self._stream = stream
        self._form = form
        self._digest = digest
        self._buffer = bytearray()
        self._pos = 0
        self._eof = False
        self._read_to = offset  # where the stream stands: the end of the buffer
        self._hashed = offset  # the digest has had every byte before this
        self.offset = offset  # of the next line
        self.line = 0  # lines read
        self.start = offset  # of the current row
        self.first_line = 1  # of the current row
        self.problem: str | None = None
        self.runaway = False  # the current row's quoted field never closes: it is cut
        self._data: list[bytes] = []
        self._text: list[str] = []
        self._closes = False  # the scan ahead found the current row's quoted field closing
        self._cut_at: int | None = None  # the line the current row is cut after
        stream.seek(offset)

    def seek(self, offset: int, line: int) -> None:
        self._stream.seek(offset)
        self._buffer.clear()
        self._pos, self._eof, self._read_to = 0, False, offset
        self.offset, self.line = offset, line

    def begin(self) -> None:
        """Start a row: what is read from here on belongs to it."""
        self.start, self.first_line, self.problem = self.offset, self.line + 1, None
        self.runaway, self._closes, self._cut_at = False, False, None
        self._data.clear()
        self._text.clear()

    def taken(self) -> tuple[bytes, str]:
        """The current row's bytes and text, without the line break that ends it."""
        data, text = b"".join(self._data), "".join(self._text)
        newline, carriage = self._form.newline, self._form.carriage
        if data.endswith(newline):
            data, text = data[: -len(newline)], text[:-1]
            if carriage and data.endswith(carriage):
                data, text = data[: -len(carriage)], text[:-1]
        return data, text

    def cut(self) -> str:
        """Cut the current row, whose quoted field never closes, after the line where that
        field opens, and stand after that line; why the row is refused."""
        index = _last_opening(self._text, self._form.delimiter)
        del self._data[index + 1 :], self._text[index + 1 :]
        self.seek(self.start + sum(map(len, self._data)), self.first_line + index)
        where = "here" if index == 0 else f"on line {self.first_line + index}"
        return f"a quoted field opens {where} and never closes"

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._data and self._never_closes():  # the reader asks for more of the row
            self.runaway = True
            raise StopIteration
        data = self._next_line()
        if not data:
            self.runaway = bool(self._data)  # the file ends inside the row's quoted field
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

    def _never_closes(self) -> bool:
        """Whether the current row's quoted field, open at the end of the line just read, is
        known never to close, and the row ends here."""
        if self._cut_at is None and not self._closes and self.offset - self.start >= _LOOKAHEAD:
            self._look_ahead()
        return self._cut_at is not None and self.line >= self._cut_at

    def _look_ahead(self) -> None:
        """Scan the lines after this one, without keeping them, to tell whether the quoted
        field open at the end of this one closes; then stand here again."""
        quoted, line, last_opening = True, self.line, 0
        while quoted and (data := self._next_line()):
            line += 1
            text = data.decode(self._form.encoding, "replace")
            quoted, opened = _quote_scan(text, self._form.delimiter, quoted)
            if opened:
                last_opening = line
        self.seek(self.offset, self.line)
        if quoted:  # the file ends inside the field
            self._cut_at = max(self.line, last_opening)
        else:
            self._closes = True

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
            self._took(chunk)
            self._buffer += chunk
            self._eof = not chunk

    def _took(self, chunk: bytes) -> None:
        """Count a chunk read at ``_read_to``; hash what the digest has not had (a row cut
        short, or a scan ahead, reads some bytes twice)."""
        end = self._read_to + len(chunk)
        if self._digest is not None and end > self._hashed:
            self._digest.update(chunk[self._hashed - self._read_to :])
            self._hashed = end
        self._read_to = end

    def drain(self) -> int:
        """Read to the end (so a scan hashes every byte); the size of the file."""
        self._stream.seek(self._read_to)
        while chunk := self._stream.read(_CHUNK):
            self._took(chunk)
        return self._read_to


def _quote_scan(text: str, delimiter: str, quoted: bool) -> tuple[bool, bool]:
    """Read one line as ``csv.reader`` does (quote ``"``, doubled inside a quoted field), from
    the start of a field or, when ``quoted``, from inside a quoted field: whether a quoted field
    is open at its end, and whether one opens on it."""
    opened, at_field_start, index, size = False, True, 0, len(text)
    while True:
        if quoted:
            index = text.find('"', index)
            if index < 0:
                return True, opened
            if text.startswith('"', index + 1):  # a doubled quote: a quote in the field
                index += 2
                continue
            quoted, index = False, index + 1  # the closing quote
            if index >= size or text[index] in "\r\n":
                return False, opened
            at_field_start = text[index] == delimiter
            index += at_field_start
            continue
        if at_field_start and text.startswith('"', index):
            quoted, opened, index = True, True, index + 1
            continue
        # An unquoted field (a quote in it is a character): to the next delimiter, unless a
        # line break ends the row first.
        end = text.find(delimiter, index)
        field = text[index:] if end < 0 else text[index:end]
        if end < 0 or "\n" in field or "\r" in field:
            return False, opened
        at_field_start, index = True, end + 1


def _last_opening(texts: list[str], delimiter: str) -> int:
    """Of the lines of a row whose quoted field never closes, the index of the last line on
    which a quoted field opens: the one that never closes (0 when none is found)."""
    quoted, last = False, 0
    for index, text in enumerate(texts):
        quoted, opened = _quote_scan(text, delimiter, quoted)
        if opened:
            last = index
    return last


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    line: int
    start: int
    data: bytes
    text: str
    cells: list[str] | None
    problem: str | None


def _reader(lines: Lines, form: CsvFormat) -> Iterator[list[str]]:
    return csv.reader(lines, delimiter=form.delimiter, quotechar='"', doublequote=True)


def _records(lines: Lines, form: CsvFormat) -> Iterator[tuple[list[str] | None, str | None]]:
    """Each row from where ``lines`` stand, blank ones too: its cells (None when it is not
    valid CSV) and what is wrong with it, if anything; ``lines`` holds its bytes and text."""
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
        if lines.runaway:
            cells, problem = None, lines.cut()
        yield cells, problem


def read_header(path: Path, lines: Lines, form: CsvFormat) -> list[str] | None:
    """The field names from the first row that is not blank; None for a file without one."""
    for cells, problem in _records(lines, form):
        if cells is None:
            raise SourceUnreadable(f"{path}: the header row (line {lines.first_line}): {problem}")
        if any(cell.strip() for cell in cells):
            return unique_names(cells)
        if len(cells) > 1:
            raise SourceUnreadable(
                f"{path}: the header row (line {lines.first_line}) names no column: it holds "
                "only delimiters. Name the columns on that line, or delete it if the names "
                "are on a later line"
            )
    return None


def unique_names(names: list[str]) -> list[str]:
    """Header names, each its own: a name keeps itself (a repeated one the first time), an
    empty one is named ``column_N`` and a repeat ``name_N`` (N its position), with ``_2``,
    ``_3``... added while that is a name the header gives too or has given."""
    given = {name for name in names if name.strip()}
    taken: set[str] = set()
    out = []
    for position, name in enumerate(names, 1):
        candidate = name
        if not name.strip() or name in taken:
            base = f"{name.strip() or 'column'}_{position}"
            candidate, suffix = base, 1
            while candidate in given or candidate in taken:
                suffix += 1
                candidate = f"{base}_{suffix}"
        taken.add(candidate)
        out.append(candidate)
    return out


def data_rows(lines: Lines, form: CsvFormat, number: int) -> Iterator[Row]:
    """Every row after the header that is not empty, numbered on from ``number``."""
    for cells, problem in _records(lines, form):
        if problem is None and cells is not None and not any(cell.strip() for cell in cells):
            continue
        number += 1
        data, text = lines.taken()
        yield Row(number, lines.first_line, lines.start, data, text, cells, problem)
