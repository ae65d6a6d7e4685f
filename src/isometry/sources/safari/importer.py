"""The ``safari`` importer: Safari's history and bookmarks, and any browser's bookmark export.

Three readers, one per file kind (see their modules): ``History.db`` (``history``),
``Bookmarks.plist`` (``bookmarksplist``) and Netscape bookmark HTML (``netscape``). ``accepts``
picks by name and a quick look at the file; ``scan`` and ``read`` tell the kind again from the
first bytes, read through the opener, so a file is never opened outside the grants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

from isometry.errors import SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Item, Opener, Options, Scan
from isometry.sources.options import OptionSpec
from isometry.sources.records import open_source
from isometry.sources.safari import bookmarksplist, history, netscape
from isometry.sources.sqlitefile import SQLITE_MAGIC

_PEEK = 1024

Scanner = Callable[[Path, Opener], Scan]
Reader = Callable[[Path, Opener, JSON], Iterator[tuple[Item, JSON]]]


class SafariImporter:
    """Reads Safari's History.db and Bookmarks.plist, and Netscape bookmark HTML exports."""

    name: ClassVar[str] = "safari"
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"full-disk-access", "file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = ()

    def accepts(self, path: Path) -> bool:
        suffix = path.suffix.lower()
        if suffix in netscape.SUFFIXES:
            return netscape.accepts(path)
        if suffix == bookmarksplist.SUFFIX:
            return bookmarksplist.accepts(path)
        return history.accepts(path)

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        scanner, _ = _reader_for(path, opener)
        return scanner(path, opener)

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        _, reader = _reader_for(path, opener)
        return reader(path, opener, cursor)


def _reader_for(path: Path, opener: Opener) -> tuple[Scanner, Reader]:
    with open_source(path, opener) as stream:
        head = stream.read(_PEEK)
    if head.startswith(SQLITE_MAGIC):
        return history.scan, history.read
    if bookmarksplist.looks_like(head):
        return bookmarksplist.scan, bookmarksplist.read
    if netscape.looks_like(head):
        return netscape.scan, netscape.read
    raise SourceUnreadable(
        f"{path} is neither a Safari History.db or Bookmarks.plist nor a Netscape bookmark file"
    )
