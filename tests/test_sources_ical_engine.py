"""The iCalendar importers run by the real engine: calendar and reminders templates, grants,
quarantine, attachments, lineage, and re-imports that write nothing or update in place."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

from isometry import api
from isometry.etl.operations import Operation
from isometry.etl.states import State
from isometry.model import node_id_for
from isometry.vcs.repository import Repository
from paths import FIXTURES as SHARED_FIXTURES

AUTHOR = "alice"
FIXTURES = SHARED_FIXTURES / "icalendar" / "collective-icalendar"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def work_calendar(title: str = "Quarterly review") -> str:
    pdf = base64.b64encode(PDF).decode()
    folded = "\r\n ".join(pdf[i : i + 70] for i in range(0, len(pdf), 70))
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//macOS 14//EN\r\n"
        "X-WR-CALNAME:Work\r\n"
        "BEGIN:VEVENT\r\nUID:review@work\r\nDTSTAMP:20240101T000000Z\r\n"
        f"SUMMARY:{title}\r\nDTSTART;TZID=Europe/Paris:20240115T140000\r\n"
        "DTEND;TZID=Europe/Paris:20240115T153000\r\n"
        "ORGANIZER;CN=Ann Lee:mailto:ann@example.com\r\n"
        "ATTENDEE;CN=Bob Stone;PARTSTAT=ACCEPTED:mailto:Bob@Example.com\r\n"
        "ATTENDEE;CN=Ann Lee;PARTSTAT=ACCEPTED:mailto:ann@example.com\r\n"
        "ATTACH;VALUE=BINARY;ENCODING=BASE64;FMTTYPE=application/pdf;X-APPLE-FILENAME=agenda.pdf:"
        f"\r\n {folded}\r\n"
        "END:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:holiday@work\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Holiday\r\n"
        "DTSTART;VALUE=DATE:20240501\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:broken@work\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Broken\r\n"
        "DTSTART:20240230T250000Z\r\nEND:VEVENT\r\n"
        "BEGIN:VTODO\r\nUID:report@work\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Send report\r\n"
        "DUE:20240116T170000Z\r\nPRIORITY:1\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\n"
        "END:VCALENDAR\r\n"
    )  # fmt: skip


def import_calendar(repo: Repository, tmp_path: Path, source: Path, template: str) -> Operation:
    permission = "calendar" if template == "apple-calendar-import" else "reminders"
    return api.import_(
        repo, template, [source], author=AUTHOR, base=tmp_path,
        grants=[f"file-system={source}", f"{permission}={source}"],
        config={"max_error_rate": 0.5},
    )  # fmt: skip


def test_calendar_import_end_to_end(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "Work.ics").write_text(work_calendar(), newline="")
    op = import_calendar(repo, tmp_path, src, "apple-calendar-import")
    assert op.state is State.PARTIALLY_SUCCEEDED  # the broken event is quarantined
    # Ann (organizer and attendee) and Bob before their event, the holiday, the broken event.
    assert (op.counts["read"], op.counts["quarantined"]) == (5, 1)
    by_name = {str(n["name"]): n for n in api.nodes(repo)}
    assert set(by_name) == {"Quarterly review", "Holiday", "Ann Lee", "Bob Stone"}
    review = by_name["Quarterly review"]
    assert (review["event_start"], review["event_end"]) == (
        "2024-01-15T13:00:00Z",
        "2024-01-15T14:30:00Z",
    )
    assert review["folder"] == "Work"
    assert by_name["Bob Stone"]["source_id"] == "mailto:bob@example.com"
    edges = {
        (e["target_id"], e["label"]) for e in api.edges(repo) if e["source_id"] == review["id"]
    }
    ann, bob = by_name["Ann Lee"]["id"], by_name["Bob Stone"]["id"]
    assert edges == {(ann, "organizer"), (ann, "attendee"), (bob, "attendee")}
    (stored,) = api.attachments(repo, str(review["id"]))
    digest = hashlib.sha256(PDF).hexdigest()
    assert stored["hash"] == digest
    assert stored["mime_type"] == "application/pdf"
    assert "agenda.pdf" in stored["names"]
    assert f"[agenda.pdf](attachment:{digest})" in str(review["content"])
    out = io.BytesIO()
    api.read_blob(repo, digest, out)
    assert out.getvalue() == PDF
    lines = work_calendar().split("\r\n")
    begins, wrong = lines.index("UID:broken@work"), lines.index("DTSTART:20240230T250000Z") + 1
    (bad,) = api.quarantine(repo, op.id)
    assert f"Work.ics: VEVENT at line {begins} cannot be read: line {wrong} (DTSTART)" in str(
        bad["reason"]
    )
    assert bad["locator"]["line"] == begins
    (origin,) = api.lineage(repo, node=str(review["id"]))
    assert origin["locator"]["line"] == 5

    again = import_calendar(repo, tmp_path, src, "apple-calendar-import")
    assert again.counts["inserted"] == again.counts["updated"] == 0
    assert again.counts["unchanged"] == 4

    (src / "Work.ics").write_text(work_calendar("Quarterly review (moved)"), newline="")
    changed = import_calendar(repo, tmp_path, src, "apple-calendar-import")
    assert (changed.counts["inserted"], changed.counts["updated"]) == (0, 1)
    renamed = next(n for n in api.nodes(repo) if n["id"] == review["id"])
    assert renamed["name"] == "Quarterly review (moved)"
    assert renamed["id"] == node_id_for("apple-calendar", "review@work")


def test_reminders_import_end_to_end(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "Work.ics").write_text(work_calendar(), newline="")
    op = import_calendar(repo, tmp_path, src, "apple-reminders-import")
    assert op.state is State.SUCCEEDED
    (task,) = api.nodes(repo)
    assert (task["node_type"], task["name"], task["folder"]) == ("task", "Send report", "Work")
    assert (task["due_at"], task["priority"], task["status"]) == (
        "2024-01-16T17:00:00Z",
        1,
        "needs-action",
    )
    again = import_calendar(repo, tmp_path, src, "apple-reminders-import")
    assert again.counts["unchanged"] == 1


def test_the_fixture_folder_imports_with_per_record_errors(
    repo: Repository, tmp_path: Path
) -> None:
    op = api.import_(
        repo, "apple-calendar-import", [FIXTURES], author=AUTHOR, base=tmp_path,
        grants=[f"file-system={FIXTURES}", f"calendar={FIXTURES}"],
        config={"max_error_rate": 0.5},
    )  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert op.counts["read"] == 62 + 1 + 7 + 4  # events, a journal entry, people, errors
    assert op.counts["quarantined"] == 4
    found = api.nodes(repo)
    assert {n["node_type"] for n in found} == {"event", "note", "person"}
    # Several fixture files share UIDs ("1", "2", the Thunderbird event...): one node each.
    assert len([n for n in found if n["node_type"] == "event"]) < 62
    assert len(api.quarantine(repo, op.id)) == 4


def test_the_calendar_permission_is_required(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "Work.ics").write_text(work_calendar(), newline="")
    op = api.import_(
        repo, "apple-calendar-import", [src], author=AUTHOR, base=tmp_path,
        grants=[f"file-system={src}"],
    )  # fmt: skip
    assert op.state is State.FAILED
    assert op.error is not None
    assert "calendar" in op.error
    assert api.nodes(repo) == []
