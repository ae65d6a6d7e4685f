"""Netscape bookmark files: the HTML every browser exports its bookmarks as (Safari, Chrome,
Firefox, Edge), starting with ``<!DOCTYPE NETSCAPE-Bookmark-file-1>``.

The format is HTML of the nineties: ``<DT>`` and ``<p>`` are never closed, a folder is a
``<DT><H3>name</H3>`` followed by a ``<DL>`` that holds its entries, a bookmark is a
``<DT><A HREF=... ADD_DATE=...>title</A>``, optionally followed by a ``<DD>`` description. So
the file is read as a stream of tag events (``html.parser``), fed one line at a time, and the
folder path is a stack: a ``<DL>`` opens the folder whose heading came just before it (or an
unnamed level, as the outer list is), ``</DL>`` closes it. A heading without a list after it is
an empty folder. Safari's export marks its Reading List with ``<H3 id="com.apple.ReadingList">``:
bookmarks in it are ``article`` nodes, their ``<DD>`` the preview text.

A node: name = the link text (else the URL), source_url = HREF, folder = the enclosing headings
joined with ``/``, created_at / modified_at = ADD_DATE / LAST_MODIFIED (epoch seconds; larger
numbers are taken as milliseconds or microseconds, as some tools write them; 0 means unset),
tags = TAGS (comma-separated), summary = the ``<DD>``; every other attribute (ICON, ICON_URI,
LAST_VISIT, SHORTCUTURL...) goes into properties under its lower-case name. The file has no
identifiers, so source_id = ``<file>#<folder path>/<url>``, with `` #2``, `` #3``... for the same
URL again in the same folder: a bookmark added above another does not change its identity.
The locator is the file, that key, and the line (and byte range) of the ``<A>``.

The text is decoded in the charset the file declares (UTF-8 when it declares none); a bookmark
on a line that is not valid in it is ``Rejected``, as is one without HREF. Cursor ``{"index":
bookmarks read}``: resume reads the file again from the start (the folder stack and the
repeat counts depend on everything before) and skips that many, without building nodes.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO

from isometry.model import JSON, utc_timestamp
from isometry.sources.base import Draft, Item, Locator, Opener, Rejected, Scan
from isometry.sources.records import cursor_position, open_source, sha256_hex

SOURCE = "safari"
SUFFIXES = frozenset({".html", ".htm"})
DOCTYPE = b"<!doctype netscape-bookmark-file-1>"
READING_LIST_ID = "com.apple.ReadingList"
BOM = codecs.BOM_UTF8
_PEEK = 1024
_CHARSET = re.compile(rb"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Epoch numbers at least this large are milliseconds, then microseconds: as seconds they would
# lie thousands of years ahead.
_MILLISECONDS_FROM = 100_000_000_000
_MICROSECONDS_FROM = 100_000_000_000_000
TIME_FIELDS = {"add_date": "created_at", "last_modified": "modified_at"}
TIME_PROPERTIES = frozenset({"last_visit"})


def looks_like(head: bytes) -> bool:
    """Whether a file's first bytes carry the Netscape bookmark doctype."""
    return DOCTYPE in head[:_PEEK].lower()


def accepts(path: Path) -> bool:
    """An ``.html`` / ``.htm`` file with the Netscape bookmark doctype in its first KB (an
    ordinary web page has none, and is left to the importers of pages)."""
    if path.suffix.lower() not in SUFFIXES:
        return False
    try:
        with path.open("rb") as stream:
            return looks_like(stream.read(_PEEK))
    except OSError:
        return False


def scan(path: Path, opener: Opener) -> Scan:
    digest = hashlib.sha256()
    with open_source(path, opener) as stream:
        encoding = _encoding(stream)
        lines = _Lines(stream, encoding, digest)
        records = sum(1 for _ in _bookmarks(lines))
        lines.drain()
    return Scan(records=records, size=lines.size, fingerprint=digest.hexdigest())


def read(path: Path, opener: Opener, cursor: JSON) -> Iterator[tuple[Item, JSON]]:
    (skip,) = cursor_position(cursor, ("index",), path)
    file = str(path.resolve())
    seen: Counter[tuple[str, str]] = Counter()
    with open_source(path, opener) as stream:
        encoding = _encoding(stream)
        for index, found in enumerate(_bookmarks(_Lines(stream, encoding))):
            href = found.attrs.get("href", "").strip()
            seen[found.folder, href] += 1
            if index >= skip:
                key = f"{found.folder}/{href}"
                if seen[found.folder, href] > 1:
                    key += f" #{seen[found.folder, href]}"
                yield _item(file, key, found, encoding), {"index": index + 1}


# -- lines ---------------------------------------------------------------------------------


def _encoding(stream: BinaryIO) -> str:
    """The charset the file declares in its first KB (its META tag), else UTF-8; leaves the
    stream at its start."""
    head = stream.read(_PEEK)
    stream.seek(0)
    match = _CHARSET.search(head)
    if match is not None:
        try:
            return codecs.lookup(match.group(1).decode("ascii")).name
        except LookupError:
            pass
    return "utf-8"


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    offset: int  # of its first byte in the file
    data: bytes
    text: str
    valid: bool  # decoded without a replacement


class _Lines:
    """The file's lines, decoded one by one (so a bad byte spoils one line, not the file)."""

    def __init__(self, stream: BinaryIO, encoding: str, digest: hashlib._Hash | None = None):
        self._stream = stream
        self.encoding = encoding
        self._digest = digest
        self.size = 0

    def __iter__(self) -> Iterator[_Line]:
        for number, read in enumerate(self._stream, 1):
            offset = self.size
            self.size += len(read)
            if self._digest is not None:
                self._digest.update(read)
            data = read
            if number == 1 and data.startswith(BOM):
                data, offset = data[len(BOM) :], offset + len(BOM)
            try:
                text, valid = data.decode(self.encoding), True
            except UnicodeDecodeError:
                text, valid = data.decode(self.encoding, "replace"), False
            yield _Line(number, offset, data, text, valid)

    def drain(self) -> None:
        """Count (and hash) what is left after the last bookmark."""
        for _ in self:
            pass


# -- the bookmark tree ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Folder:
    name: str
    reading_list: bool


@dataclass(frozen=True, slots=True)
class Found:
    """One ``<A>`` as the file holds it, with the folders around it."""

    attrs: dict[str, str]
    title: str
    description: str | None
    folders: tuple[str, ...]
    reading_list: bool
    line: int
    offset: int | None  # bytes from the file's start to the ``<A``, when the bytes are known
    raw: str  # the source text from ``<A`` to the next entry, trailing space left out
    valid: bool

    @property
    def folder(self) -> str:
        return "/".join(self.folders)


@dataclass
class _Open:
    """A bookmark being read: from its ``<A>`` until the next entry, folder or list starts."""

    attrs: dict[str, str]
    line: int
    column: int
    folders: tuple[str, ...]
    reading_list: bool
    title: list[str] = field(default_factory=list)
    description: list[str] | None = None
    in_anchor: bool = True


class _Parser(HTMLParser):
    """Turns tag events into ``Found`` bookmarks (see the module docstring)."""

    def __init__(self, encoding: str) -> None:
        super().__init__(convert_charrefs=True)
        self._encoding = encoding
        self.found: list[Found] = []
        self.lines: dict[int, _Line] = {}
        self._stack: list[_Folder | None] = []  # one per open <DL>; None: an unnamed level
        self._pending: _Folder | None = None  # the heading waiting for its <DL>
        self._heading: list[str] | None = None
        self._heading_attrs: dict[str, str] = {}
        self._open: _Open | None = None

    # The events ---------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.finish()
            self._pending = None  # a heading followed by an entry is an empty folder
            line, column = self.getpos()
            folders = tuple(f.name for f in self._stack if f is not None)
            reading = any(f is not None and f.reading_list for f in self._stack)
            values = {name: value or "" for name, value in attrs}
            self._open = _Open(values, line, column, folders, reading)
        elif tag == "dd":
            if self._open is not None and not self._open.in_anchor:
                self._open.description = []
        elif tag == "h3":
            self.finish()
            self._heading, self._heading_attrs = [], {n: v or "" for n, v in attrs}
        elif tag == "dl":
            self.finish()
            self._end_heading()
            self._stack.append(self._pending)
            self._pending = None
        elif tag in ("dt", "hr"):
            self.finish()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self._open.in_anchor = False
        elif tag == "h3":
            self._end_heading()
        elif tag == "dl":
            self.finish()
            if self._stack:
                self._stack.pop()
            self._pending = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)
        elif self._open is not None and self._open.in_anchor:
            self._open.title.append(data)
        elif self._open is not None and self._open.description is not None:
            self._open.description.append(data)

    def _end_heading(self) -> None:
        if self._heading is None:
            return
        inside = any(f is not None and f.reading_list for f in self._stack)
        marked = self._heading_attrs.get("id") == READING_LIST_ID
        self._pending = _Folder("".join(self._heading).strip(), inside or marked)
        self._heading = None

    # Bookmarks ----------------------------------------------------------------------------

    def finish(self, end: tuple[int, int] | None = None) -> None:
        """Close the open bookmark where the next event starts (``end``: line, column)."""
        current = self._open
        if current is None:
            return
        self._open = None
        raw = self._text((current.line, current.column), end or self.getpos()).rstrip()
        last = current.line + raw.count("\n")
        lines = [self.lines.get(n) for n in range(current.line, last + 1)]
        valid = all(line is not None and line.valid for line in lines)
        first = lines[0]
        offset = None
        if valid and first is not None:
            # A valid line is its bytes decoded: encoding a prefix again gives its byte length.
            offset = first.offset + len(first.text[: current.column].encode(self._encoding))
        description = None
        if current.description is not None:
            description = "".join(current.description).strip()
        self.found.append(
            Found(
                attrs=current.attrs,
                title="".join(current.title).strip(),
                description=description,
                folders=current.folders,
                reading_list=current.reading_list,
                line=current.line,
                offset=offset,
                raw=raw,
                valid=valid,
            )
        )

    def _text(self, start: tuple[int, int], end: tuple[int, int]) -> str:
        (first, column), (last, stop) = start, end
        parts = []
        for number in range(first, last + 1):
            line = self.lines.get(number)
            if line is None:
                continue
            text = line.text
            if number == last:
                text = text[:stop]
            if number == first:
                text = text[column:]
            parts.append(text)
        return "".join(parts)

    def forget_lines(self) -> None:
        """Keep only the lines an open bookmark or the parser's unread input may still need."""
        keep = self.getpos()[0]
        if self._open is not None:
            keep = min(keep, self._open.line)
        for number in [n for n in self.lines if n < keep]:
            del self.lines[number]


def _bookmarks(lines: _Lines) -> Iterator[Found]:
    parser = _Parser(lines.encoding)
    end = (1, 0)
    for line in lines:
        parser.lines[line.number] = line
        parser.feed(line.text)
        yield from parser.found
        parser.found.clear()
        parser.forget_lines()
        end = (line.number, len(line.text))
    parser.close()
    parser.finish(end)
    yield from parser.found


# -- one bookmark --------------------------------------------------------------------------


def _item(file: str, key: str, found: Found, encoding: str) -> Item:
    length = len(found.raw.encode(encoding, "replace")) if found.offset is not None else None
    locator = Locator(file, key, found.line, found.offset, length)
    if not found.valid:
        return Rejected(locator, found.raw, f"line {found.line} is not valid {encoding}")
    href = found.attrs.get("href", "").strip()
    if not href:
        return Rejected(locator, found.raw, f"line {found.line}: a bookmark without HREF")
    node: dict[str, JSON] = {
        "source": SOURCE,
        "source_id": f"{file}#{key}",
        "node_type": "article" if found.reading_list else "bookmark",
        "name": found.title or href,
        "source_url": href,
    }
    if found.folders:
        node["folder"] = found.folder
    if found.description:
        node["summary"] = found.description
    properties: dict[str, JSON] = {}
    for name, value in found.attrs.items():
        if name == "href":
            continue
        if name == "tags":
            tags = [tag.strip() for tag in value.split(",") if tag.strip()]
            if tags:
                node["tags"] = tags
            continue
        moment = epoch_time(value) if name in TIME_FIELDS or name in TIME_PROPERTIES else None
        if name in TIME_FIELDS and (moment is not None or value.strip() == "0"):
            if moment is not None:
                node[TIME_FIELDS[name]] = moment
            continue
        properties[name] = moment or value
    if properties:
        node["properties"] = properties
    # The folders and the Reading List mark are part of what the file says of this bookmark.
    hashed = json.dumps([list(found.folders), found.reading_list, found.raw], ensure_ascii=False)
    return Draft(node=node, locator=locator, source_hash=sha256_hex(hashed.encode()),
                 raw=found.raw)  # fmt: skip


def epoch_time(text: str) -> str | None:
    """An epoch time written as an integer (seconds, or milliseconds or microseconds when that
    large) as UTC ISO-8601; None for 0 (unset) and for anything else."""
    try:
        number = int(text.strip())
    except ValueError:
        return None
    if number == 0:
        return None
    try:
        if abs(number) >= _MICROSECONDS_FROM:
            delta = timedelta(microseconds=number)
        elif abs(number) >= _MILLISECONDS_FROM:
            delta = timedelta(milliseconds=number)
        else:
            delta = timedelta(seconds=number)
        return utc_timestamp(_EPOCH + delta)
    except (OverflowError, ValueError):
        return None
