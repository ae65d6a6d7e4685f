"""The two importers of iCalendar files: events and journal entries (``apple-calendar``) and
to-dos (``apple-reminders``). Both read ``.ics`` and ``.ical`` files the same way and keep the
components of their own kinds (free/busy blocks, alarms outside a component and unknown
components are no records of either).

Reading makes two passes: the first collects what components need from elsewhere in the file
(time zone definitions, the calendar's name), the second cuts the file into components and
parses one at a time. A cursor is ``{"offset", "line", "calendar", "inside", "skip"}``: where
the next component starts (byte offset, lines before it, calendars begun before it and whether
it lies inside one), and how many of its items were already read (an event yields the people it
names before itself).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, ClassVar

from isometry.errors import SourceError
from isometry.model import JSON
from isometry.sources.base import Item, Opener, Options, Scan
from isometry.sources.ical.components import items_of
from isometry.sources.ical.events import build_event, build_journal
from isometry.sources.ical.record import Builder, FileContext
from isometry.sources.ical.split import Block, Position, blocks, logical_lines
from isometry.sources.ical.survey import Survey, survey
from isometry.sources.ical.todos import build_todo
from isometry.sources.ical.zones import Zones
from isometry.sources.options import OptionSpec
from isometry.sources.records import cursor_position, open_source

SUFFIXES = frozenset({".ics", ".ical"})
_CURSOR = ("offset", "line", "calendar", "inside", "skip")
_CHUNK = 1 << 16


class _ICalendarImporter:
    name: ClassVar[str]
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]]
    declared_options: ClassVar[tuple[OptionSpec, ...]] = ()
    # Both importers read every iCalendar file, each for its own kind of component.
    family: ClassVar[str] = "icalendar"
    builders: ClassVar[Mapping[str, Builder]]  # the kinds of component it keeps

    def accepts(self, path: Path) -> bool:
        return path.suffix.lower() in SUFFIXES

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        with open_source(path, opener) as stream:
            hashing = _HashingReader(stream)
            found = survey(path, hashing)
            hashing.drain()
            stream.seek(0)
            records = sum(1 for _ in self._items(path, stream, found, Position(), 0))
        return Scan(records=records, size=hashing.size, fingerprint=hashing.hexdigest())

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        offset, line, calendar, inside, skip = cursor_position(cursor, _CURSOR, path)
        if inside > 1:
            raise SourceError(f"{path}: {cursor!r} is not a cursor for this kind of file")
        start = Position(offset, line, calendar, bool(inside))
        with open_source(path, opener) as stream:
            found = survey(path, stream)
            stream.seek(start.offset)
            yield from self._items(path, stream, found, start, skip)

    def _items(
        self, path: Path, stream: BinaryIO, found: Survey, start: Position, skip: int
    ) -> Iterator[tuple[Item, JSON]]:
        resolved = path.resolve()
        context = FileContext(
            self.name, str(resolved), resolved.stem, found.names, Zones(found.definitions),
            found.properties,
        )  # fmt: skip
        builders = type(self).builders
        for block in blocks(logical_lines(stream, start), start):
            build = builders.get(block.name) if isinstance(block, Block) else None
            if build is None or not isinstance(block, Block):
                continue
            items = items_of(block, context, build)
            for index, item in enumerate(items):
                if index < skip:
                    continue
                if index + 1 < len(items):
                    yield item, _cursor(block.before, index + 1)
                else:
                    yield item, _cursor(block.after, 0)
            skip = 0


def _cursor(position: Position, skip: int) -> JSON:
    return {
        "offset": position.offset,
        "line": position.line,
        "calendar": position.calendar,
        "inside": int(position.inside),
        "skip": skip,
    }


class CalendarImporter(_ICalendarImporter):
    """Events (and journal entries) of iCalendar files (Calendar's exports and other calendar
    apps')."""

    name: ClassVar[str] = "apple-calendar"
    permissions: ClassVar[frozenset[str]] = frozenset({"calendar", "file-system"})
    builders: ClassVar[Mapping[str, Builder]] = {"VEVENT": build_event, "VJOURNAL": build_journal}


class RemindersImporter(_ICalendarImporter):
    """To-dos of iCalendar files (Reminders' exports and other task lists')."""

    name: ClassVar[str] = "apple-reminders"
    permissions: ClassVar[frozenset[str]] = frozenset({"reminders", "file-system"})
    builders: ClassVar[Mapping[str, Builder]] = {"VTODO": build_todo}


class _HashingReader:
    """A binary stream read line by line that hashes and counts what is read through it."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.size = 0

    def readline(self) -> bytes:
        data = self._stream.readline()
        self._hash.update(data)
        self.size += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def drain(self) -> None:
        while data := self._stream.read(_CHUNK):
            self._hash.update(data)
            self.size += len(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
