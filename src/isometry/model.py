"""The node model: ``Node``, ``Edge``, their ids, and their canonical encoding and hash.

A row is stored as the canonical encoding of its fields keyed by name, with NULL fields left out,
so adding a field to the model later changes neither the bytes nor the hash of existing rows.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from enum import IntEnum
from typing import Any, NewType, Self

import orjson

from isometry.errors import ModelError

NodeId = NewType("NodeId", str)
EdgeId = NewType("EdgeId", str)
RowHash = NewType("RowHash", bytes)
JSON = Any

# Fixed forever: ids derived from it are the same on every machine and every version.
ID_NAMESPACE = uuid.UUID("5b0d7a0e-3c7e-5a51-9f55-6f1e0c0a1e70")

EDGE_TYPES = frozenset({"LINK", "NEST", "SEQUENCE", "AFFINITY"})


class RowKind(IntEnum):
    """Which table a versioned row belongs to."""

    NODE = 0
    EDGE = 1


_NAMESPACE_BYTES = ID_NAMESPACE.bytes
# The UUID variant bits (10) over the high nibble of byte 8, by its hex digit.
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def node_id_for(source: str, source_id: str) -> NodeId:
    """The id every machine gives the record ``source_id`` of ``source``: the UUIDv5 of
    ``source:source_id`` (RFC 4122, computed directly: ``uuid.uuid5`` is 5x slower)."""
    h = hashlib.sha1(_NAMESPACE_BYTES + f"{source}:{source_id}".encode()).hexdigest()
    return NodeId(f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:32]}")


def edge_id_for(edge_type: str, source_id: str, target_id: str, label: str | None) -> EdgeId:
    """The id of an edge that was given none: one edge per type, ends and label."""
    return EdgeId(
        str(uuid.uuid5(ID_NAMESPACE, f"edge:{edge_type}:{source_id}:{target_id}:{label or ''}"))
    )


_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")
# Canonical times lately found valid: an import checks each time twice (in the mapping, then in
# validation), and the second check is then a lookup. Emptied when full.
_CHECKED_TIMES: set[str] = set()
_CHECKED_LIMIT = 16384


def utc_timestamp(value: object, name: str = "time") -> str:
    """Normalise a time to UTC ISO-8601 with a ``Z``; naive times are taken as UTC."""
    if type(value) is str and value in _CHECKED_TIMES:
        return value
    if (
        isinstance(value, str)
        and _CANONICAL_TIME.fullmatch(value)
        and not value.endswith(".000000Z")
    ):
        try:
            datetime.fromisoformat(value[:-1])  # still a real date: 2024-02-30 is refused
        except ValueError:
            raise ModelError(f"{name}: {value!r} is not a valid date or time") from None
        if type(value) is str:
            if len(_CHECKED_TIMES) >= _CHECKED_LIMIT:
                _CHECKED_TIMES.clear()
            _CHECKED_TIMES.add(value)
        return value
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise ModelError(f"{name}: {value!r} is not an ISO-8601 date or time") from None
    else:
        raise ModelError(f"{name}: expected an ISO-8601 string, got {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first representable time
        raise ModelError(f"{name}: {value!r} is out of the range of times") from None
    # isoformat, not strftime: glibc's %Y writes the year 999 as "999", not "0999".
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ModelError(f"{name}: expected text, got {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError as error:
            # A JSON escape like "\ud800" decodes to half a character that no UTF-8 text
            # can hold: the record is refused here, not when its row is encoded.
            raise ModelError(
                f"{name}: holds an unpaired surrogate at character {error.start}, which is not text"
            ) from None
    return value


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelError(f"{name}: expected an integer, got {value!r}")
    if not -(2**63) <= value < 2**63:
        raise ModelError(f"{name}: {value} does not fit in 64 bits")
    return value


def _number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelError(f"{name}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ModelError(f"{name}: {value!r} is outside {low}..{high}")
    return number


def _tags(value: object) -> tuple[str, ...]:
    if type(value) is list:  # of text, most often: the same as below, in one pass
        tags = set()
        for tag in value:
            if type(tag) is not str or not tag.isascii():
                break
            tags.add(tag.strip())
        else:
            tags.discard("")
            return tuple(sorted(tags))
    if isinstance(value, str):
        value = [part for chunk in value.split(";") for part in chunk.split(",")]
    if not isinstance(value, list | tuple):
        raise ModelError(f"tags: expected a list of text, got {type(value).__name__}")
    # Tags are a set: order and repeats carry no meaning, so they must not change the hash.
    return tuple(sorted({_text(tag, "tags").strip() for tag in value} - {""}))


def _plain_item(item: tuple[object, object]) -> bool:
    """A property that a JSON round trip leaves as it is: ASCII text, a boolean or null."""
    key, value = item
    return (
        type(key) is str
        and key.isascii()
        and (value is None or type(value) is bool or (type(value) is str and value.isascii()))
    )


def _properties(value: object, name: str = "properties") -> dict[str, JSON]:
    if type(value) is dict and all(map(_plain_item, value.items())):
        return dict(value)  # what the round trip below gives, without it
    if not isinstance(value, Mapping):
        raise ModelError(f"{name}: expected an object, got {type(value).__name__}")
    try:
        # A round trip proves the value is plain JSON and gives it one canonical shape.
        loaded: dict[str, JSON] = orjson.loads(orjson.dumps(dict(value)))
    except TypeError as error:
        big = _too_big(value)
        if big is not None:
            raise ModelError(
                f"{name}: the number {big} does not fit in 64 bits, as stored numbers must: "
                "give it as text"
            ) from None
        raise ModelError(f"{name}: not JSON: {error}") from None
    return loaded


def _too_big(value: object) -> int | None:
    """An integer in ``value`` (at any depth) that JSON as stored cannot hold, if any."""
    if type(value) is int:
        return value if not -(2**63) <= value < 2**64 else None
    parts = (
        value.values() if isinstance(value, Mapping) else value if isinstance(value, list) else ()
    )
    for part in parts:
        found = _too_big(part)
        if found is not None:
            return found
    return None


TEXT_FIELDS = (
    "node_type",
    "name",
    "content",
    "summary",
    "location_name",
    "location_address",
    "folder",
    "status",
    "source",
    "source_id",
    "source_url",
)
TIME_FIELDS = (
    "created_at",
    "modified_at",
    "due_at",
    "completed_at",
    "event_start",
    "event_end",
    "deleted_at",
)
INTEGER_FIELDS = ("priority", "importance", "sort_order")
# Fields a line-by-line text merge makes sense for.
MERGEABLE_TEXT_FIELDS = frozenset({"name", "content", "summary", "location_address"})


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the Isometry node database."""

    id: NodeId
    node_type: str = "note"
    name: str = ""
    content: str | None = None
    summary: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_name: str | None = None
    location_address: str | None = None
    created_at: str | None = None
    modified_at: str | None = None
    due_at: str | None = None
    completed_at: str | None = None
    event_start: str | None = None
    event_end: str | None = None
    folder: str | None = None
    tags: tuple[str, ...] = ()
    status: str | None = None
    priority: int | None = None
    importance: int | None = None
    sort_order: int | None = None
    source: str | None = None
    source_id: str | None = None
    source_url: str | None = None
    deleted_at: str | None = None
    properties: Mapping[str, JSON] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Self:
        """Validate and normalise a node given as a mapping of field names to values."""
        return cls(**normalize_node(data))

    def to_dict(self) -> dict[str, JSON]:
        """Every field, NULLs included, tags as a list."""
        out = {name: getattr(self, name) for name in NODE_FIELDS}
        out["tags"] = list(self.tags)
        out["properties"] = dict(self.properties)
        return out

    def row(self) -> dict[str, JSON]:
        """The stored form: NULL and empty fields left out."""
        return compact(self.to_dict())


@dataclass(frozen=True, slots=True)
class Edge:
    """A typed, optionally directed link between two nodes."""

    id: EdgeId
    edge_type: str
    source_id: NodeId
    target_id: NodeId
    label: str | None = None
    weight: float = 1.0
    directed: bool = True
    sequence_order: int | None = None
    properties: Mapping[str, JSON] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Self:
        """Validate and normalise an edge given as a mapping of field names to values."""
        return cls(**normalize_edge(data))

    def to_dict(self) -> dict[str, JSON]:
        out = {name: getattr(self, name) for name in EDGE_FIELDS}
        out["properties"] = dict(self.properties)
        return out

    def row(self) -> dict[str, JSON]:
        return compact(self.to_dict())


NODE_FIELDS = tuple(f.name for f in fields(Node))
EDGE_FIELDS = tuple(f.name for f in fields(Edge))


def compact(data: Mapping[str, JSON]) -> dict[str, JSON]:
    """Drop NULLs and empty collections: they are what an absent field means."""
    return {k: v for k, v in data.items() if v is not None and v != [] and v != {} and v != ()}


def _unknown(data: Mapping[str, object], known: tuple[str, ...], what: str) -> None:
    extra = sorted(set(data) - set(known))
    if extra:
        raise ModelError(
            f"{what}: unknown field(s) {', '.join(extra)}; put source fields under 'properties'"
        )


def _latitude(value: object, name: str) -> float:
    return _number(value, name, -90.0, 90.0)


def _longitude(value: object, name: str) -> float:
    return _number(value, name, -180.0, 180.0)


def _tags_field(value: object, name: str) -> tuple[str, ...]:
    return _tags(value)


# One checker per field, looked up by the fields a record has (records have few of them).
_NODE_CHECKS: dict[str, Callable[[object, str], Any]] = {
    **dict.fromkeys(TEXT_FIELDS, _text),
    **dict.fromkeys(TIME_FIELDS, utc_timestamp),
    **dict.fromkeys(INTEGER_FIELDS, _integer),
    "latitude": _latitude,
    "longitude": _longitude,
    "tags": _tags_field,
    "properties": _properties,
}


_TEXT_NAMES = frozenset(TEXT_FIELDS)


def normalize_node(data: Mapping[str, object]) -> dict[str, Any]:
    """Check every field of a node and return the normalised keyword arguments for ``Node``."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        if type(value) is str and name in _TEXT_NAMES and value.isascii():
            out[name] = value  # what _text gives
            continue
        if name == "id":
            continue
        check = _NODE_CHECKS.get(name)
        if check is None:
            _unknown(data, NODE_FIELDS, "node")
        elif value is not None:
            out[name] = check(value, name)
    if not out.get("node_type", "note"):
        raise ModelError("node_type: must not be empty")
    source, source_id = out.get("source"), out.get("source_id")
    if (source is None) != (source_id is None):
        raise ModelError("source and source_id go together: give both or neither")
    given = data.get("id")
    if source is not None and source_id is not None:
        derived = node_id_for(source, source_id)
        if given is not None and str(given) != derived:
            raise ModelError(
                f"id {given!r} does not match source {source!r} / source_id {source_id!r} "
                f"(expected {derived}); leave id out and it is derived"
            )
        out["id"] = derived
    elif given is not None:
        out["id"] = NodeId(_id(given, "id"))
    else:
        raise ModelError("node: give an id, or a source and source_id to derive it from")
    return out


def _id(value: object, name: str) -> str:
    text = _text(value, name).strip()
    if not text or len(text) > 200 or any(ch.isspace() for ch in text):
        raise ModelError(f"{name}: {value!r} is not a usable id")
    return text


def normalize_edge(data: Mapping[str, object]) -> dict[str, Any]:
    """Check every field of an edge and return the normalised keyword arguments for ``Edge``."""
    _unknown(data, EDGE_FIELDS, "edge")
    edge_type = _text(data.get("edge_type", "LINK"), "edge_type").upper()
    if edge_type not in EDGE_TYPES:
        raise ModelError(f"edge_type: {edge_type!r} is not one of {', '.join(sorted(EDGE_TYPES))}")
    if data.get("source_id") is None or data.get("target_id") is None:
        raise ModelError("edge: source_id and target_id are required")
    out: dict[str, Any] = {
        "edge_type": edge_type,
        "source_id": NodeId(_id(data["source_id"], "source_id")),
        "target_id": NodeId(_id(data["target_id"], "target_id")),
    }
    if data.get("label") is not None:
        out["label"] = _text(data["label"], "label")
    if data.get("weight") is not None:
        out["weight"] = _number(data["weight"], "weight", -math.inf, math.inf)
    if data.get("directed") is not None:
        if not isinstance(data["directed"], bool):
            raise ModelError(f"directed: expected true or false, got {data['directed']!r}")
        out["directed"] = data["directed"]
    if data.get("sequence_order") is not None:
        out["sequence_order"] = _integer(data["sequence_order"], "sequence_order")
    if data.get("properties") is not None:
        out["properties"] = _properties(data["properties"])
    given = data.get("id")
    out["id"] = EdgeId(
        _id(given, "id")
        if given is not None
        else edge_id_for(edge_type, out["source_id"], out["target_id"], out.get("label"))
    )
    return out


def node_row(data: Mapping[str, object]) -> dict[str, JSON]:
    """Validate a node mapping and return its stored row (what ``Node.row()`` gives, faster)."""
    row = {"node_type": "note", "name": "", **normalize_node(data)}
    # What compact() would drop: of the checked values, only tags and properties can be empty.
    if "tags" in row:
        if row["tags"]:
            row["tags"] = list(row["tags"])
        else:
            del row["tags"]
    if "properties" in row and not row["properties"]:
        del row["properties"]
    return row


def edge_row(data: Mapping[str, object]) -> dict[str, JSON]:
    """Validate an edge mapping and return its stored row (what ``Edge.row()`` gives, faster)."""
    return compact({"weight": 1.0, "directed": True, **normalize_edge(data)})


def row_to_node(row: Mapping[str, JSON]) -> Node:
    return Node(**{**row, "tags": tuple(row.get("tags", ()))})


def row_to_edge(row: Mapping[str, JSON]) -> Edge:
    return Edge(**row)


def full_row(kind: RowKind, row: Mapping[str, JSON]) -> dict[str, JSON]:
    """A stored row with every field of its kind present, NULLs and defaults filled in."""
    if kind is RowKind.NODE:
        return row_to_node(row).to_dict()
    return row_to_edge(row).to_dict()


def encode(row: Mapping[str, JSON]) -> bytes:
    """The canonical encoding: keys sorted, no whitespace, NULLs already dropped."""
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


def decode(data: bytes) -> dict[str, JSON]:
    loaded: dict[str, JSON] = orjson.loads(data)
    return loaded


def row_hash(encoded: bytes) -> RowHash:
    return RowHash(hashlib.sha256(encoded).digest())
