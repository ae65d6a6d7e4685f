"""Reading a NoteStore by what it has: entities, columns, accounts, folders and notes.

Core Data keeps every Notes entity in one table, ``ZICCLOUDSYNCINGOBJECT``, and when two
entities share an attribute name it numbers the columns (``ZTITLE1`` is a note's title,
``ZTITLE2`` a folder's; a note's account is ``ZACCOUNT4`` on macOS 12 and ``ZACCOUNT7`` on
macOS 14). Which number an attribute gets changes between versions, so nothing here names a
numbered column alone: an attribute is read as its whole *family* (``ZTITLE``, ``ZTITLE1``,
``ZTITLE2``, ...) coalesced, the known column first. A row belongs to one entity and only that
entity's column of a family is set, so the coalesced value is the right one in every version
seen so far and in one that numbers its columns anew. Entity numbers come from
``Z_PRIMARYKEY`` by name (and sub-entities through ``Z_SUPER``), never from constants.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isometry.errors import SourceUnreadable
from isometry.sources.sqlitefile import Snapshot

TABLE = "ZICCLOUDSYNCINGOBJECT"
DATA_TABLE = "ZICNOTEDATA"
TRASH_FOLDER_TYPE = 1

Row = Mapping[str, Any]


def _family_key(column: str) -> tuple[str, int]:
    match = re.fullmatch(r"(.*?)(\d*)", column)
    assert match is not None
    return match.group(1), int(match.group(2) or -1)


class Columns:
    """The columns of ``ZICCLOUDSYNCINGOBJECT``, read as attribute families."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def family(self, base: str, *preferred: str) -> list[str]:
        """Every column of the attribute ``base``: the ``preferred`` ones (that exist) first,
        then the rest by number."""
        pattern = re.compile(re.escape(base) + r"\d*")
        members = sorted((c for c in self.names if pattern.fullmatch(c)), key=_family_key)
        first = [c for c in preferred if c in self.names]
        return first + [c for c in members if c not in first]

    def value(self, base: str, *preferred: str) -> str:
        """An SQL expression for the attribute (of the row ``o``), NULL when the store has no
        such column."""
        members = [f"o.{c}" for c in self.family(base, *preferred)]
        if not members:
            return "NULL"
        return members[0] if len(members) == 1 else f"COALESCE({', '.join(members)})"

    def expr(self, alias: str, base: str, *preferred: str) -> str:
        return f"{self.value(base, *preferred)} AS {alias}"

    def has(self, name: str) -> bool:
        return name in self.names


@dataclass(frozen=True, slots=True)
class Account:
    pk: int
    identifier: str
    name: str


@dataclass(frozen=True, slots=True)
class Folder:
    pk: int
    identifier: str
    title: str
    parent: int | None
    account: int | None
    trash: bool


# The note attributes read, as (alias, family, preferred columns). Columns that change when a
# note is merely viewed (last opened, last viewed) are left out on purpose: reading them would
# make an unchanged note look changed on every import.
NOTE_ATTRIBUTES = (
    ("identifier", "ZIDENTIFIER", ()),
    ("title", "ZTITLE", ("ZTITLE1",)),
    ("snippet", "ZSNIPPET", ()),
    ("created", "ZCREATIONDATE", ("ZCREATIONDATE3", "ZCREATIONDATE1")),
    ("modified", "ZMODIFICATIONDATE", ("ZMODIFICATIONDATE1",)),
    ("folder", "ZFOLDER", ()),
    ("account", "ZACCOUNT", ("ZACCOUNT7", "ZACCOUNT4")),
    ("folder_modified", "ZFOLDERMODIFICATIONDATE", ()),
    ("pinned", "ZISPINNED", ()),
    ("protected", "ZISPASSWORDPROTECTED", ()),
    ("crypto_iv", "ZCRYPTOINITIALIZATIONVECTOR", ()),
    ("has_checklist", "ZHASCHECKLIST", ()),
    ("checklist_in_progress", "ZHASCHECKLISTINPROGRESS", ()),
    ("system_paper", "ZISSYSTEMPAPER", ()),
    ("minimum_notes_version", "ZMINIMUMSUPPORTEDNOTESVERSION", ()),
)

ATTACHMENT_ATTRIBUTES = (
    ("identifier", "ZIDENTIFIER", ()),
    ("type_uti", "ZTYPEUTI", ("ZTYPEUTI", "ZTYPEUTI1")),
    ("title", "ZTITLE", ("ZTITLE",)),
    ("user_title", "ZUSERTITLE", ()),
    ("url", "ZURLSTRING", ()),
    ("alt_text", "ZALTTEXT", ()),
    ("token", "ZTOKENCONTENTIDENTIFIER", ()),
    ("summary", "ZSUMMARY", ()),
    ("media", "ZMEDIA", ()),
    ("mergeable", "ZMERGEABLEDATA", ("ZMERGEABLEDATA1",)),
    ("file_size", "ZFILESIZE", ()),
    ("created", "ZCREATIONDATE", ()),
    ("modified", "ZMODIFICATIONDATE", ()),
    ("image_generation", "ZFALLBACKIMAGEGENERATION", ()),
    ("pdf_generation", "ZFALLBACKPDFGENERATION", ()),
)


class NoteStore:
    """One open NoteStore snapshot, its schema discovered."""

    def __init__(self, snap: Snapshot, path: Path) -> None:
        self.path = path
        self.db = snap.connection
        self.db.row_factory = sqlite3.Row
        names = snap.columns(TABLE)
        if not names:
            raise SourceUnreadable(
                f"{path}: not an Apple Notes store (it has no {TABLE} table; stores written "
                "before iOS 9 keep notes in another form this importer does not read)"
            )
        self.columns = Columns(names)
        self.entities = self._entities()
        self.note_entities = self._kinds("ICNote")
        if not self.note_entities:
            raise SourceUnreadable(f"{path}: the store names no ICNote entity in Z_PRIMARYKEY")
        self.data_columns = frozenset(snap.columns(DATA_TABLE))
        self.accounts = self._accounts()
        self.folders = self._folders()
        # The column lists are worked out once per store, not once per note.
        self._note_select = self._select(NOTE_ATTRIBUTES)
        self._attachment_select = self._select(ATTACHMENT_ATTRIBUTES)
        self._media_select = self._select(
            [
                ("identifier", "ZIDENTIFIER", ()),
                ("filename", "ZFILENAME", ()),
                ("generation", "ZGENERATION", ("ZGENERATION1",)),
            ]
        )
        self._parent_columns = self.columns.family("ZPARENTATTACHMENT")

    # -- entities, accounts, folders ---------------------------------------------------------

    def _entities(self) -> dict[int, tuple[str, int | None]]:
        try:
            rows = self.db.execute("SELECT Z_ENT, Z_NAME, Z_SUPER FROM Z_PRIMARYKEY").fetchall()
        except sqlite3.Error as error:
            raise SourceUnreadable(f"{self.path}: cannot read Z_PRIMARYKEY: {error}") from None
        return {int(r[0]): (str(r[1]), int(r[2]) if r[2] else None) for r in rows}

    def _kinds(self, name: str) -> frozenset[int]:
        """The entity ``name`` and every entity derived from it."""
        found = {ent for ent, (entity, _) in self.entities.items() if entity == name}
        grew = True
        while grew:
            more = {e for e, (_, parent) in self.entities.items() if parent in found} - found
            found |= more
            grew = bool(more)
        return frozenset(found)

    def _select(self, attributes: Iterable[tuple[str, str, tuple[str, ...]]]) -> str:
        return ", ".join(self.columns.expr(alias, base, *pref) for alias, base, pref in attributes)

    def _rows_of(self, entities: frozenset[int], attributes: str) -> list[sqlite3.Row]:
        if not entities:
            return []
        marks = ",".join("?" * len(entities))
        return self.db.execute(
            f"SELECT o.Z_PK AS pk, {attributes} FROM {TABLE} o WHERE o.Z_ENT IN ({marks})",
            tuple(sorted(entities)),
        ).fetchall()

    def _accounts(self) -> dict[int, Account]:
        select = self._select([("identifier", "ZIDENTIFIER", ()), ("name", "ZNAME", ())])
        return {
            int(r["pk"]): Account(int(r["pk"]), str(r["identifier"] or ""), str(r["name"] or ""))
            for r in self._rows_of(self._kinds("ICAccount"), select)
        }

    def _folders(self) -> dict[int, Folder]:
        select = self._select(
            [
                ("identifier", "ZIDENTIFIER", ()),
                ("title", "ZTITLE", ("ZTITLE2",)),
                ("parent", "ZPARENT", ()),
                ("owner", "ZOWNER", ()),
                ("folder_type", "ZFOLDERTYPE", ()),
            ]
        )
        out: dict[int, Folder] = {}
        for r in self._rows_of(self._kinds("ICFolder"), select):
            identifier = str(r["identifier"] or "")
            trash = r["folder_type"] == TRASH_FOLDER_TYPE or identifier.startswith("TrashFolder")
            out[int(r["pk"])] = Folder(
                int(r["pk"]), identifier, str(r["title"] or ""),
                int(r["parent"]) if r["parent"] is not None else None,
                int(r["owner"]) if r["owner"] is not None else None,
                trash,
            )  # fmt: skip
        return out

    def folder_path(self, pk: int | None) -> list[Folder]:
        """The folder and its parents, outermost first (a loop in the data is cut)."""
        chain: list[Folder] = []
        seen: set[int] = set()
        while pk is not None and pk in self.folders and pk not in seen:
            seen.add(pk)
            folder = self.folders[pk]
            chain.append(folder)
            pk = folder.parent
        return list(reversed(chain))

    def in_trash(self, folder: int | None) -> bool:
        return any(f.trash for f in self.folder_path(folder))

    # -- notes -------------------------------------------------------------------------------

    def _note_filter(self, include_deleted: bool) -> tuple[str, list[int]]:
        entities = sorted(self.note_entities)
        where = [f"o.Z_ENT IN ({','.join('?' * len(entities))})"]
        params = list(entities)
        # Marked for deletion: removed by the user and waiting to be purged (an old copy of a
        # note that was locked since, say); never a note the app still shows.
        if self.columns.has("ZMARKEDFORDELETION"):
            where.append("COALESCE(o.ZMARKEDFORDELETION, 0) = 0")
        trash = sorted(pk for pk in self.folders if self.in_trash(pk))
        folder = self.columns.value("ZFOLDER")
        if not include_deleted and trash and folder != "NULL":
            where.append(f"COALESCE({folder}, -1) NOT IN ({','.join('?' * len(trash))})")
            params.extend(trash)
        return " AND ".join(where), params

    def count_notes(self, include_deleted: bool) -> int:
        where, params = self._note_filter(include_deleted)
        row = self.db.execute(f"SELECT count(*) FROM {TABLE} o WHERE {where}", params).fetchone()
        return int(row[0])

    def notes(self, after: int, include_deleted: bool) -> Iterator[sqlite3.Row]:
        """The notes with a primary key above ``after``, in key order, with their body."""
        where, params = self._note_filter(include_deleted)
        select = self._note_select
        body, crypto, join = "NULL AS body", "NULL AS body_crypto", ""
        if {"ZDATA", "Z_PK"} <= self.data_columns:
            body = "d.ZDATA AS body"
            if "ZCRYPTOTAG" in self.data_columns:
                crypto = "d.ZCRYPTOTAG AS body_crypto"
            if self.columns.has("ZNOTEDATA"):
                join = f"LEFT JOIN {DATA_TABLE} d ON d.Z_PK = o.ZNOTEDATA"
            elif "ZNOTE" in self.data_columns:
                join = f"LEFT JOIN {DATA_TABLE} d ON d.ZNOTE = o.Z_PK"
            else:
                body, crypto = "NULL AS body", "NULL AS body_crypto"
        query = (
            f"SELECT o.Z_PK AS pk, {select}, {body}, {crypto} FROM {TABLE} o {join} "
            f"WHERE {where} AND o.Z_PK > ? ORDER BY o.Z_PK"
        )
        yield from self.db.execute(query, [*params, after])

    # -- attachments -------------------------------------------------------------------------

    def attachments(self, identifiers: Iterable[str]) -> dict[str, sqlite3.Row]:
        """The attachment rows (inline ones too) with these identifiers."""
        wanted = sorted(set(identifiers))
        if not wanted or not self.columns.has("ZIDENTIFIER"):
            return {}
        select = self._attachment_select
        rows = self.db.execute(
            f"SELECT o.Z_PK AS pk, o.Z_ENT AS entity, {select} FROM {TABLE} o "
            f"WHERE o.ZIDENTIFIER IN ({','.join('?' * len(wanted))})",
            wanted,
        ).fetchall()
        return {str(r["identifier"]): r for r in rows}

    def children(self, parent: int) -> list[sqlite3.Row]:
        """The attachments inside a gallery (scanned pages), in the order they were added."""
        family = self._parent_columns
        if not family:
            return []
        select = self._attachment_select
        condition = " OR ".join(f"o.{c} = ?" for c in family)
        return self.db.execute(
            f"SELECT o.Z_PK AS pk, o.Z_ENT AS entity, {select} FROM {TABLE} o "
            f"WHERE {condition} ORDER BY o.Z_PK",
            [parent] * len(family),
        ).fetchall()

    def media(self, pk: int) -> sqlite3.Row | None:
        """The media row (file name and the folder generation it is stored under)."""
        row: sqlite3.Row | None = self.db.execute(
            f"SELECT o.Z_PK AS pk, {self._media_select} FROM {TABLE} o WHERE o.Z_PK = ?", (pk,)
        ).fetchone()
        return row
