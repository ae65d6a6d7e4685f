"""Writing a commit (rows, changes, root, ref move) and reading commits back."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from isometry.errors import VcsError
from isometry.model import JSON, RowKind, encode, row_hash
from isometry.vcs.graph import CommitGraph, jump_for
from isometry.vcs.materialize import MAIN, apply_to_main
from isometry.vcs.refs import set_if_equals
from isometry.vcs.rows import EMPTY_ROOT, Key, advance_root, store_rows

Change = tuple[Key, bytes | None, bytes | None]


@dataclass(frozen=True, slots=True)
class Commit:
    seq: int
    id: str
    parents: tuple[str, ...]
    author: str
    message: str
    time: str
    root: str
    metadata: dict[str, JSON] = field(default_factory=dict)
    changes: int = 0

    def to_json(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "parents": list(self.parents),
            "author": self.author,
            "message": self.message,
            "time": self.time,
            "root": self.root,
            "metadata": self.metadata,
            "changes": self.changes,
        }


@dataclass
class Prepared:
    """Rows about to be committed: the changes, the new row versions, and the decoded rows."""

    changes: list[Change] = field(default_factory=list)
    new_rows: list[tuple[bytes, RowKind, bytes]] = field(default_factory=list)
    known: dict[bytes, Mapping[str, JSON]] = field(default_factory=dict)


def prepare(
    rows: Mapping[Key, Mapping[str, JSON] | None], before: Mapping[Key, bytes | None]
) -> Prepared:
    """Encode and hash each new row; keep only those that differ from ``before``."""
    out = Prepared()
    for key, row in sorted(rows.items()):
        digest = None
        if row is not None:
            data = encode(row)
            digest = row_hash(data)
            out.new_rows.append((digest, key[0], data))
            out.known[digest] = row
        if digest != before.get(key):
            out.changes.append((key, before.get(key), digest))
    return out


_SELECT = (
    "SELECT seq, id, parent_seq, other_parents, author, message, time, root, metadata, changes"
    " FROM commits"
)


def load_commit(conn: sqlite3.Connection, graph: CommitGraph, seq: int) -> Commit:
    row = conn.execute(f"{_SELECT} WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        graph.get(seq)  # raises RefNotFound with a clear message
        raise VcsError(f"commit #{seq} is missing from the commits table")
    return _commit(graph, row)


def load_commits(conn: sqlite3.Connection, graph: CommitGraph, seqs: Sequence[int]) -> list[Commit]:
    return [load_commit(conn, graph, seq) for seq in seqs]


def _commit(graph: CommitGraph, row: tuple[Any, ...]) -> Commit:
    seq, cid, _, _, author, message, time, root, metadata, changes = row
    return Commit(
        seq=seq,
        id=bytes(cid).hex(),
        parents=tuple(graph.get(p).id for p in graph.get(seq).parents),
        author=author,
        message=message,
        time=time,
        root=bytes(root).hex(),
        metadata=orjson.loads(metadata),
        changes=changes,
    )


def root_of(conn: sqlite3.Connection, seq: int) -> str:
    row = conn.execute("SELECT root FROM commits WHERE seq = ?", (seq,)).fetchone()
    return bytes(row[0]).hex() if row else EMPTY_ROOT


def write_commit(
    conn: sqlite3.Connection,
    graph: CommitGraph,
    *,
    branch: str | None,
    parents: Sequence[int],
    changes: Sequence[Change],
    new_rows: Sequence[tuple[bytes, RowKind, bytes]],
    author: str,
    message: str,
    time: str,
    metadata: dict[str, JSON],
    known: Mapping[bytes, Mapping[str, JSON]] | None = None,
    packed: Mapping[bytes, bytes] | None = None,
) -> Commit:
    """Record a commit whose first parent is ``parents[0]`` and move ``branch`` onto it.

    Must run inside a write transaction; the branch moves by compare-and-swap from
    ``parents[0]``, so a concurrent commit to the same branch makes this one fail, not vanish.
    """
    first = parents[0] if parents else None
    root = advance_root(root_of(conn, first) if first is not None else EMPTY_ROOT, changes)
    parent_ids = [graph.get(p).id for p in parents]
    identity = orjson.dumps(
        {
            "parents": parent_ids,
            "author": author,
            "message": message,
            "time": time,
            "root": root,
            "metadata": metadata,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    cid = hashlib.sha256(identity).hexdigest()
    depth, jump = jump_for(graph.get(first) if first is not None else None, graph)
    store_rows(conn, new_rows, packed)
    cursor = conn.execute(
        "INSERT INTO commits (id, parent_seq, other_parents, depth, jump_seq, author, message,"
        " time, root, metadata, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            bytes.fromhex(cid),
            first,
            ",".join(str(p) for p in parents[1:]) or None,
            depth,
            jump,
            author,
            message,
            time,
            bytes.fromhex(root),
            orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS).decode(),
            len(changes),
        ),
    )
    seq = cursor.lastrowid
    assert seq is not None
    conn.executemany(
        "INSERT INTO changes (commit_seq, kind, key, old, new) VALUES (?, ?, ?, ?, ?)",
        ((seq, int(kind), key, old, new) for (kind, key), old, new in changes),
    )
    graph.refresh()
    if branch is not None and first is not None:
        set_if_equals(conn, branch, first, seq)
        if branch == MAIN:
            apply_to_main(conn, {k: new for k, _, new in changes}, known)
    return Commit(seq, cid, tuple(parent_ids), author, message, time, root, metadata, len(changes))
