"""The ``csv`` importer: CSV and TSV files with a header row.

Encoding. A byte order mark tells it. Without one, UTF-8 when the first 64 KiB decode as UTF-8
and are not all ASCII; when they are all ASCII, the rest of the file is looked through, chunk by
chunk, up to its first byte that is not ASCII, and the encoding is told from there (UTF-8 when
it decodes, else a guess), so a Latin-1 row far down a file is not taken for bad UTF-8. A guess
is charset-normalizer's best, except that the common Western encoding (cp1252,
``PREFERRED_LEGACY``) is taken when it reads the sample as Western text reads (accented letters
within words, the usual quotes and signs) and the best guess is not clearly better: a few
accented letters are valid Big5 or Shift-JIS too; and among Chinese, Japanese and Korean
encodings that read it equally well, the one that reads it in its own script. A file with NUL
bytes and no byte order mark is refused. The option ``encoding`` overrides all this: ``utf-16``
and ``utf-32`` are read in the byte order of the file's byte order mark (without one, in the
order its NUL bytes show, else little endian), and a file that cannot be in the chosen encoding
(another byte order mark, UTF-16 without NUL bytes, the NUL bytes of UTF-16 under an
ASCII-based encoding) is refused, not read into nothing.

Lines end with ``\\n`` (or ``\\r\\n``), or with ``\\r`` alone (old Mac OS) when the first 64 KiB
hold a ``\\r`` and no ``\\n``. The delimiter is sniffed by ``csv.Sniffer`` over a prefix (comma,
semicolon, tab or pipe); the option ``delimiter`` overrides it: one character (not a letter,
digit, quote or line break) or ``tab``, ``\\t``, ``comma``, ``semicolon``, ``pipe``, ``space``;
anything else is refused. The header is the first row that is not blank; it names the fields
(an empty or repeated name is named ``column_N`` or ``name_N``, N its position, and never takes
a name the header gives another column). A header that names no column (a line of delimiters
only) is refused: such a line is an empty spreadsheet row, and the names are on a later line or
missing.

The file is read as bytes and split into lines here, and ``csv.reader`` is fed one decoded line
at a time (it asks for more inside a quoted field), so the byte range of every row is exact. A
cell may be as large as the file (the csv module's limit of 128 KiB is lifted).
Cursor ``{"offset": byte offset after the row, "row": its row number, "line": lines read}``:
resume reads the header again, then seeks to ``offset``. Rows that are empty are skipped; a row
with another number of fields than the header, or that is not valid CSV or not in the file's
encoding, is ``Rejected``; so is a row without an id whose row number is the id of another row,
and a row that repeats the id of an earlier one (``records.KeyClashes``). The option
``dayfirst`` reads ``01/05/2024`` as 1 May.

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

import codecs
import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar, Protocol

from charset_normalizer import CharsetMatch, from_bytes

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
# The option ``delimiter`` by name (lower case), besides one character.
DELIMITER_NAMES = {
    "tab": "\t",
    "\\t": "\t",
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
    "space": " ",
}
# Among encodings that read a sample equally well, the one most CSV exports were written in.
PREFERRED_LEGACY = "cp1252"
# A cell can be as large as its file, so the csv module's default limit (128 KiB) is lifted.
# 2**31 - 1 is the largest limit every platform takes (it is a C long: 32 bits on Windows);
# memory is bounded otherwise, as a quoted field that never closes is cut (see the docstring).
FIELD_LIMIT = 2**31 - 1
csv.field_size_limit(FIELD_LIMIT)
_PREFIX = 1 << 16
_SAMPLE_LINES = 50
_SNIFF_CHARS = 8192
_CHUNK = 1 << 16
# The look through an ASCII file for its first byte that is not ASCII reads this much at once.
_SCAN_CHUNK = 1 << 20
# How much of the line before that byte is part of the sample the encoding is told from.
_CONTEXT = 4096
# A row this long inside a quoted field: scan ahead whether the field closes.
_LOOKAHEAD = 1 << 20
_SYNTAX = '\r\n,;\t|"'
_NOT_ASCII = re.compile(rb"[\x80-\xff]")

# The byte order mark of each encoding that may start with one, by its name in ``codecs``.
_OWN_BOMS = {encoding: bom for bom, encoding in BOMS}
# The encodings whose byte order a byte order mark tells: little endian, big endian.
_BYTE_ORDERS = {"utf-16": ("utf-16-le", "utf-16-be"), "utf-32": ("utf-32-le", "utf-32-be")}
_WIDE = frozenset(order for orders in _BYTE_ORDERS.values() for order in orders)


@dataclass(frozen=True, slots=True)
class CsvFormat:
    """How a CSV file is written, as told from its first bytes."""

    encoding: str  # without a byte order of its own to tell: "utf-16-le", never "utf-16"
    start: int  # bytes of the byte order mark, skipped
    delimiter: str
    newline: bytes  # what ends a line, in the encoding: "\n", or "\r" in a file of "\r" alone
    carriage: bytes  # "\r" in the encoding, taken off before "\n"; empty when lines end in "\r"


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
            size = lines.drain()
            if header is not None and clashes.second_look():
                again = _Lines(stream, form, form.start)
                _header(path, again, form)
                _add_rows(again, form, header, clashes)
        return Scan(records, size, digest.hexdigest(), clashes.keys(), clashes.repeated())

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        origin = Origin.of(self.name, path, options)
        with open_source(path, opener) as stream:
            form = detect_format(path, stream, options)
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
    """Encoding, byte order mark, line ending and delimiter of a CSV file, from its first bytes
    (and the encoding of a file that starts in ASCII from its first byte that is not)."""
    delimiter = _delimiter_option(path, options)
    chosen = _encoding_option(path, options)
    prefix = stream.read(_PREFIX)
    whole = len(prefix) < _PREFIX
    if chosen is None:
        encoding, start = _detected_encoding(path, stream, prefix, whole)
    else:
        encoding, start = _chosen_encoding(path, prefix, chosen)
    newline, carriage = "\n".encode(encoding), "\r".encode(encoding)
    body = prefix[start:]
    if _find(body, newline) < 0 and _find(body, carriage) >= 0:
        newline, carriage = carriage, b""  # lines end with "\r" alone
    if not whole:
        body = body[: _last_line_end(body, newline)]
    if delimiter is None:
        delimiter = _sniff(body.decode(encoding, "replace"), path.suffix.lower())
    return CsvFormat(encoding, start, delimiter, newline, carriage)


def _delimiter_option(path: Path, options: Options) -> str | None:
    """The delimiter the option ``delimiter`` names; None without the option."""
    value = options.get("delimiter")
    if value is None:
        return None
    if isinstance(value, str):
        delimiter = value if len(value) == 1 else DELIMITER_NAMES.get(value.strip().lower())
        if delimiter is not None and delimiter not in '"\r\n' and not delimiter.isalnum():
            return delimiter
    raise SourceError(
        f"{path}: the option delimiter={value!r} is not a delimiter: give one character (not a "
        "letter, digit, quote or line break), or tab, \\t, comma, semicolon, pipe or space"
    )


def _encoding_option(path: Path, options: Options) -> str | None:
    """The name ``codecs`` gives the encoding the option ``encoding`` names; None without it."""
    value = options.get("encoding")
    if value is None:
        return None
    if not isinstance(value, str):
        raise SourceError(f"{path}: the option encoding={value!r} is not an encoding's name")
    try:
        return codecs.lookup(value.strip()).name
    except LookupError:
        raise SourceError(f"{path}: unknown encoding {value!r}") from None


def _announced(prefix: bytes) -> tuple[bytes, str] | None:
    """The byte order mark ``prefix`` starts with and the encoding it announces, if any."""
    return next(((bom, encoding) for bom, encoding in BOMS if prefix.startswith(bom)), None)


def _chosen_encoding(path: Path, prefix: bytes, chosen: str) -> tuple[str, int]:
    """The encoding to read a file in that the option names, and its byte order mark's size;
    refused when the bytes cannot be in that encoding (see the module docstring)."""
    name = "utf-8" if chosen == "utf-8-sig" else chosen
    orders = _BYTE_ORDERS.get(name, (name,))
    announced = _announced(prefix)
    if announced is not None:
        bom, encoding = announced
        if encoding in orders:
            return encoding, len(bom)
        raise SourceUnreadable(
            f"{path} starts with the byte order mark of {encoding}, but the option encoding "
            f"is {chosen}: leave the option out (the mark tells the encoding)"
        )
    order = _wide_order(prefix)
    if name in _BYTE_ORDERS or name in _WIDE:
        family = name[:6]
        if prefix and b"\x00" not in prefix:
            raise SourceUnreadable(
                f"{path} is not {family}: it holds no NUL bytes, which {family} text of a CSV "
                "file does (leave the option encoding out to have the encoding told)"
            )
        if order is not None and order not in orders:
            raise SourceUnreadable(
                f"{path} is {order}, not {chosen}: its NUL bytes are where {order} has them"
            )
        return order or orders[0], 0  # no mark, nor an order shown: little endian
    if order is not None and _ascii_compatible(name):
        raise SourceUnreadable(
            f"{path} is not {chosen}: its NUL bytes are those of {order} without a byte order "
            f"mark (give the option encoding={order})"
        )
    return name, 0


def _wide_order(data: bytes) -> str | None:
    """The UTF-16 or UTF-32 byte order of text that is largely ASCII, as the NUL bytes of
    ``data`` show it; None when they do not (too few of them, or not in the pattern)."""
    size = len(data) - len(data) % 4
    if size == 0 or data.count(0, 0, size) * 4 < size:
        return None
    quarter = size // 4
    zeros = [data[i:size:4].count(0) for i in range(4)]  # NUL bytes by position mod 4
    full = [count * 10 >= quarter * 9 for count in zeros]
    if full[2] and full[3] and not full[0]:
        return "utf-32-le"
    if full[0] and full[1] and not full[3]:
        return "utf-32-be"
    odd, even = zeros[1] + zeros[3], zeros[0] + zeros[2]
    if odd >= 4 * even:
        return "utf-16-le"
    if even >= 4 * odd:
        return "utf-16-be"
    return None


def _detected_encoding(path: Path, stream: BinaryIO, prefix: bytes, whole: bool) -> tuple[str, int]:
    """The encoding of a file no option names, and its byte order mark's size."""
    announced = _announced(prefix)
    if announced is not None:
        return announced[1], len(announced[0])
    if b"\x00" in prefix:
        raise SourceUnreadable(
            f"{path} is not text (it holds NUL bytes; UTF-16 needs a byte order mark)"
        )
    sample = prefix
    if prefix.isascii():
        if whole:
            return "utf-8", 0
        window = _not_ascii_window(stream, prefix[-_CONTEXT:])
        if window is None:
            return "utf-8", 0  # ASCII throughout
        sample, whole = window
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=whole)
    except UnicodeDecodeError:
        return _guess_encoding(path, sample), 0
    return "utf-8", 0


def _not_ascii_window(stream: BinaryIO, tail: bytes) -> tuple[bytes, bool] | None:
    """The bytes from (near) the start of the line that holds the stream's next byte that is
    not ASCII to ``_PREFIX`` past that byte, and whether they run to the end of the file; None
    when every byte left is ASCII. ``tail``: the bytes before the stream's position. Reads
    chunk by chunk, holding one at a time."""
    while chunk := stream.read(_SCAN_CHUNK):
        if chunk.isascii():
            tail = chunk[-_CONTEXT:]
            continue
        data = tail + chunk
        found = _NOT_ASCII.search(data)
        assert found is not None
        first = found.start()
        begin = max(data.rfind(b"\n", 0, first) + 1, first - _CONTEXT, 0)
        end = first + _PREFIX
        if len(data) < end:
            data += stream.read(end - len(data))
        return data[begin:end], len(data) < end
    return None


def _guess_encoding(path: Path, sample: bytes) -> str:
    """The encoding of a sample that is not UTF-8 (see the module docstring)."""
    matches = [m for m in from_bytes(sample) if _ascii_compatible(m.encoding)]
    if not matches:
        raise SourceUnreadable(f"{path} is not text in an encoding this importer knows")
    best = matches[0]
    tied = [m for m in matches if m.chaos <= best.chaos and m.coherence >= best.coherence]
    if any(PREFERRED_LEGACY in m.could_be_from_charset for m in tied):
        return PREFERRED_LEGACY
    if _reads_as_western(sample):
        western = from_bytes(sample, cp_isolation=[PREFERRED_LEGACY]).best()
        # Short samples are read equally well by many encodings (chaos and coherence 0): the
        # best guess has to read the sample clearly better to win over the common one.
        if western is not None and not (
            best.chaos + _CLEARLY_LESS_CHAOS <= western.chaos
            or best.coherence >= western.coherence + _CLEARLY_MORE_COHERENT
        ):
            return PREFERRED_LEGACY
    # Chinese, Japanese and Korean encodings often read a short sample equally well; the one
    # that reads it in its own script wins (Hangul for Korean, not Hangul among ideographs).
    if best.language in _SCRIPTS:
        best = max(tied, key=_own_script_share)
    return str(best.encoding)


def _own_script_share(match: CharsetMatch) -> float:
    """The share of the characters that are not ASCII that are of the script of the match's
    language, when it is Chinese, Japanese or Korean; 0 for another language."""
    own = _SCRIPTS.get(match.language)
    if own is None:
        return 0.0
    counts = dict.fromkeys(("ideographs", "hangul", "kana", "other"), 0)
    for c in str(match):
        if c.isascii():
            continue
        code = ord(c)
        if 0x4E00 <= code <= 0x9FFF:
            counts["ideographs"] += 1
        elif 0xAC00 <= code <= 0xD7A3:
            counts["hangul"] += 1
        elif 0x3040 <= code <= 0x30FF:
            counts["kana"] += 1
        else:
            counts["other"] += 1
    total = sum(counts.values())
    return sum(counts[script] for script in own) / total if total else 0.0


# The scripts of the languages of Chinese, Japanese and Korean encodings, by the names
# charset-normalizer gives them.
_SCRIPTS = {
    "Chinese": ("ideographs",),
    "Japanese": ("ideographs", "kana"),
    "Korean": ("hangul",),
}
_CLEARLY_LESS_CHAOS = 0.1
_CLEARLY_MORE_COHERENT = 0.2
# Signs that sit among words in Western text: single and double quotes (curly, low, angle),
# en and em dash, ellipsis, bullet, middle dot, acute accent (an apostrophe), inverted ! and ?,
# no-break space.
_TEXT_SIGNS = frozenset(
    "\u2018\u2019\u201c\u201d\u201a\u201e\u2039\u203a\xab\xbb"
    "\u2013\u2014\u2026\u2022\xb7\xb4\xa1\xbf\xa0"
)
# Signs of numbers, money and the like: beside digits or spaces, not before a letter.
_NUMBER_SIGNS = frozenset("€£¥¢°±²³¹¼½¾\xd7÷§©®™‰†‡µ")
_NOT_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# At most this share of the characters that are not ASCII may look out of place.
_ODD_SHARE = 0.1


def _reads_as_western(sample: bytes) -> bool:
    """Whether ``sample`` read as cp1252 looks like Western text: its characters that are not
    ASCII are accented letters within words (at most two in a row, next to a letter that is
    ASCII, or alone) and the usual signs, not the runs of signs and letters that the bytes of
    Chinese, Japanese or Korean text make in it."""
    try:
        text = sample.decode(PREFERRED_LEGACY)
    except UnicodeDecodeError:
        return False
    good = odd = 0
    for found in _NOT_ASCII_RUN.finditer(text):
        run = found.group()
        before = text[found.start() - 1] if found.start() else " "
        after = text[found.end()] if found.end() < len(text) else " "
        if _western_run(run, before, after):
            good += len(run)
        else:
            odd += len(run)
    return good > 0 and odd <= _ODD_SHARE * (good + odd)


def _western_run(run: str, before: str, after: str) -> bool:
    """Whether a run of characters that are not ASCII, between ``before`` and ``after``, is
    as Western text has them (see ``_reads_as_western``)."""
    if len(run) > 2:
        return False
    if any(c.isalpha() and c not in _NUMBER_SIGNS for c in run):
        if not all(c.isalpha() or c in _TEXT_SIGNS for c in run):
            return False
        if len(run) == 2 and not (before.isalpha() or after.isalpha()):
            return False
        previous = before
        for c in run:
            if c.isupper() and previous.islower():  # an upper case letter within a word
                return False
            previous = c
        return True
    if len(run) == 2:
        return False
    if run in _NUMBER_SIGNS:
        return not after.isalpha() or (run == "°" and after in "CF")
    return run in _TEXT_SIGNS


def _ascii_compatible(encoding: str) -> bool:
    try:
        return _SYNTAX.encode(encoding) == _SYNTAX.encode("ascii")
    except (LookupError, UnicodeError):
        return False


def _find(data: bytes, token: bytes) -> int:
    """Where ``token`` first is in ``data`` at a multiple of its length (the code units of
    UTF-16 and UTF-32); -1 when it is not."""
    index = data.find(token)
    while index > 0 and index % len(token):
        index = data.find(token, index + 1)
    return index


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
    """The lines of a file as text, for ``csv.reader``, counting the bytes they took; they
    end a row whose quoted field never closes (see the module docstring)."""

    def __init__(
        self, stream: BinaryIO, form: CsvFormat, offset: int, digest: _Digest | None = None
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


def _records(lines: _Lines, form: CsvFormat) -> Iterator[tuple[list[str] | None, str | None]]:
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


def _header(path: Path, lines: _Lines, form: CsvFormat) -> list[str] | None:
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


def _rows(lines: _Lines, form: CsvFormat, number: int) -> Iterator[_Row]:
    """Every row after the header that is not empty, numbered on from ``number``."""
    for cells, problem in _records(lines, form):
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
