"""A note's YAML front matter: where it is, what it says, and which of its keys become node
fields.

Front matter is the block between a first line ``---`` and the next line ``---``, as Obsidian
reads it (a block that never closes is not front matter: the note is all body). It is read
with PyYAML's safe loader (the C one when libyaml is there: same results, faster), its plain
scalars resolved as YAML 1.2 resolves them (see ``_Loader``).

Keys, matched case-insensitively: ``title`` (the node's name), ``tags``/``tag`` (a list, or
text split at commas and spaces; a leading ``#`` dropped), ``aliases``/``alias`` (kept in
properties as a list), ``created`` else ``date`` (created_at), ``updated`` else ``modified``
(modified_at), ``id`` else ``uid`` (the note's identity). Every other key, and any of these
whose value cannot be used (a date that is no date, say), goes into properties under its own
name, with dates written as ISO-8601 text, so nothing the front matter says is lost.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from isometry.errors import ModelError
from isometry.model import JSON, utc_timestamp
from isometry.sources.records import parse_time

_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE_LOADER):  # type: ignore[misc]
    """The safe loader reading plain scalars as YAML 1.2 does, as Obsidian does: ``yes``,
    ``no``, ``on`` and ``off`` stay text (``tags: [no, export]`` is two tags), ``12:30`` is
    text, not 750 (YAML 1.1 counted in base 60), ``0755`` is text, not an octal number."""


_BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float"))
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+|0o[0-7]+)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_DELIMITER = re.compile(r"---[ \t]*\r?(?:\n|\Z)")
_TAG_SPLIT = re.compile(r"[,\s]+")
# JSON integers the store keeps exactly (SQLite and orjson stop at 64 bits).
_INT_LIMIT = 2**63

NAME_KEYS = ("title",)
TAG_KEYS = ("tags", "tag")
ALIAS_KEYS = ("aliases", "alias")
CREATED_KEYS = ("created", "date")
MODIFIED_KEYS = ("updated", "modified")
ID_KEYS = ("id", "uid")


class FrontMatterError(Exception):
    """Front matter that is not YAML, or not a mapping of keys to values."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Split:
    """A note's text cut into its front matter (None when it has none) and its body."""

    yaml_text: str | None
    body_start: int  # offset of the body in the text
    yaml_line: int  # line of the first front-matter line (the one after ``---``)


@dataclass(slots=True)
class Fields:
    """What the front matter gives the node."""

    title: str | None = None
    tags: list[str] = field(default_factory=list)
    created_at: str | None = None
    modified_at: str | None = None
    note_id: str | None = None
    properties: dict[str, JSON] = field(default_factory=dict)


def split(text: str) -> Split:
    opening = _DELIMITER.match(text)
    if opening is None:
        return Split(None, 0, 1)
    position = opening.end()
    while position < len(text):
        closing = _DELIMITER.match(text, position)
        if closing is not None:
            return Split(text[opening.end() : position], closing.end(), 2)
        newline = text.find("\n", position)
        if newline < 0:
            break
        position = newline + 1
    return Split(None, 0, 1)


def load(part: Split) -> dict[str, Any]:
    """The front matter as a mapping (empty when there is none); raises FrontMatterError with
    the line in the note where YAML found the problem."""
    if part.yaml_text is None:
        return {}
    try:
        value = yaml.load(part.yaml_text, Loader=_Loader)  # a safe loader (see _Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = part.yaml_line + (mark.line if mark is not None else 0)
        problem = error.problem or error.context or "not valid YAML"
        raise FrontMatterError(line, f"front matter is not valid YAML: {problem}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        raise FrontMatterError(part.yaml_line, f"front matter is not valid YAML: {error}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise FrontMatterError(
            part.yaml_line, f"front matter is a {kind}, not a mapping of keys to values"
        )
    return value


def fields(values: Mapping[Any, Any]) -> Fields:
    out = Fields()
    taken: set[str] = set()
    by_name: dict[str, tuple[str, Any]] = {}
    for key, value in values.items():
        name = key_text(key)
        by_name.setdefault(name.lower(), (name, value))

    def first(names: tuple[str, ...]) -> tuple[str, Any] | None:
        for candidate in names:
            found = by_name.get(candidate)
            if found is not None and found[1] is not None:
                return found
        return None

    if (found := first(NAME_KEYS)) and (title := _text(found[1])):
        out.title = title
        taken.add(found[0])
    for name in TAG_KEYS:
        if (found := by_name.get(name)) and (tags := _tags(found[1])) is not None:
            out.tags.extend(tags)
            taken.add(found[0])
    if (found := first(CREATED_KEYS)) and (moment := _time(found[1])):
        out.created_at = moment
        taken.add(found[0])
    if (found := first(MODIFIED_KEYS)) and (moment := _time(found[1])):
        out.modified_at = moment
        taken.add(found[0])
    if (found := first(ID_KEYS)) and (note_id := _text(found[1])):
        out.note_id = note_id
        taken.add(found[0])
    for name in ALIAS_KEYS:
        if (found := by_name.get(name)) and found[1] is not None:
            out.properties["aliases"] = _aliases(found[1])
            taken.add(found[0])
    for key, value in values.items():
        name = key_text(key)
        if name not in taken:
            out.properties[name] = plain(value)
    return out


def note_id_in(text: str) -> str | None:
    """The ``id`` (or ``uid``) a note's front matter gives it, None when it gives none or
    its front matter cannot be read (then the note is not imported under any other id)."""
    part = split(text)
    if part.yaml_text is None or not re.search(r"(?im)^(?:id|uid)[ \t]*:", part.yaml_text):
        return None  # most notes: no YAML parse needed
    try:
        values = load(part)
    except FrontMatterError:
        return None
    return fields(values).note_id


# -- values --------------------------------------------------------------------------------


def plain(value: Any) -> JSON:
    """A YAML value as JSON: dates as ISO-8601 text, binary as base64, sets as sorted lists,
    numbers JSON cannot hold as text."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if -_INT_LIMIT <= value < _INT_LIMIT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key_text(k): plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


def key_text(key: Any) -> str:
    """A mapping key as text, the way YAML would write it."""
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, datetime | date):
        return key.isoformat()
    return str(key)


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text or None


def _tags(value: Any) -> list[str] | None:
    """Tags from a list or from text; None when the value holds something that is no tag."""
    if isinstance(value, str):
        items: list[Any] = _TAG_SPLIT.split(value)
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    tags: list[str] = []
    for item in items:
        if item is None:
            continue
        text = _text(item)
        if text is None:
            return None
        tag = text.lstrip("#").strip()
        if tag:
            tags.append(tag)
    return tags


def _aliases(value: Any) -> JSON:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(_text(v) is not None for v in value):
        return [str(v) for v in value]
    return plain(value)


def _time(value: Any) -> str | None:
    """A time as UTC ISO-8601 with a ``Z``; None when the value is no time."""
    if isinstance(value, datetime | date):
        moment: JSON = value
    elif isinstance(value, str | int) and not isinstance(value, bool):
        # A bare number is a year or a compact date written in a note, not epoch seconds.
        moment = parse_time(str(value))
    else:
        return None
    try:
        return utc_timestamp(moment)
    except (ModelError, ValueError, OverflowError):
        return None
