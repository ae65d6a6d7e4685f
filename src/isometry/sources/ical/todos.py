"""VTODO components (reminders) as ``task`` nodes.

Due (DUE, else DTSTART plus DURATION), completed, status in lower case (needs-action,
in-process, completed, cancelled), priority mapped from iCalendar's 1-9 (1-4 high = 1, 5 medium
= 2, 6-9 low = 3; 0 or none: no priority) with the original kept in
``properties["ical_priority"]``, the list (the calendar's name) as folder, Apple's sort order as
``sort_order``, and a subtask's parent (RELATED-TO) as a ``NEST`` edge. Attendees and the
organizer stay in properties.
"""

from __future__ import annotations

from isometry.model import JSON
from isometry.sources.ical.record import Record, duration_of, identify, related, time_flags
from isometry.sources.ical.values import first, party
from isometry.sources.ical.zones import text_of

SORT_ORDER = "X-APPLE-SORT-ORDER"
_INT64 = 2**63


def build_todo(record: Record) -> None:
    identify(record)
    node = record.node
    node["node_type"] = "task"
    due = record.moment("DUE")
    if due is not None:
        node["due_at"] = due.text
    else:
        # DTSTART and DURATION also stay in properties, as they were written.
        start_prop = first(record.component, "DTSTART")
        duration = first(record.component, "DURATION")
        if start_prop is not None and duration is not None:
            start = record.times.of(start_prop)
            node["due_at"] = text_of(start.plus(duration_of(duration)))
            due = start
    completed = record.moment("COMPLETED")
    if completed is not None:
        node["completed_at"] = completed.text
    time_flags(record, due, None)
    _sort_order(record)
    _parties(record)
    related(record, nest=True)


def _sort_order(record: Record) -> None:
    prop = first(record.component, SORT_ORDER)
    if prop is None:
        return
    try:
        value = int(str(prop).strip())
    except ValueError:
        return  # not a number: kept in properties as written
    if -_INT64 <= value < _INT64:
        record.node["sort_order"] = value
        record.used.add(SORT_ORDER)


def _parties(record: Record) -> None:
    attendees: list[JSON] = [party(p).entry for p in record.component_values("ATTENDEE")]
    if attendees:
        record.properties["attendees"] = attendees
    organizers: list[JSON] = [party(p).entry for p in record.component_values("ORGANIZER")]
    if organizers:
        record.properties["organizer"] = organizers[0] if len(organizers) == 1 else organizers
