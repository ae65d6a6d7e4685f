"""VEVENT components as ``event`` nodes, and the people they name as ``person`` nodes.

Start and end in UTC (the end is DTEND, else DTSTART plus DURATION, else one day after an
all-day start or the start itself, as RFC 5545 3.6.1 reads a missing end). Attendees and the
organizer become person nodes of this source (source_id ``mailto:`` and the address in lower
case, or the name when there is no address), linked from the event by ``LINK`` edges labelled
``attendee`` and ``organizer``; how each takes part (role, participation status, ...) stays on
the event in ``properties["attendees"]`` and ``properties["organizer"]``.
"""

from __future__ import annotations

from datetime import timedelta

from isometry.model import JSON, node_id_for
from isometry.sources.ical.record import (
    Record,
    duration_of,
    identify,
    link,
    person_draft,
    related,
    time_flags,
)
from isometry.sources.ical.values import party
from isometry.sources.ical.zones import Moment, text_of


def build_event(record: Record) -> None:
    identify(record)
    record.node["node_type"] = "event"
    start = record.moment("DTSTART")
    end = record.moment("DTEND")
    end_text: str | None = end.text if end is not None else None
    if start is not None:
        record.node["event_start"] = start.text
        if end_text is None:
            end_text = _implied_end(record, start)
    if end_text is not None:
        record.node["event_end"] = end_text
    time_flags(record, start, end)
    _people(record)
    related(record, nest=False)


def build_journal(record: Record) -> None:
    """A VJOURNAL (a dated journal entry, as some calendar apps keep them) as a ``note``:
    its summary, description and the people it names like an event's; its date stays in
    ``properties`` with everything else it says."""
    identify(record)
    record.node["node_type"] = "note"
    _people(record)
    related(record, nest=False)


def _implied_end(record: Record, start: Moment) -> str:
    duration = record.component.get("DURATION")
    if duration is not None:
        return text_of(start.plus(duration_of(duration)))
    if start.all_day:
        return text_of(start.plus(timedelta(days=1)))
    return start.text


def _people(record: Record) -> None:
    """Attendees and the organizer: their part on the event, each a person node."""
    record.used.update({"ATTENDEE", "ORGANIZER"})
    attendees: list[JSON] = []
    organizers: list[JSON] = []
    seen: set[str] = set()
    for label in ("organizer", "attendee"):
        lines = record.lines(label.upper())
        for index, prop in enumerate(record.component_values(label.upper())):
            who = party(prop)
            (organizers if label == "organizer" else attendees).append(who.entry)
            if who.key is None:
                continue
            target = node_id_for(record.context.source, who.key)
            link(record, "LINK", record.node_id, target, label)
            if who.key in seen:
                continue
            seen.add(who.key)
            line = lines[index].line if index < len(lines) else record.block.start
            details: dict[str, JSON] = {}
            if who.email:
                details["email"] = who.email
            elif who.address:
                details["address"] = who.address
            name = who.name or who.email or who.address or who.key
            record.people.append(person_draft(record, who.key, name, line, details))
    if organizers:
        record.properties["organizer"] = organizers[0] if len(organizers) == 1 else organizers
    if attendees:
        record.properties["attendees"] = attendees
