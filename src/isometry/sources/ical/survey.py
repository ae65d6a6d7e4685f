"""A first pass over a file: what its components need from the rest of it.

Each calendar's name (``X-WR-CALNAME``, else RFC 7986 ``NAME``), its own properties (every
line of the calendar outside its components: description, default time zone, product...,
kept on each of its records) and its VTIMEZONE definitions, which may come after the events
that use them. Only those are kept, never the events.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from icalendar import Calendar

from isometry.errors import SourceUnreadable
from isometry.model import JSON
from isometry.sources.ical.split import (
    Block,
    CalendarLine,
    LineSource,
    Position,
    begin_or_end,
    blocks,
    logical_lines,
)
from isometry.sources.ical.values import content_parts, key_of

NAME_PROPERTIES = ("X-WR-CALNAME", "NAME")  # by preference


@dataclass
class Survey:
    names: dict[int, str] = field(default_factory=dict)
    properties: dict[int, dict[str, JSON]] = field(default_factory=dict)
    definitions: dict[int, dict[str, bytes]] = field(default_factory=dict)


def survey(path: Path, stream: LineSource) -> Survey:
    """Read the whole stream once; a file that is not iCalendar at all raises
    ``SourceUnreadable``."""
    lines = logical_lines(stream, Position())
    head = next(lines, None)
    if head is None:
        raise SourceUnreadable(f"{path} is empty: it holds no iCalendar data")
    marker = begin_or_end(head.text)
    if marker is None or marker[0] != "BEGIN":
        raise SourceUnreadable(
            f"{path} is not iCalendar: it starts with {head.text[:40]!r}, not BEGIN:VCALENDAR"
        )
    found = Survey()
    names: dict[int, dict[str, str]] = {}
    for item in blocks(itertools.chain([head], lines), Position()):
        if isinstance(item, CalendarLine):
            _name(item, names.setdefault(item.calendar, {}))
            _keep(item, found.properties.setdefault(item.calendar, {}))
        elif isinstance(item, Block) and item.name == "VTIMEZONE" and item.problem is None:
            tzid = _tzid(item)
            if tzid is not None:
                # The first definition of an id wins, as in the icalendar library.
                found.definitions.setdefault(item.calendar, {}).setdefault(tzid, item.data)
    for calendar, named in names.items():
        name = next((named[p] for p in NAME_PROPERTIES if p in named), None)
        if name:
            found.names[calendar] = name
    return found


def _name(item: CalendarLine, named: dict[str, str]) -> None:
    text = item.line.text
    head = text.split(":", 1)[0].split(";", 1)[0].strip().upper()
    if head not in NAME_PROPERTIES or head in named:
        return
    # Parsed by the library, so escapes (``\,``) read as they do everywhere else.
    try:
        calendar = Calendar.from_ical(f"BEGIN:VCALENDAR\r\n{text}\r\nEND:VCALENDAR\r\n")
        value = str(calendar.get(head, "")).strip()
    except (ValueError, TypeError, KeyError, IndexError):
        return
    if value:
        named[head] = value


def _keep(item: CalendarLine, kept: dict[str, JSON]) -> None:
    """A calendar's own line, by name (a repeated one as a list of its values)."""
    try:
        name, _, value = content_parts(item.line.text)
    except ValueError:
        return
    if name in ("BEGIN", "END"):
        return
    key = key_of(name)
    earlier = kept.get(key)
    if earlier is None:
        kept[key] = value
    elif isinstance(earlier, list):
        earlier.append(value)
    else:
        kept[key] = [earlier, value]


def _tzid(block: Block) -> str | None:
    for line in block.own:
        try:
            name, _, value = content_parts(line.text)
        except ValueError:
            continue
        if name == "TZID" and value.strip():
            return value
    return None
