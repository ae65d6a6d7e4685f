"""Times of iCalendar properties resolved to UTC.

A ``TZID`` is resolved the way ``icalendar`` resolves it: an IANA name (a leading ``/`` taken
off) or a Windows zone name first, then the ``VTIMEZONE`` the file defines under that id, then,
for a "globally unique" id such as ``/vendor/Europe/Berlin``, its trailing IANA name. The
library keeps zones it built from ``VTIMEZONE`` components in one cache for the whole process,
keyed by id alone, so two files defining the same custom id differently would share the first
definition; the wall-clock time the library parsed is therefore resolved here, against this
file's own definitions, built without that cache. A zone that cannot be found leaves the wall
time taken as UTC and the record flagged; a time without zone (floating) is taken as UTC and
flagged; a date (all day) is midnight UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Component, Timezone
from icalendar.timezone import tzp
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from isometry.errors import ModelError, SourceError
from isometry.model import utc_timestamp

# What icalendar and dateutil raise on a VTIMEZONE they cannot make a zone of.
_ZONE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


class Unreadable(SourceError):
    """A component, or one of its values, that cannot be made into a record."""


@dataclass(frozen=True, slots=True)
class Zone:
    """A resolved time zone, and the VTIMEZONE text it was built from (None for a named one)."""

    tz: tzinfo
    definition: bytes | None = None

    def localize(self, wall: datetime) -> datetime:
        if self.definition is None:
            return wall.replace(tzinfo=self.tz)
        localized: datetime = tzp.localize(wall, self.tz)  # the library's provider made it
        return localized


@dataclass(frozen=True, slots=True)
class Moment:
    """A time resolved to UTC, and how it was written."""

    at: datetime  # aware, in UTC
    all_day: bool = False
    floating: bool = False
    tzid: str | None = None
    unresolved: bool = False  # a TZID no zone was found for: the wall time is taken as UTC
    wall: datetime | None = None
    zone: Zone | None = None

    @property
    def text(self) -> str:
        return text_of(self.at)

    def plus(self, duration: timedelta) -> datetime:
        """The time ``duration`` later: days are counted on the wall clock of the zone (a day
        across a change to summer time is 23 hours, RFC 5545 3.3.6), the rest exactly."""
        try:
            if self.zone is None or self.wall is None:
                return self.at + duration
            nominal = timedelta(days=duration.days)
            return self.zone.localize(self.wall + nominal).astimezone(UTC) + (duration - nominal)
        except OverflowError:
            raise Unreadable("a time plus its duration is out of the range of dates") from None


@lru_cache(maxsize=1024)
def named_zone(name: str) -> ZoneInfo | None:
    """The IANA zone ``name`` (None when there is no such zone, or the name cannot be one)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


class Zones:
    """The zones of one file: its VTIMEZONE definitions (calendar index → TZID → text),
    built on first use and kept for the file."""

    def __init__(self, definitions: Mapping[int, Mapping[str, bytes]]) -> None:
        self._definitions = definitions
        self._found: dict[tuple[int, str], Zone | None] = {}

    def find(self, tzid: str, calendar: int) -> Zone | None:
        key = (calendar, tzid)
        if key not in self._found:
            self._found[key] = self._find(tzid, calendar)
        return self._found[key]

    def _find(self, tzid: str, calendar: int) -> Zone | None:
        cleaned = tzid.strip("/")
        for name in (cleaned, WINDOWS_TO_OLSON.get(cleaned)):
            named = named_zone(name) if name else None
            if named is not None:
                return Zone(named)
        definition = self._definition(tzid, calendar)
        if definition is not None:
            built = _build(definition)
            if built is not None:
                return Zone(built, definition)
        if tzid.startswith("/"):
            parts = cleaned.split("/")
            for first in range(1, len(parts)):
                named = named_zone("/".join(parts[first:]))
                if named is not None:
                    return Zone(named)
        return None

    def _definition(self, tzid: str, calendar: int) -> bytes | None:
        """The VTIMEZONE of the component's own calendar, else of another one in the file."""
        own = self._definitions.get(calendar, {})
        if tzid in own:
            return own[tzid]
        return next((found[tzid] for found in self._definitions.values() if tzid in found), None)

    def moment(self, value: object, tzid: str | None, calendar: int) -> Moment:
        """``value`` (as icalendar parsed it, with the TZID it was written with) in UTC."""
        if isinstance(value, datetime):
            if tzid:
                wall = value.replace(tzinfo=None)
                zone = self.find(tzid, calendar)
                if zone is None:
                    at = _utc(wall.replace(tzinfo=UTC))
                    return Moment(at, tzid=tzid, unresolved=True)
                return Moment(_utc(zone.localize(wall)), tzid=tzid, wall=wall, zone=zone)
            if value.tzinfo is None:
                return Moment(_utc(value.replace(tzinfo=UTC)), floating=True)
            return Moment(_utc(value))
        if isinstance(value, date):
            return Moment(datetime(value.year, value.month, value.day, tzinfo=UTC), all_day=True)
        raise Unreadable(f"{value!r} is not a date or a time")


def _build(definition: bytes) -> tzinfo | None:
    try:
        component = Component.from_ical(definition)
        if not isinstance(component, Timezone):
            return None
        built: tzinfo = tzp.create_timezone(component)
    except _ZONE_ERRORS:
        return None
    return built


def text_of(moment: datetime) -> str:
    """A time as the node fields hold it (UTC ISO-8601 with a ``Z``)."""
    try:
        return utc_timestamp(moment)
    except (OverflowError, ValueError, ModelError):
        raise Unreadable(f"{moment} is out of the range of dates") from None


def _utc(moment: datetime) -> datetime:
    try:
        at = moment.astimezone(UTC)
        utc_timestamp(at)
    except (OverflowError, ValueError, ModelError):
        raise Unreadable(f"{moment.replace(tzinfo=None)} is out of the range of dates") from None
    return at
