"""The ``file-system`` importer: any file no other importer takes, as a ``document`` node.

The file itself is stored as the node's attachment (in the content store, deduplicated), and
the node says what it is: name, folder (relative to the folder the user named), size, type by
extension, modification time, and a link to the stored bytes. ``file-system-import`` offers
every file of a folder to the format importers first and gives this one the rest.

``source_id`` is the file's absolute path (``/home/me/Documents/scan.tiff#file``), so a changed
file updates its node and a renamed one is a delete plus an add. Its source hash is the hash of
its bytes: an unchanged file is skipped on the next import.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from isometry.model import JSON
from isometry.sources.base import (
    Attachment,
    Draft,
    Item,
    Locator,
    Opener,
    Options,
    Scan,
    attachment_link,
)
from isometry.sources.options import OptionSpec
from isometry.sources.records import DONE, digest_stream, open_source, record_read


def _digest(path: Path, opener: Opener) -> tuple[str, int]:
    with open_source(path, opener) as stream:
        digest, size, _ = digest_stream(stream)
    return digest, size


class FileImporter:
    """Any file, as a document node with the file attached (see the module docstring)."""

    name: ClassVar[str] = "file-system"
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = ()

    def accepts(self, path: Path) -> bool:
        return path.is_file()

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        digest, size = _digest(path, opener)
        return Scan(records=1, size=size, fingerprint=digest)

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        if record_read(cursor, path):
            return
        digest, size = _digest(path, opener)
        stat = path.stat()
        relative = path.relative_to(options.root) if options.root is not None else None
        folder = relative.parent.as_posix() if relative is not None else path.parent.as_posix()
        mime, encoding = mimetypes.guess_type(path.name, strict=False)
        properties: dict[str, JSON] = {"size": size, "sha256": digest}
        if relative is not None:
            properties["relative_path"] = relative.as_posix()
        if mime is not None:
            properties["mime_type"] = mime
        if encoding is not None:
            properties["encoding"] = encoding
        node: dict[str, JSON] = {
            "node_type": "document",
            "name": path.name,
            "content": f"[{path.name}]({attachment_link(digest)})",
            "folder": None if folder == "." else folder,
            "modified_at": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
            "source": self.name,
            "source_id": f"{path}#file",
            "properties": properties,
        }
        yield (
            Draft(
                node=node,
                locator=Locator(str(path), "file"),
                source_hash=digest,
                raw=str(path),
                attachments=(Attachment(path.name, path=path, mime_type=mime),),
            ),
            DONE,
        )
