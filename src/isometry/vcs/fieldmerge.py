"""Three-way merge of one row at field level, and the strategies that settle clashes.

Pure functions over rows: no database here. Conflicts are returned as data, not raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from merge3 import Merge3

from isometry.errors import InvalidOperation
from isometry.model import JSON, MERGEABLE_TEXT_FIELDS

STRATEGIES = ("manual", "markers", "prefer-source", "prefer-target", "last-writer-wins")
ROW = ""  # the field name of a whole-row conflict (a delete against a modify)
_PROPERTY = "properties."


def check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise InvalidOperation(
            f"unknown merge strategy {name!r}; use one of {', '.join(STRATEGIES)}"
        )
    return name


@dataclass(frozen=True)
class MergePolicy:
    """A strategy for the whole merge, overridden per node type, then per field."""

    default: str = "manual"
    by_type: Mapping[str, str] = field(default_factory=dict)
    by_field: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (self.default, *self.by_type.values(), *self.by_field.values()):
            check_strategy(name)

    def for_row(self, node_type: str | None) -> str:
        return self.by_type.get(node_type or "", self.default)

    def for_field(self, node_type: str | None, name: str) -> str:
        if name in self.by_field:
            return self.by_field[name]
        if name.startswith(_PROPERTY) and "properties" in self.by_field:
            return self.by_field["properties"]
        return self.for_row(node_type)

    def to_json(self) -> dict[str, Any]:
        return {
            "default": self.default,
            "by_type": dict(self.by_type),
            "by_field": dict(self.by_field),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MergePolicy:
        return cls(data["default"], dict(data["by_type"]), dict(data["by_field"]))


@dataclass(frozen=True, slots=True)
class FieldConflict:
    field: str
    base: JSON
    ours: JSON
    theirs: JSON


@dataclass(slots=True)
class RowOutcome:
    row: dict[str, JSON] | None
    conflicts: list[FieldConflict] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)


def flatten(row: Mapping[str, JSON] | None) -> dict[str, JSON]:
    """Fields by name, with each property its own field so they merge one by one."""
    if row is None:
        return {}
    flat = {k: v for k, v in row.items() if k != "properties"}
    for name, value in (row.get("properties") or {}).items():
        flat[_PROPERTY + name] = value
    return flat


def unflatten(flat: Mapping[str, JSON]) -> dict[str, JSON]:
    row: dict[str, JSON] = {}
    properties: dict[str, JSON] = {}
    for name, value in flat.items():
        if value is None:
            continue
        if name.startswith(_PROPERTY):
            properties[name[len(_PROPERTY) :]] = value
        else:
            row[name] = value
    if properties:
        row["properties"] = properties
    return row


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _later(ours: str | None, theirs: str | None) -> bool:
    """Does the source side win last-writer-wins? Ties and unknowns keep the target.

    Times are compared as times: '10:00:05.5Z' is later than '10:00:05Z' though not as text.
    """
    mine, other = _moment(ours), _moment(theirs)
    if other is None:
        return False
    return mine is None or other > mine


def merge_text(base: str | None, ours: str, theirs: str) -> tuple[str, bool]:
    """Line-by-line merge; returns the text and whether conflict markers remain in it."""

    def lines(text: str) -> list[str]:
        # Every line ends with a newline while merging, so a last line without one still
        # matches its twin and markers always start on a line of their own.
        return (text if text.endswith("\n") or not text else text + "\n").splitlines(True)

    merger = Merge3(lines(base or ""), lines(ours), lines(theirs))
    clash = any(group[0] == "conflict" for group in merger.merge_groups())
    text = "".join(merger.merge_lines(name_a="target", name_b="source"))
    if text.endswith("\n") and not (ours.endswith("\n") or theirs.endswith("\n")):
        text = text[:-1]
    return text, clash


def merge_row(
    base: Mapping[str, JSON] | None,
    ours: Mapping[str, JSON] | None,
    theirs: Mapping[str, JSON] | None,
    policy: MergePolicy,
    ours_time: str | None = None,
    theirs_time: str | None = None,
) -> RowOutcome:
    """Merge one row: ``ours`` is the target's version, ``theirs`` the source's.

    ``*_time`` say when each side last wrote the row; last-writer-wins uses a row's own
    ``modified_at`` first and these only for a side that has none (a deletion).
    """
    if ours == theirs:
        return RowOutcome(dict(ours) if ours is not None else None)
    if ours == base:
        return RowOutcome(dict(theirs) if theirs is not None else None)
    if theirs == base:
        return RowOutcome(dict(ours) if ours is not None else None)
    node_type = (ours or theirs or {}).get("node_type")
    ours_when = (ours or {}).get("modified_at") or ours_time
    theirs_when = (theirs or {}).get("modified_at") or theirs_time
    if ours is None or theirs is None:
        strategy = policy.for_row(node_type)
        if strategy == "prefer-source" or (
            strategy == "last-writer-wins" and _later(ours_when, theirs_when)
        ):
            return RowOutcome(dict(theirs) if theirs is not None else None)
        if strategy in ("prefer-target", "last-writer-wins"):
            return RowOutcome(dict(ours) if ours is not None else None)
        return RowOutcome(
            dict(ours) if ours is not None else None,
            [FieldConflict(ROW, base, ours, theirs)],
        )
    return _merge_fields(
        flatten(base),
        flatten(ours),
        flatten(theirs),
        policy,
        node_type,
        _later(ours_when, theirs_when),
    )


def _merge_fields(
    base: dict[str, JSON],
    ours: dict[str, JSON],
    theirs: dict[str, JSON],
    policy: MergePolicy,
    node_type: str | None,
    source_is_later: bool,
) -> RowOutcome:
    out: dict[str, JSON] = {}
    outcome = RowOutcome(None)
    for name in sorted(set(base) | set(ours) | set(theirs)):
        b, o, t = base.get(name), ours.get(name), theirs.get(name)
        if o == t or t == b:
            out[name] = o
            continue
        if o == b:
            out[name] = t
            continue
        strategy = policy.for_field(node_type, name)
        if strategy == "prefer-source" or (strategy == "last-writer-wins" and source_is_later):
            out[name] = t
        elif strategy in ("prefer-target", "last-writer-wins"):
            out[name] = o
        elif (
            strategy == "markers"
            and name in MERGEABLE_TEXT_FIELDS
            and isinstance(o, str)
            and isinstance(t, str)
            and (b is None or isinstance(b, str))
        ):
            text, clash = merge_text(b, o, t)
            out[name] = text
            if clash:
                outcome.flagged.append(name)
        else:
            out[name] = o
            outcome.conflicts.append(FieldConflict(name, b, o, t))
    outcome.row = unflatten(out)
    return outcome
