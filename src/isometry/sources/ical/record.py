"""A record being built from one parsed component, and what the event and to-do mappings
share: the file it comes from, its identity, how its times were written, the people it names
and the records it relates to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from icalendar import Component

from isometry.model import JSON, node_id_for
from isometry.sources.base import Attachment, Draft, Locator
from isometry.sources.ical.split import Block, Line
from isometry.sources.ical.values import Times, content_parts, first, occurrences, string
from isometry.sources.ical.zones import Moment, Unreadable, Zones
from isometry.sources.records import sha256_hex


@dataclass(frozen=True, slots=True)
class FileContext:
    """What every component of one file shares."""

    source: str  # the importer's name
    file: str  # absolute path
    stem: str
    names: Mapping[int, str]  # calendar index -> calendar name
    zones: Zones
    calendars: Mapping[int, Mapping[str, JSON]]  # calendar index -> its own properties

    def folder(self, calendar: int) -> str:
        """The calendar's (list's) name, else the file's name without its suffix."""
        return self.names.get(calendar) or self.stem


@dataclass(frozen=True, slots=True)
class OwnLine:
    """A property line of the component itself, split by the library into its parts."""

    line: Line
    name: str
    params: Mapping[str, object]
    value: str


@dataclass
class Record:
    """A record being built: its node, the properties that stay with it, and what it brings."""

    component: Component
    block: Block
    context: FileContext
    times: Times
    node: dict[str, JSON] = field(default_factory=dict)
    properties: dict[str, JSON] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)  # property names mapped to node fields
    edges: list[dict[str, JSON]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    people: list[Draft] = field(default_factory=list)
    by_name: dict[str, list[Line]] | None = None  # the component's own lines by property name

    @property
    def node_id(self) -> str:
        return node_id_for(self.context.source, str(self.node["source_id"]))

    def take(self, name: str) -> object | None:
        """The first ``name`` property, marked as mapped (a repeat stays in properties)."""
        self.used.add(name)
        return first(self.component, name)

    def moment(self, name: str) -> Moment | None:
        prop = self.take(name)
        return None if prop is None else self.times.of(prop)

    def component_values(self, name: str) -> list[object]:
        """Every ``name`` property, marked as mapped."""
        self.used.add(name)
        return occurrences(self.component, name)

    def lines(self, name: str) -> list[OwnLine]:
        """The component's own ``name`` lines, split by the library (only those asked for:
        splitting every line again would double the parsing)."""
        if self.by_name is None:
            self.by_name = {}
            for own in self.block.own:
                self.by_name.setdefault(property_name(own.text), []).append(own)
        found: list[OwnLine] = []
        for line in self.by_name.get(name, ()):
            try:
                parsed, params, value = content_parts(line.text)
            except ValueError:
                continue  # the library recorded it as an error, and the component was rejected
            found.append(OwnLine(line, parsed, params, value))
        return found


# Fills a record's own fields: the event mapping or the to-do mapping.
Builder = Callable[["Record"], None]


def identify(record: Record) -> None:
    """``source`` and ``source_id``: the UID (with the RECURRENCE-ID as written, for an
    overridden occurrence), else the file and the line the component starts on."""
    record.used.add("UID")
    uid = (string(record.component, "UID") or "").strip()
    if not uid:
        source_id = f"{record.context.file}#{record.block.start.number}"
    else:
        rids = [own.value.strip() for own in record.lines("RECURRENCE-ID")]
        source_id = f"{uid}#{rids[0]}" if rids and rids[0] else uid
    record.node.update({"source": record.context.source, "source_id": source_id})


def time_flags(record: Record, main: Moment | None, other: Moment | None) -> None:
    """How the record's times were written: all day, floating, in which zone, or in a zone
    that could not be found (its wall time then taken as UTC)."""
    props = record.properties
    moments = [m for m in (main, other) if m is not None]
    if main is not None and main.all_day:
        props["all_day"] = True
    if any(m.floating for m in moments):
        props["floating_time"] = True
    if main is not None and main.tzid:
        props["time_zone"] = main.tzid
    if other is not None and other.tzid and (main is None or other.tzid != main.tzid):
        props["end_time_zone"] = other.tzid
    unresolved = sorted({m.tzid for m in moments if m.unresolved and m.tzid})
    if unresolved:
        props["time_zone_unresolved"] = unresolved[0] if len(unresolved) == 1 else unresolved


def related(record: Record, *, nest: bool) -> None:
    """RELATED-TO links to the record it names by UID. For to-dos (``nest``) a parent or a
    child (a reminder's subtasks) is a ``NEST`` edge from parent to child, labelled
    ``subtask`` (the same edge whichever of the two names the other); any other relation
    is a ``LINK`` labelled with its type. The property also stays in ``properties``."""
    for prop in occurrences(record.component, "RELATED-TO"):
        uid = str(prop).strip()
        if not uid:
            continue
        params = getattr(prop, "params", {}) or {}
        reltype = str(params.get("RELTYPE", "PARENT")).upper()
        other = node_id_for(record.context.source, uid)
        if nest and reltype == "PARENT":
            link(record, "NEST", other, record.node_id, "subtask")
        elif nest and reltype == "CHILD":
            link(record, "NEST", record.node_id, other, "subtask")
        else:
            link(record, "LINK", record.node_id, other, reltype.lower())


# -- people, links, durations and line names ---------------------------------------------


def person_draft(
    record: Record, key: str, name: str, line: Line, details: dict[str, JSON]
) -> Draft:
    """A person an event names (attendee or organizer), as its own node."""
    node: dict[str, JSON] = {
        "node_type": "person",
        "name": name,
        "source": record.context.source,
        "source_id": key,
    }
    if details:
        node["properties"] = details
    return Draft(
        node=node,
        locator=Locator(record.context.file, key, line.number, line.offset, line.end - line.offset),
        source_hash=sha256_hex(orjson.dumps(node, option=orjson.OPT_SORT_KEYS)),
        raw=line.text,
    )


def link(record: Record, edge_type: str, source: str, target: str, label: str | None) -> None:
    edge: dict[str, JSON] = {"edge_type": edge_type, "source_id": source, "target_id": target}
    if label:
        edge["label"] = label
    if edge not in record.edges:
        record.edges.append(edge)


def duration_of(prop: object) -> timedelta:
    value = getattr(prop, "td", None)
    if value is None:
        value = getattr(prop, "dt", None)
    if not isinstance(value, timedelta):
        raise Unreadable(f"DURATION {prop!r} is not a duration")
    return value


def property_name(text: str) -> str:
    """The name of the property a content line holds, in upper case."""
    cut = min((i for i in (text.find(";"), text.find(":")) if i >= 0), default=len(text))
    return text[:cut].strip().upper()
