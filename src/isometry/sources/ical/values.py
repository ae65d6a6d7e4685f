"""iCalendar property values as plain JSON, resolved against the file's time zones.

Every property a record has no column for is kept in ``properties`` under its name in lower
case (dashes as underscores): its value as JSON (times in UTC, dates as ``YYYY-MM-DD``,
durations as written in iCalendar), wrapped as ``{"value": ..., "parameters": {...}}`` when it
carries parameters, and as a list when the property comes more than once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from icalendar import Component
from icalendar.parser import Contentline
from icalendar.prop import (
    vBoolean,
    vCategory,
    vDDDLists,
    vDDDTypes,
    vDuration,
    vGeo,
    vPeriod,
    vRecur,
    vTime,
)

from isometry.model import JSON
from isometry.sources.ical.zones import Moment, Unreadable, Zones

# Parameters that only say how a value is encoded, already reflected in the JSON value.
SYNTAX_PARAMETERS = frozenset({"VALUE", "ENCODING"})


class Times:
    """Resolves the times of one component (in calendar ``calendar`` of the file), and
    remembers which VTIMEZONE definitions it used, since they belong to the record's hash."""

    def __init__(self, zones: Zones, calendar: int) -> None:
        self._zones = zones
        self._calendar = calendar
        self.definitions: set[bytes] = set()

    def moment(self, value: object, tzid: str | None) -> Moment:
        moment = self._zones.moment(value, tzid, self._calendar)
        if moment.zone is not None and moment.zone.definition is not None:
            self.definitions.add(moment.zone.definition)
        return moment

    def of(self, prop: object) -> Moment:
        """The time of a DATE or DATE-TIME property."""
        value = getattr(prop, "dt", None)
        if not isinstance(value, date):  # a datetime is a date too
            raise Unreadable(f"{prop!r} is not a date or a time")
        return self.moment(value, tzid_of(prop))


def content_parts(text: str) -> tuple[str, Mapping[str, object], str]:
    """A content line split by the library into name (upper case), parameters and value;
    ``ValueError`` when it is not a content line."""
    name, params, value = Contentline(text).parts()  # type: ignore[no-untyped-call]
    return str(name).upper(), params, str(value)


def tzid_of(prop: object) -> str | None:
    params = getattr(prop, "params", None)
    tzid = params.get("TZID") if params is not None else None
    return str(tzid) if tzid else None


def key_of(name: str) -> str:
    """The ``properties`` key of an iCalendar property or parameter name."""
    return name.lower().replace("-", "_")


def parameters(prop: object) -> dict[str, JSON]:
    params = getattr(prop, "params", None) or {}
    out: dict[str, JSON] = {}
    for name, value in params.items():
        if str(name).upper() in SYNTAX_PARAMETERS:
            continue
        if isinstance(value, list | tuple):
            out[key_of(str(name))] = [str(v) for v in value]
        else:
            out[key_of(str(name))] = str(value)
    return out


def plain(prop: object, times: Times) -> JSON:
    """The value of a parsed property as JSON."""
    tzid = tzid_of(prop)
    if isinstance(prop, vCategory):
        return [str(category) for category in prop.cats]
    if isinstance(prop, vGeo):
        return [float(prop.latitude), float(prop.longitude)]
    if isinstance(prop, vRecur):
        return _text(prop.to_ical())  # type: ignore[no-untyped-call]
    if isinstance(prop, vDDDLists):
        return [_python(entry.dt, times, tzid) for entry in prop.dts]
    if isinstance(prop, vDDDTypes):
        return _python(prop.dt, times, tzid)
    if isinstance(prop, vDuration):
        return _python(prop.td, times, tzid)
    if isinstance(prop, vPeriod):
        ends = prop.duration if prop.by_duration else prop.end
        return _python((prop.start, ends), times, tzid)
    if isinstance(prop, vTime):
        return _python(prop.dt, times, tzid)
    if isinstance(prop, vBoolean | bool):
        return bool(prop)
    if isinstance(prop, int):
        return int(prop)
    if isinstance(prop, float):
        return float(prop) if math.isfinite(prop) else str(prop)
    if isinstance(prop, str):
        return str(prop)
    to_ical = getattr(prop, "to_ical", None)
    return _text(to_ical()) if callable(to_ical) else str(prop)


def _python(value: object, times: Times, tzid: str | None) -> JSON:
    if isinstance(value, datetime):
        return times.moment(value, tzid).text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, timedelta):
        return _text(vDuration(value).to_ical())  # type: ignore[no-untyped-call]
    if isinstance(value, tuple):
        return "/".join(str(_python(part, times, tzid)) for part in value)
    return str(value)


def _text(data: object) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)


def entry(prop: object, times: Times) -> JSON:
    """A property as it is kept in ``properties``: its value, with its parameters if any."""
    value = plain(prop, times)
    params = parameters(prop)
    return {"value": value, "parameters": params} if params else value


def occurrences(component: Component, name: str) -> list[object]:
    """Every value of property ``name`` (icalendar gives one value, or a list when repeated)."""
    found = component.get(name)
    if found is None:
        return []
    return list(found) if isinstance(found, list) else [found]


def properties_of(component: Component, times: Times, skip: Iterable[str] = ()) -> dict[str, JSON]:
    """Every property of ``component`` except those in ``skip``, and its subcomponents (alarms
    under ``alarms``, others under their name), as ``properties`` keeps them."""
    skipped = {name.upper() for name in skip}
    out: dict[str, JSON] = {}
    for name in component:
        upper = str(name).upper()
        if upper in skipped:
            continue
        values = [entry(value, times) for value in occurrences(component, upper)]
        out[key_of(upper)] = values[0] if len(values) == 1 else values
    for child in component.subcomponents:
        key = "alarms" if child.name == "VALARM" else key_of(str(child.name))
        listed = out.setdefault(key, [])
        if isinstance(listed, list):
            listed.append(properties_of(child, times))
    return out


# -- people ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    """An attendee or the organizer: who (``key`` is the person node's source_id, None when
    the property names no one) and how they take part (``entry``, kept on the record)."""

    key: str | None
    name: str | None
    email: str | None
    address: str
    entry: dict[str, JSON]


def party(prop: object) -> Party:
    address = str(prop).strip()
    params = parameters(prop)
    common = params.pop("cn", None)
    name = common.strip() if isinstance(common, str) and common.strip() else None
    email = address[len("mailto:") :].strip() if address.lower().startswith("mailto:") else None
    if email:
        key: str | None = "mailto:" + email.lower()
    else:
        email = None
        key = address or name
    out: dict[str, JSON] = {}
    if address:
        out["address"] = address
    if email:
        out["email"] = email
    if name:
        out["name"] = name
    out.update(params)
    return Party(key, name, email, address, out)


# -- priority -------------------------------------------------------------------------------


def priority(value: int) -> int | None:
    """RFC 5545 priority (1 highest .. 9 lowest, 0 undefined) as high 1, medium 2, low 3."""
    if 1 <= value <= 4:
        return 1
    if value == 5:
        return 2
    if 6 <= value <= 9:
        return 3
    return None


def text_values(props: Iterable[object]) -> list[str]:
    return [str(value).strip() for value in props if str(value).strip()]


def first(component: Component, name: str) -> object | None:
    found = occurrences(component, name)
    return found[0] if found else None


def string(component: Component, name: str) -> str | None:
    """The text of the first ``name`` property, None when absent or blank."""
    found = first(component, name)
    if found is None:
        return None
    text = str(found)
    return text if text.strip() else None


def categories(component: Component) -> list[str]:
    tags: list[str] = []
    for prop in occurrences(component, "CATEGORIES"):
        cats = prop.cats if isinstance(prop, vCategory) else [prop]
        tags.extend(text_values(cats))
    return tags
