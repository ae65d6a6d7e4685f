"""The ``apple-notes`` importer: every note of every account of a ``NoteStore.sqlite``.

The store is read from a private copy (``sqlitefile.snapshot``), never written. Notes are
read in primary-key order and the cursor is ``{"pk": <Z_PK of the last note yielded>}``.

Which notes: every note that is not marked for deletion (a note the user removed and Notes
has yet to purge). Notes in Recently Deleted are left out unless the option
``include_deleted`` is true; they then carry ``deleted_at`` (the time they were moved there).
A password-protected note is never decrypted nor guessed at: it is yielded as ``Skipped``
(counted and named in the operation's log, not an error), naming it and saying why. A note
whose body cannot be decoded is ``Rejected`` with what failed.

Node fields: ``source_id`` is the note's identifier (``ZIDENTIFIER``), ``source_url`` the
``applenotes:note/<identifier>`` URL the app opens, ``name`` its title, ``content`` its body
as Markdown (see ``markdown``), ``summary`` the snippet Notes shows in its list, ``folder`` the
folder path inside its account joined with ``/``, ``tags`` its hashtags. The account, pinned
state, checklists, mentions and every attachment (with the hash of its file) go under
``properties``; links to other notes become ``LINK`` edges.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import orjson

from isometry.errors import SourceError
from isometry.model import JSON, node_id_for
from isometry.sources.applenotes.embeds import NoteEmbeds, note_link_target
from isometry.sources.applenotes.markdown import render_note
from isometry.sources.applenotes.proto import BodyError, ProtoMessage, parse_note
from isometry.sources.applenotes.store import TABLE, Account, Folder, NoteStore
from isometry.sources.base import Draft, Item, Locator, Opener, Options, Rejected, Scan, Skipped
from isometry.sources.options import OptionSpec
from isometry.sources.records import core_data_time, sha256_hex
from isometry.sources.sqlitefile import is_sqlite, snapshot

STORE_NAME = "notestore.sqlite"
NAME = "apple-notes"


class AppleNotesImporter:
    """Reads Apple Notes stores (see the module docstring)."""

    name: ClassVar[str] = NAME
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"notes", "file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = ()

    def accepts(self, path: Path) -> bool:
        if path.name.lower() == STORE_NAME:
            return True
        if path.suffix.lower() != ".sqlite" or not is_sqlite(path):
            return False
        try:
            # A look at the schema only (read-only and immutable: no lock, no file beside it).
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error:
            return False
        try:
            row = db.execute(
                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (TABLE,)
            ).fetchone()
        except sqlite3.Error:
            return False
        finally:
            db.close()
        return row is not None

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        with snapshot(path, opener) as snap:
            store = NoteStore(snap, path)
            records = store.count_notes(_include_deleted(options))
            return Scan(records=records, size=snap.size, fingerprint=snap.fingerprint)

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        after = _cursor_pk(cursor, path)
        include_deleted = _include_deleted(options)
        with snapshot(path, opener) as snap:
            store = NoteStore(snap, path)
            reader = _NoteReader(store, opener, path, include_deleted)
            for row in store.notes(after, include_deleted):
                yield reader.item(row), {"pk": int(row["pk"])}


def _include_deleted(options: Options) -> bool:
    return options.flag("include_deleted")


def _cursor_pk(cursor: JSON, path: Path) -> int:
    if cursor is None:
        return 0
    pk = cursor.get("pk") if isinstance(cursor, dict) else None
    if not isinstance(pk, int) or isinstance(pk, bool) or pk < 0:
        raise SourceError(f"{path}: {cursor!r} is not a cursor of the apple-notes importer")
    return pk


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _flag(value: object) -> bool:
    return bool(value) if isinstance(value, int) else False


class _NoteReader:
    """Turns note rows of one store into drafts."""

    def __init__(self, store: NoteStore, opener: Opener, path: Path, include_deleted: bool):
        self.store = store
        self.opener = opener
        self.file = str(path.resolve())
        self.base = path.resolve().parent
        self.include_deleted = include_deleted

    def item(self, row: sqlite3.Row) -> Item:
        pk = int(row["pk"])
        locator = Locator(self.file, f"{TABLE}.Z_PK={pk}")
        fields = self._fields(row)
        identifier = _text(row["identifier"])
        title = _text(row["title"])
        label = (
            f"note {title!r} ({identifier or f'Z_PK {pk}'})"
            if title
            else (f"note {identifier or f'Z_PK {pk}'}")
        )
        raw_fields = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()
        if identifier is None:
            return Rejected(locator, raw_fields, f"{label} has no identifier (ZIDENTIFIER)")
        if _flag(row["protected"]) or row["crypto_iv"] is not None or row["body_crypto"]:
            return Skipped(
                locator, raw_fields,
                f"{label} is password protected and was skipped: its body is encrypted",
            )  # fmt: skip
        body = row["body"]
        if not isinstance(body, bytes) or not body:
            return Rejected(locator, raw_fields, f"{label} has no body in ZICNOTEDATA")
        try:
            note = parse_note(body)
        except BodyError as error:
            return Rejected(locator, raw_fields, f"{label}: {error}")
        return self._draft(row, note, identifier, title, fields, locator)

    def _fields(self, row: sqlite3.Row) -> dict[str, JSON]:
        """The note's row as JSON: bytes as their SHA-256, for the raw form and its hash."""
        out: dict[str, JSON] = {}
        for key in row.keys():  # noqa: SIM118 - sqlite3.Row has no items()
            value = row[key]
            out[key] = {"sha256": sha256_hex(value)} if isinstance(value, bytes) else value
        return out

    def _draft(
        self,
        row: sqlite3.Row,
        note: ProtoMessage,
        identifier: str,
        title: str | None,
        fields: dict[str, JSON],
        locator: Locator,
    ) -> Draft:
        folder_pk = row["folder"] if isinstance(row["folder"], int) else None
        chain = self.store.folder_path(folder_pk)
        account = self._account(row, chain)
        identifiers = {
            run.attachment_info.attachment_identifier
            for run in note.attribute_run
            if run.HasField("attachment_info")
        }
        embeds = NoteEmbeds(
            self.store, self.opener, self.base, account.identifier if account else "",
            self.store.attachments(identifiers),
        )  # fmt: skip
        content, links = render_note(note, embeds)
        node_id = node_id_for(NAME, identifier)
        targets: list[str] = []
        for url in [*links, *embeds.links]:
            target = note_link_target(url)
            if target is not None and target != identifier and target not in targets:
                targets.append(target)
        properties: dict[str, JSON] = {
            "pinned": _flag(row["pinned"]),
            "account": account.name if account else None,
            "account_identifier": account.identifier if account else None,
            "folder_identifier": chain[-1].identifier if chain else None,
            "has_checklist": _flag(row["has_checklist"]),
            "checklist_in_progress": _flag(row["checklist_in_progress"]),
            "system_paper": _flag(row["system_paper"]),
            "minimum_notes_version": row["minimum_notes_version"],
        }
        if embeds.records:
            properties["attachments"] = embeds.records
        if embeds.mentions:
            properties["mentions"] = embeds.mentions
        in_trash = any(folder.trash for folder in chain)
        properties["recently_deleted"] = in_trash
        modified = core_data_time(row["modified"])
        node: dict[str, JSON] = {
            "node_type": "note",
            "source": NAME,
            "source_id": identifier,
            "source_url": f"applenotes:note/{identifier}",
            "name": title or _first_line(note) or "",
            "content": content,
            "summary": _text(row["snippet"]),
            "created_at": core_data_time(row["created"]),
            "modified_at": modified,
            "folder": "/".join(folder.title for folder in chain) or None,
            "tags": embeds.tags,
            "deleted_at": (core_data_time(row["folder_modified"]) or modified)
            if in_trash
            else None,
            "properties": {k: v for k, v in properties.items() if v is not None},
        }
        raw = orjson.dumps(
            {"note": fields, "folder": node["folder"], "account": properties.get("account"),
             "attachments": embeds.records},
            option=orjson.OPT_SORT_KEYS,
        )  # fmt: skip
        edges = tuple(
            {"edge_type": "LINK", "source_id": node_id, "target_id": node_id_for(NAME, target)}
            for target in targets
        )
        return Draft(
            node=node,
            locator=locator,
            source_hash=sha256_hex(raw),
            raw=raw.decode(),
            edges=edges,
            attachments=tuple(embeds.files),
        )

    def _account(self, row: sqlite3.Row, chain: list[Folder]) -> Account | None:
        """The note's account: its folder's owner (named the same in every version), else
        the note's own account column."""
        for pk in [*(f.account for f in reversed(chain)), row["account"]]:
            if isinstance(pk, int) and pk in self.store.accounts:
                return self.store.accounts[pk]
        return None


def _first_line(note: ProtoMessage) -> str | None:
    for line in str(note.note_text).split("\n"):
        text = line.replace("\ufffc", "").strip()
        if text:
            return text[:200]
    return None
