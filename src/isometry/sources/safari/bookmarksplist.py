"""Safari's ``Bookmarks.plist`` (binary or XML property list): bookmarks and the Reading List.

The file is one tree: a root list whose ``Children`` are the Favorites bar (``BookmarksBar``),
the Bookmarks Menu (``BookmarksMenu``), the Reading List (``com.apple.ReadingList``), a proxy
for History, and any top-level folder the user made. Folders are ``WebBookmarkTypeList``,
bookmarks ``WebBookmarkTypeLeaf``, proxies ``WebBookmarkTypeProxy`` (they hold no bookmark and
are passed over).

Every leaf is one node, in depth-first order: ``bookmark``, or ``article`` in the Reading List.
source_id = its ``WebBookmarkUUID`` (Safari keeps it across edits, moves and sync); name = the
``URIDictionary`` title (else the title Safari fetched, else the URL); source_url = ``URLString``;
folder = the folder path as Safari shows it, joined with ``/``. A Reading List entry also has
summary = ``ReadingList.PreviewText``, created_at = ``ReadingList.DateAdded``, and the
properties ``date_last_viewed``, ``image_url`` and ``site_name``. Every other key stays in
properties under its own name, in its own place (dates as UTC ISO-8601, data as base64).

A property list cannot be read piecemeal (a binary one is addressed by offsets from its end), so
the file is read whole; it holds bookmarks, not pages, and stays small. Cursor ``{"index":
entries read}`` in the depth-first order. An entry that is not a bookmark Safari could have
written (no URL, an unknown type, not a dictionary) is ``Rejected``.
"""

from __future__ import annotations

import base64
import copy
import json
import plistlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from xml.parsers.expat import ExpatError

from isometry.errors import SourceUnreadable
from isometry.model import JSON, utc_timestamp
from isometry.sources.base import Draft, Item, Locator, Opener, Rejected, Scan
from isometry.sources.records import cursor_position, open_source, sha256_hex

SOURCE = "safari"
SUFFIX = ".plist"
MARK = b"WebBookmarkType"
LEAF, LIST, PROXY = "WebBookmarkTypeLeaf", "WebBookmarkTypeList", "WebBookmarkTypeProxy"
READING_LIST = "com.apple.ReadingList"
# Top-level folders under the names Safari shows for them.
SHOWN = {
    "BookmarksBar": "Favorites",
    "BookmarksMenu": "Bookmarks Menu",
    READING_LIST: "Reading List",
}
_CHUNK = 1 << 16
DAMAGED = "refers to itself or to a folder met before: the file is damaged"
# Folders nested deeper are not read (each level is a frame of the depth-first walk).
MAX_DEPTH = 200
# More values than any bookmark holds: only a damaged file's shared references unfold so far.
_MAX_VALUES = 100_000
# What plistlib raises for a file that is not a property list: it wraps only some of them, and
# its XML reader lets through what a damaged file makes it trip on (a date that does not parse,
# a closing tag with nothing open, an unknown encoding, a date missing its day).
_NOT_A_PLIST = (
    plistlib.InvalidFileException,
    ExpatError,
    ValueError,
    OverflowError,
    RecursionError,
    AttributeError,
    IndexError,
    LookupError,
    TypeError,
)


def looks_like(head: bytes) -> bool:
    """Whether a file's first bytes are those of a property list, binary or XML."""
    return head.startswith(b"bplist") or b"<plist" in head or b"<!DOCTYPE plist" in head


def accepts(path: Path) -> bool:
    """A ``.plist`` whose root is a Safari bookmark list. Most property lists never mention
    ``WebBookmarkType``, so a byte search turns them away before anything is parsed."""
    if path.suffix.lower() != SUFFIX:
        return False
    try:
        with path.open("rb") as stream:
            if not _mentions(stream, MARK):
                return False
            stream.seek(0)
            # From bytes, not the file: a damaged binary list can claim billions of objects,
            # and plistlib would ask the file for all of them in one read.
            root = plistlib.loads(stream.read())
    except (OSError, *_NOT_A_PLIST):
        return False
    return isinstance(root, dict) and MARK.decode() in root


def _mentions(stream: BinaryIO, needle: bytes) -> bool:
    tail = b""
    while chunk := stream.read(_CHUNK):
        if needle in tail + chunk:
            return True
        tail = chunk[-(len(needle) - 1) :]
    return False


def scan(path: Path, opener: Opener) -> Scan:
    data = _bytes(path, opener)
    records = sum(1 for _ in _entries(_root(path, data)))
    return Scan(records=records, size=len(data), fingerprint=sha256_hex(data))


def read(path: Path, opener: Opener, cursor: JSON) -> Iterator[tuple[Item, JSON]]:
    (skip,) = cursor_position(cursor, ("index",), path)
    root = _root(path, _bytes(path, opener))
    file = str(path.resolve())
    for index, entry in enumerate(_entries(root)):
        if index >= skip:
            yield _item(file, entry), {"index": index + 1}


def _bytes(path: Path, opener: Opener) -> bytes:
    with open_source(path, opener) as stream:
        return stream.read()


def _root(path: Path, data: bytes) -> dict[str, object]:
    try:
        root = plistlib.loads(data)
    except _NOT_A_PLIST as error:
        raise SourceUnreadable(f"{path} is not a property list: {error}") from None
    if not isinstance(root, dict) or MARK.decode() not in root:
        raise SourceUnreadable(
            f"{path} is not a Safari Bookmarks.plist: its root is not a bookmark list"
        )
    return root


# -- the tree ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """A leaf of the tree, or something where a leaf or folder should be."""

    position: str  # e.g. Children[1]/Children[0]: where it sits in the file
    folders: tuple[str, ...]
    reading_list: bool
    value: object
    problem: str | None = None


def _entries(root: Mapping[str, object]) -> Iterator[_Entry]:
    yield from _children(root, "", (), reading_list=False, top=True, seen={id(root)})


def _children(
    folder: Mapping[str, object],
    at: str,
    folders: tuple[str, ...],
    *,
    reading_list: bool,
    top: bool,
    seen: set[int],
) -> Iterator[_Entry]:
    """The entries under ``folder``, depth first. ``seen`` holds the folders walked so far: a
    binary property list refers to objects by number, and a damaged one can make a folder
    hold itself or appear twice; such a folder is an entry of its own, rejected."""
    children = folder.get("Children", [])
    if not isinstance(children, list):
        where = at or "the root"
        yield _Entry(where, folders, reading_list, children, "Children is not a list")
        return
    for index, child in enumerate(children):
        position = f"{at}/Children[{index}]" if at else f"Children[{index}]"
        if not isinstance(child, dict):
            yield _Entry(position, folders, reading_list, child, "not a dictionary")
            continue
        kind = child.get(MARK.decode())
        if kind == LEAF:
            yield _Entry(position, folders, reading_list, child)
        elif kind == LIST and id(child) in seen:
            yield _Entry(position, folders, reading_list, None, DAMAGED)
        elif kind == LIST and len(folders) >= MAX_DEPTH:
            problem = f"a folder nested deeper than {MAX_DEPTH} folders"
            yield _Entry(position, folders, reading_list, None, problem)
        elif kind == LIST:
            seen.add(id(child))
            title = child.get("Title")
            name = str(title) if title is not None else ""
            inner = reading_list or (top and name == READING_LIST)
            shown = SHOWN.get(name, name) if top else name
            yield from _children(
                child, position, (*folders, shown), reading_list=inner, top=False, seen=seen
            )
        elif kind != PROXY:
            problem = f"unknown {MARK.decode()} {kind!r}"
            yield _Entry(position, folders, reading_list, child, problem)


# -- one entry -----------------------------------------------------------------------------


def _item(file: str, entry: _Entry) -> Item:
    try:
        plain = _plain(entry.value)
    except (_Damaged, RecursionError):
        return Rejected(Locator(file, entry.position), "", f"{entry.position}: {DAMAGED}")
    raw = json.dumps({"folders": list(entry.folders), "entry": plain}, ensure_ascii=False,
                     sort_keys=True)  # fmt: skip
    locator = Locator(file, entry.position)
    value = entry.value
    if entry.problem is not None or not isinstance(value, dict) or not isinstance(plain, dict):
        return Rejected(locator, raw, f"{entry.position}: {entry.problem or 'not a dictionary'}")
    url = value.get("URLString")
    if not isinstance(url, str) or not url.strip():
        return Rejected(locator, raw, f"{entry.position}: a bookmark without URLString")
    uuid = value.get("WebBookmarkUUID")
    if isinstance(uuid, str) and uuid.strip():
        locator, source_id = Locator(file, uuid), uuid
    else:
        source_id = f"{file}#{entry.position}"
    rest = copy.deepcopy(plain)
    for key in (MARK.decode(), "WebBookmarkUUID", "URLString"):
        rest.pop(key, None)
    title = _take_text(rest, "URIDictionary", "title") or _take_text(
        rest, "ReadingListNonSync", "Title"
    )
    node: dict[str, JSON] = {
        "source": SOURCE,
        "source_id": source_id,
        "node_type": "article" if entry.reading_list else "bookmark",
        "name": title or url,
        "source_url": url,
        "summary": _take_text(rest, "ReadingList", "PreviewText"),
        "created_at": _take_time(value, rest, "ReadingList", "DateAdded"),
    }
    if entry.folders:
        node["folder"] = "/".join(entry.folders)
    properties: dict[str, JSON] = {
        "date_last_viewed": _take_time(value, rest, "ReadingList", "DateLastViewed"),
        "image_url": _take_text(rest, "imageURL"),
        "site_name": _take_text(rest, "ReadingListNonSync", "siteName"),
    }
    properties = {k: v for k, v in properties.items() if v is not None}
    properties.update(rest)
    if properties:
        node["properties"] = properties
    return Draft(node=node, locator=locator, source_hash=sha256_hex(raw.encode()), raw=raw)


class _Damaged(Exception):
    """A value that refers to itself, or unfolds into more values than a bookmark holds."""


def _plain(value: object) -> JSON:
    """A property-list value as JSON: dates as UTC ISO-8601, data as base64 text."""
    budget = [_MAX_VALUES]
    return _plain_within(value, (), budget)


def _plain_within(value: object, holders: tuple[int, ...], budget: list[int]) -> JSON:
    budget[0] -= 1
    if budget[0] < 0 or id(value) in holders:
        raise _Damaged
    if isinstance(value, dict):
        inner = (*holders, id(value))
        return {str(k): _plain_within(v, inner, budget) for k, v in value.items()}
    if isinstance(value, list):
        inner = (*holders, id(value))
        return [_plain_within(v, inner, budget) for v in value]
    if isinstance(value, datetime):
        return utc_timestamp(value)  # plistlib gives naive times in UTC
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, plistlib.UID):
        return value.data
    return value


def _take_text(rest: dict[str, JSON], *keys: str) -> str | None:
    """The non-blank text at ``keys`` in ``rest``, taken out of it; None (and ``rest`` left as
    it is) when there is none."""
    found = _take(rest, keys, lambda v: isinstance(v, str) and bool(v.strip()))
    return found.strip() if isinstance(found, str) else None


def _take_time(value: Mapping[str, object], rest: dict[str, JSON], *keys: str) -> str | None:
    """The date at ``keys`` (as ``_plain`` wrote it in ``rest``), taken out of ``rest``; None
    when the property list holds no date there."""
    original: object = value
    for key in keys:
        original = original.get(key) if isinstance(original, dict) else None
    if not isinstance(original, datetime):
        return None
    found = _take(rest, keys, lambda v: isinstance(v, str))
    return found if isinstance(found, str) else None


def _take(rest: dict[str, JSON], keys: tuple[str, ...], wanted: Callable[[JSON], bool]) -> JSON:
    """Remove and return the value at the path ``keys`` when ``wanted`` says so, with the
    dictionaries it leaves empty: what is mapped to a column is not kept twice."""
    holders = [rest]
    for key in keys[:-1]:
        inner = holders[-1].get(key)
        if not isinstance(inner, dict):
            return None
        holders.append(inner)
    found = holders[-1].get(keys[-1])
    if not wanted(found):
        return None
    del holders[-1][keys[-1]]
    for depth in range(len(holders) - 1, 0, -1):
        if not holders[depth]:
            del holders[depth - 1][keys[depth - 1]]
    return found
