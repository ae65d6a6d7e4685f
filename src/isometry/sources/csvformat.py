"""How a CSV file is written, told from its bytes: encoding, line ends, delimiter.

Encoding. A byte order mark tells it. Without one, UTF-8 when the first 64 KiB decode as UTF-8
and are not all ASCII; when they are all ASCII, the rest of the file is looked through, chunk by
chunk, up to its first byte that is not ASCII, and the encoding is told from there (UTF-8 when
it decodes, else a guess), so a Latin-1 row far down a file is not taken for bad UTF-8. A guess
is ``encodingguess.guess_encoding``'s: charset-normalizer's best, corrected for the short
exports people make (see there). A file with NUL bytes and no byte order mark is refused. The
option ``encoding`` overrides all this: ``utf-16`` and ``utf-32`` are read in the byte order of
the file's byte order mark (without one, in the order its NUL bytes show, else little endian),
and a file that cannot be in the chosen encoding (another byte order mark, UTF-16 without NUL
bytes, the NUL bytes of UTF-16 under an ASCII-based encoding) is refused, not read into
nothing.

Lines end with ``\\n`` (or ``\\r\\n``), or with ``\\r`` alone (old Mac OS) when the first 64 KiB
hold a ``\\r`` and no ``\\n``. The delimiter is sniffed by ``csv.Sniffer`` over a prefix (comma,
semicolon, tab or pipe); the option ``delimiter`` overrides it: one character (not a letter,
digit, quote or line break) or ``tab``, ``\\t``, ``comma``, ``semicolon``, ``pipe``, ``space``;
anything else is refused.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from isometry.errors import SourceError, SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Options
from isometry.sources.encodingguess import CSV_SYNTAX, ascii_compatible, guess_encoding
from isometry.sources.records import BOMS

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
_PREFIX = 1 << 16
_SAMPLE_LINES = 50
_SNIFF_CHARS = 8192
# The look through an ASCII file for its first byte that is not ASCII reads this much at once.
_SCAN_CHUNK = 1 << 20
# How much of the line before that byte is part of the sample the encoding is told from.
_CONTEXT = 4096
_NOT_ASCII = re.compile(rb"[\x80-\xff]")

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
    try:
        return delimiter_named(value)
    except ValueError as error:
        raise SourceError(
            f"{path}: the option delimiter={value!r} is not a delimiter: {error}"
        ) from None


def delimiter_named(value: JSON) -> str:
    """The delimiter a value of the option ``delimiter`` names (see the module docstring);
    ``ValueError`` saying what to give for one that names none."""
    if isinstance(value, str):
        delimiter = value if len(value) == 1 else DELIMITER_NAMES.get(value.strip().lower())
        if delimiter is not None and delimiter not in '"\r\n' and not delimiter.isalnum():
            return delimiter
    raise ValueError(
        "give one character (not a letter, digit, quote or line break), or tab, \\t, comma, "
        "semicolon, pipe or space"
    )


def _encoding_option(path: Path, options: Options) -> str | None:
    """The name ``codecs`` gives the encoding the option ``encoding`` names; None without it."""
    value = options.get("encoding")
    if value is None:
        return None
    if not isinstance(value, str):
        raise SourceError(f"{path}: the option encoding={value!r} is not an encoding's name")
    try:
        return encoding_named(value)
    except ValueError as error:
        raise SourceError(f"{path}: the option encoding={value!r}: {error}") from None


def encoding_named(value: JSON) -> str:
    """The name ``codecs`` gives the text encoding a value of the option ``encoding`` names;
    ``ValueError`` for one that names none (``base64`` is a codec, not a text encoding).
    Whether a file can be in it is told from the file's bytes when it is read."""
    advice = "give the name of an encoding, e.g. utf-8, cp1252, latin-1 or utf-16"
    if isinstance(value, str):
        try:
            name = codecs.lookup(value.strip()).name
        except LookupError:
            pass
        else:
            if _of_text(name):
                return name
            raise ValueError(f"{advice} ({value.strip()!r} is a codec, not an encoding text is in)")
    raise ValueError(advice)


def _of_text(name: str) -> bool:
    """Whether the codec ``name`` is a character encoding a file can be read in: rot13,
    base64 and idna are codecs too, but they fail on a file's bytes, or on ours."""
    probe = _BYTE_ORDERS.get(name, (name,))[0]  # utf-16 reads nothing without its order
    try:
        CSV_SYNTAX.encode(probe)  # first: codecs of bytes to bytes refuse str here
        codecs.getincrementaldecoder(probe)("replace").decode(bytes(range(256)), final=True)
    except (LookupError, UnicodeError, TypeError, ValueError):
        return False
    return True


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
    if order is not None and ascii_compatible(name):
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
        return guess_encoding(path, sample), 0
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
