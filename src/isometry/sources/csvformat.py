"""How a CSV file is written, told from its bytes: encoding, line ends, delimiter.

Encoding. A byte order mark tells it. Without one, UTF-8 when the first 64 KiB decode as UTF-8
and are not all ASCII; when they are all ASCII, the rest of the file is looked through, chunk by
chunk, up to its first byte that is not ASCII, and the encoding is told from there (UTF-8 when
it decodes, else a guess), so a Latin-1 row far down a file is not taken for bad UTF-8. A guess
is charset-normalizer's best, except that the common Western encoding (cp1252,
``PREFERRED_LEGACY``) is taken when it reads the sample as Western text reads (accented letters
within words, words in capitals, the usual quotes and signs) and the best guess, if any, is not
clearly better, not counting against cp1252 what charset-normalizer takes for mess in Western
text (a € against the digits of its amount, ``ÄÖÜ``, ``créé``): a few accented letters are valid
Big5 or Shift-JIS too, and a € is a letter in old DOS encodings (``€3`` is ``Ć3`` in cp775).
Two or three capitals alone (``ÄÖÜ``, ``ÉÈ``) are Western text too, though they are also the
bytes of one Chinese character or of a few half-width katakana; more in a row are not (they are
Cyrillic or Greek in capitals, ``ИВАНОВ`` in cp1251). And among Chinese, Japanese and Korean
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
anything else is refused.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from charset_normalizer import CharsetMatch, from_bytes
from charset_normalizer.constant import TOO_SMALL_SEQUENCE

from isometry.errors import SourceError, SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Options
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
# Among encodings that read a sample equally well, the one most CSV exports were written in.
PREFERRED_LEGACY = "cp1252"
_PREFIX = 1 << 16
_SAMPLE_LINES = 50
_SNIFF_CHARS = 8192
# The look through an ASCII file for its first byte that is not ASCII reads this much at once.
_SCAN_CHUNK = 1 << 20
# How much of the line before that byte is part of the sample the encoding is told from.
_CONTEXT = 4096
_SYNTAX = '\r\n,;\t|"'
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
        _SYNTAX.encode(probe)  # first: codecs of bytes to bytes refuse str here
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
    best = matches[0] if matches else None
    tied = [
        m
        for m in matches
        if best is not None and m.chaos <= best.chaos and m.coherence >= best.coherence
    ]
    if any(PREFERRED_LEGACY in m.could_be_from_charset for m in tied):
        return PREFERRED_LEGACY
    if _reads_as_western(sample) and not _reads_clearly_better(best, sample):
        return PREFERRED_LEGACY
    if best is None:
        raise SourceUnreadable(f"{path} is not text in an encoding this importer knows")
    # Chinese, Japanese and Korean encodings often read a short sample equally well; the one
    # that reads it in its own script wins (Hangul for Korean, not Hangul among ideographs).
    if best.language in _SCRIPTS:
        best = max(tied, key=_own_script_share)
    return str(best.encoding)


def _reads_clearly_better(best: CharsetMatch | None, sample: bytes) -> bool:
    """Whether charset-normalizer's best guess (None: it has none) reads ``sample`` clearly
    better than cp1252, which reads it as Western text, does, that reading measured as
    ``_measured`` has it. Short samples are read equally well by many encodings (chaos and
    coherence 0): the best guess has to be clearly better to win over the common one. Without
    one (every reading of a few short cells of amounts is too messy for charset-normalizer),
    cp1252 is taken unless its reading is too messy as well."""
    western = from_bytes(_measured(sample), cp_isolation=[PREFERRED_LEGACY]).best()
    if western is None:
        return True
    if best is None:
        return False
    if best.chaos + _CLEARLY_LESS_CHAOS <= western.chaos:
        return True
    # No language is told from a few letters (charset-normalizer's TOO_SMALL_SEQUENCE), so
    # a reading with a few more, that makes letters of signs (``€3`` as ``Ć3`` in cp775), is
    # not more coherent for telling one. Nor is a messier reading better for being coherent:
    # the Cyrillic capital A that cp1125 makes of every € in a budget is a language to it.
    letters = sum(c.isalpha() for c in sample.decode(PREFERRED_LEGACY))
    return (
        letters > TOO_SMALL_SEQUENCE
        and best.chaos <= western.chaos
        and best.coherence >= western.coherence + _CLEARLY_MORE_COHERENT
    )


def _measured(sample: bytes) -> bytes:
    """``sample``, which reads as Western text in cp1252, as charset-normalizer is to measure
    that reading's mess. It takes for mess what Western text has: a sign beside digits (a sign
    of another block of Unicode than theirs, many signs among few letters) and two accented
    letters in a row that are both capitals or the same letter (``ÄÖÜ``, ``créé``); in a short
    sample one or two are enough to make cp1252 read clearly worse than an encoding with other
    letters there (``Lunch,€12`` reads ``Lunch,Ç12`` in cp437, ``ÄÖÜ`` half-width katakana in
    Shift-JIS), or too messy to be a guess at all. So a sign of a number beside a digit is
    measured as a digit, part of its number, and an accented letter after another as its letter
    without the accent."""
    text = _SIGN_BY_DIGIT.sub("0", sample.decode(PREFERRED_LEGACY))
    text = _ACCENTED_RUN.sub(lambda found: found[0][0] + found[0][1:].translate(_UNACCENTED), text)
    return text.encode(PREFERRED_LEGACY)


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
# A sign of a number against a digit of it: €12, 12€.
_SIGN = f"[{''.join(sorted(_NUMBER_SIGNS))}]"
_SIGN_BY_DIGIT = re.compile(f"(?<=[0-9]){_SIGN}|{_SIGN}(?=[0-9])")
# The letters of cp1252 that are letters of ASCII with an accent, to those letters.
_UNACCENTED = {
    ord(c): unicodedata.normalize("NFD", c)[0]
    for c in bytes(range(0x80, 0x100)).decode(PREFERRED_LEGACY, "ignore")
    if c.isalpha() and unicodedata.normalize("NFD", c)[0].isascii()
}
_ACCENTED_RUN = re.compile(f"[{''.join(map(chr, sorted(_UNACCENTED)))}]{{2,}}")
# The most capitals in a row that are not ASCII in Western text (ÄÖÜ); longer runs are the
# bytes of other scripts in capitals (ИВАНОВ in cp1251 reads ÈÂÀÍÎÂ in cp1252).
_CAPITALS = 3
# At most this share of the characters that are not ASCII may look out of place.
_ODD_SHARE = 0.1


def _reads_as_western(sample: bytes) -> bool:
    """Whether ``sample`` read as cp1252 looks like Western text: its characters that are not
    ASCII are accented letters within words (at most two in a row, next to a letter that is
    ASCII, or alone; up to three capitals in a word in capitals, or as one) and the usual signs,
    not the runs of signs and letters that the bytes of Chinese, Japanese or Korean text make
    in it."""
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
    # Capitals within a word in capitals, or as a word: PEÑA, ÉCOLE, ÄÖÜ GmbH.
    if (
        len(run) <= _CAPITALS
        and run.isupper()
        and run.isalpha()
        and not (before.islower() or after.islower())
    ):
        return True
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
