"""The iCalendar importers (``apple-calendar``, ``apple-reminders``): the real fixture files,
and calendars written here for what the fixtures do not show (Reminders' lists, resume)."""

from __future__ import annotations

import base64
import hashlib
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isometry.errors import SourceError, SourceUnreadable
from isometry.etl import templates
from isometry.model import JSON, node_id_for, node_row
from isometry.sources import registry
from isometry.sources.base import Draft, Item, Options, Rejected
from isometry.sources.ical import CalendarImporter, RemindersImporter
from openers import DirectOpener
from paths import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "icalendar" / "collective-icalendar"
ICS_FIXTURES = sorted(FIXTURES.glob("*.ics"))
CALENDAR = CalendarImporter()
REMINDERS = RemindersImporter()
NO_OPTIONS = Options()


OPENER = DirectOpener()


def read(
    importer: CalendarImporter | RemindersImporter, path: Path, cursor: JSON = None
) -> list[tuple[Item, JSON]]:
    return list(importer.read(path, OPENER, NO_OPTIONS, cursor))


def items(importer: CalendarImporter | RemindersImporter, path: Path) -> list[Item]:
    return [item for item, _ in read(importer, path)]


def drafts(importer: CalendarImporter | RemindersImporter, path: Path) -> list[Draft]:
    return [item for item in items(importer, path) if isinstance(item, Draft)]


def nodes(
    importer: CalendarImporter | RemindersImporter, path: Path, node_type: str | None = None
) -> list[dict[str, JSON]]:
    found = [dict(d.node) for d in drafts(importer, path)]
    return [n for n in found if node_type is None or n["node_type"] == node_type]


def events(name: str) -> list[dict[str, JSON]]:
    return nodes(CALENDAR, FIXTURES / name, "event")


def one_event(name: str) -> dict[str, JSON]:
    (found,) = events(name)
    return found


def props(node: dict[str, JSON]) -> dict[str, JSON]:
    found = node.get("properties", {})
    assert isinstance(found, dict)
    return found


def rejected(importer: CalendarImporter | RemindersImporter, path: Path) -> list[Rejected]:
    return [item for item in items(importer, path) if isinstance(item, Rejected)]


def calendar(*components: str, head: str = "") -> str:
    body = "".join(components)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{head}{body}END:VCALENDAR\r\n"


def vevent(uid: str, *lines: str) -> str:
    inner = "".join(f"{line}\r\n" for line in lines)
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\n{inner}END:VEVENT\r\n"


def vtodo(uid: str, *lines: str) -> str:
    inner = "".join(f"{line}\r\n" for line in lines)
    return f"BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\n{inner}END:VTODO\r\n"


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# -- registration ---------------------------------------------------------------------------------


def test_both_importers_are_registered_and_match_their_templates() -> None:
    assert isinstance(registry.load("apple-calendar"), CalendarImporter)
    assert isinstance(registry.load("apple-reminders"), RemindersImporter)
    assert CalendarImporter.permissions == templates.get("apple-calendar-import").permissions
    assert RemindersImporter.permissions == templates.get("apple-reminders-import").permissions
    assert CalendarImporter.version == RemindersImporter.version == "1"
    # One .ics holds events and to-dos: each file goes to both.
    assert CalendarImporter.family == RemindersImporter.family == "icalendar"


@pytest.mark.parametrize(
    ("name", "accepted"),
    [("a.ics", True), ("B.ICS", True), ("c.ical", True), ("d.jcal", False), ("e.ifb", False),
     ("f.txt", False), ("ics", False)],
)  # fmt: skip
def test_accepts_ics_and_ical_files(name: str, accepted: bool) -> None:
    assert CALENDAR.accepts(Path(name)) is accepted
    assert REMINDERS.accepts(Path(name)) is accepted


# -- every fixture --------------------------------------------------------------------------------


def test_every_fixture_is_read_by_both_importers_and_scan_counts_what_read_yields() -> None:
    assert len(ICS_FIXTURES) == 58  # and three .jcal files, which are not iCalendar text
    totals: dict[tuple[str, str], int] = {}
    for importer in (CALENDAR, REMINDERS):
        for path in ICS_FIXTURES:
            scan = importer.scan(path, OPENER, NO_OPTIONS)
            found = items(importer, path)
            assert scan.records == len(found), path.name
            data = path.read_bytes()
            assert (scan.size, scan.fingerprint) == (len(data), hashlib.sha256(data).hexdigest())
            for item in found:
                kind = str(item.node["node_type"]) if isinstance(item, Draft) else "rejected"
                totals[importer.name, kind] = totals.get((importer.name, kind), 0) + 1
                if isinstance(item, Draft):
                    node_row(item.node)  # every draft is a valid node
                    assert item.node["source"] == importer.name
    assert totals == {
        ("apple-calendar", "event"): 62,
        ("apple-calendar", "note"): 1,  # a journal entry
        ("apple-calendar", "person"): 7,
        ("apple-calendar", "rejected"): 4,
        ("apple-reminders", "task"): 2,
    }


@pytest.mark.parametrize(
    ("name", "line", "what"),
    [
        ("broken_ical.ics", 4, "DTSTART;;VALUE=DATE-TIME"),
        ("issue_1081_invalid_start_valid_end.ics", 6, "(DTSTART): Expected datetime"),
        ("issue_1081_invalid_rrule_freq.ics", 7, "(RRULE)"),
        ("timezone_rdate.ics", 53, "SUMMARY=testevent"),
    ],
)
def test_broken_fixtures_give_a_per_record_error_naming_file_line_and_fault(
    name: str, line: int, what: str
) -> None:
    (bad,) = rejected(CALENDAR, FIXTURES / name)
    assert str(FIXTURES / name) in bad.reason
    assert f"line {line}" in bad.reason
    assert what in bad.reason
    assert bad.locator.file == str(FIXTURES / name)
    assert bad.locator.line is not None
    assert bad.locator.line < line
    assert "BEGIN:VEVENT" in bad.raw


@pytest.mark.parametrize(
    "name",
    ["bom_calendar.ics", "fuzz_testcase_0_char_in_component_name.ics",
     "fuzz_testcase_vtimezone_lone_cr.ics", "issue_178_component_with_invalid_name_represented.ics",
     "parsing_error_in_UTC_offset.ics", "issue_798_freebusy.ics", "rfc_7986_properties.ics"],
)  # fmt: skip
def test_files_without_events_or_to_dos_give_nothing_and_do_not_fail(name: str) -> None:
    assert items(CALENDAR, FIXTURES / name) == []
    assert items(REMINDERS, FIXTURES / name) == []


# -- times ----------------------------------------------------------------------------------------


def test_a_zone_from_its_iana_name_and_the_apple_structured_location() -> None:
    event = one_event("x_location.ics")
    assert event["source_id"] == "BFE33ADD-5553-48B5-B5A5-F9DA5CA4C393"
    assert event["name"] == "Daily Sync"
    assert event["content"] == "Some Description"
    assert (event["event_start"], event["event_end"]) == (
        "2016-10-28T12:00:00Z",  # 14:00 in Zurich, summer time
        "2016-10-28T12:30:00Z",
    )
    assert (event["created_at"], event["modified_at"]) == (
        "2016-10-29T12:12:29Z",
        "2016-10-29T12:12:29Z",
    )
    assert event["status"] == "confirmed"
    assert event["folder"] == "ITC"  # X-WR-CALNAME
    assert event["location_name"] == "Roadstar 16\n12764 Happyville\nDenmark"
    assert event["location_address"] == "Röadstar 16\n12764 Happyville\nDenmark"
    assert (event["latitude"], event["longitude"]) == (52.382762, 7.528319)
    assert props(event)["rrule"] == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    assert props(event)["time_zone"] == "Europe/Zurich"
    assert props(event)["sequence"] == 0
    assert props(event)["transp"] == "OPAQUE"
    apple = props(event)["x_apple_structured_location"]
    assert isinstance(apple, dict)
    assert apple["value"] == "geo:52.382762,7.528319"


def test_thunderbird_london_times_and_alarms() -> None:
    event = one_event("alarm_thunderbird_closed.ics")
    assert (event["event_start"], event["event_end"]) == (
        "2024-10-23T14:00:00Z",
        "2024-10-23T15:00:00Z",
    )
    assert props(event)["alarms"] == [
        {"action": "DISPLAY", "trigger": "-PT15M", "description": "Mozilla Standardbeschreibung"},
        {"action": "DISPLAY", "trigger": "-PT45M", "description": "Mozilla Standardbeschreibung"},
    ]
    assert props(event)["x_moz_generation"] == "6"


@pytest.mark.parametrize(
    ("name", "start", "zone"),
    [
        # A VTIMEZONE with a custom id, defined after the event that uses it.
        ("america_new_york_forward_reference.ics", "2014-08-29T12:00:00Z",
         "custom_America/New_York_Forward_reference"),
        ("pacific_fiji.ics", "2014-08-28T20:00:00Z", "custom_Pacific/Fiji"),
        ("issue_466_respect_unique_timezone.ics", "2022-10-21T18:00:00Z", "/Europe/CUSTOM"),
        # A Windows zone name, as Exchange writes it.
        ("timezone_same_start_and_offset.ics", "2017-02-24T03:00:00Z", "Tokyo Standard Time"),
        ("issue_237_fail_to_parse_timezone_with_non_ascii_tzid.ics", "2017-05-11T16:30:00Z",
         "(UTC-03:00) Brasília"),
        ("issue_1050_forward_timezone_reference.ics", "2025-01-15T09:00:00Z", "Europe/Berlin"),
    ],
)  # fmt: skip
def test_zones_resolve_to_utc(name: str, start: str, zone: str) -> None:
    event = one_event(name)
    assert event["event_start"] == start
    assert props(event)["time_zone"] == zone
    assert "time_zone_unresolved" not in props(event)


def test_a_second_dtstart_is_kept_in_properties() -> None:
    event = one_event("pacific_fiji.ics")
    assert props(event)["dtstart"] == {
        "value": "2014-08-28T22:00:00Z",
        "parameters": {"tzid": "custom_Pacific/Fiji"},
    }


def test_a_zone_nobody_defines_is_taken_as_utc_and_flagged() -> None:
    event = one_event("issue_526_calendar_with_event_subset.ics")
    assert (event["event_start"], event["event_end"]) == (
        "2021-11-01T16:00:00Z",
        "2021-11-01T16:30:00Z",
    )
    assert props(event)["time_zone_unresolved"] == "Western/Central Europe"
    assert event["name"] == "Some event ':'"


def test_all_day_events_are_midnight_utc_and_last_a_day_without_an_end() -> None:
    found = {str(e["name"]): e for e in events("multiple_calendar_components.ics")}
    assert set(found) == {"Christmas Day", "Boxing Day", "Christmas again!"}
    christmas = found["Christmas Day"]  # DTEND given, folded over blank lines
    assert (christmas["event_start"], christmas["event_end"]) == (
        "2003-12-25T00:00:00Z",
        "2003-12-26T00:00:00Z",
    )
    assert props(christmas)["all_day"] is True
    boxing = found["Boxing Day"]  # no DTEND: one day (RFC 5545 3.6.1)
    assert (boxing["event_start"], boxing["event_end"]) == (
        "2003-05-01T00:00:00Z",
        "2003-05-02T00:00:00Z",
    )
    assert props(boxing)["x_mozilla_recur_default_units"] == "weeks"


def test_floating_times_are_utc_and_flagged(tmp_path: Path) -> None:
    path = write(
        tmp_path / "f.ics",
        calendar(vevent("f", "DTSTART:20240301T090000", "DURATION:PT90M", "SUMMARY:Float")),
    )
    (event,) = nodes(CALENDAR, path)
    assert (event["event_start"], event["event_end"]) == (
        "2024-03-01T09:00:00Z",
        "2024-03-01T10:30:00Z",
    )
    assert props(event)["floating_time"] is True
    assert props(event)["duration"] == "PT1H30M"


def test_a_duration_in_days_follows_the_wall_clock_across_summer_time(tmp_path: Path) -> None:
    path = write(
        tmp_path / "dst.ics",
        calendar(vevent("d", "DTSTART;TZID=Europe/Berlin:20240330T120000", "DURATION:P1DT1H")),
    )
    (event,) = nodes(CALENDAR, path)
    assert event["event_start"] == "2024-03-30T11:00:00Z"  # CET
    assert event["event_end"] == "2024-03-31T11:00:00Z"  # 12:00 CEST, one hour later


def test_each_file_resolves_a_custom_zone_with_its_own_definition(tmp_path: Path) -> None:
    def zone(offset: str) -> str:
        return (
            "BEGIN:VTIMEZONE\r\nTZID:Office Time\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
            f"TZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
        )

    starts = []
    for offset in ("+0100", "+0500"):
        path = write(
            tmp_path / f"{offset}.ics",
            calendar(vevent("o", "DTSTART;TZID=Office Time:20240601T120000"), head=zone(offset)),
        )
        (event,) = nodes(CALENDAR, path)
        starts.append(event["event_start"])
    assert starts == ["2024-06-01T11:00:00Z", "2024-06-01T07:00:00Z"]


# -- people ---------------------------------------------------------------------------------------


def test_attendees_are_person_nodes_linked_from_the_event() -> None:
    found = drafts(CALENDAR, FIXTURES / "issue_156_RDATE_with_PERIOD_TZID_khal.ics")
    assert [d.node["node_type"] for d in found] == ["person", "event"]  # people first
    person, event = found
    assert person.node == {
        "node_type": "person",
        "name": "XYZ",
        "source": "apple-calendar",
        "source_id": "mailto:xyz@xyz.com",
        "properties": {"email": "xyz@xyz.com"},
    }
    assert (person.locator.line, person.locator.record) == (21, "mailto:xyz@xyz.com")
    event_id = node_id_for("apple-calendar", str(event.node["source_id"]))
    assert event.edges == (
        {
            "edge_type": "LINK",
            "source_id": event_id,
            "target_id": node_id_for("apple-calendar", "mailto:xyz@xyz.com"),
            "label": "attendee",
        },
    )
    assert props(dict(event.node))["attendees"] == [
        {"address": "mailto:xyz@xyz.com", "email": "xyz@xyz.com", "name": "XYZ",
         "partstat": "ACCEPTED", "role": "CHAIR", "rsvp": "FALSE"},
    ]  # fmt: skip
    recurrence = props(dict(event.node))["recurrence_id"]
    assert recurrence == {"value": "2018-03-27T13:00:00Z", "parameters": {"range": "THISANDFUTURE"}}
    weeks = [date(2018, 3, 27) + timedelta(weeks=n) for n in range(19)]
    periods = ",".join(f"{d:%Y%m%d}T080000/{d:%Y%m%d}T090000" for d in weeks)
    assert props(dict(event.node))["rdate"] == [
        f'RDATE;TZID="Central Standard Time";VALUE=PERIOD:{periods}'
    ]


def test_the_same_person_in_two_events_is_one_node(tmp_path: Path) -> None:
    found = drafts(CALENDAR, FIXTURES / "rfc_7256_multi_value_parameters.ics")
    people = [d for d in found if d.node["node_type"] == "person"]
    assert [p.node["source_id"] for p in people] == [
        "mailto:jsmith@example.com", "mailto:jdoe@example.com", "mailto:janedoe@example.com",
    ] * 2  # fmt: skip
    assert people[0].source_hash == people[3].source_hash
    listed = props(dict(found[3].node))["attendees"]
    assert isinstance(listed, list)
    assert listed[0]["delegated_to"] == ["mailto:jdoe@example.com", "mailto:jqpublic@example.com"]


def test_the_organizer_and_people_without_an_address(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.ics",
        calendar(
            vevent(
                "meet",
                "SUMMARY:Planning",
                "DTSTART:20240105T100000Z",
                "ORGANIZER;CN=Ann Lee:MAILTO:Ann.Lee@Example.COM",
                "ATTENDEE;CN=Ann Lee;PARTSTAT=ACCEPTED:mailto:ann.lee@example.com",
                "ATTENDEE;CN=Meeting room 4;CUTYPE=ROOM:",
            )
        ),
    )
    found = drafts(CALENDAR, path)
    people = {str(d.node["source_id"]): d.node for d in found[:-1]}
    assert people == {
        "mailto:ann.lee@example.com": {
            "node_type": "person", "name": "Ann Lee", "source": "apple-calendar",
            "source_id": "mailto:ann.lee@example.com",
            "properties": {"email": "Ann.Lee@Example.COM"},
        },
        "Meeting room 4": {
            "node_type": "person", "name": "Meeting room 4", "source": "apple-calendar",
            "source_id": "Meeting room 4",
        },
    }  # fmt: skip
    event = found[-1]
    labels = sorted((str(e["target_id"]), str(e["label"])) for e in event.edges)
    ann = node_id_for("apple-calendar", "mailto:ann.lee@example.com")
    room = node_id_for("apple-calendar", "Meeting room 4")
    assert labels == sorted([(ann, "organizer"), (ann, "attendee"), (room, "attendee")])
    assert props(dict(event.node))["organizer"] == {
        "address": "MAILTO:Ann.Lee@Example.COM",
        "email": "Ann.Lee@Example.COM",
        "name": "Ann Lee",
    }


# -- other fields ---------------------------------------------------------------------------------


def test_an_inline_attachment_is_stored_and_linked_from_the_content() -> None:
    path = FIXTURES / "issue_1549_binary_attachment.ics"
    (draft,) = drafts(CALENDAR, path)
    (attachment,) = draft.attachments
    text = path.read_text()
    encoded = text.split("FMTTYPE=image/png:", 1)[1].split("\n", 1)[0].strip()
    assert attachment.data == base64.b64decode(encoded)
    assert attachment.data is not None
    assert attachment.data.startswith(b"\x89PNG")
    assert (attachment.filename, attachment.mime_type) == ("attachment-1.png", "image/png")
    digest = hashlib.sha256(attachment.data).hexdigest()
    assert draft.node["content"] == f"[attachment-1.png](attachment:{digest})"


def test_priority_categories_and_text_fields() -> None:
    (event,) = events("issue_348_exception_parsing_value.ics")  # the VFREEBUSY is not an event
    assert event["priority"] == 2
    assert props(event)["ical_priority"] == 5
    assert event["name"] == "Sixt : détails de votre réservation"
    assert str(event["content"]).startswith("\nVotre véhicule")
    assert props(event)["class"] == "PUBLIC"
    chatting = one_event("issue_466_respect_unique_timezone.ics")
    assert chatting["tags"] == ["Just Chatting"]
    unicode = events("created_calendar_with_unicode_fields.ics")
    assert unicode[0]["folder"] == "äöü ÄÖÜ €"
    assert unicode[0]["location_name"] == "Tribstrül"


def test_a_relation_to_another_event_is_a_link() -> None:
    second = events("rfc_9253_gap.ics")[1]
    assert props(second)["related_to"] == {
        "value": "1",
        "parameters": {"reltype": "STARTTOSTART", "gap": "P1W"},
    }
    draft = drafts(CALENDAR, FIXTURES / "rfc_9253_gap.ics")[1]
    assert draft.edges == (
        {
            "edge_type": "LINK",
            "source_id": node_id_for("apple-calendar", "2"),
            "target_id": node_id_for("apple-calendar", "1"),
            "label": "starttostart",
        },
    )


def test_identity_is_the_uid_with_the_recurrence_id_else_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.ics",
        calendar(
            vevent("weekly", "DTSTART:20240101T100000Z", "RRULE:FREQ=WEEKLY"),
            vevent("weekly", "RECURRENCE-ID:20240108T100000Z", "DTSTART:20240108T120000Z"),
            "BEGIN:VEVENT\r\nSUMMARY:No UID\r\nEND:VEVENT\r\n",
        ),
    )
    ids = [n["source_id"] for n in nodes(CALENDAR, path)]
    assert ids == ["weekly", "weekly#20240108T100000Z", f"{path.resolve()}#16"]
    assert [d.locator.line for d in drafts(CALENDAR, path)] == [4, 10, 16]


# -- to-dos ---------------------------------------------------------------------------------------


def test_fixture_to_dos() -> None:
    (todo,) = nodes(REMINDERS, FIXTURES / "issue_1050_calendar_with_events_and_todos.ics")
    assert todo == {
        "source": "apple-reminders",
        "source_id": "todo-1@example.com",
        "node_type": "task",
        "folder": "issue_1050_calendar_with_events_and_todos",
        "name": "Test Todo 1",
        "status": "needs-action",
        # The calendar's own lines go with each of its records.
        "properties": {"calendar": {"prodid": "-//Test//Test//EN", "version": "2.0"}},
    }
    (singapore,) = nodes(REMINDERS, FIXTURES / "issue_722_missing_timezones.ics")
    assert singapore["due_at"] == "2014-08-29T00:00:00Z"  # 08:00 in Singapore
    assert props(singapore)["time_zone"] == "Asia/Singapore"


REMINDERS_EXPORT = calendar(
    vtodo("milk", "SUMMARY:Buy milk", "DUE;VALUE=DATE:20240110", "PRIORITY:1",
          "STATUS:NEEDS-ACTION", "X-APPLE-SORT-ORDER:12", "CATEGORIES:shop,daily",
          "CREATED:20240101T080000Z", "LAST-MODIFIED:20240102T080000Z"),
    vtodo("bread", "SUMMARY:Buy bread", "PRIORITY:5", "STATUS:COMPLETED",
          "COMPLETED:20240103T170000Z", "PERCENT-COMPLETE:100", "RELATED-TO:milk"),
    vtodo("call", "SUMMARY:Call Ann", "PRIORITY:9", "DTSTART;TZID=America/New_York:20240105T090000",
          "DURATION:PT1H", "DESCRIPTION:About the\\, party\\nand the cake", "STATUS:IN-PROCESS"),
    vtodo("later", "SUMMARY:Someday", "PRIORITY:0", "DUE:20240201T090000"),
    vevent("not-a-task", "SUMMARY:An event", "DTSTART:20240101T100000Z"),
    head="X-WR-CALNAME:Groceries\r\n",
)  # fmt: skip


def test_reminders_to_dos_are_tasks_with_due_completed_status_priority_and_list(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "Reminders.ics", REMINDERS_EXPORT)
    found = {str(n["source_id"]): n for n in nodes(REMINDERS, path)}
    assert list(found) == ["milk", "bread", "call", "later"]
    assert all(n["node_type"] == "task" and n["folder"] == "Groceries" for n in found.values())
    milk = found["milk"]
    assert milk["due_at"] == "2024-01-10T00:00:00Z"
    assert props(milk)["all_day"] is True
    assert (milk["priority"], props(milk)["ical_priority"]) == (1, 1)
    assert (milk["status"], milk["sort_order"], milk["tags"]) == (
        "needs-action",
        12,
        ["shop", "daily"],
    )
    assert (milk["created_at"], milk["modified_at"]) == (
        "2024-01-01T08:00:00Z",
        "2024-01-02T08:00:00Z",
    )
    bread = found["bread"]
    assert (bread["status"], bread["completed_at"], bread["priority"]) == (
        "completed", "2024-01-03T17:00:00Z", 2,
    )  # fmt: skip
    assert props(bread)["percent_complete"] == 100
    call = found["call"]
    assert (call["priority"], call["status"]) == (3, "in-process")
    assert call["due_at"] == "2024-01-05T15:00:00Z"  # DTSTART 09:00 New York + 1 hour
    assert call["content"] == "About the, party\nand the cake"
    assert props(call)["dtstart"] == {
        "value": "2024-01-05T14:00:00Z",
        "parameters": {"tzid": "America/New_York"},
    }
    later = found["later"]
    assert "priority" not in later
    assert props(later)["ical_priority"] == 0
    assert props(later)["floating_time"] is True


def test_a_subtask_nests_under_its_parent(tmp_path: Path) -> None:
    path = write(tmp_path / "Reminders.ics", REMINDERS_EXPORT)
    bread = next(d for d in drafts(REMINDERS, path) if d.node["source_id"] == "bread")
    assert bread.edges == (
        {
            "edge_type": "NEST",
            "source_id": node_id_for("apple-reminders", "milk"),
            "target_id": node_id_for("apple-reminders", "bread"),
            "label": "subtask",
        },
    )


def test_a_list_without_a_name_is_named_after_its_file(tmp_path: Path) -> None:
    path = write(tmp_path / "Errands.ics", calendar(vtodo("x", "SUMMARY:Post office")))
    (todo,) = nodes(REMINDERS, path)
    assert todo["folder"] == "Errands"


# -- bad input ------------------------------------------------------------------------------------


def test_a_file_that_is_not_icalendar_cannot_be_imported(tmp_path: Path) -> None:
    text = write(tmp_path / "notes.ics", "Shopping list\nmilk\n")
    empty = write(tmp_path / "empty.ics", "")
    for path in (text, empty):
        for importer in (CALENDAR, REMINDERS):
            with pytest.raises(SourceUnreadable, match=str(path)):
                importer.scan(path, OPENER, NO_OPTIONS)
            with pytest.raises(SourceUnreadable, match=str(path)):
                read(importer, path)


def test_broken_components_are_rejected_and_the_rest_read(tmp_path: Path) -> None:
    latin1 = vevent("latin", "SUMMARY:Caf\xe9").encode("latin-1")
    data = (
        calendar(vevent("a", "SUMMARY:First"), vevent("b", "DTSTART:2024-13-45")).encode()
        .replace(b"END:VCALENDAR\r\n", b"")
        + latin1
        + vevent("c", "SUMMARY:Last").encode()
        + b"BEGIN:VEVENT\r\nUID:open\r\nSUMMARY:No end\r\nEND:VCALENDAR\r\n"
        + calendar(vevent("d", "SUMMARY:After")).encode()
        + b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:cut\r\nSUMMARY:Cut off\r\n"
    )  # fmt: skip
    path = write(tmp_path / "mixed.ics", data)
    found = items(CALENDAR, path)
    assert [i.node["source_id"] if isinstance(i, Draft) else None for i in found] == [
        "a", None, None, "c", None, "d", None,
    ]  # fmt: skip
    reasons = [i.reason for i in found if isinstance(i, Rejected)]
    assert all(r.startswith(f"{path.resolve()}: VEVENT at line ") for r in reasons)
    assert "(DTSTART)" in reasons[0]
    assert "VEVENT at line 14: line 17 is not UTF-8" in reasons[1]
    assert "VEVENT at line 24: the calendar ends (line 27) before END:VEVENT" in reasons[2]
    assert "the file ends before END:VEVENT" in reasons[3]
    assert CALENDAR.scan(path, OPENER, NO_OPTIONS).records == len(found)


def test_a_cursor_from_elsewhere_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "a.ics", calendar(vevent("a")))
    for cursor in ({"index": 3}, {"offset": -1, "line": 0, "calendar": 0, "inside": 0, "skip": 0},
                   {"offset": 0, "line": 0, "calendar": 0, "inside": 2, "skip": 0}):  # fmt: skip
        with pytest.raises(SourceError):
            read(CALENDAR, path, cursor)


# -- incremental and resumable --------------------------------------------------------------------


def test_hashes_change_with_the_record_its_list_or_its_zone_only(tmp_path: Path) -> None:
    zone = (
        "BEGIN:VTIMEZONE\r\nTZID:Mine\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0200\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    one = vevent("one", "SUMMARY:One", "DTSTART;TZID=Mine:20240101T100000")
    two = vevent("two", "SUMMARY:Two", "DTSTART:20240101T100000Z")

    def hashes(text: str) -> dict[str, str]:
        path = write(tmp_path / "h.ics", text)
        return {str(d.node["source_id"]): d.source_hash for d in drafts(CALENDAR, path)}

    base = hashes(calendar(one, two, head=zone))
    assert hashes(calendar(one, two, head=zone)) == base
    changed = hashes(calendar(one, two.replace("Two", "Deux"), head=zone))
    assert (changed["one"], changed["two"] != base["two"]) == (base["one"], True)
    renamed = hashes(calendar(one, two, head="X-WR-CALNAME:Work\r\n" + zone))
    assert renamed["one"] != base["one"]
    assert renamed["two"] != base["two"]
    moved = hashes(calendar(one, two, head=zone.replace("+0200", "+0300")))
    assert (moved["one"] != base["one"], moved["two"]) == (True, base["two"])


def _component(spec: tuple[str, int, bool, bool], number: int) -> str:
    kind, people, broken, with_uid = spec
    lines = [f"SUMMARY:Item {number}", "DTSTART:20240101T100000Z"]
    lines += [f"ATTENDEE;CN=P{p}:mailto:p{p}@example.com" for p in range(people)]
    if broken:
        lines.append("DUE:not-a-date" if kind == "VTODO" else "DTEND:not-a-date")
    uid = f"uid-{number}" if with_uid else ""
    inner = "".join(f"{line}\r\n" for line in lines)
    return f"BEGIN:{kind}\r\n{'UID:' + uid + chr(13) + chr(10) if uid else ''}{inner}END:{kind}\r\n"


specs = st.lists(
    st.tuples(
        st.sampled_from(["VEVENT", "VTODO", "VJOURNAL"]),
        st.integers(0, 3),
        st.booleans(),
        st.booleans(),
    ),
    max_size=8,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(components=specs, split=st.integers(1, 3))
def test_reading_from_any_cursor_yields_exactly_what_followed(
    tmp_path: Path, components: list[tuple[str, int, bool, bool]], split: int
) -> None:
    # Components spread over several calendars, as one file may hold.
    chunks = [components[i::split] for i in range(split)]
    text = "".join(
        calendar(*(_component(spec, number * 10 + i) for number, spec in enumerate(chunk)))
        for i, chunk in enumerate(chunks)
    )
    path = write(tmp_path / "resume.ics", text)
    for importer in (CALENDAR, REMINDERS):
        whole = read(importer, path)
        assert importer.scan(path, OPENER, NO_OPTIONS).records == len(whole)
        for index, (_, cursor) in enumerate(whole):
            assert read(importer, path, cursor) == whole[index + 1 :]


def test_a_big_file_is_streamed(tmp_path: Path) -> None:
    """Components are parsed one at a time: reading holds no more than one of them."""
    body = "".join(
        vevent(f"e{i}", f"SUMMARY:Event {i}", "DESCRIPTION:" + "x" * 2000) for i in range(400)
    )
    path = write(tmp_path / "big.ics", calendar(body))
    tracemalloc.start()
    try:
        count = 0
        for _ in CALENDAR.read(path, OPENER, NO_OPTIONS, None):
            count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 400
    assert path.stat().st_size > 800_000
    assert peak < 400_000


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fixture=st.sampled_from(ICS_FIXTURES),
    cuts=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 40), st.binary(max_size=12)), max_size=4
    ),
)
def test_damaged_files_give_items_or_a_clear_error_never_a_crash(
    tmp_path: Path, fixture: Path, cuts: list[tuple[float, int, bytes]]
) -> None:
    data = fixture.read_bytes()
    for where, length, insert in cuts:
        at = int(where * len(data))
        data = data[:at] + insert + data[at + length :]
    path = write(tmp_path / "damaged.ics", data)
    refusals: list[str] = []
    for importer in (CALENDAR, REMINDERS):
        try:
            found = read(importer, path)
        except SourceUnreadable as error:  # not iCalendar any more: said for the whole file
            refusals.append(str(error))
            continue
        assert importer.scan(path, OPENER, NO_OPTIONS).records == len(found)
        for item, _ in found:
            if isinstance(item, Draft):
                node_row(item.node)
    assert all(str(path) in refusal for refusal in refusals)


def test_a_calendars_own_lines_go_with_each_record(tmp_path: Path) -> None:
    head = "X-WR-CALDESC:Family plans\r\nX-WR-TIMEZONE:Europe/Lisbon\r\n"
    text = calendar(vevent("a", "SUMMARY:A", "DTSTART:20240101T100000Z"), head=head)
    (event,) = nodes(CALENDAR, write(tmp_path / "family.ics", text))
    assert props(event)["calendar"] == {
        "version": "2.0", "prodid": "-//test//EN",
        "x_wr_caldesc": "Family plans", "x_wr_timezone": "Europe/Lisbon",
    }  # fmt: skip
    before = drafts(CALENDAR, tmp_path / "family.ics")[0].source_hash
    write(tmp_path / "family.ics", text.replace("Family plans", "Our plans"))
    assert drafts(CALENDAR, tmp_path / "family.ics")[0].source_hash != before


def test_a_journal_entry_is_a_note(tmp_path: Path) -> None:
    entry = (
        "BEGIN:VJOURNAL\r\nUID:j1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240105\r\n"
        "SUMMARY:Trip notes\r\nDESCRIPTION:Rain all day\\, then sun.\r\nEND:VJOURNAL\r\n"
    )
    (note,) = nodes(CALENDAR, write(tmp_path / "journal.ics", calendar(entry)))
    assert (note["node_type"], note["name"], note["content"]) == (
        "note", "Trip notes", "Rain all day, then sun.",
    )  # fmt: skip
    assert "dtstart" in props(note)
    assert nodes(REMINDERS, tmp_path / "journal.ics") == []
