"""The records of a JSON document, streamed with ijson, for the ``json`` importer (whose module
docstring says what a user sees): where they are (an array, or an object wrapping one), which
parser keeps their text as written, and their values as records carry them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import BinaryIO, Literal, Protocol

import ijson

from isometry.errors import SourceUnreadable
from isometry.model import JSON
from isometry.sources.records import FIELD_OF, ID_NAMES, normal_name

WRAPPERS = frozenset({"data", "items", "records", "cards"})
BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 16


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# -- where the records are -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Where:
    """Where a document's records are (their ijson prefix), and the ijson parser to read them."""

    prefix: str
    parser: ModuleType


def locate(path: Path, stream: BinaryIO) -> Where:
    """Where a document's records are and how to read them; leaves the stream at the
    document's start (after any byte order mark)."""
    prefix = _records_prefix(path, stream)
    start = stream.tell()
    parser = _EXACT if _lone_surrogates(stream) else ijson
    stream.seek(start)
    return Where(prefix, parser)


def bom_length(stream: BinaryIO) -> int:
    """Length of the byte order mark the file starts with (ijson reads none); seeks to 0."""
    stream.seek(0)
    start = len(BOM) if stream.read(len(BOM)) == BOM else 0
    stream.seek(0)
    return start


def _records_prefix(path: Path, stream: BinaryIO) -> str:
    """The ijson prefix of a document's records: ``item`` of a top-level array, ``KEY.item``
    of a wrapper key, or ``""`` for a document that is one value. Leaves the stream at the
    document's start (after any byte order mark)."""
    start = bom_length(stream)
    stream.seek(start)
    events = ijson.parse(stream)
    try:
        _, event, _ = next(events)
        if event == "start_array":
            return "item"
        if event == "start_map" and (name := wrapper(fields_of_events(events))) is not None:
            return f"{name}.item"
    except (ijson.JSONError, StopIteration) as error:
        raise SourceUnreadable(f"{path} is not a JSON document: {reason(error)}") from None
    finally:
        stream.seek(start)
    return ""


# yajl, ijson's fast parser, reads an escape of half a character ("\ud800" without its other
# half) as "?"; ijson's own parser, some twenty times slower, keeps it, so that the record is
# refused as a line holding one is: a document that holds one is read by it. The escapes that
# tell: "\\" (after which a backslash starts no escape), a surrogate pair, a lone surrogate.
_ESCAPES = re.compile(
    rb"\\(?:\\|u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    rb"|(?P<lone>u[dD][89a-fA-F][0-9a-fA-F]{2}))"
)
_LONGEST_ESCAPE = 12  # a pair
_EXACT = ijson.get_backend("python")


def _lone_surrogates(stream: BinaryIO) -> bool:
    """Whether a document escapes half a character anywhere, read in pieces: an escape that a
    piece's end cuts is looked at again with the next piece."""
    rest = b""
    while chunk := stream.read(_CHUNK):
        data = rest + chunk
        # An escape that begins before `cut` is whole in `data`; the next look begins after
        # the last such escape, in step with them (never on the second half of a "\\").
        cut = max(len(data) - _LONGEST_ESCAPE, 0)
        for match in _ESCAPES.finditer(data):
            if match.start() >= cut:
                break
            if match.lastgroup == "lone":
                return True
            cut = max(cut, match.end())
        rest = data[cut:]
    return any(match.lastgroup == "lone" for match in _ESCAPES.finditer(rest))


# -- wrappers ------------------------------------------------------------------------------

# What a field tells of whether its object wraps records (see the importer's docstring).
Kind = Literal["records", "empty", "other"]


def wrapper(fields: Iterable[tuple[str, Kind]]) -> str | None:
    """The name of the field holding an object's records, from the (name, kind) of its fields;
    None when the object is a record itself. Reads no further than the first array of records."""
    empty: str | None = None
    named = False  # a field names a node field: an empty array is then a record's field
    for name, kind in fields:
        if kind == "records":
            return name
        if kind == "empty":
            empty = name if empty is None else empty
        elif normal_name(name) in FIELD_OF or normal_name(name) in ID_NAMES:
            named = True
    return None if named else empty


def fields_of_value(value: dict[str, JSON]) -> Iterator[tuple[str, Kind]]:
    for name, field in value.items():
        kind: Kind = "other"
        if isinstance(field, list) and name.lower() in WRAPPERS:
            kind = "empty" if not field else "records" if isinstance(field[0], dict) else "other"
        yield name, kind


def fields_of_events(events: Iterator[tuple[str, str, object]]) -> Iterator[tuple[str, Kind]]:
    """The fields of the object whose ``start_map`` was the last event read, from ijson events:
    a wrapper name's kind is told by the first event or two of its value."""
    depth = 1  # nesting (not the events' prefix: a key "" nests without a trace in it)
    named: str | None = None  # a wrapper name, its value next
    opened: str | None = None  # a wrapper name whose array has just begun
    for _, event, value in events:
        if opened is not None:
            kind: Kind = "other"
            if event in ("start_map", "end_array"):
                kind = "records" if event == "start_map" else "empty"
            yield opened, kind
            opened = None
        elif named is not None:
            if event == "start_array":
                opened = named
            else:
                yield named, "other"
            named = None
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return
        elif event == "map_key" and depth == 1:
            if str(value).lower() in WRAPPERS:
                named = str(value)
            else:
                yield str(value), "other"


# -- the records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Broken:
    """Stands for the rest of a document that stopped being JSON."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Stands for one item of a document that cannot be read as a record."""

    reason: str
    raw: str = ""  # as much of it as can be written again as JSON


class OutOfRange(ValueError):
    """A number too large for a float: JSON sets no limit, but a float would be infinite (which
    is no JSON, and would be stored as null)."""

    def __init__(self, text: str) -> None:
        super().__init__(
            f"the number {text} is too large for a 64-bit float (at most about 1.8e308)"
        )


def document(
    path: Path, stream: _Reader, where: Where
) -> Iterator[tuple[int, JSON | Unreadable | Broken]]:
    """(index, value) of each record of a JSON document, streamed.

    A document that breaks off after some records yields a ``Broken`` marker as its last
    value, so the records before it are kept; one that is not JSON at all raises.
    """
    index = 0
    try:
        for value in where.parser.items(stream, where.prefix):
            plain: JSON | Unreadable
            try:
                plain = _plain(value)
            except RecursionError:
                plain = Unreadable("it is nested too deeply to read")
            except OutOfRange as error:
                plain = Unreadable(str(error), _shown(value))
            yield index, plain
            index += 1
    except (ijson.JSONError, UnicodeDecodeError) as error:
        # Bytes that are not UTF-8 may stop a parser with a decoding error.
        if index == 0:
            raise SourceUnreadable(f"{path} is not a JSON document: {reason(error)}") from None
        yield index, Broken(reason(error))


def written(value: object, default: Callable[[object], JSON] | None = None) -> tuple[str, bytes]:
    """A value written again as JSON, as text and as UTF-8. Half a character, which UTF-8
    cannot hold, is written as the escape the document held."""
    raw = json.dumps(value, ensure_ascii=False, default=default)
    try:
        return raw, raw.encode("utf-8")
    except UnicodeEncodeError:
        raw = json.dumps(value, default=default)
        return raw, raw.encode("utf-8")


def reason(error: BaseException) -> str:
    """The first line of a parser's message (yajl's next lines show the bytes where it failed,
    and it gives the whole message as bytes when those are not UTF-8)."""
    message = error.args[0] if len(error.args) == 1 else error
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    text = str(message).strip().splitlines()
    return text[0] if text else "the document ends before it begins"


def _plain(value: JSON) -> JSON:
    """ijson gives non-integers as ``Decimal``; records carry floats, as ``json`` gives. Raises
    ``OutOfRange`` for a number too large for a float."""
    if isinstance(value, Decimal):
        number = float(value)
        if math.isinf(number):
            raise OutOfRange(str(value))
        return number
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _shown(value: object) -> str:
    """An item ``_plain`` refused, written as JSON for the quarantine: a number too large for a
    float as its digits in a string."""
    try:
        return written(value, _number)[0]
    except RecursionError:
        return ""


def _number(value: object) -> JSON:
    if isinstance(value, Decimal):
        number = float(value)
        return str(value) if math.isinf(number) else number
    raise TypeError(f"{type(value).__name__} is not JSON")
