"""The ``markdown`` importer: Markdown files and Obsidian vaults, one file one ``note`` node.

The engine hands it one file at a time; links are resolved against an index of the whole
vault (see ``index``), so a folder imported file by file still links as Obsidian does. A file
is one record: its cursor is ``{"done": true}``, and reading again from it yields nothing.
Lineage points at the file, its path in the vault and line 1 (or the line a rejection names).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

from isometry.errors import SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Item, Opener, Options, Scan
from isometry.sources.options import OptionSpec
from isometry.sources.records import DONE, open_source, record_read
from isometry.sources.vault.index import NOTE_SUFFIXES, Vault, vault_of
from isometry.sources.vault.links import SOURCE
from isometry.sources.vault.note import note_item


class MarkdownImporter:
    """Reads Markdown notes (``.md``, ``.markdown``) with their vault's links."""

    name: ClassVar[str] = SOURCE
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = ()

    def accepts(self, path: Path) -> bool:
        return path.suffix.lower() in NOTE_SUFFIXES

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        with open_source(path, opener) as stream:
            data = _read(path, stream)
        return Scan(records=1, size=len(data), fingerprint=hashlib.sha256(data).hexdigest())

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        if record_read(cursor, path):
            return
        with open_source(path, opener) as stream:
            data = _read(path, stream)
            mtime_ns = _mtime_ns(path, stream)
        vault = _vault(path, options.root)
        yield note_item(path, vault, data, mtime_ns, opener), DONE


def _read(path: Path, stream: BinaryIO) -> bytes:
    try:
        return stream.read()
    except OSError as error:
        raise SourceUnreadable(f"{path}: cannot read: {error.strerror or error}") from None


def _mtime_ns(path: Path, stream: BinaryIO) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_mtime_ns
    except (OSError, AttributeError, ValueError):
        try:
            return path.stat().st_mtime_ns
        except OSError:
            return None


def _vault(path: Path, named: Path | None) -> Vault:
    try:
        return vault_of(path, named)
    except OSError as error:
        raise SourceUnreadable(
            f"{path}: cannot find the vault it belongs to: {error.strerror or error}"
        ) from None
