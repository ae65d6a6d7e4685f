"""The ``archive`` importer: an exported JSON Lines archive, rows restored exactly.

Reads the folder ``isometry export`` writes (its ``manifest.json`` is the file this importer
takes; see ``isometry.etl.export`` for the layout). Every file is checked against the hash the
manifest gives before anything is read, so a damaged archive is refused whole, never half
imported. Each node comes back with its own id and fields, its outgoing edges and its
attachments, so an import into an empty repository gives the exported root hash.

``nodes.jsonl`` is sorted by id and ``edges.jsonl`` by source node, so both are read in one
pass side by side; an edge whose source node is not in the archive cannot be restored and is
reported as a rejected record. Cursor: ``{"nodes": byte offset, "edges": byte offset,
"line": line number}`` after the last record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, ClassVar

import orjson

from isometry.errors import SourceError, SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Attachment, Draft, Item, Locator, Opener, Options, Rejected, Scan
from isometry.sources.options import OptionSpec
from isometry.sources.records import cursor_position, open_source

FORMAT = "isometry-archive"
FILES = ("nodes.jsonl", "edges.jsonl", "attachments.jsonl")
_PEEK = 4096


def _lines(stream: BinaryIO, offset: int) -> Iterator[tuple[int, bytes]]:
    """Each non-empty line from ``offset`` with the offset right after it."""
    stream.seek(offset)
    position = offset
    for line in stream:
        position += len(line)
        if line.strip():
            yield position, line


def _row(line: bytes, path: Path, where: int) -> dict[str, JSON]:
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise SourceUnreadable(f"{path}: line at byte {where} is not JSON: {error}") from None
    if not isinstance(row, dict) or not isinstance(row.get("id"), str):
        raise SourceUnreadable(f"{path}: line at byte {where} is not a row with an id")
    return row


class ArchiveImporter:
    """Restores an exported archive (see the module docstring)."""

    name: ClassVar[str] = "archive"
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = ()

    def accepts(self, path: Path) -> bool:
        if path.name != "manifest.json":
            return False
        try:
            with path.open("rb") as stream:
                return f'"{FORMAT}"'.encode() in stream.read(_PEEK)
        except OSError:
            return False

    def _manifest(self, path: Path, opener: Opener) -> dict[str, JSON]:
        with open_source(path, opener) as stream:
            try:
                manifest = orjson.loads(stream.read())
            except orjson.JSONDecodeError as error:
                raise SourceUnreadable(f"{path}: not a readable manifest: {error}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SourceUnreadable(f"{path}: not the manifest of an isometry archive")
        if manifest.get("version") != 1:
            raise SourceUnreadable(
                f"{path}: archive version {manifest.get('version')!r} is not one this version "
                "reads (1)"
            )
        return manifest

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        manifest = self._manifest(path, opener)
        folder = path.parent
        facts = manifest.get("files")
        size = 0
        for name in FILES:
            expected = facts.get(name) if isinstance(facts, Mapping) else None
            if not isinstance(expected, Mapping):
                raise SourceUnreadable(f"{path}: the manifest does not describe {name}")
            digest = hashlib.sha256()
            with open_source(folder / name, opener) as stream:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
            if digest.hexdigest() != expected.get("sha256"):
                raise SourceUnreadable(
                    f"{folder / name}: its content is not what the manifest says (damaged or "
                    "edited archive); nothing was imported"
                )
        records = sum(1 for _ in self._records(path, opener, 0, 0, 0))
        fingerprint = hashlib.sha256(orjson.dumps(facts, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return Scan(records=records, size=size, fingerprint=fingerprint)

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        self._manifest(path, opener)
        nodes, edges, line = cursor_position(cursor, ("nodes", "edges", "line"), path)
        yield from self._records(path, opener, nodes, edges, line)

    def _records(
        self, path: Path, opener: Opener, start: int, edge_offset: int, line: int
    ) -> Iterator[tuple[Item, JSON]]:
        folder = path.parent
        attached = _attachments(folder, opener)
        nodes_path, edges_path = folder / "nodes.jsonl", folder / "edges.jsonl"
        with open_source(nodes_path, opener) as nodes, open_source(edges_path, opener) as edges:
            edge_lines = _edges(edges, edge_offset, edges_path)
            pending = next(edge_lines, None)
            at_edge, node_offset = edge_offset, start

            def cursor() -> JSON:
                return {"nodes": node_offset, "edges": at_edge, "line": line}

            for after, raw in _lines(nodes, start):
                node_offset = after
                line += 1
                node = _row(raw, nodes_path, node_offset)
                key = str(node["id"])
                while pending is not None and _source(pending) < key:
                    at_edge = pending[0]
                    yield _orphan(edges_path, pending), cursor()
                    pending = next(edge_lines, None)
                mine: list[_Edge] = []
                while pending is not None and _source(pending) == key:
                    mine.append(pending)
                    at_edge = pending[0]
                    pending = next(edge_lines, None)
                digest = hashlib.sha256(raw + b"".join(e[1] for e in mine)).hexdigest()
                files = tuple(
                    Attachment(name, path=folder / "attachments" / blob, role=role, mime_type=mime)
                    for blob, role, name, mime in attached.get(key, ())
                )
                yield (
                    Draft(
                        node=node,
                        locator=Locator(str(nodes_path), key, line=line),
                        source_hash=digest,
                        raw=raw.decode(),
                        edges=tuple(e[2] for e in mine),
                        attachments=files,
                    ),
                    cursor(),
                )
            while pending is not None:
                at_edge = pending[0]
                yield _orphan(edges_path, pending), cursor()
                pending = next(edge_lines, None)


# An edge line: the offset after it, its bytes, and the row they hold (read once).
_Edge = tuple[int, bytes, dict[str, JSON]]


def _edges(stream: BinaryIO, offset: int, path: Path) -> Iterator[_Edge]:
    for after, raw in _lines(stream, offset):
        yield after, raw, _row(raw, path, after)


def _source(edge: _Edge) -> str:
    return str(edge[2].get("source_id"))


def _orphan(path: Path, edge: _Edge) -> Rejected:
    _, raw, row = edge
    return Rejected(
        Locator(str(path), str(row.get("id"))),
        raw.decode(),
        f"edge {row.get('id')}: its source node {row.get('source_id')} is not in the archive",
    )


def _attachments(folder: Path, opener: Opener) -> dict[str, list[tuple[str, str, str, str]]]:
    """Node id -> (hash, role, first name, MIME type) of each file it links."""
    found: dict[str, list[tuple[str, str, str, str]]] = {}
    path = folder / "attachments.jsonl"
    with open_source(path, opener) as stream:
        for _, raw in _lines(stream, 0):
            entry = orjson.loads(raw)
            if not isinstance(entry, dict):
                raise SourceError(f"{path}: a line is not an object")
            names = entry.get("names") or [entry["hash"]]
            found.setdefault(str(entry["node"]), []).append(
                (str(entry["hash"]), str(entry.get("role", "attachment")), str(names[0]),
                 str(entry.get("mime_type") or "application/octet-stream"))
            )  # fmt: skip
    return found
