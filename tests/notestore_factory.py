"""Synthetic Apple Notes stores in the real schema, for tests and the benchmark.

``NoteStoreWriter`` writes a ``NoteStore.sqlite`` whose ``ZICCLOUDSYNCINGOBJECT`` has every
column (name and type) of the store macOS 15 writes, with the same Core Data bookkeeping
(``Z_PRIMARYKEY`` entities, ``ZICNOTEDATA`` bodies as gzip-compressed protobuf, media rows,
inline attachment rows, tables as mergeable data). With ``container=True`` it writes a whole
``group.com.apple.notes`` folder: attachment files go where Notes keeps them
(``Accounts/<account>/Media/<media>/<generation>/<file>``).

A ``Layout`` renames the numbered columns and entity numbers, the way a new version of Notes
would: ``FUTURE`` is such a store, never seen by the importer, to prove it reads by what a
store has. ``Body`` builds note bodies run by run; ``synthetic_store`` fills a store with
realistic notes (formatting, lists, tables, hashtags, links, files, nested folders).
"""

from __future__ import annotations

import gzip
import random
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isometry.sources.applenotes.proto import MergableDataProto, NoteStoreProto
from paths import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES
NOTES_FIXTURES = FIXTURES / "apple-notes"

CORE_DATA_2025 = 757_382_400.0  # 2025-01-01T00:00:00Z in seconds since 2001-01-01

COLUMNS_MACOS15 = """
Z_PK:I Z_ENT:I Z_OPT:I ZCRYPTOITERATIONCOUNT:I ZHASMISSINGKEYCHAINITEM:I
ZISPASSWORDPROTECTED:I ZISSHAREDIRTY:I ZMARKEDFORDELETION:I ZMINIMUMSUPPORTEDNOTESVERSION:I
ZNEEDSINITIALFETCHFROMCLOUD:I ZNEEDSTOBEFETCHEDFROMCLOUD:I ZNEEDSTOSAVEUSERSPECIFICRECORD:I
ZCLOUDSTATE:I ZINVITATION:I ZLOCKEDNOTESMODE:I ZSUPPORTSV1NEO:I ZACCOUNT:I
ZCHECKEDFORLOCATION:I ZDIDRUNPAPERFORMDETECTION:I ZFILESIZE:I ZHANDWRITINGSUMMARYVERSION:I
ZHASMARKUPDATA:I ZHASPAPERFORM:I ZIMAGECLASSIFICATIONSUMMARYVERSION:I ZIMAGEFILTERTYPE:I
ZNEEDSINITIALRELATIONSHIPSETUP:I ZNEEDSTRANSCRIPTION:I ZOCRSUMMARYVERSION:I ZORIENTATION:I
ZSECTION:I ZURLEXPIRED:I ZACCOUNT1:I ZLOCATION:I ZMEDIA:I ZNOTE:I
ZNOTEUSINGTITLEFORNOTETITLE:I ZPARENTATTACHMENT:I ZAPPEARANCETYPE:I ZSCALEWHENDRAWING:I
ZVERSION:I ZVERSIONOUTOFDATE:I ZATTACHMENT:I ZSTATE:I ZACCOUNT2:I ZACCOUNT3:I
ZMENTIONNOTIFICATIONATTEMPTCOUNT:I ZMENTIONNOTIFICATIONSTATE:I ZACCOUNT4:I ZNOTE1:I
ZPARENTATTACHMENT1:I ZTYPE:I ZACCOUNT5:I ZACCOUNT6:I ZATTACHMENT1:I ZATTACHMENTVIEWTYPE:I
ZHASCHECKLIST:I ZHASCHECKLISTINPROGRESS:I ZHASEMPHASIS:I ZHASSYSTEMTEXTATTACHMENTS:I
ZISPINNED:I ZISSYSTEMPAPER:I ZLEGACYNOTEWASPLAINTEXT:I ZNOTEHASCHANGES:I ZPAPERSTYLETYPE:I
ZPREFERREDBACKGROUNDTYPE:I ZACCOUNT7:I ZFOLDER:I ZNOTEDATA:I ZTITLESOURCEATTACHMENT:I
ZDATEHEADERSTYPE:I ZISHIDDENNOTECONTAINER:I ZSORTORDER:I ZOWNER:I ZACCOUNTTYPE:I
ZDIDCHOOSETOMIGRATE:I ZDIDFINISHMIGRATION:I ZDIDMIGRATEONMAC:I
ZSERVERSIDEUPDATETASKFAILURECOUNT:I ZSTOREDATASEPARATELY:I ZACCOUNTDATA:I
ZCUSTOMNOTESORTTYPEVALUE:I ZFOLDERTYPE:I ZIMPORTEDFROMLEGACY:I ZACCOUNT8:I ZPARENT:I
ZCREATIONDATE:T ZCROPPINGQUADBOTTOMLEFTX:F ZCROPPINGQUADBOTTOMLEFTY:F
ZCROPPINGQUADBOTTOMRIGHTX:F ZCROPPINGQUADBOTTOMRIGHTY:F ZCROPPINGQUADTOPLEFTX:F
ZCROPPINGQUADTOPLEFTY:F ZCROPPINGQUADTOPRIGHTX:F ZCROPPINGQUADTOPRIGHTY:F ZDURATION:F
ZMODIFICATIONDATE:T ZORIGINX:F ZORIGINY:F ZPREVIEWUPDATEDATE:T ZSIZEHEIGHT:F ZSIZEWIDTH:F
ZHEIGHT:F ZMODIFIEDDATE:T ZSCALE:F ZWIDTH:F ZSTATEMODIFICATIONDATE:T ZCREATIONDATE1:T
ZCREATIONDATE2:T ZMODIFICATIONDATEATIMPORT:T ZCREATIONDATE3:T ZFOLDERMODIFICATIONDATE:T
ZLASTACTIVITYRECENTUPDATESVIEWEDDATE:T ZLASTACTIVITYSUMMARYVIEWEDDATE:T
ZLASTATTRIBUTIONSVIEWEDDATE:T ZLASTNOTIFIEDDATE:T ZLASTOPENEDDATE:T
ZLASTVIEWEDMODIFICATIONDATE:T ZLEGACYMODIFICATIONDATEATIMPORT:T ZMODIFICATIONDATE1:T
ZLASTSYNCDATE:T ZCUSTOMNOTESORTTYPEMODIFICATIONDATE:T ZDATEFORLASTTITLEMODIFICATION:T
ZPARENTMODIFICATIONDATE:T ZIDENTIFIER:V ZPASSWORDHINT:V ZZONEOWNERNAME:V
ZADDITIONALINDEXABLETEXT:V ZFALLBACKIMAGEGENERATION:V ZFALLBACKPDFGENERATION:V
ZFALLBACKSUBTITLEIOS:V ZFALLBACKSUBTITLEMAC:V ZFALLBACKTITLE:V ZHANDWRITINGSUMMARY:V
ZIMAGECLASSIFICATIONSUMMARY:V ZOCRSUMMARY:V ZPAPERBUNDLEGENERATION:V ZREMOTEFILEURLSTRING:V
ZSUMMARY:V ZTITLE:V ZTYPEUTI:V ZURLSTRING:V ZUSERTITLE:V ZGENERATION:V ZDEVICEIDENTIFIER:V
ZDISPLAYTEXT:V ZSTANDARDIZEDCONTENT:V ZALTTEXT:V ZTOKENCONTENTIDENTIFIER:V ZTYPEUTI1:V
ZCONTENTHASHATIMPORT:V ZFILENAME:V ZGENERATION1:V ZHOSTAPPLICATIONIDENTIFIER:V
ZLEGACYCONTENTHASHATIMPORT:V ZLEGACYIMPORTDEVICEIDENTIFIER:V
ZLEGACYMANAGEDOBJECTIDURIREPRESENTATION:V ZSELECTEDINKCOLORSTRING:V ZSELECTEDINKIDENTIFIER:V
ZSNIPPET:V ZTHUMBNAILATTACHMENTIDENTIFIER:V ZTITLE1:V ZWIDGETSNIPPET:V
ZACCOUNTNAMEFORACCOUNTLISTSORTING:V ZNESTEDTITLEFORSORTING:V ZNAME:V
ZSERVERSIDEUPDATETASKLASTATTEMPTEDBUILD:V ZSERVERSIDEUPDATETASKLASTATTEMPTEDVERSION:V
ZSERVERSIDEUPDATETASKLASTCOMPLETEDBUILD:V ZSERVERSIDEUPDATETASKLASTCOMPLETEDVERSION:V
ZUSERRECORDNAME:V ZSMARTFOLDERQUERYJSON:V ZTITLE2:V ZATTRIBUTEDSNIPPET:B ZATTRIBUTEDTITLE:B
ZREPLICAIDTOBUNDLEIDENTIFIER:B ZACTIVITYEVENTSDATA:B ZASSETCRYPTOINITIALIZATIONVECTOR:B
ZASSETCRYPTOTAG:B ZCRYPTOINITIALIZATIONVECTOR:B ZCRYPTOSALT:B ZCRYPTOTAG:B ZCRYPTOWRAPPEDKEY:B
ZENCRYPTEDVALUESJSON:B ZREPLICAIDTONOTESVERSIONDATA:B ZSERVERRECORDDATA:B ZSERVERSHAREDATA:B
ZUNAPPLIEDENCRYPTEDRECORDDATA:B ZUSERSPECIFICSERVERRECORDDATA:B ZCRYPTOPASSPHRASEVERIFIER:B
ZMERGEABLEDATA:B ZFALLBACKIMAGECRYPTOINITIALIZATIONVECTOR:B ZFALLBACKIMAGECRYPTOTAG:B
ZFALLBACKPDFCRYPTOINITIALIZATIONVECTOR:B ZFALLBACKPDFCRYPTOTAG:B
ZLINKPRESENTATIONARCHIVEDMETADATA:B ZMARKUPMODELDATA:B ZMERGEABLEDATA1:B
ZMERGEABLEPREFERREDVIEWSIZE:B ZMETADATADATA:B ZSYNAPSEDATA:B ZTEMPORARYTRANSCRIPTDATA:B
ZCRYPTOMETADATAINITIALIZATIONVECTOR:B ZCRYPTOMETADATATAG:B ZENCRYPTEDMETADATA:B ZMETADATA:B
ZLASTNOTIFIEDTIMESTAMPDATA:B ZLASTVIEWEDTIMESTAMPDATA:B ZOUTLINESTATEDATA:B
ZREPLICAIDTOUSERIDDICTDATA:B ZCRYPTOVERIFIER:B ZSERVERSIDEUPDATETASKCONTINUATIONTOKEN:B
ZMERGEABLEDATA2:B
"""
_TYPES = {"I": "INTEGER", "V": "VARCHAR", "T": "TIMESTAMP", "B": "BLOB", "F": "FLOAT"}

ENTITIES_MACOS15 = {
    "ICCloudState": (1, 0), "ICCloudSyncingObject": (2, 0), "ICAccountData": (3, 2),
    "ICAttachment": (4, 2), "ICAttachmentPreviewImage": (5, 2), "ICDeviceMigrationState": (6, 2),
    "ICHashtag": (7, 2), "ICInlineAttachment": (8, 2), "ICLegacyTombstone": (9, 2),
    "ICMedia": (10, 2), "ICNote": (11, 2), "ICNoteContainer": (12, 2), "ICAccount": (13, 12),
    "ICFolder": (14, 12), "ICInvitation": (15, 0), "ICLocation": (16, 0),
    "ICAttachmentLocation": (17, 16), "ICNoteData": (18, 0), "ICNoteParticipant": (19, 0),
    "ICServerChangeToken": (20, 0),
}  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """How a version of Notes names things: column renames (macOS 15 name -> this version's)
    and entity numbers."""

    name: str
    rename: Mapping[str, str] = field(default_factory=dict)
    entities: Mapping[str, tuple[int, int]] = field(default_factory=lambda: ENTITIES_MACOS15)
    extra_columns: tuple[str, ...] = ()

    def column(self, name: str) -> str:
        return self.rename.get(name, name)


MACOS15 = Layout("macOS 15")
# A version not seen before: the note's, folder's and attachment's numbered columns all moved,
# the entities renumbered (a new entity before ICNote), a column nobody knows added.
FUTURE = Layout(
    "future",
    rename={
        "ZTITLE1": "ZTITLE4", "ZTITLE2": "ZTITLE5", "ZCREATIONDATE3": "ZCREATIONDATE6",
        "ZMODIFICATIONDATE1": "ZMODIFICATIONDATE4", "ZACCOUNT7": "ZACCOUNT11",
        "ZACCOUNT8": "ZACCOUNT12", "ZTYPEUTI1": "ZTYPEUTI3", "ZMERGEABLEDATA1": "ZMERGEABLEDATA5",
        "ZGENERATION1": "ZGENERATION4",
    },
    entities={
        name: (number + 1 if number >= 11 else number, parent + 1 if parent >= 11 else parent)
        for name, (number, parent) in ENTITIES_MACOS15.items()
    }
    | {"ICBrandNewThing": (11, 2)},
    extra_columns=("ZSOMETHINGNEW1", "ZQUANTUMSTATE"),
)  # fmt: skip


def _columns(layout: Layout) -> list[tuple[str, str]]:
    out = []
    for token in COLUMNS_MACOS15.split():
        name, kind = token.split(":")
        out.append((layout.column(name), _TYPES[kind]))
    out.extend((name, "BLOB") for name in layout.extra_columns)
    return out


def core_time(days: float) -> float:
    """A Core Data time ``days`` after 2025-01-01."""
    return CORE_DATA_2025 + days * 86400


# -- bodies --------------------------------------------------------------------------------


@dataclass
class Run:
    text: str
    attrs: dict[str, Any] = field(default_factory=dict)


class Body:
    """A note body built line by line, encoded as Notes stores it."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def line(
        self,
        *parts: str | Run,
        style: int | None = None,
        indent: int = 0,
        checked: bool | None = None,
        quote: bool = False,
    ) -> Body:
        paragraph: dict[str, Any] = {}
        if style is not None:
            paragraph["style_type"] = style
        if indent:
            paragraph["indent_amount"] = indent
        if checked is not None:
            paragraph["checklist"] = {"uuid": uuid.uuid4().bytes, "done": int(checked)}
        if quote:
            paragraph["block_quote"] = 1
        for part in [*parts, "\n"]:
            run = part if isinstance(part, Run) else Run(part)
            self.runs.append((run.text, run.attrs, paragraph))
        return self

    def title(self, text: str) -> Body:
        return self.line(text, style=0)

    def attachment(self, identifier: str, uti: str, *, alone: bool = True) -> Body:
        run = Run("\ufffc", {"attachment_info": {"attachment_identifier": identifier,
                                                  "type_uti": uti}})  # fmt: skip
        return self.line(run) if alone else self.line("see ", run)

    def note_message(self) -> Any:
        message: Any = NoteStoreProto()
        note = message.document.note
        message.document.version = 1
        note.note_text = "".join(text for text, _, _ in self.runs)
        for text, attrs, paragraph in self.runs:
            run = note.attribute_run.add()
            run.length = len(text.encode("utf-16-le")) // 2
            if paragraph:
                _fill(run.paragraph_style, paragraph)
            else:
                run.paragraph_style.SetInParent()
            _fill(run, attrs)
        return message

    def encode(self) -> bytes:
        return gzip.compress(self.note_message().SerializeToString(), mtime=0)


def _fill(message: Any, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, Mapping):
            _fill(getattr(message, key), value)
        else:
            setattr(message, key, value)


def bold(text: str) -> Run:
    return Run(text, {"font_weight": 1})


def italic(text: str) -> Run:
    return Run(text, {"font_weight": 2})


def link(text: str, url: str) -> Run:
    return Run(text, {"link": url})


def table_data(rows: Sequence[Sequence[str]], *, right_to_left: bool = False) -> bytes:
    """A table as Notes stores it (``ZMERGEABLEDATA1`` of a ``com.apple.notes.table``)."""
    message: Any = MergableDataProto()
    data = message.mergable_data_object.data
    message.mergable_data_object.version = 1
    keys = ["identity", "crTableColumnDirection", "self", "crRows", "UUIDIndex", "crColumns",
            "cellColumns"]  # fmt: skip
    types = ["com.apple.CRDT.NSNumber", "com.apple.CRDT.NSString", "com.apple.CRDT.NSUUID",
             "com.apple.notes.ICTable"]  # fmt: skip
    data.key_item.extend(keys)
    data.type_item.extend(types)
    width = max(len(r) for r in rows)
    row_ids = [uuid.uuid4().bytes for _ in rows]
    column_ids = [uuid.uuid4().bytes for _ in range(width)]
    data.uuid_item.extend(row_ids + column_ids)
    entries: list[Any] = []

    def add() -> tuple[int, Any]:
        entry = data.entry.add()
        entries.append(entry)
        return len(entries) - 1, entry

    def uuid_ref(index: int) -> int:
        position, entry = add()
        entry.custom_map.type = types.index("com.apple.CRDT.NSUUID")
        item = entry.custom_map.map_entry.add()
        item.key = keys.index("UUIDIndex")
        item.value.unsigned_integer_value = index
        return position

    _, root = add()
    root.custom_map.type = types.index("com.apple.notes.ICTable")
    direction_at, direction = add()
    direction.register_latest.contents.string_value = (
        "CRTableColumnDirectionRightToLeft" if right_to_left else
        "CRTableColumnDirectionLeftToRight"
    )  # fmt: skip

    def ordered(ids: list[bytes], first: int) -> int:
        position, entry = add()
        array = entry.ordered_set.ordering.array
        array.contents.note_text = "\ufffc" * len(ids)
        for index, item_id in enumerate(ids):
            attachment = array.attachment.add()
            attachment.index = index
            attachment.uuid = item_id
            element = entry.ordered_set.ordering.contents.element.add()
            element.key.object_index = uuid_ref(first + index)
            element.value.object_index = uuid_ref(first + index)
        return position

    rows_at = ordered(row_ids, 0)
    columns_at = ordered(column_ids, len(row_ids))
    cells_at, cells = add()
    for column in range(width):
        element = cells.dictionary.element.add()
        element.key.object_index = uuid_ref(len(row_ids) + column)
        column_at, column_entry = add()
        element.value.object_index = column_at
        for row_index, row in enumerate(rows):
            if column >= len(row):
                continue
            cell = column_entry.dictionary.element.add()
            cell.key.object_index = uuid_ref(row_index)
            cell_at, cell_entry = add()
            cell.value.object_index = cell_at
            cell_entry.note.note_text = row[column]
            run = cell_entry.note.attribute_run.add()
            run.length = len(row[column].encode("utf-16-le")) // 2
    for key, target in (("crTableColumnDirection", direction_at), ("crRows", rows_at),
                        ("crColumns", columns_at), ("cellColumns", cells_at)):  # fmt: skip
        item = root.custom_map.map_entry.add()
        item.key = keys.index(key)
        item.value.object_index = target
    return gzip.compress(message.SerializeToString(), mtime=0)


# -- the store -----------------------------------------------------------------------------


class NoteStoreWriter:
    """Writes a NoteStore (see the module docstring). Use as a context manager."""

    def __init__(
        self, folder: Path, *, layout: Layout = MACOS15, container: bool = False,
        account: str = "LocalAccount", account_name: str = "On My Mac", seed: int = 0,
    ) -> None:  # fmt: skip
        self.root = folder / "group.com.apple.notes" if container else folder
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "NoteStore.sqlite"
        self.layout = layout
        self.random = random.Random(seed)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self._schema()
        self.next_pk = 1
        self.next_data = 1
        self.rows: dict[int, dict[str, Any]] = {}
        self.bodies: list[tuple[int, int, bytes | None, bytes | None]] = []
        self.account_id = account
        self.account = self._row("ICAccount", ZIDENTIFIER=account, ZNAME=account_name,
                                 ZACCOUNTTYPE=3, ZOWNER=None)  # fmt: skip
        self.default_folder = self.folder("Notes", identifier=f"DefaultFolder-{account}")
        self.trash = self.folder("Recently Deleted", identifier=f"TrashFolder-{account}",
                                 trash=True)  # fmt: skip

    def __enter__(self) -> NoteStoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _schema(self) -> None:
        columns = ", ".join(
            f"{name} {kind}" + (" PRIMARY KEY" if name == "Z_PK" else "")
            for name, kind in _columns(self.layout)
        )
        self.db.executescript(
            f"""
            CREATE TABLE ZICCLOUDSYNCINGOBJECT ({columns});
            CREATE TABLE ZICNOTEDATA (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
                ZNOTE INTEGER, ZCRYPTOINITIALIZATIONVECTOR BLOB, ZCRYPTOTAG BLOB, ZDATA BLOB);
            CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR,
                Z_SUPER INTEGER, Z_MAX INTEGER);
            CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255),
                Z_PLIST BLOB);
            CREATE INDEX ZICNOTEDATA_ZNOTE_INDEX ON ZICNOTEDATA (ZNOTE);
            CREATE UNIQUE INDEX Z_ICCloudSyncingObject_UNIQUE_identifier
                ON ZICCLOUDSYNCINGOBJECT (ZIDENTIFIER COLLATE BINARY ASC);
            """
        )
        for name in ("ZNOTE", "ZFOLDER", "ZMEDIA", "ZPARENT", "ZNOTEDATA", "Z_ENT"):
            self.db.execute(
                f"CREATE INDEX ZICCLOUDSYNCINGOBJECT_{name}_INDEX ON ZICCLOUDSYNCINGOBJECT ({name})"
            )
        self.db.executemany(
            "INSERT INTO Z_PRIMARYKEY VALUES (?, ?, ?, 0)",
            [(number, name, parent) for name, (number, parent) in self.layout.entities.items()],
        )
        self.db.execute("INSERT INTO Z_METADATA VALUES (1, ?, NULL)", (str(uuid.uuid4()).upper(),))

    def new_identifier(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4)).upper()

    def _row(self, entity: str, **values: Any) -> int:
        pk = self.next_pk
        self.next_pk += 1
        row: dict[str, Any] = {"Z_PK": pk, "Z_ENT": self.layout.entities[entity][0], "Z_OPT": 1}
        row.update({self.layout.column(k): v for k, v in values.items()})
        row.setdefault("ZIDENTIFIER", self.new_identifier())
        self.rows[pk] = row
        return pk

    def identifier(self, pk: int) -> str:
        return str(self.rows[pk]["ZIDENTIFIER"])

    def folder(self, title: str, *, parent: int | None = None, identifier: str | None = None,
               trash: bool = False) -> int:  # fmt: skip
        values: dict[str, Any] = {
            "ZTITLE2": title, "ZPARENT": parent, "ZOWNER": self.account,
            "ZACCOUNT8": self.account, "ZFOLDERTYPE": 1 if trash else 0,
        }  # fmt: skip
        if identifier is not None:
            values["ZIDENTIFIER"] = identifier
        return self._row("ICFolder", **values)

    def note(
        self, title: str, body: Body | bytes | None, *, folder: int | None = None,
        created: float = CORE_DATA_2025, modified: float | None = None, pinned: bool = False,
        protected: bool = False, marked_for_deletion: bool = False,
        identifier: str | None = None, snippet: str | None = None,
    ) -> int:  # fmt: skip
        data_pk = self.next_data
        self.next_data += 1
        values: dict[str, Any] = {
            "ZTITLE1": title, "ZFOLDER": folder or self.default_folder,
            "ZACCOUNT7": self.account, "ZNOTEDATA": data_pk, "ZCREATIONDATE3": created,
            "ZMODIFICATIONDATE1": modified if modified is not None else created + 60,
            "ZFOLDERMODIFICATIONDATE": (modified or created) + 120, "ZISPINNED": int(pinned),
            "ZISPASSWORDPROTECTED": int(protected), "ZMARKEDFORDELETION": int(marked_for_deletion),
            "ZSNIPPET": snippet, "ZLASTOPENEDDATE": created + 300,
        }  # fmt: skip
        if identifier is not None:
            values["ZIDENTIFIER"] = identifier
        if protected:
            values.update(ZCRYPTOINITIALIZATIONVECTOR=b"\x01" * 16, ZCRYPTOSALT=b"\x02" * 16,
                          ZCRYPTOTAG=b"\x03" * 16, ZCRYPTOWRAPPEDKEY=b"\x04" * 16)  # fmt: skip
        pk = self._row("ICNote", **values)
        data = body.encode() if isinstance(body, Body) else body
        if protected:
            data = bytes(self.random.getrandbits(8) for _ in range(64))
        self.bodies.append((data_pk, pk, data, b"\x05" * 16 if protected else None))
        return pk

    def hashtag(self, note: int, tag: str) -> str:
        pk = self._row("ICInlineAttachment", ZNOTE1=note, ZALTTEXT=f"#{tag}",
                       ZTOKENCONTENTIDENTIFIER=tag.upper(), ZACCOUNT4=self.account,
                       ZTYPEUTI1="com.apple.notes.inlinetextattachment.hashtag")  # fmt: skip
        self._row("ICHashtag", ZDISPLAYTEXT=tag, ZSTANDARDIZEDCONTENT=tag.upper(),
                  ZACCOUNT3=self.account)  # fmt: skip
        return self.identifier(pk)

    def note_link(self, note: int, text: str, target: str) -> str:
        url = f"applenotes:note/{target.lower()}?ownerIdentifier={self.account_id}"
        pk = self._row("ICInlineAttachment", ZNOTE1=note, ZALTTEXT=text,
                       ZTOKENCONTENTIDENTIFIER=url, ZACCOUNT4=self.account,
                       ZTYPEUTI1="com.apple.notes.inlinetextattachment.link")  # fmt: skip
        return self.identifier(pk)

    def table(self, note: int, rows: Sequence[Sequence[str]], **options: bool) -> str:
        pk = self._row("ICAttachment", ZNOTE=note, ZTYPEUTI="com.apple.notes.table",
                       ZMERGEABLEDATA1=table_data(rows, **options), ZACCOUNT1=self.account,
                       ZSUMMARY="\n".join(c for r in rows for c in r))  # fmt: skip
        return self.identifier(pk)

    def url(self, note: int, url: str, title: str) -> str:
        pk = self._row("ICAttachment", ZNOTE=note, ZTYPEUTI="public.url", ZURLSTRING=url,
                       ZTITLE=title, ZACCOUNT1=self.account)  # fmt: skip
        return self.identifier(pk)

    def file(self, note: int, filename: str, data: bytes, uti: str, *,
             on_disk: bool = True) -> str:  # fmt: skip
        """An attachment with its media row; its file written where Notes keeps it."""
        pk = self._row("ICAttachment", ZNOTE=note, ZTYPEUTI=uti, ZTITLE=filename,
                       ZFILESIZE=len(data), ZACCOUNT1=self.account)  # fmt: skip
        generation = f"1_{self.new_identifier()}"
        media = self._row("ICMedia", ZFILENAME=filename, ZGENERATION1=generation,
                          ZATTACHMENT1=pk, ZACCOUNT6=self.account)  # fmt: skip
        self.rows[pk][self.layout.column("ZMEDIA")] = media
        if on_disk:
            target = (self.root / "Accounts" / self.account_id / "Media"
                      / self.identifier(media) / generation / filename)  # fmt: skip
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return self.identifier(pk)

    def close(self) -> None:
        names = sorted({name for row in self.rows.values() for name in row})
        self.db.executemany(
            f"INSERT INTO ZICCLOUDSYNCINGOBJECT ({', '.join(names)}) "
            f"VALUES ({', '.join('?' * len(names))})",
            [tuple(row.get(name) for name in names) for row in self.rows.values()],
        )
        ent = self.layout.entities["ICNoteData"][0]
        self.db.executemany(
            "INSERT INTO ZICNOTEDATA (Z_PK, Z_ENT, Z_OPT, ZNOTE, ZDATA, ZCRYPTOTAG) "
            "VALUES (?, ?, 1, ?, ?, ?)",
            [(data_pk, ent, pk, data, tag) for data_pk, pk, data, tag in self.bodies],
        )
        self.db.commit()
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.execute("PRAGMA journal_mode=DELETE")
        self.db.close()
        self.rows.clear()
        self.bodies.clear()


# -- realistic stores ----------------------------------------------------------------------

WORDS = (
    "apple", "river", "stone", "cloud", "lamp", "garden", "paper", "window", "quiet", "orange",
    "travel", "music", "coffee", "harbour", "winter", "signal", "meadow", "copper", "lantern",
)  # fmt: skip
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x9a\xa0"
    b"\xa0\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()


def synthetic_store(folder: Path, notes: int, *, seed: int = 7, container: bool = True,
                    layout: Layout = MACOS15) -> Path:  # fmt: skip
    """A store of ``notes`` realistic notes: nested folders, formatted bodies (headings,
    bold and italic, links, checklists, bullet and numbered lists, quotes, code), and some
    hashtags, tables, links to other notes and PNG or PDF attachments. Returns its path."""
    rng = random.Random(seed)
    with NoteStoreWriter(folder, layout=layout, container=container, seed=seed) as store:
        top = [store.folder(f"Folder {i}") for i in range(5)]
        nested = [store.folder(f"Sub {i}", parent=rng.choice(top)) for i in range(10)]
        folders = [store.default_folder, *top, *nested]
        previous: str | None = None
        for index in range(notes):
            title = f"{_sentence(rng, 3)} {index}"
            body = Body().title(title)
            body.line(_sentence(rng, 6), " ", bold(_sentence(rng, 2)), " ",
                      italic(_sentence(rng, 2)), ".")  # fmt: skip
            body.line(_sentence(rng, 3), style=1)
            for _ in range(rng.randint(1, 3)):
                body.line(_sentence(rng, rng.randint(5, 14)), " ",
                          link("a link", f"https://example.com/{index}"), ".")  # fmt: skip
            body.line("")
            for item in range(rng.randint(2, 5)):
                body.line(_sentence(rng, 4), style=103, checked=item % 2 == 0)
            body.line("")
            for item in range(rng.randint(1, 4)):
                body.line(_sentence(rng, 3), style=rng.choice((100, 102)), indent=item % 2)
            if index % 5 == 0:
                body.line(_sentence(rng, 8), quote=True)
            if index % 7 == 0:
                body.line("print('hello')", style=4)
            created = core_time(index / 10)
            pk = store.note(title, None, folder=rng.choice(folders), created=created,
                            modified=created + 3600, pinned=index % 50 == 0,
                            snippet=_sentence(rng, 6))  # fmt: skip
            if index % 4 == 0:
                body.attachment(store.hashtag(pk, rng.choice(WORDS)), HASHTAG_UTI, alone=False)
            if index % 10 == 3:
                table = store.table(pk, [["Name", "Value"], [_sentence(rng, 1), str(index)]])
                body.attachment(table, "com.apple.notes.table")
            if index % 10 == 5 and previous is not None:
                body.attachment(store.note_link(pk, "the note before", previous), LINK_UTI,
                                alone=False)  # fmt: skip
            if index % 20 == 1:
                name, data, uti = (
                    ("photo.png", PNG, "public.png")
                    if index % 40 == 1
                    else ("paper.pdf", PDF + str(index).encode(), "com.adobe.pdf")
                )
                body.attachment(store.file(pk, name, data, uti, on_disk=container), uti)
            store.bodies[-1] = (store.bodies[-1][0], pk, body.encode(), None)
            previous = store.identifier(pk) if index % 10 == 4 else previous
        return store.path


HASHTAG_UTI = "com.apple.notes.inlinetextattachment.hashtag"
LINK_UTI = "com.apple.notes.inlinetextattachment.link"
