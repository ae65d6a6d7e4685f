"""The ``safari`` importer on History.db (the real fixture and databases written here), how it
tells its three kinds of file apart, and whole imports through the engine."""

from __future__ import annotations

import base64
import hashlib
import plistlib
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from isometry import api
from isometry.errors import SourceError, SourceUnreadable
from isometry.etl import templates
from isometry.etl.states import State
from isometry.model import JSON, node_id_for
from isometry.sources.base import Draft, Importer, Item, Options, Rejected
from isometry.sources.records import core_data_time
from isometry.sources.safari import SafariImporter
from isometry.vcs.repository import Repository
from openers import DirectOpener
from paths import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES
HISTORY = FIXTURES / "safari" / "History.db"
CHROME_HTML = FIXTURES / "bookmarks" / "bookmarks_chrome.html"
IMPORTER: Importer = SafariImporter()

# Safari's own schema (macOS 10.15 and later), the tables this importer reads.
SCHEMA = """
CREATE TABLE history_items (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE,
  domain_expansion TEXT NULL, visit_count INTEGER NOT NULL, daily_visit_counts BLOB NOT NULL,
  weekly_visit_counts BLOB NULL, autocomplete_triggers BLOB NULL,
  should_recompute_derived_visit_counts INTEGER NOT NULL, visit_count_score INTEGER NOT NULL);
CREATE TABLE history_visits (id INTEGER PRIMARY KEY AUTOINCREMENT,
  history_item INTEGER NOT NULL REFERENCES history_items(id) ON DELETE CASCADE,
  visit_time REAL NOT NULL, title TEXT NULL, load_successful BOOLEAN NOT NULL DEFAULT 1,
  http_non_get BOOLEAN NOT NULL DEFAULT 0, synthesized BOOLEAN NOT NULL DEFAULT 0,
  redirect_source INTEGER NULL UNIQUE, redirect_destination INTEGER NULL UNIQUE,
  origin INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0,
  attributes INTEGER NOT NULL DEFAULT 0, score INTEGER NOT NULL DEFAULT 0);
CREATE INDEX history_visits__last_visit ON history_visits (history_item, visit_time DESC,
  synthesized ASC);
CREATE TABLE history_tags (id INTEGER PRIMARY KEY, type INTEGER NOT NULL, level INTEGER NOT NULL,
  identifier TEXT NOT NULL, title TEXT NOT NULL, modification_timestamp REAL NOT NULL,
  item_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE history_items_to_tags (history_item INTEGER NOT NULL, tag_id INTEGER NOT NULL,
  timestamp REAL NOT NULL, UNIQUE(history_item, tag_id) ON CONFLICT REPLACE);
"""


def read_all(path: Path, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, DirectOpener(), Options(), cursor))


def drafts(path: Path) -> list[Draft]:
    return [item for item, _ in read_all(path) if isinstance(item, Draft)]


def write_history(path: Path, *, wal: bool = False) -> sqlite3.Connection:
    """A History.db as Safari writes it: three pages, visits with and without titles, a topic
    tag, a redirect; left open so a test can change it (and, with ``wal``, keep rows in the
    write-ahead log)."""
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA wal_autocheckpoint=0")
    db.executescript(SCHEMA)
    items = [
        (1, "https://www.apple.com/", "apple", 3, b"\x01\x02", None, b"bplist00trigger", 0, 300),
        (2, "https://webkit.org/blog/", None, 1, b"\x01", None, None, 0, 100),
        (3, "https://example.org/never", None, 0, b"", None, None, 1, 0),
    ]
    db.executemany("INSERT INTO history_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", items)
    visits = [
        (10, 1, 700000000.5, "Apple (old title)"),
        (11, 1, 700000100.25, "Apple"),
        (12, 1, 700000200.0, None),  # the latest visit failed: no title
        (13, 2, 700000300.0, "WebKit Blog"),
    ]
    db.executemany(
        "INSERT INTO history_visits (id, history_item, visit_time, title) VALUES (?, ?, ?, ?)",
        visits,
    )
    db.execute("INSERT INTO history_tags VALUES (1, 0, 0, 'shopping', 'Shopping', 0, 0)")
    db.execute("INSERT INTO history_items_to_tags VALUES (1, 1, 0)")
    db.commit()
    return db


# -- the fixture ---------------------------------------------------------------------------


def test_the_fixture_gives_one_webpage_per_history_item_as_sql_says() -> None:
    items = read_all(HISTORY)
    db = sqlite3.connect(f"{HISTORY.as_uri()}?mode=ro&immutable=1", uri=True)
    rows = db.execute(
        "SELECT i.id, i.url, i.visit_count, i.domain_expansion, count(v.id), min(v.visit_time),"
        " max(v.visit_time) FROM history_items i LEFT JOIN history_visits v"
        " ON v.history_item = i.id GROUP BY i.id ORDER BY i.id"
    ).fetchall()
    assert len(items) == len(rows) == 4
    for (item, cursor), (key, url, count, domain, visits, first, last) in zip(
        items, rows, strict=True
    ):
        assert isinstance(item, Draft)
        assert cursor == {"id": key}
        node = item.node
        assert node["node_type"] == "webpage"
        assert node["source"] == "safari"
        assert node["source_id"] == node["source_url"] == url
        assert node["created_at"] == core_data_time(first)
        assert node["modified_at"] == core_data_time(last)
        properties = node["properties"]
        assert properties["visit_count"] == count
        assert properties["visits"] == visits
        assert properties["first_visit"] == core_data_time(first)
        assert properties["last_visit"] == core_data_time(last)
        assert properties.get("domain_expansion") == domain
        assert item.locator.file == str(HISTORY)
        assert item.locator.record == f"history_items:id={key}"
    db.close()
    by_url = {d.node["source_url"]: d.node for d in drafts(HISTORY)}
    google = by_url["https://www.google.co.in/?client=safari&channel=mac_bm"]
    assert google["name"] == "Google"
    assert google["properties"]["visit_count"] == 2
    assert google["created_at"] == "2020-09-29T18:04:37.289962Z"
    assert google["modified_at"] == "2020-09-29T18:04:37.417319Z"
    apple = by_url["https://www.apple.com/in/"]
    assert apple["name"] == "https://www.apple.com/in/"  # no visit had a title
    assert apple["properties"]["domain_expansion"] == "apple"


def test_scanning_the_fixture_counts_and_fingerprints_it() -> None:
    scan = IMPORTER.scan(HISTORY, DirectOpener(), Options())
    assert scan.records == 4
    assert scan.size == HISTORY.stat().st_size
    assert scan.fingerprint == hashlib.sha256(HISTORY.read_bytes()).hexdigest()


def test_reading_the_fixture_again_from_every_cursor_gives_what_followed() -> None:
    whole = read_all(HISTORY)
    for position in range(len(whole)):
        cursor = None if position == 0 else whole[position - 1][1]
        assert read_all(HISTORY, cursor) == whole[position:]
    assert read_all(HISTORY, whole[-1][1]) == []


# -- databases written here ----------------------------------------------------------------


def test_names_tags_visits_and_other_columns(tmp_path: Path) -> None:
    path = tmp_path / "History.db"
    write_history(path).close()
    nodes = {d.node["source_url"]: d.node for d in drafts(path)}
    apple = nodes["https://www.apple.com/"]
    assert apple["name"] == "Apple"  # the newest visit with a title
    assert apple["tags"] == ["Shopping"]
    assert apple["created_at"] == core_data_time(700000000.5)
    assert apple["modified_at"] == core_data_time(700000200.0)
    assert apple["properties"] == {
        "visit_count": 3,
        "visits": 3,
        "first_visit": core_data_time(700000000.5),
        "last_visit": core_data_time(700000200.0),
        "domain_expansion": "apple",
        "autocomplete_triggers": base64.b64encode(b"bplist00trigger").decode(),
        "should_recompute_derived_visit_counts": 0,
        "visit_count_score": 300,
    }
    never = nodes["https://example.org/never"]
    assert never["name"] == "https://example.org/never"
    assert never["created_at"] is None
    assert never["modified_at"] is None
    assert never["properties"]["visits"] == 0
    assert "first_visit" not in never["properties"]


def test_rows_still_in_the_write_ahead_log_are_read(tmp_path: Path) -> None:
    path = tmp_path / "History.db"
    db = write_history(path, wal=True)
    db.execute(
        "INSERT INTO history_items VALUES (4, 'https://swift.org/', NULL, 1, x'', NULL, NULL, 0, 1)"
    )
    db.commit()
    assert "https://swift.org/" in {d.node["source_url"] for d in drafts(path)}
    assert IMPORTER.scan(path, DirectOpener(), Options()).records == 4
    db.close()


def test_a_row_without_url_is_rejected_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "History.db"
    db = write_history(path)
    db.execute("INSERT INTO history_items VALUES (9, '  ', NULL, 1, x'', NULL, NULL, 0, 1)")
    db.commit()
    db.close()
    items = [item for item, _ in read_all(path)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(items) == 4
    assert len(rejected) == 1
    assert rejected[0].reason == "history_items id=9 has no URL"
    assert rejected[0].locator.record == "history_items:id=9"


def test_a_row_whose_text_is_not_utf8_is_rejected_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "History.db"
    db = write_history(path)
    db.execute("UPDATE history_visits SET title = CAST(x'57656246ff4b6974' AS TEXT) WHERE id = 13")
    db.commit()
    db.close()
    items = [item for item, _ in read_all(path)]
    assert [type(i).__name__ for i in items] == ["Draft", "Rejected", "Draft"]
    rejected = items[1]
    assert isinstance(rejected, Rejected)
    assert rejected.reason == "history_items id=2: title is not valid UTF-8"
    assert rejected.locator.record == "history_items:id=2"


def test_a_damaged_database_is_unreadable_and_named(tmp_path: Path) -> None:
    path = tmp_path / "History.db"
    data = bytearray(HISTORY.read_bytes())
    data[200:4096] = bytes(3896)  # the schema page wiped
    path.write_bytes(bytes(data))
    with pytest.raises(SourceUnreadable, match=r"History\.db"):
        IMPORTER.scan(path, DirectOpener(), Options())


def test_a_new_visit_changes_only_its_page(tmp_path: Path) -> None:
    path = tmp_path / "History.db"
    db = write_history(path)
    before = {d.node["source_id"]: d.source_hash for d in drafts(path)}
    assert {d.source_hash for d in drafts(path)} == set(before.values())  # deterministic
    db.execute("INSERT INTO history_visits (history_item, visit_time, title)"
               " VALUES (2, 700000900.0, 'WebKit Blog')")  # fmt: skip
    db.execute("UPDATE history_items SET visit_count = 2 WHERE id = 2")
    db.commit()
    db.close()
    after = {d.node["source_id"]: d.source_hash for d in drafts(path)}
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"https://webkit.org/blog/"}


def test_a_sqlite_file_without_safaris_tables_is_not_accepted(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE history_items (id INTEGER PRIMARY KEY, url TEXT)")
    db.close()
    assert not IMPORTER.accepts(other)
    history = tmp_path / "copy.sqlite"
    write_history(history).close()
    listing = sorted(p.name for p in tmp_path.iterdir())
    assert IMPORTER.accepts(history)
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # the look wrote nothing
    assert IMPORTER.accepts(HISTORY)


def test_history_tables_without_the_columns_read_are_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "History.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE history_items (id INTEGER PRIMARY KEY, url TEXT)")
        db.execute("CREATE TABLE history_visits (id INTEGER PRIMARY KEY, history_item INTEGER)")
    db.close()
    with pytest.raises(SourceUnreadable, match=r"History\.db.*history_items lacks visit_count"):
        IMPORTER.scan(path, DirectOpener(), Options())


def test_a_cursor_of_another_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a cursor"):
        read_all(HISTORY, {"index": 2})


# -- the three kinds of file ---------------------------------------------------------------


def test_each_kind_of_file_is_accepted_by_its_look_and_nothing_else(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><html><body><a href='https://x.org/'>x</a></body></html>")
    info = tmp_path / "Info.plist"
    info.write_bytes(plistlib.dumps({"CFBundleName": "App"}))
    bookmarks = tmp_path / "Bookmarks.plist"
    bookmarks.write_bytes(
        plistlib.dumps(
            {"Children": [], "WebBookmarkType": "WebBookmarkTypeList"}, fmt=plistlib.FMT_BINARY
        )
    )
    text = tmp_path / "notes.txt"
    text.write_text("<!DOCTYPE NETSCAPE-Bookmark-file-1>")
    assert IMPORTER.accepts(CHROME_HTML)
    assert IMPORTER.accepts(HISTORY)
    assert IMPORTER.accepts(bookmarks)
    assert not IMPORTER.accepts(page)
    assert not IMPORTER.accepts(info)
    assert not IMPORTER.accepts(text)
    assert not IMPORTER.accepts(tmp_path / "missing.plist")


def test_a_file_of_no_known_kind_is_unreadable_and_named(tmp_path: Path) -> None:
    path = tmp_path / "History.db"
    path.write_text("just some text")
    with pytest.raises(SourceUnreadable, match=r"History\.db is neither"):
        IMPORTER.scan(path, DirectOpener(), Options())


def test_the_permissions_are_the_templates() -> None:
    assert IMPORTER.permissions == templates.get("safari-data-import").permissions
    assert SafariImporter.name == "safari"


# -- through the engine --------------------------------------------------------------------


def _bookmarks_plist(path: Path) -> None:
    leaf = {"WebBookmarkType": "WebBookmarkTypeLeaf", "WebBookmarkUUID": "B-1",
            "URLString": "https://www.apple.com/", "URIDictionary": {"title": "Apple"}}  # fmt: skip
    article = {
        "WebBookmarkType": "WebBookmarkTypeLeaf",
        "WebBookmarkUUID": "R-1",
        "URLString": "https://webkit.org/blog/",
        "URIDictionary": {"title": "WebKit"},
        "ReadingList": {"DateAdded": datetime(2024, 3, 1, 12), "PreviewText": "News"},
    }
    root = {
        "Children": [
            {"Title": "BookmarksBar", "WebBookmarkType": "WebBookmarkTypeList",
             "WebBookmarkUUID": "BAR", "Children": [leaf]},
            {"Title": "com.apple.ReadingList", "WebBookmarkType": "WebBookmarkTypeList",
             "WebBookmarkUUID": "RL", "ShouldOmitFromUI": True, "Children": [article]},
            {"WebBookmarkType": "WebBookmarkTypeLeaf", "WebBookmarkUUID": "BAD"},  # no URL
        ],
        "Title": "",
        "WebBookmarkFileVersion": 1,
        "WebBookmarkType": "WebBookmarkTypeList",
        "WebBookmarkUUID": "ROOT",
    }  # fmt: skip
    path.write_bytes(plistlib.dumps(root, fmt=plistlib.FMT_BINARY))


def test_importing_history_bookmarks_and_an_export_through_the_engine(
    repo: Repository, tmp_path: Path
) -> None:
    src = tmp_path / "Safari"
    src.mkdir()
    _bookmarks_plist(src / "Bookmarks.plist")
    (src / "notes.txt").write_text("not for this importer")
    grants = [f"file-system={src}", f"file-system={FIXTURES}", f"full-disk-access={src}",
              f"full-disk-access={FIXTURES}"]  # fmt: skip
    sources = [HISTORY, CHROME_HTML, src]
    config = {"max_error_rate": 0.5}
    op = api.import_(repo, "safari-data-import", sources, author="alice", grants=grants,
                     base=tmp_path, config=config)  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED, op.error
    assert op.counts["read"] == 4 + 27 + 3
    assert op.counts["inserted"] == 4 + 27 + 2
    assert op.counts["quarantined"] == 1
    nodes = api.nodes(repo)
    by_type: dict[str, int] = {}
    for node in nodes:
        by_type[str(node["node_type"])] = by_type.get(str(node["node_type"]), 0) + 1
    assert by_type == {"webpage": 4, "bookmark": 28, "article": 1}
    article = next(n for n in nodes if n["node_type"] == "article")
    assert article["id"] == node_id_for("safari", "R-1")
    assert article["folder"] == "Reading List"
    assert article["summary"] == "News"
    assert article["created_at"] == "2024-03-01T12:00:00Z"
    assert api.attachments(repo, str(article["id"])) == []
    (reason,) = [str(q["reason"]) for q in api.quarantine(repo, op.id)]
    assert "without URLString" in reason
    google = node_id_for("safari", "https://www.google.co.in/?client=safari&channel=mac_bm")
    (origin,) = api.lineage(repo, node=google)
    assert origin["locator"] == {"file": str(HISTORY), "record": "history_items:id=45"}
    assert origin["source_system"] == "safari"
    again = api.import_(repo, "safari-data-import", sources, author="alice", grants=grants,
                        base=tmp_path, config=config)  # fmt: skip
    assert again.counts["unchanged"] == 33
    assert (again.counts["inserted"], again.counts["updated"]) == (0, 0)


def test_a_changed_page_updates_its_node_and_nothing_else(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "Safari"
    src.mkdir()
    shutil.copyfile(HISTORY, src / "History.db")
    grants = [f"file-system={src}", f"full-disk-access={src}"]
    first = api.import_(repo, "safari-data-import", [src / "History.db"], author="alice",
                        grants=grants, base=tmp_path)  # fmt: skip
    assert first.state is State.SUCCEEDED
    assert first.counts["inserted"] == 4
    with sqlite3.connect(src / "History.db") as db:
        db.execute("INSERT INTO history_visits (history_item, visit_time, title)"
                   " VALUES (44, 623100000.0, 'Apple (India)')")  # fmt: skip
    db.close()
    second = api.import_(repo, "safari-data-import", [src / "History.db"], author="alice",
                         grants=grants, base=tmp_path)  # fmt: skip
    assert (second.counts["updated"], second.counts["unchanged"]) == (1, 3)
    apple = next(n for n in api.nodes(repo) if n["source_url"] == "https://www.apple.com/in/")
    assert apple["name"] == "Apple (India)"
    assert apple["properties"]["visits"] == 2


def test_the_engine_refuses_a_history_outside_the_grants(repo: Repository, tmp_path: Path) -> None:
    inside = tmp_path / "granted"
    inside.mkdir()
    grants = [f"file-system={inside}", f"full-disk-access={inside}"]
    op = api.create_operation(repo, "safari-data-import", [HISTORY], base=tmp_path, grants=grants)
    done = api.run_operation(repo, op.id, author="alice")
    assert done.state is State.FAILED
    assert "outside this operation's grants" in str(done.error)
    assert api.nodes(repo) == []
