"""What the record importers (``json``, ``csv``) share: turning a flat record into node fields,
a record's identity, and opening a source file through the ``Opener``.

A record is a mapping of field names to JSON values. Field names are matched to node fields by
synonym, case-insensitively, after trimming (``"Due Date"`` and ``due_date`` are the same name).
The first column that matches a node field and holds a value wins; every other field, matching
or not, goes into ``properties`` under its original name, so nothing a source says is dropped.
A value the mapping cannot make sense of (a date it cannot parse, a priority that is not a
number) is passed on as it is, so validation quarantines the record instead of losing the value.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import math
import re
from array import array
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from dateutil import parser as date_parser  # type: ignore[import-untyped]

from isometry.errors import IsometryError, ModelError, SourceError, SourceUnreadable
from isometry.model import JSON, utc_timestamp
from isometry.sources.base import Attachment, Opener, Options, Scan
from isometry.sources.options import flag

# Byte order marks and the encodings they announce; UTF-32 first: its little-endian mark
# begins with UTF-16's.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# The option of every importer that reads record fields, declared once so all read it alike.
DAYFIRST = flag("dayfirst", "Read 01/05/2024 as 1 May (day first), not as 5 January.")

NODE_TYPES = frozenset(
    {"note", "task", "event", "person", "bookmark", "article", "document", "spreadsheet"}
)

# Node field <- source field names (normalised: lower case, runs of spaces and dashes as "_").
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "name": ("title", "name", "subject", "heading"),
    "content": ("content", "body", "text", "notes", "description"),
    "summary": ("summary", "abstract", "excerpt"),
    "created_at": ("created", "created_at", "date", "creation_date", "date_created"),
    "modified_at": ("modified", "modified_at", "updated", "updated_at", "last_modified"),
    "due_at": ("due", "due_at", "due_date"),
    "tags": ("tags", "labels", "keywords"),
    "folder": ("folder", "category", "notebook", "list"),
    "node_type": ("type", "node_type", "kind"),
    "status": ("status",),
    "priority": ("priority",),
    "source_url": ("url", "link", "source_url", "href"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lng", "lon"),
}
FIELD_OF: Mapping[str, str] = {
    synonym: field for field, synonyms in SYNONYMS.items() for synonym in synonyms
}
ID_NAMES = ("id", "uuid", "key")
_ATTACHMENT_FIELDS = ("attachments", "files")

_SEPARATORS = re.compile(r"[\s\-]+")
_TAG_SEPARATORS = re.compile(r"[;,]")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d*)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Epoch numbers at least this large are milliseconds: as seconds they would be past year 5000.
_MILLISECONDS_FROM = 100_000_000_000
# The zone names RFC 822 (section 5) gives a fixed offset, in seconds east of UTC.
_RFC822_ZONES: Mapping[str, int] = {
    "UT": 0, "GMT": 0, "EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600,
    "CDT": -5 * 3600, "MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
}  # fmt: skip
# "UTC+01:00" is one hour east; dateutil reads "NAME+01:00" as a POSIX zone, one hour west.
# The name of UTC before an offset says nothing the offset does not: it is taken out.
_ZONE_BEFORE_OFFSET = re.compile(r"(?<![A-Za-z])(?:UTC|GMT|UT|Z)\s*(?=[+-]\d)", re.IGNORECASE)


# Zone names in any case (RFC 822's are case-blind); dateutil knows a name in capitals only.
_ZONE_NAME = re.compile(
    r"(?<![A-Za-z])(?:" + "|".join((*_RFC822_ZONES, "UTC")) + r")(?![A-Za-z])", re.IGNORECASE
)


def _upper(found: re.Match[str]) -> str:
    return found.group().upper()


def _zone(name: str | None, offset: int | None) -> int | None:
    """The offset (seconds east of UTC) of the zone a time names: an offset as it is given
    (``+01:00``, or 0 for ``UTC``), or one of RFC 822's names; None when it names none. Any
    other name raises, so the text is no time: dateutil would take the time as UTC, hours
    off, and no one told."""
    if offset is not None or name is None:
        return offset
    found = _RFC822_ZONES.get(name.upper())
    if found is None:
        raise ValueError(f"unknown time zone {name!r}")
    return found


# dateutil fills what a text leaves out from a default; year 1 shows that no year was given.
_NO_YEAR = datetime(1, 1, 1)


@lru_cache(maxsize=4096)  # the same few names come again in every record
def normal_name(name: str) -> str:
    """A field name as it is matched: trimmed, lower case, spaces and dashes as ``_``."""
    return _SEPARATORS.sub("_", name.strip().lower())


def is_blank(value: JSON) -> bool:
    """No value at all: JSON null, or text that is empty or only whitespace (an empty CSV cell)."""
    return value is None or (isinstance(value, str) and not value.strip())


# What a source field name stands for: (node field or "", an id name, an attachments name).
# Every record of a source repeats the same names, so a dict is cheaper than normalising them;
# it is emptied when a source keeps inventing names.
_Role = tuple[str, bool, bool]
_ROLES: dict[str, _Role] = {}
_ROLES_LIMIT = 4096


def _role(name: str) -> _Role:
    role = _ROLES.get(name)
    if role is None:
        normal = normal_name(name)
        role = (FIELD_OF.get(normal, ""), normal in ID_NAMES, normal in _ATTACHMENT_FIELDS)
        if len(_ROLES) >= _ROLES_LIMIT:
            _ROLES.clear()
        _ROLES[name] = role
    return role


def map_record(
    fields: Mapping[str, JSON], *, source: str, source_id: str, dayfirst: bool = False
) -> dict[str, JSON]:
    """The node fields for one source record (not yet validated; see the module docstring).

    ``dayfirst`` reads ``01/05/2024`` as 1 May (the source's option; month first otherwise).
    """
    node: dict[str, JSON] = {"source": source, "source_id": source_id, "node_type": "note"}
    properties: dict[str, JSON] = {}
    taken: set[str] = set()
    for name, value in fields.items():
        if value is None or (isinstance(value, str) and not value.strip()):  # is_blank
            continue
        field = (_ROLES.get(name) or _role(name))[0]  # the lookup inline: once per field
        if not field or field in taken:
            properties[name] = value
            continue
        if field in TIME_FIELDS:
            converted = parse_time(value, dayfirst=dayfirst)
        else:
            converted = CONVERT[field](value)
        if converted is _NOT_MAPPED:
            properties[name] = value
            continue
        node[field] = converted
        taken.add(field)
    if properties:
        node["properties"] = properties
    return node


def map_columns(
    fields: Mapping[str, JSON],
    columns: Mapping[str, str],
    *,
    source: str,
    source_id: str,
    node_type: str = "note",
    dayfirst: bool = False,
) -> dict[str, JSON]:
    """The node fields for one record under an explicit mapping (source field -> node field);
    every field the mapping does not name goes into ``properties`` under its own name."""
    node: dict[str, JSON] = {"source": source, "source_id": source_id, "node_type": node_type}
    properties: dict[str, JSON] = {}
    for name, value in fields.items():
        field = columns.get(name)
        if field is None:
            if value is not None:
                properties[name] = value
            continue
        if is_blank(value):
            continue
        if field in TIME_FIELDS:
            converted = parse_time(value, dayfirst=dayfirst)
        else:
            converted = CONVERT[field](value)
        if converted is _NOT_MAPPED:
            properties[name] = value
        else:
            node[field] = converted
    if properties:
        node["properties"] = properties
    return node


def row_key(fields: Mapping[str, JSON], number: int) -> str:
    """The record's key within its file: its first non-empty id field, else its number."""
    key = explicit_key(fields)
    return str(number) if key is None else key


def is_text(key: str) -> bool:
    """Whether ``key`` is text that can be stored: no unpaired surrogate (JSON's ``\\ud800``)."""
    if key.isascii():
        return True
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def explicit_key(fields: Mapping[str, JSON]) -> str | None:
    """The record's first non-empty id field, as its key; None when it has none."""
    for name, value in fields.items():
        if _role(name)[1] and not is_blank(value):
            text = _scalar_text(value)
            if isinstance(text, str):
                return text.strip()
    return None


# Longest key read as a row number: 18 digits still fit a signed 64-bit integer.
_ROW_DIGITS = 18
# The hashes of ids are kept in this many arrays, so that looking for equal ones needs a set
# of one array at a time, not of all of them.
_BUCKETS = 256


class KeyClashes:
    """Finds, while a file is scanned, the records that would take another record's key.

    Two records with one key would be one node, the later silently overwriting the earlier, so
    such records are refused at read (quarantined, with why), and the outcome is the same on
    every import of the file, whatever the batches:

    - A record without an id is keyed by its row number, so row 7 without an id and a record
      whose id is ``7`` would be one node. The row without an id is refused, whichever of the
      two comes first. The scan keeps a bit per row number and the ids that are row numbers.
    - Records that repeat an id: the first is imported, each later one refused. The scan keeps
      a 64-bit hash of each id; only when two hashes are equal does it need the ids themselves,
      and ``second_look`` asks for the records again (a file without repeated ids is read once).

    ``scope`` keeps the keys of one part of a file apart (a workbook's sheets).
    """

    def __init__(self) -> None:
        self._rows: dict[str, bytearray] = {}  # rows keyed by their number, as bits
        self._ids: dict[str, array[int]] = {}  # ids that read as row numbers
        self._hashes = [array("q") for _ in range(_BUCKETS)]
        self._suspects: frozenset[int] | None = None  # hashes met twice: set by second_look
        self._firsts: dict[str, int] = {}  # suspect id -> number of its first record
        self._repeated: set[str] = set()

    def add(self, fields: Mapping[str, JSON], number: int, scope: str = "") -> None:
        key = explicit_key(fields)
        if key is not None and not is_text(key):
            return  # an id with half a character is refused for that, whatever else it clashes
        if self._suspects is not None:
            if key is not None and hash((scope, key)) in self._suspects:
                first = self._firsts.setdefault(scope + key, number)
                if first != number:
                    self._repeated.add(scope + key)
            return
        if key is None:
            rows = self._rows.setdefault(scope, bytearray())
            if len(rows) <= number >> 3:
                rows.extend(bytes(max((number >> 3) + 1 - len(rows), len(rows))))
            rows[number >> 3] |= 1 << (number & 7)
            return
        digest = hash((scope, key))
        self._hashes[digest % _BUCKETS].append(digest)
        if key.isascii() and key.isdigit() and len(key) <= _ROW_DIGITS and key[0] != "0":
            self._ids.setdefault(scope, array("q")).append(int(key))

    def second_look(self) -> bool:
        """Ends the scan's pass over the file: True when two ids may be the same, and the
        records must be given to ``add`` once more, in the same order, to tell."""
        if self._suspects is None:
            suspects: set[int] = set()
            for bucket in self._hashes:
                if len(set(bucket)) != len(bucket):
                    seen: set[int] = set()
                    for digest in bucket:
                        (suspects if digest in seen else seen).add(digest)
            self._suspects, self._hashes = frozenset(suspects), []
        return bool(self._suspects)

    def keys(self) -> tuple[str, ...]:
        """The keys that a row without an id and another record's id both name, sorted."""
        clashing: set[str] = set()
        for scope, ids in self._ids.items():
            rows = self._rows.get(scope, b"")
            clashing.update(
                f"{scope}{n}" for n in ids if n >> 3 < len(rows) and rows[n >> 3] >> (n & 7) & 1
            )
        return tuple(sorted(clashing))

    def repeated(self) -> dict[str, int]:
        """Each id that more than one record has, and the number of the first of them."""
        return {key: self._firsts[key] for key in sorted(self._repeated)}


def clash_reason(where: str, key: str) -> str:
    """Why a row without an id is refused (see ``KeyClashes``); ``where``: "line 7"."""
    return (
        f"{where} has no id, so its key would be its row number, {key}, which is the id of "
        "another record of this file: give it an id of its own"
    )


def repeat_reason(where: str, key: str, first: str) -> str:
    """Why a record that repeats an earlier record's id is refused (see ``KeyClashes``)."""
    return (
        f"{where} has the id {key!r} of {first}, an earlier record of this file; one id makes "
        "one node, so only the first record with it is imported: give this one an id of its own"
    )


@dataclass(frozen=True, slots=True)
class Origin:
    """The file records come from (absolute, symlinks resolved) and how to read its values."""

    source: str
    file: str
    dayfirst: bool = False
    clashing: frozenset[str] = frozenset()  # see KeyClashes
    repeated: Mapping[str, int] = dataclass_field(default_factory=dict, hash=False)

    @classmethod
    def of(cls, source: str, path: Path, options: Options) -> Origin:
        dayfirst = options.flag(DAYFIRST.name)
        return cls(source, str(path.resolve()), dayfirst, options.clashing, dict(options.repeated))

    @property
    def checks_keys(self) -> bool:
        """Whether some record of the file may be refused for its key (see ``refusal``)."""
        return bool(self.clashing or self.repeated)

    def refusal(
        self, key: str, fields: Mapping[str, JSON], number: int, label: Callable[[int], str]
    ) -> str | None:
        """Why the record ``number``, keyed ``key``, is refused for its key (``KeyClashes``),
        or None; ``label`` names a record by its number ("line 7")."""
        explicit = explicit_key(fields)
        if explicit is None:
            if key in self.clashing:
                return clash_reason(label(number), str(number))
            return None
        first = self.repeated.get(key)
        if first is not None and first != number:
            return repeat_reason(label(number), explicit, label(first))
        return None

    def identity(self, key: str) -> dict[str, JSON]:
        """The identifying fields of the node of the record ``key`` of this file."""
        return {"source": self.source, "source_id": source_id_for(self.file, key)}

    def node(self, fields: Mapping[str, JSON], key: str) -> dict[str, JSON]:
        """The node fields of the record ``key`` of this file."""
        source_id = source_id_for(self.file, key)
        return map_record(fields, source=self.source, source_id=source_id, dayfirst=self.dayfirst)


def source_id_for(resolved: str, key: str) -> str:
    """``source_id`` of a record: the file's absolute path and the record's key in it."""
    return f"{resolved}#{key}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- value conversions ---------------------------------------------------------------------

_NOT_MAPPED: JSON = object()


def _scalar_text(value: JSON) -> JSON:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return value  # an object or list where text belongs: validation says so


def _stripped_text(value: JSON) -> JSON:
    if type(value) is str:
        return value.strip()
    text = _scalar_text(value)
    return text.strip() if isinstance(text, str) else text


def _node_type(value: JSON) -> JSON:
    if isinstance(value, str) and value.strip().lower() in NODE_TYPES:
        return value.strip().lower()
    return _NOT_MAPPED


def _integer(value: JSON) -> JSON:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            number = _number(value)
            return int(number) if isinstance(number, float) and number.is_integer() else value
    return value


def _number(value: JSON) -> JSON:
    if isinstance(value, str):
        text = value.strip()
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")  # a decimal comma, as semicolon CSVs write them
        try:
            return float(text)
        except ValueError:
            return value
    return value


def _tags(value: JSON) -> JSON:
    if type(value) is list:  # of text, most often: the same as below, in one pass
        tags: list[JSON] = []
        for part in value:
            if type(part) is not str:
                break
            if tag := part.strip():
                tags.append(tag)
        else:
            return tags
    if isinstance(value, str):
        listed = _listed(value)
        if listed is not None:
            return _tags(listed)
        parts: list[JSON] = _TAG_SEPARATORS.split(value)
    elif isinstance(value, list):
        parts = [_scalar_text(part) for part in value]
    else:
        return value
    if not all(isinstance(part, str) for part in parts):
        return value
    return [part.strip() for part in parts if part.strip()]


def _listed(text: str) -> list[JSON] | None:
    """The list a text cell writes as JSON (``["a", "b"]``, as exports of list fields to CSV
    do), or None when it is not one: then it is split at commas and semicolons."""
    stripped = text.strip()
    if not (stripped.startswith("[") and stripped.endswith("]")):
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, list) else None


def parse_time(value: JSON, *, dayfirst: bool = False) -> JSON:
    """A time normalised to UTC ISO-8601 with a ``Z``, or ``value`` itself when it is not one.

    ISO-8601 is taken as it is. A whole number of 4 digits is a year and one of 8 digits
    ``YYYYMMDD``, whether a JSON number (``2024`` or ``2024.0``) or text; other numbers are
    epoch seconds, or milliseconds when they are that large (as text, only those of 9 digits
    or more: other bare digits are no time). Other text is parsed by dateutil (``01/05/2024``
    is 5 January unless ``dayfirst``), and only when it names a year. A zone is an offset
    (``+01:00``, ``UTC+1``: east of UTC, as ISO 8601 has it, not west as POSIX zone strings
    have it) or a name RFC 822 defines, in any case (``UT``, ``GMT``, ``EST``, ``EDT``,
    ``CST`` ... ``PDT``: what mail and feeds write); any other name (``CET``, ``IST``: often
    ambiguous) makes the text no time, rather than a time taken in the wrong zone. Times
    without a zone are UTC.
    """
    if not isinstance(value, str):
        # 2024 and 2024.0 alike (tools that write whole numbers as floats write the latter).
        number = value if type(value) is int else _whole(value)
        if number is not None and len(str(number)) in (4, 8):
            digits = str(number)  # a year, or YYYYMMDD
            converted = parse_time(digits, dayfirst=dayfirst)
            return value if converted == digits else converted
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _epoch(value, value)
        return value
    text = value.strip()
    try:
        return utc_timestamp(text)
    except ModelError:
        pass
    if _NUMBER.fullmatch(text):
        whole = text.lstrip("+-").split(".")[0]
        if len(whole) >= 9:
            return _epoch(int(text) if text.lstrip("+-").isdigit() else float(text), value)
        if len(whole) not in (4, 8):  # a year, or YYYYMMDD; other bare numbers are no date
            return value
    zoned = _ZONE_NAME.sub(_upper, _ZONE_BEFORE_OFFSET.sub("", text))
    try:
        moment = date_parser.parse(zoned, default=_NO_YEAR, dayfirst=dayfirst, tzinfos=_zone)
    except (ValueError, OverflowError):
        return value
    if not isinstance(moment, datetime) or (moment.year == 1 and "0001" not in text):
        return value
    try:
        return utc_timestamp(moment)
    except (ModelError, ValueError, OverflowError):
        return value


def _whole(value: JSON) -> int | None:
    """A float's value when it is a whole number (``2024.0``); None for anything else."""
    return int(value) if type(value) is float and value.is_integer() else None


def _epoch(number: int | float, original: JSON) -> JSON:
    if not math.isfinite(number):
        return original
    try:
        if abs(number) >= _MILLISECONDS_FROM:
            moment = _EPOCH + timedelta(milliseconds=number)
        else:
            moment = _EPOCH + timedelta(seconds=number)
        return utc_timestamp(moment)
    except (OverflowError, ValueError):
        return original


TIME_FIELDS = frozenset(
    {
        "created_at",
        "modified_at",
        "due_at",
        "completed_at",
        "event_start",
        "event_end",
        "deleted_at",
    }
)
CONVERT: Mapping[str, Callable[[JSON], JSON]] = {
    "name": _stripped_text,
    "content": _scalar_text,
    "summary": _scalar_text,
    "location_name": _stripped_text,
    "location_address": _scalar_text,
    "importance": _integer,
    "sort_order": _integer,
    "tags": _tags,
    "folder": _stripped_text,
    "node_type": _node_type,
    "status": _stripped_text,
    "priority": _integer,
    "source_url": _stripped_text,
    "latitude": _number,
    "longitude": _number,
}
# The node fields a source field can be mapped to by name (``map_columns``).
MAPPABLE = frozenset(CONVERT) | TIME_FIELDS


# -- files and cursors ---------------------------------------------------------------------


@contextmanager
def open_source(path: Path, opener: Opener) -> Iterator[BinaryIO]:
    """The file at ``path`` opened through ``opener``; OS errors become ``SourceUnreadable``.

    Errors of this package (a path outside the grants, say) pass through unchanged.
    """
    try:
        stream = opener.open_binary(path)
    except IsometryError:
        raise
    except OSError as error:
        raise SourceUnreadable(f"{path}: cannot open: {error.strerror or error}") from error
    try:
        with stream:
            yield stream
    except IsometryError:
        raise
    except OSError as error:
        raise SourceUnreadable(f"{path}: cannot read: {error.strerror or error}") from error


def cursor_position(cursor: JSON, names: tuple[str, ...], path: Path) -> tuple[int, ...]:
    """The integers ``names`` of a cursor this importer wrote (all zero for ``None``)."""
    if cursor is None:
        return tuple(0 for _ in names)
    found = [cursor.get(name) for name in names] if isinstance(cursor, Mapping) else [None]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in found):
        raise SourceError(f"{path}: {cursor!r} is not a cursor for this kind of file")
    return tuple(v for v in found if isinstance(v, int))


def attachments_of(fields: Mapping[str, JSON], folder: Path) -> tuple[Attachment, ...]:
    """Files a record names under ``attachments`` (or ``files``): paths relative to the source
    file's folder, given as strings or as objects with ``path`` (or ``file``) and optionally
    ``name`` and ``mime_type``. The field itself also stays in ``properties``."""
    found: list[Attachment] = []
    for name, value in fields.items():
        if not _role(name)[2] or not isinstance(value, list):
            continue
        for entry in value:
            path, label, mime = None, None, None
            if isinstance(entry, str):
                path = entry
            elif isinstance(entry, Mapping):
                raw_path = entry.get("path", entry.get("file"))
                path = raw_path if isinstance(raw_path, str) else None
                raw_label = entry.get("name", entry.get("filename"))
                label = raw_label if isinstance(raw_label, str) else None
                raw_mime = entry.get("mime_type")
                mime = raw_mime if isinstance(raw_mime, str) else None
            if path:
                target = folder / path
                found.append(Attachment(label or target.name, path=target, mime_type=mime))
    return tuple(found)


# -- Apple times ---------------------------------------------------------------------------

CORE_DATA_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)


def core_data_time(seconds: object) -> str | None:
    """A Core Data (Cocoa) time, seconds since 2001-01-01 UTC, as UTC ISO-8601 with a ``Z``;
    None when it is absent, not a number or out of range."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    if not math.isfinite(seconds):
        return None
    try:
        return utc_timestamp(CORE_DATA_EPOCH + timedelta(seconds=seconds))
    except (OverflowError, ValueError):
        return None


# -- whole files ---------------------------------------------------------------------------

_HASH_CHUNK = 1 << 20


def digest_stream(stream: BinaryIO, *, keep: int = 0) -> tuple[str, int, bytes | None]:
    """SHA-256 (hex) and size of everything left in ``stream``, read once, and its bytes when
    there are at most ``keep`` of them (so a small file is handed on without a second read)."""
    digest = hashlib.sha256()
    kept: list[bytes] | None = [] if keep else None
    size = 0
    while chunk := stream.read(_HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if kept is not None:
            kept.append(chunk)
            if size > keep:
                kept = None
    return digest.hexdigest(), size, (b"".join(kept) if kept is not None else None)


def one_record_scan(path: Path, opener: Opener) -> Scan:
    """The scan of a file that is one record: its size and SHA-256."""
    with open_source(path, opener) as stream:
        fingerprint, size, _ = digest_stream(stream)
    return Scan(records=1, size=size, fingerprint=fingerprint)


# -- files that are one record -------------------------------------------------------------

# The cursor after the one record of a file (a page, a Keep note, a Markdown note...).
DONE: JSON = {"done": True}


def record_read(cursor: JSON, path: Path) -> bool:
    """Whether the one record of ``path`` was already read (``cursor`` is ``DONE``); any
    other cursor than ``None`` or ``DONE`` is not one of this kind of file's."""
    if cursor is None:
        return False
    if cursor == DONE:
        return True
    raise SourceError(f"{path}: {cursor!r} is not a cursor for a file of one record")
