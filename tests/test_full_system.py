"""full-system-import: a home folder laid out like a Mac's, every Apple source in one operation
on one branch, reported per source."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from pathlib import Path

from isometry import api
from isometry.etl.states import State
from isometry.vcs.repository import Repository
from paths import FIXTURES as SHARED_FIXTURES

AUTHOR = "alice"
FIXTURES = SHARED_FIXTURES
CONTAINER = (
    FIXTURES / "apple-notes" / "rhettbull" / "GroupContainers" / "macOS15-Sequioa"
    / "group.com.apple.notes"
)  # fmt: skip
GRANTS = ("notes", "reminders", "calendar", "contacts", "full-disk-access", "file-system")


def make_home(root: Path) -> Path:
    home = root / "home"
    library = home / "Library"
    shutil.copytree(CONTAINER, library / "Group Containers" / "group.com.apple.notes")
    (library / "Safari").mkdir(parents=True)
    shutil.copy(FIXTURES / "safari" / "History.db", library / "Safari" / "History.db")
    exports = home / "Documents" / "Exports"
    exports.mkdir(parents=True)
    ical = FIXTURES / "icalendar" / "collective-icalendar"
    shutil.copy(ical / "issue_1050_calendar_with_events_and_todos.ics", exports)
    shutil.copy(FIXTURES / "vcard" / "John_Doe_IPHONE.vcf", exports)
    # Things a home holds that are not Apple sources: left alone.
    (home / "Documents" / "draft.txt").write_text("not an Apple source")
    (library / "Caches").mkdir()
    with sqlite3.connect(library / "Caches" / "cache.db") as db:
        db.execute("CREATE TABLE t (v)")
    return home


def test_a_mac_home_imports_every_apple_source_on_one_branch(
    repo: Repository, tmp_path: Path
) -> None:
    home = make_home(tmp_path)
    op = api.import_(repo, "full-system-import", [home], author=AUTHOR,
                     grants=[f"{g}={home}" for g in GRANTS], base=tmp_path)  # fmt: skip
    assert op.state is State.SUCCEEDED, op.error
    by_source = op.to_json(repo.clock.now())["counts_by_source"]
    assert isinstance(by_source, dict)
    assert set(by_source) == {"apple-notes", "apple-calendar", "apple-reminders",
                              "apple-contacts", "safari"}  # fmt: skip
    assert by_source["apple-notes"]["inserted"] == 7
    assert by_source["apple-notes"]["skipped"] == 1  # the password-protected note
    assert by_source["safari"]["inserted"] == 4
    assert by_source["apple-contacts"]["inserted"] == 1
    assert by_source["apple-reminders"]["inserted"] >= 1  # the same .ics, read for its to-dos
    assert by_source["apple-calendar"]["inserted"] >= 1  # and for its events
    kinds = Counter((str(n["source"]), str(n["node_type"])) for n in api.nodes(repo))
    assert kinds[("apple-reminders", "task")] >= 1
    assert kinds[("apple-calendar", "event")] >= 1
    assert kinds[("apple-contacts", "person")] == 1
    # One operation, one branch, merged once.
    assert op.branch == f"import/{op.id}"
    assert op.result["merge"] in ("fast-forward", "merged")
    again = api.import_(repo, "full-system-import", [home], author=AUTHOR,
                        grants=[f"{g}={home}" for g in GRANTS], base=tmp_path)  # fmt: skip
    assert again.counts["inserted"] == again.counts["updated"] == 0


def test_every_permission_is_needed(repo: Repository, tmp_path: Path) -> None:
    home = make_home(tmp_path)
    op = api.import_(repo, "full-system-import", [home], author=AUTHOR,
                     grants=[f"file-system={home}", f"notes={home}"], base=tmp_path)  # fmt: skip
    assert op.state is State.FAILED
    assert "calendar" in str(op.error)
    assert api.nodes(repo) == []
