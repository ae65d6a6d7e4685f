"""The ``json`` importer: JSON Lines, and JSON documents holding an array of records.

Layouts:
- JSON Lines (``.jsonl``, ``.ndjson``, and a ``.json`` whose first line, however long, is a
  whole object, unless that line is all the file holds and wraps records): one record per
  line, blank lines skipped, read line by line (one line in memory at a time). Cursor
  ``{"offset": byte offset after the record, "line": its line number}``: resume seeks there.
- A JSON document: an array of records, or an object wrapping one (below); any other object is
  one record. Streamed with ijson, never held whole. Cursor ``{"index": records read}``: resume
  streams again and skips that many. ijson gives no byte positions, so a record's ``raw`` is its
  value written again as JSON.

An object wraps records when one of its fields named ``data``, ``items``, ``records`` or
``cards`` (any case) is an array that begins with an object: the first such field holds the
records, and the object's other fields are not imported. An array there that begins with
anything else wraps nothing (``{"title": "Groceries", "items": ["milk"]}`` is one record). An
empty array wraps no records unless another field of the object names a node field (``title``,
``body``, an id, ...): ``{"data": []}`` holds no records, ``{"title": "Empty", "items": []}``
is one record.

The option ``layout`` (``"lines"`` or ``"document"``) overrides the guess; ``dayfirst`` reads
``01/05/2024`` as 1 May.

A line that is not JSON, a record that is not an object, and a record holding a number too
large for a 64-bit float (``1e400``, which JSON allows but no float holds) are ``Rejected`` and
reading goes on; so is the rest of a document that breaks off after some records. A record
without an id whose line (or item) number is the id of another record of the file, and a record
that repeats the id of an earlier one, are ``Rejected`` too (``KeyClashes``). Half a character
(an escape like ``\\ud800`` without its other half) is kept as it is, so that the record is
refused: here when it is in the record's id, else when its node is checked. yajl, the parser
that reads documents, would read it as ``?``, so a document that holds one is read by ijson's
own parser instead, which is about twenty times slower.

A file must be UTF-8 (RFC 8259), with or without a byte order mark. One in UTF-16 or UTF-32
(told by its byte order mark, or by the NUL bytes of its first characters) raises
``SourceUnreadable`` naming its encoding, as does a file that is not JSON at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar, Literal, Protocol

import ijson
import orjson

from isometry.errors import SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Draft, Item, Locator, Opener, Options, Rejected, Scan
from isometry.sources.jsondocument import (
    BOM,
    Broken,
    OutOfRange,
    Unreadable,
    Where,
    bom_length,
    document,
    fields_of_events,
    fields_of_value,
    locate,
    wrapper,
    written,
)
from isometry.sources.options import OptionSpec, choice
from isometry.sources.records import (
    BOMS,
    DAYFIRST,
    KeyClashes,
    Origin,
    attachments_of,
    cursor_position,
    is_text,
    open_source,
    row_key,
    sha256_hex,
)

Layout = Literal["lines", "document"]
LAYOUT = choice(
    "layout",
    ("lines", "document"),
    "JSON Lines, or one JSON document of records (by default told from the file).",
)

LINE_SUFFIXES = frozenset({".jsonl", ".ndjson"})
SUFFIXES = LINE_SUFFIXES | {".json"}
_WHITESPACE = b" \t\r\n"
# How much of a file is read at once to tell its layout; a first line longer than this is
# streamed instead.
_PEEK = 1 << 18
_CHUNK = 1 << 16


class JsonImporter:
    """Reads JSON Lines and JSON documents of records (see the module docstring)."""

    name: ClassVar[str] = "json"
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = (LAYOUT, DAYFIRST)

    def accepts(self, path: Path) -> bool:
        return path.suffix.lower() in SUFFIXES

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        with open_source(path, opener) as stream:
            layout = _layout(path, stream, options)
            hashing = _HashingReader(stream)
            clashes = KeyClashes()
            if layout == "lines":
                stream.seek(0)
                records = _add_lines(hashing, clashes)
                hashing.drain()
                if clashes.second_look():
                    stream.seek(0)
                    _add_lines(stream, clashes)
            else:
                where = locate(path, stream)
                stream.seek(0)
                hashing.read(bom_length(stream))
                records = _add_items(path, hashing, where, clashes)
                hashing.drain()
                if clashes.second_look():
                    stream.seek(bom_length(stream))
                    _add_items(path, stream, where, clashes)
        return Scan(records, hashing.size, hashing.hexdigest(), clashes.keys(), clashes.repeated())

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        origin = Origin.of(self.name, path, options)
        folder = Path(origin.file).parent  # attachments are relative to it
        with open_source(path, opener) as stream:
            if _layout(path, stream, options) == "lines":
                offset, line = cursor_position(cursor, ("offset", "line"), path)
                stream.seek(offset)
                for start, end, number, body in _lines(stream, offset, line):
                    item = _line_item(origin, folder, start, number, body)
                    yield item, {"offset": end, "line": number}
            else:
                (skip,) = cursor_position(cursor, ("index",), path)
                where = locate(path, stream)
                for index, value in document(path, stream, where):
                    if index >= skip:
                        yield _document_item(origin, folder, index, value), {"index": index + 1}


# -- layout --------------------------------------------------------------------------------


def _layout(path: Path, stream: BinaryIO, options: Options) -> Layout:
    """Tell JSON Lines from a document by the suffix, else by the first line (module docstring)."""
    peek = stream.read(_PEEK)
    _refuse_other_encodings(path, peek)
    chosen = options.text(LAYOUT.name)
    if chosen in ("lines", "document"):
        return "lines" if chosen == "lines" else "document"
    text = peek.removeprefix(BOM).lstrip(_WHITESPACE)
    if path.suffix.lower() in LINE_SUFFIXES:
        if text and not _looks_like_json(text):
            raise SourceUnreadable(f"{path} is not JSON Lines: its first line is not JSON")
        return "lines"
    if not text:
        return "lines"  # empty: no records either way
    if not text.startswith(b"{"):
        return "document"
    start = len(peek) - len(text)
    first, newline, _ = text.partition(b"\n")
    if not newline and len(peek) == _PEEK:
        return _long_line_layout(stream, start)
    try:
        value = json.loads(first)
    except (ValueError, RecursionError):
        return "document"  # an object spread over several lines
    wrapped = isinstance(value, dict) and wrapper(fields_of_value(value)) is not None
    end = start + len(first) + len(newline)
    return "document" if wrapped and _blank_from(stream, end) else "lines"


def _long_line_layout(stream: BinaryIO, start: int) -> Layout:
    """The layout of a file whose first line, from ``start``, is longer than a peek: decided as
    for a short one, with the line streamed (a minified document can be all one line)."""
    stream.seek(start)
    end = start
    while chunk := stream.readline(_CHUNK):
        end += len(chunk)
        if chunk.endswith(b"\n"):
            break
    alone = _blank_from(stream, end)
    stream.seek(start)
    events = ijson.parse(_Bounded(stream, end - start))
    try:
        next(events)  # the object's start: the line begins with "{"
        wrapped = wrapper(fields_of_events(events)) is not None
        if wrapped and alone:
            return "document"  # whether it is whole or not: no need to read it all
        for _ in events:  # the rest of the line: is it one whole value?
            pass
    except ijson.JSONError:
        return "document"  # an object spread over several lines
    return "lines"


def _blank_from(stream: BinaryIO, offset: int) -> bool:
    """Whether the file holds nothing but whitespace from ``offset`` on."""
    stream.seek(offset)
    while chunk := stream.read(_CHUNK):
        if chunk.strip(_WHITESPACE):
            return False
    return True


class _Bounded:
    """The next ``size`` bytes of a stream and no more (one line, for ijson)."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream = stream
        self._left = size

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data


# Which bytes of a JSON text's first four are NUL tells UTF-16 and UTF-32 without a byte order
# mark (RFC 4627): its first two characters are ASCII, and UTF-8 JSON holds no NUL byte at all.
_NULS: dict[tuple[bool, ...], str] = {
    (True, True, True, False): "utf-32-be",
    (False, True, True, True): "utf-32-le",
    (True, False, True, False): "utf-16-be",
    (False, True, False, True): "utf-16-le",
}


def _refuse_other_encodings(path: Path, head: bytes) -> None:
    """Refuse a file in UTF-16 or UTF-32: JSON is UTF-8 (RFC 8259), which is all ijson and
    orjson read, and transcoding would need a second reader keeping byte offsets of its own."""
    bom = next((encoding for mark, encoding in BOMS if head.startswith(mark)), None)
    encoding = bom or _NULS.get(tuple(byte == 0 for byte in head[:4]))
    if encoding is None or encoding == "utf-8":
        return
    name = encoding.upper().replace("-LE", "LE").replace("-BE", "BE")
    how = f"it begins with a {name} byte order mark" if bom else "it has no byte order mark"
    raise SourceUnreadable(
        f"{path} is {name} text ({how}), but JSON is read as UTF-8 only: convert the file "
        f"first, e.g. with iconv -f {name} -t UTF-8"
    )


def _looks_like_json(text: bytes) -> bool:
    """Whether a file's first line could be JSON Lines (a broken record is still one)."""
    if text.startswith((b"{", b"[")):
        return True
    try:
        json.loads(text.partition(b"\n")[0])
    except (ValueError, RecursionError):
        return False
    return True


# -- JSON Lines ----------------------------------------------------------------------------


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def __iter__(self) -> Iterator[bytes]: ...


def _lines(stream: _Readable, offset: int, line: int) -> Iterator[tuple[int, int, int, bytes]]:
    """(start, end, line number, bytes without terminator) of each non-blank line, where
    ``start`` and ``end`` are byte offsets and ``end`` is past the terminator."""
    for raw in stream:
        start, offset, line = offset, offset + len(raw), line + 1
        body = raw.removesuffix(b"\n").removesuffix(b"\r")
        if start == 0 and body.startswith(BOM):
            start, body = len(BOM), body[len(BOM) :]
        if body.strip(_WHITESPACE):
            yield start, offset, line, body


def _add_lines(stream: _Readable, clashes: KeyClashes) -> int:
    """Give the key fields of every line to ``clashes``; how many records the lines are."""
    records = 0
    for _, _, number, body in _lines(stream, 0, 0):
        records += 1
        if isinstance(value := _key_fields(body), dict):
            clashes.add(value, number)
    return records


def _line_item(origin: Origin, folder: Path, start: int, number: int, body: bytes) -> Item:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raw = body.decode("utf-8", "replace")
        return Rejected(_line_locator(origin, start, number, body), raw, f"line {number}: {error}")
    try:
        value = _parsed(text)
    except OutOfRange as error:
        return Rejected(_line_locator(origin, start, number, body), text, f"line {number}: {error}")
    except (ValueError, RecursionError) as error:
        reason = f"line {number} is not valid JSON: {error}"
        return Rejected(_line_locator(origin, start, number, body), text, reason)
    if not isinstance(value, dict):
        reason = f"line {number} is {_kind(value)}, not an object"
        return Rejected(_line_locator(origin, start, number, body), text, reason)
    key = row_key(value, number)
    if not is_text(key):
        return Rejected(_line_locator(origin, start, number, body), text, f"line {number}: {_HALF}")
    if origin.checks_keys and (refused := origin.refusal(key, value, number, _line_label)):
        locator = _line_locator(origin, start, number, body)
        return Rejected(locator, text, refused, origin.identity(key))
    return Draft(
        node=origin.node(value, key),
        locator=Locator(origin.file, key, number, start, len(body)),
        source_hash=sha256_hex(body),
        raw=text,
        attachments=attachments_of(value, folder),
    )


# An id, which names the record wherever it goes, must be text: the other fields are checked
# when the node is.
_HALF = "its id holds half a character (an unpaired surrogate escape), which is not text"


def _line_label(number: int) -> str:
    return f"line {number}"


def _line_locator(origin: Origin, start: int, number: int, body: bytes) -> Locator:
    """Where a line that is no record is (a record is named by its key instead)."""
    return Locator(origin.file, str(number), number, start, len(body))


def _key_fields(body: bytes) -> JSON:
    """A line's value, as far as its key goes (None when it is no JSON): orjson, not the
    checks of ``_by_orjson``, which only tell apart values that are never row numbers (floats
    of 19 digits and more, or integers of as many)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        with contextlib.suppress(ValueError, RecursionError):
            return _parsed(body.decode("utf-8"))
    return None


def _parsed(text: str) -> JSON:
    """A line's value, read by orjson where ``json`` reads it the same (see ``_by_orjson``)."""
    value = _by_orjson(text)
    if value is None:
        value = _DECODER.decode(text)  # called from here: json's depth limit is the stack's
    return value


def _no_constant(name: str) -> JSON:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise OutOfRange(text)
    return number


# orjson refuses such numbers itself, and so leaves their lines to json.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)
# orjson reads integers past 64 bits as floats (json: as integers); such a float is at least
# this large. Nesting this deep is left to json, whose limit depends on the stack.
_BIG_FLOAT = 9.2e18
_DEEP = 64


def _by_orjson(text: str) -> dict[str, JSON] | None:
    """A line read by orjson (about four times faster than ``json``) when it is an object that
    ``json`` reads the same; None leaves the line to ``json``, and so its reasons to refuse one."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if value.__class__ is dict and _agrees(value, 1):
        return value
    return None


def _agrees(value: dict[str, JSON], depth: int) -> bool:
    """Whether ``json`` would read the same: no float that may be a big integer, no deep nesting."""
    for item in value.values():
        kind = item.__class__
        if kind is str or kind is int:
            continue
        if kind is list:
            for part in item:
                if part.__class__ is not str and not _agrees_value(part, depth + 2):
                    return False
        elif not _agrees_value(item, depth + 1):
            return False
    return True


def _agrees_value(value: JSON, depth: int) -> bool:
    kind = value.__class__
    if kind is float:
        number: float = value
        return -_BIG_FLOAT < number < _BIG_FLOAT
    if kind is dict or kind is list:
        if depth >= _DEEP:
            return False
        if kind is dict:
            return _agrees(value, depth)
        return all(_agrees_value(part, depth + 1) for part in value)
    return True


# -- documents (read by jsondocument) -------------------------------------------------------


def _add_items(path: Path, stream: _Readable, where: Where, clashes: KeyClashes) -> int:
    """Give every record of a document to ``clashes``; how many records it holds."""
    records = 0
    for index, value in document(path, stream, where):
        records += 1
        if isinstance(value, dict):
            clashes.add(value, index + 1)
    return records


def _document_item(origin: Origin, folder: Path, index: int, value: JSON) -> Item:
    number = index + 1
    if isinstance(value, Unreadable):
        return Rejected(
            Locator(origin.file, str(number)), value.raw, f"item {number}: {value.reason}"
        )
    if isinstance(value, Broken):
        reason = f"the document breaks off after item {index}: {value.reason}"
        return Rejected(Locator(origin.file, str(number)), "", reason)
    raw, encoded = written(value)
    if not isinstance(value, dict):
        locator = Locator(origin.file, str(number))
        return Rejected(locator, raw, f"item {number} is {_kind(value)}, not an object")
    key = row_key(value, number)
    if not is_text(key):
        return Rejected(Locator(origin.file, str(number)), raw, f"item {number}: {_HALF}")
    if origin.checks_keys and (refused := origin.refusal(key, value, number, _item_label)):
        return Rejected(Locator(origin.file, str(number)), raw, refused, origin.identity(key))
    return Draft(
        node=origin.node(value, key),
        locator=Locator(origin.file, key),
        source_hash=sha256_hex(encoded),
        raw=raw,
        attachments=attachments_of(value, folder),
    )


def _item_label(number: int) -> str:
    return f"item {number}"


def _kind(value: JSON) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


class _HashingReader:
    """A binary stream that hashes and counts what is read through it (one pass for scan)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        self.size += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._stream.readline(size)
        self._hash.update(data)
        self.size += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
