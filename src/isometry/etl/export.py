"""Exporting a branch, tag or commit: a portable JSON Lines archive, or a Markdown vault.

The archive (a folder) holds::

    manifest.json       format, version, the commit and its root hash, counts, file hashes
    nodes.jsonl         every node row at the commit, one JSON object per line, by id
    edges.jsonl         every edge row, grouped by source node in the order of nodes.jsonl
    attachments.jsonl   which node links which stored file: node, hash, role, names, MIME type
    attachments/<sha256>  the files themselves, named by the hash of their bytes

Rows are written exactly as the store holds them, so importing the archive into an empty
repository (template ``archive-import``) gives a ``main`` with the same root hash.

The Markdown vault holds one ``.md`` file per node under its folder, with the node's fields as
YAML front matter and its content as the body, ``attachment:`` links rewritten to relative
paths of the files beside (``attachments/``), and edges listed in the front matter.

Both are written into ``<out>.partial`` and renamed to ``out`` when complete: an interrupted
export leaves no half archive under the name asked for. An existing ``out`` is never touched.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import orjson
import yaml

from isometry.content.store import ContentStore
from isometry.errors import EtlError
from isometry.model import JSON, RowKind
from isometry.vcs.repository import Repository

FORMAT = "isometry-archive"
VERSION = 1
FORMATS = ("jsonl", "markdown")

_LINK = re.compile(r"attachment:([0-9a-f]{64})")
_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]+')


class ExportRefused(EtlError):
    """An export that cannot be written where it was asked to (the place exists, say)."""

    exit_code = 1


@dataclass(frozen=True)
class ExportReport:
    path: Path
    format: str
    commit: str
    root: str
    nodes: int
    edges: int
    attachments: int
    attachment_bytes: int

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> ExportReport:
        return cls(
            Path(str(data["path"])), str(data["format"]), str(data["commit"]),
            str(data["root"]), int(str(data["nodes"])), int(str(data["edges"])),
            int(str(data["attachments"])), int(str(data["attachment_bytes"])),
        )  # fmt: skip

    def to_json(self) -> dict[str, JSON]:
        return {
            "path": str(self.path),
            "format": self.format,
            "commit": self.commit,
            "root": self.root,
            "nodes": self.nodes,
            "edges": self.edges,
            "attachments": self.attachments,
            "attachment_bytes": self.attachment_bytes,
        }


@dataclass(frozen=True)
class _Linked:
    node: str
    hash: str
    role: str


def export(
    repo: Repository, store: ContentStore, out: Path, *, at: str = "main", form: str = "jsonl"
) -> ExportReport:
    """Write the rows at ``at`` to ``out`` in the format ``form`` (see the module docstring)."""
    if form not in FORMATS:
        raise ExportRefused(f"unknown export format {form!r} (use one of {', '.join(FORMATS)})")
    if out.exists():
        raise ExportRefused(f"{out} already exists; export into a new folder")
    partial = out.with_name(out.name + ".partial")
    try:
        if partial.exists():
            shutil.rmtree(partial)  # what an interrupted export left
        partial.mkdir(parents=True)
    except OSError as error:
        raise ExportRefused(f"{out}: cannot write the export there: {_why(error)}") from None
    try:
        with repo.db.snapshot():
            commit = repo.commit(at)
            writer = (
                _Jsonl(repo, store, partial) if form == "jsonl" else _Vault(repo, store, partial)
            )
            counts = writer.write(commit.seq)
        if form == "jsonl":
            _manifest(partial, repo, at, commit.id, commit.root, counts)
        partial.rename(out)
    except OSError as error:  # the disk filling up, say: nothing half-written is left
        shutil.rmtree(partial, ignore_errors=True)
        raise ExportRefused(f"{out}: the export could not be written: {_why(error)}") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ExportReport(out, form, commit.id, commit.root, *counts)


def _why(error: OSError) -> str:
    where = f" ({error.filename})" if error.filename else ""
    return f"{error.strerror or error}{where}"


def _sorted_rows(repo: Repository, seq: int, folder: Path) -> sqlite3.Connection:
    """The rows at ``seq`` in a scratch database, so both files can be written in one order
    without holding the rows in memory."""
    scratch = sqlite3.connect(folder / "sort.sqlite")
    scratch.executescript(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
        "CREATE TABLE nodes (id TEXT PRIMARY KEY, row BLOB) WITHOUT ROWID;"
        "CREATE TABLE edges (source TEXT, id TEXT, row BLOB, PRIMARY KEY (source, id))"
        " WITHOUT ROWID;"
    )
    with scratch:
        scratch.executemany(
            "INSERT INTO nodes VALUES (?, ?)",
            ((str(r["id"]), _dump(r)) for r in repo.rows_at(seq, RowKind.NODE)),
        )
        scratch.executemany(
            "INSERT INTO edges VALUES (?, ?, ?)",
            (
                (str(r["source_id"]), str(r["id"]), _dump(r))
                for r in repo.rows_at(seq, RowKind.EDGE)
            ),
        )
    return scratch


def _dump(row: Mapping[str, JSON]) -> bytes:
    return orjson.dumps(
        {k: v for k, v in row.items() if v is not None}, option=orjson.OPT_SORT_KEYS
    )


def _linked(repo: Repository, store: ContentStore, seq: int, nodes: set[str]) -> list[_Linked]:
    """Each node's attachments as of commit ``seq`` (each file once per node)."""
    seen: dict[tuple[str, str], _Linked] = {}
    for ref in store.references_by_kind("node"):
        if ref.owner not in nodes:
            continue
        if ref.commit_seq is not None and not repo.graph.is_ancestor(ref.commit_seq, seq):
            continue
        seen.setdefault((ref.owner, ref.hash), _Linked(ref.owner, ref.hash, ref.role))
    return list(seen.values())


class _Jsonl:
    def __init__(self, repo: Repository, store: ContentStore, folder: Path) -> None:
        self.repo, self.store, self.folder = repo, store, folder

    def write(self, seq: int) -> tuple[int, int, int, int]:
        scratch = _sorted_rows(self.repo, seq, self.folder)
        try:
            ordered = scratch.execute("SELECT row FROM nodes ORDER BY id")
            nodes = _lines(self.folder / "nodes.jsonl", (row for (row,) in ordered))
            ids = {str(i) for (i,) in scratch.execute("SELECT id FROM nodes")}
            # Edges in the order of their source nodes (ids sort the same way in both).
            edges = _lines(self.folder / "edges.jsonl", (row for (row,) in scratch.execute(
                "SELECT row FROM edges ORDER BY source, id")))  # fmt: skip
        finally:
            scratch.close()
            (self.folder / "sort.sqlite").unlink()
        linked = _linked(self.repo, self.store, seq, ids)
        files, size = self._files({link.hash for link in linked})
        _lines(self.folder / "attachments.jsonl", (
            orjson.dumps({"node": link.node, "hash": link.hash, "role": link.role,
                          "names": files[link.hash][0], "mime_type": files[link.hash][1]})
            for link in sorted(linked, key=lambda x: (x.node, x.hash))
        ))  # fmt: skip
        return nodes, edges, len(files), size

    def _files(self, hashes: set[str]) -> tuple[dict[str, tuple[list[str], str]], int]:
        folder = self.folder / "attachments"
        folder.mkdir()
        found: dict[str, tuple[list[str], str]] = {}
        size = 0
        for digest in sorted(hashes):
            info = self.store.info(digest)
            with (folder / digest).open("wb") as out:
                size += self.store.copy_to(digest, out)
            found[digest] = (list(info.names), info.ref.mime_type)
        return found, size


def _lines(path: Path, rows: Iterator[bytes]) -> int:
    count = 0
    with path.open("wb") as out:
        for row in rows:
            out.write(row)
            out.write(b"\n")
            count += 1
    return count


def _file_facts(path: Path) -> dict[str, JSON]:
    digest, size, lines = hashlib.sha256(), 0, 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    return {"sha256": digest.hexdigest(), "bytes": size, "lines": lines}


def _manifest(
    folder: Path, repo: Repository, at: str, commit: str, root: str, counts: tuple[int, ...]
) -> None:
    nodes, edges, attachments, size = counts
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": repo.now(),
        "ref": at,
        "commit": commit,
        "root": root,
        "counts": {"nodes": nodes, "edges": edges, "attachments": attachments,
                   "attachment_bytes": size},
        "files": {name: _file_facts(folder / name)
                  for name in ("nodes.jsonl", "edges.jsonl", "attachments.jsonl")},
    }  # fmt: skip
    (folder / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))


# -- Markdown vault ----------------------------------------------------------------------------


def safe_name(text: str, fallback: str) -> str:
    """A file or folder name from ``text``: no separators, control or reserved characters,
    no leading dots, at most 120 characters."""
    name = _UNSAFE.sub(" ", text).strip().lstrip(".").strip()
    return name[:120].rstrip() or fallback


class _Vault:
    def __init__(self, repo: Repository, store: ContentStore, folder: Path) -> None:
        self.repo, self.store, self.folder = repo, store, folder

    def write(self, seq: int) -> tuple[int, int, int, int]:
        nodes = list(self.repo.rows_at(seq, RowKind.NODE))
        outgoing: dict[str, list[dict[str, JSON]]] = {}
        edges = 0
        for edge in self.repo.rows_at(seq, RowKind.EDGE):
            edges += 1
            outgoing.setdefault(str(edge["source_id"]), []).append(
                {k: edge[k] for k in ("edge_type", "target_id", "label") if edge.get(k) is not None}
            )
        linked = _linked(self.repo, self.store, seq, {str(n["id"]) for n in nodes})
        files, size = self._files({link.hash for link in linked})
        by_node: dict[str, list[str]] = {}
        for link in linked:
            by_node.setdefault(link.node, []).append(link.hash)
        taken: set[str] = set()
        for node in sorted(nodes, key=lambda n: (str(n.get("folder") or ""), str(n.get("name")))):
            relative = self._place(node, taken)
            self._note(node, relative, files, by_node.get(str(node["id"]), []),
                       outgoing.get(str(node["id"]), []))  # fmt: skip
        return len(nodes), edges, len(files), size

    def _files(self, hashes: set[str]) -> tuple[dict[str, str], int]:
        """Each stored file under ``attachments/`` as ``<hash><suffix of its first name>``."""
        found: dict[str, str] = {}
        size = 0
        if hashes:
            (self.folder / "attachments").mkdir()
        for digest in sorted(hashes):
            names = self.store.info(digest).names
            suffix = PurePosixPath(names[0]).suffix[:16] if names else ""
            relative = f"attachments/{digest}{safe_name(suffix, '') if suffix else ''}"
            with (self.folder / relative).open("wb") as out:
                size += self.store.copy_to(digest, out)
            found[digest] = relative
        return found, size

    def _place(self, node: Mapping[str, JSON], taken: set[str]) -> PurePosixPath:
        folder = [safe_name(p, "_") for p in str(node.get("folder") or "").split("/") if p.strip()]
        if folder[:1] == ["attachments"]:
            folder[0] = "attachments_"  # the attachments folder is the export's own
        stem = safe_name(str(node.get("name") or ""), str(node["id"]))
        candidate, number = PurePosixPath(*folder, f"{stem}.md"), 1
        while candidate.as_posix().lower() in taken:  # names differing by case clash on macOS
            number += 1
            candidate = PurePosixPath(*folder, f"{stem} ({number}).md")
        taken.add(candidate.as_posix().lower())
        return candidate

    def _note(
        self,
        node: Mapping[str, JSON],
        relative: PurePosixPath,
        files: Mapping[str, str],
        attached: list[str],
        links: list[dict[str, JSON]],
    ) -> None:
        up = "../" * (len(relative.parts) - 1)
        front = {k: v for k, v in node.items() if k != "content" and v not in (None, [], {})}
        if attached:
            front["attachments"] = [up + files[h] for h in sorted(attached)]
        if links:
            front["links"] = links
        body = _LINK.sub(lambda m: up + files[m[1]] if m[1] in files else m[0],
                         str(node.get("content") or ""))  # fmt: skip
        text = "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n"
        target = self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + (body if body.endswith("\n") or not body else body + "\n"))
