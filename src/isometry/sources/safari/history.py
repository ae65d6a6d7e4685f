"""Safari's ``History.db``: one ``webpage`` node per history item (URL).

Any SQLite file with the tables ``history_items`` and ``history_visits`` is read, from a
read-only snapshot (``sqlitefile.snapshot``), so a database Safari still has open is read as one
consistent state and never touched. Tables are read by the columns they have, not by a version.

A node: name = the title of the latest visit that had one (else the URL), source_url and
source_id = the URL (the same page is the same node on every machine), created_at = first visit,
modified_at = last visit; properties: ``visit_count`` (Safari's own count), ``visits`` (rows in
``history_visits``), ``first_visit``, ``last_visit``, ``domain_expansion`` and every other
column of ``history_items``. The visits themselves are summarised, not copied (a busy history
holds hundreds of thousands), and so are ``daily_visit_counts`` and ``weekly_visit_counts``:
counters Safari derives from those visits in a private binary encoding. Other binary columns
are kept as base64. Safari's topic tags (``history_tags``), where the database has them, are
the node's tags.

Items are read in primary-key order; the cursor ``{"id": last id read}`` resumes after it, so
rows added since are read and none is read twice. A row without a URL, or with text that is not
UTF-8, is ``Rejected``; a database too damaged to query is ``SourceUnreadable``.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from isometry.errors import SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Draft, Item, Locator, Opener, Rejected, Scan
from isometry.sources.records import core_data_time, cursor_position, sha256_hex
from isometry.sources.sqlitefile import Snapshot, is_sqlite, quoted, snapshot

SOURCE = "safari"
ITEMS = "history_items"
VISITS = "history_visits"
NEEDED: dict[str, tuple[str, ...]] = {
    ITEMS: ("id", "url", "visit_count"),
    VISITS: ("history_item", "visit_time", "title"),
}
# Counters Safari derives from the visits in its own binary encoding; the visits they count
# are summarised in ``visits``, ``first_visit`` and ``last_visit`` instead.
DERIVED = frozenset({"daily_visit_counts", "weekly_visit_counts"})
TAG_TABLES = ("history_tags", "history_items_to_tags")
_MAPPED = ("id", "url", "visit_count")
_FETCH = 500


def accepts(path: Path) -> bool:
    """A SQLite file holding Safari's two history tables (a look at its schema, nothing more:
    opened immutable, so not even a lock or a journal is written)."""
    if not is_sqlite(path):
        return False
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return False
    try:
        rows = connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN (?, ?)",
            (ITEMS, VISITS),
        ).fetchall()
    except (sqlite3.Error, UnicodeDecodeError):  # a damaged schema: not a history to read
        return False
    finally:
        connection.close()
    return len(rows) == 2


def scan(path: Path, opener: Opener) -> Scan:
    with _opened(path, opener) as snap:
        (records,) = snap.connection.execute(f"SELECT count(*) FROM {ITEMS}").fetchone()
        return Scan(records=int(records), size=snap.size, fingerprint=snap.fingerprint)


def read(path: Path, opener: Opener, cursor: JSON) -> Iterator[tuple[Item, JSON]]:
    (after,) = cursor_position(cursor, ("id",), path)
    file = str(path.resolve())
    with _opened(path, opener) as snap:
        query, names = _query(snap)
        # Text that is not UTF-8 (a damaged row) is kept, escaped, so that row alone is
        # rejected instead of the read stopping there.
        snap.connection.text_factory = _lenient_text
        rows = snap.connection.execute(query, (after,))
        while batch := rows.fetchmany(_FETCH):
            for row in batch:
                fields = dict(zip(names, row, strict=True))
                yield _item(file, fields), {"id": fields["id"]}


@contextmanager
def _opened(path: Path, opener: Opener) -> Iterator[Snapshot]:
    """The snapshot of a History.db, its schema checked. A damaged database can fail at any
    query, with SQLite's errors or with text that does not decode: either makes the file
    unreadable, named."""
    try:
        with snapshot(path, opener) as snap:
            _check_schema(path, snap)
            yield snap
    except (sqlite3.DatabaseError, UnicodeDecodeError) as error:
        raise SourceUnreadable(f"{path}: not a readable History.db: {error}") from None


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _undecodable(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_schema(path: Path, snap: Snapshot) -> None:
    for table, columns in NEEDED.items():
        missing = [c for c in columns if c not in snap.columns(table)]
        if missing:
            raise SourceUnreadable(
                f"{path} is not a Safari History.db: {table} lacks {', '.join(missing)}"
            )


def _query(snap: Snapshot) -> tuple[str, list[str]]:
    """The items after a given id with their visits summarised, and the names of its columns."""
    extra = [c for c in snap.columns(ITEMS) if c not in _MAPPED and c not in DERIVED]
    names = [*_MAPPED, *extra, "visits", "first_visit_time", "last_visit_time", "title"]
    selected = [f"i.{quoted(c)}" for c in (*_MAPPED, *extra)]
    of_item = f"FROM {VISITS} v WHERE v.history_item = i.id"
    selected += [
        f"(SELECT count(*) {of_item})",
        f"(SELECT min(v.visit_time) {of_item})",
        f"(SELECT max(v.visit_time) {of_item})",
        # The newest title: a visit that failed or redirected often has none.
        f"(SELECT v.title {of_item} AND trim(coalesce(v.title, '')) <> ''"
        " ORDER BY v.visit_time DESC, v.rowid DESC LIMIT 1)",
    ]
    tables = snap.tables()
    if all(t in tables for t in TAG_TABLES):
        names.append("tags")
        selected.append(
            "(SELECT json_group_array(t.title) FROM history_items_to_tags x"
            " JOIN history_tags t ON t.id = x.tag_id WHERE x.history_item = i.id)"
        )
    query = f"SELECT {', '.join(selected)} FROM {ITEMS} i WHERE i.id > ? ORDER BY i.id"
    return query, names


def _plain(value: object) -> JSON:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _item(file: str, fields: dict[str, object]) -> Item:
    plain = {name: _plain(value) for name, value in fields.items()}
    locator = Locator(file, f"{ITEMS}:id={fields['id']}")
    damaged = [name for name, value in fields.items() if _undecodable(value)]
    if damaged:
        raw = json.dumps(plain, sort_keys=True)  # escaped: the text is not valid UTF-8
        reason = f"{ITEMS} id={fields['id']}: {', '.join(damaged)} is not valid UTF-8"
        return Rejected(locator, raw, reason)
    raw = json.dumps(plain, ensure_ascii=False, sort_keys=True)
    url = fields["url"]
    if not isinstance(url, str) or not url.strip():
        return Rejected(locator, raw, f"{ITEMS} id={fields['id']} has no URL")
    title = fields["title"]
    first, last = fields["first_visit_time"], fields["last_visit_time"]
    properties: dict[str, JSON] = {"visit_count": plain["visit_count"], "visits": plain["visits"]}
    for name, value in (("first_visit", first), ("last_visit", last)):
        if value is not None:
            properties[name] = core_data_time(value) or plain[f"{name}_time"]
    skip = {*_MAPPED, "visits", "first_visit_time", "last_visit_time", "title", "tags"}
    properties.update((k, v) for k, v in plain.items() if k not in skip and v is not None)
    node: dict[str, JSON] = {
        "source": SOURCE,
        "source_id": url,
        "node_type": "webpage",
        "name": title.strip() if isinstance(title, str) else url,
        "source_url": url,
        "created_at": core_data_time(first),
        "modified_at": core_data_time(last),
        "properties": properties,
    }
    tags = _tags(fields.get("tags"))
    if tags:
        node["tags"] = tags
    return Draft(node=node, locator=locator, source_hash=sha256_hex(raw.encode()), raw=raw)


def _tags(value: object) -> Sequence[str]:
    if not isinstance(value, str):
        return []
    titles = json.loads(value)  # written by json_group_array: always a JSON array
    return sorted({t.strip() for t in titles if isinstance(t, str) and t.strip()})
