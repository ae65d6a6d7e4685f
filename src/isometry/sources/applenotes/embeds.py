"""What the attachments of one note become: Markdown in its body, files for the content store,
tags, links to other notes, and a record of each in the node's properties.

Files are looked up beside the store, where the Notes container keeps them:
``Accounts/<account>/Media/<media>/<generation>/<file name>`` (macOS 13 and later; without the
generation folder before), ``Media/<media>/<file name>`` (older stores), and for drawings and
Paper documents the images and PDFs Notes renders of them, ``FallbackImages`` and
``FallbackPDFs``, in the same shapes. A file that is not there (a store handed over without
its container) leaves a visible marker in the body and ``"found": false`` in the node's
``attachments`` property: the note itself is still imported.
"""

from __future__ import annotations

import mimetypes
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from isometry.errors import PermissionRefused, SourceUnreadable
from isometry.model import JSON
from isometry.sources.applenotes.markdown import Embed, Renderer, escape_inline
from isometry.sources.applenotes.proto import BodyError
from isometry.sources.applenotes.store import NoteStore
from isometry.sources.applenotes.tables import table_markdown, table_rows
from isometry.sources.base import Attachment, Opener, attachment_link
from isometry.sources.records import digest_stream, open_source

HASHTAG = "com.apple.notes.inlinetextattachment.hashtag"
MENTION = "com.apple.notes.inlinetextattachment.mention"
NOTE_LINK = "com.apple.notes.inlinetextattachment.link"
INLINE_PREFIX = "com.apple.notes.inlinetextattachment."
TABLE = "com.apple.notes.table"
URL = "public.url"
GALLERY = "com.apple.notes.gallery"
DRAWINGS = frozenset({"com.apple.drawing", "com.apple.drawing.2", "com.apple.paper"})
IMAGE_TYPES = frozenset(
    {"public.jpeg", "public.png", "public.heic", "public.image", "public.tiff",
     "com.compuserve.gif", "org.webmproject.webp", "com.apple.notes.sketch"}
)  # fmt: skip
NOTE_URL_SCHEME = "applenotes"
# Files up to this size are read once and handed over as bytes; larger ones are hashed here
# and read again by the engine, so a video never sits in memory whole.
KEEP_IN_MEMORY = 1 << 20


def note_link_target(url: str) -> str | None:
    """The identifier of the note an ``applenotes:`` URL opens, else None. Notes writes the
    identifier in lower case in links and in upper case in the store: it is upper-cased."""
    parsed = urlparse(url)
    if parsed.scheme.lower() != NOTE_URL_SCHEME:
        return None
    target = ""
    if parsed.path.startswith("note/"):
        target = parsed.path[len("note/") :]
    elif parsed.netloc.lower() == "showNote".lower():
        target = (parse_qs(parsed.query).get("identifier") or [""])[0]
    target = target.strip("/")
    return target.upper() if target else None


@dataclass(slots=True)
class _Found:
    path: Path
    digest: str
    data: bytes | None


@dataclass
class NoteEmbeds:
    """The ``Embeds`` of one note: answers the Markdown renderer and keeps what it learned."""

    store: NoteStore
    opener: Opener
    base: Path
    account: str
    rows: dict[str, sqlite3.Row]
    tags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)
    records: list[dict[str, JSON]] = field(default_factory=list)
    _done: dict[str, Embed] = field(default_factory=dict)

    def embed(self, identifier: str, type_uti: str) -> Embed:
        known = self._done.get(identifier)
        if known is None:
            known = self._done[identifier] = self._make(identifier, type_uti)
        return known

    # -- by kind -----------------------------------------------------------------------------

    def _make(self, identifier: str, type_uti: str) -> Embed:
        row = self.rows.get(identifier)
        uti = str(row["type_uti"]) if row is not None and row["type_uti"] else type_uti
        record: dict[str, JSON] = {"identifier": identifier, "type": uti}
        self.records.append(record)
        if row is None:
            record["found"] = False
            return Embed(escape_inline(f"[attachment {identifier} ({uti}) is not in the store]"))
        if uti.startswith(INLINE_PREFIX):
            return self._inline(row, uti, record)
        if uti == TABLE:
            return self._table(row, record)
        if uti == URL:
            return self._url(row, record)
        if uti == GALLERY:
            parts = [self._file(child, self._uti(child), {}) for child in self._children(row)]
            record["pages"] = len(parts)
            return Embed(" ".join(p.markdown for p in parts))
        return self._file(row, uti, record)

    @staticmethod
    def _uti(row: sqlite3.Row) -> str:
        return str(row["type_uti"] or "")

    def _children(self, row: sqlite3.Row) -> list[sqlite3.Row]:
        return self.store.children(int(row["pk"]))

    def _inline(self, row: sqlite3.Row, uti: str, record: dict[str, JSON]) -> Embed:
        text = str(row["alt_text"] or row["token"] or "")
        record["text"] = text
        if uti == HASHTAG:
            tag = text.lstrip("#").strip()
            if tag and tag not in self.tags:
                self.tags.append(tag)
            return Embed(escape_inline(text))
        if uti == MENTION:
            self.mentions.append(text.lstrip("@"))
            return Embed(escape_inline(text))
        if uti == NOTE_LINK and row["token"]:
            url = str(row["token"])
            self.links.append(url)
            record["url"] = url
            return Embed(f"[{escape_inline(text or url)}]({url.replace(' ', '%20')})")
        return Embed(escape_inline(text))

    def _table(self, row: sqlite3.Row, record: dict[str, JSON]) -> Embed:
        data = row["mergeable"]
        if not isinstance(data, bytes):
            record["problem"] = "the table has no data"
            return Embed(escape_inline("[table without data]"))
        try:
            rows = table_rows(data)
        except BodyError as error:
            record["problem"] = f"the table cannot be read: {error}"
            return Embed(escape_inline("[unreadable table]"))
        renderer = Renderer(self)
        markdown = table_markdown(rows, renderer)
        self.links.extend(renderer.links)
        record["rows"] = len(rows)
        record["columns"] = len(rows[0]) if rows else 0
        return Embed(markdown, block=True)

    def _url(self, row: sqlite3.Row, record: dict[str, JSON]) -> Embed:
        url = str(row["url"] or "")
        title = str(row["title"] or row["user_title"] or url)
        record.update({"url": url, "name": title})
        if not url:
            return Embed(escape_inline(title))
        return Embed(f"[{escape_inline(title)}]({url.replace(' ', '%20')})")

    def _file(self, row: sqlite3.Row, uti: str, record: dict[str, JSON]) -> Embed:
        identifier = str(row["identifier"])
        name, candidates = self._candidates(row, uti)
        record.setdefault("identifier", identifier)
        record.setdefault("type", uti)
        record["name"] = name
        found = self._first_readable(candidates, record)
        if found is None:
            record["found"] = False
            return Embed(escape_inline(f"[attachment {name} is not beside the store]"))
        record.update({"found": True, "sha256": found.digest,
                       "file": found.path.relative_to(self.base).as_posix()})  # fmt: skip
        image = uti in IMAGE_TYPES or (uti in DRAWINGS and found.path.suffix != ".pdf")
        mime = mimetypes.guess_type(found.path.name)[0]
        self.files.append(
            Attachment(name, data=found.data, path=None if found.data is not None else found.path,
                       role="inline-image" if image else "attachment", mime_type=mime)
        )  # fmt: skip
        link = attachment_link(found.digest)
        return Embed(f"{'!' if image else ''}[{escape_inline(name)}]({link})")

    # -- files on disk -----------------------------------------------------------------------

    def _candidates(self, row: sqlite3.Row, uti: str) -> tuple[str, list[Path]]:
        identifier = str(row["identifier"])
        account = self.base / "Accounts" / self.account
        name = str(row["title"] or row["user_title"] or identifier)
        paths: list[Path] = []
        media = self.store.media(int(row["media"])) if row["media"] is not None else None
        if media is not None and media["filename"]:
            filename = str(media["filename"])
            name = str(row["title"] or filename)
            folder = str(media["identifier"])
            generation = str(media["generation"] or "")
            for root in (account / "Media" / folder, self.base / "Media" / folder):
                if generation:
                    paths.append(root / generation / filename)
                paths.append(root / filename)
            paths.extend(_any_generation(account / "Media" / folder, filename))
        if uti in DRAWINGS or not paths:
            image_gen = str(row["image_generation"] or "")
            pdf_gen = str(row["pdf_generation"] or "")
            for root in (account, self.base):
                if uti == "com.apple.paper":
                    if pdf_gen:
                        paths.append(
                            root / "FallbackPDFs" / identifier / pdf_gen / "FallbackPDF.pdf"
                        )
                    paths.append(root / "FallbackPDFs" / f"{identifier}.pdf")
                if image_gen:
                    paths.append(
                        root / "FallbackImages" / identifier / image_gen / "FallbackImage.png"
                    )
                paths.extend(
                    root / "FallbackImages" / f"{identifier}{s}" for s in (".png", ".jpg", ".jpeg")
                )
        return name, paths

    def _first_readable(self, candidates: list[Path], record: dict[str, JSON]) -> _Found | None:
        for path in candidates:
            if not path.is_file():
                continue
            try:
                return _read(path, self.opener)
            except (SourceUnreadable, PermissionRefused) as error:
                record["problem"] = str(error)
        return None


def _any_generation(folder: Path, filename: str) -> list[Path]:
    """The file under any generation folder (when the store names another generation than
    the one on disk, as a half-synced container can)."""
    try:
        return sorted(p / filename for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []


def _read(path: Path, opener: Opener) -> _Found:
    with open_source(path, opener) as stream:
        digest, _, data = digest_stream(stream, keep=KEEP_IN_MEMORY)
    return _Found(path, digest, data)
