"""What a commit sees: one row, a batch of rows, or the difference between two commits.

A commit's state is its first parent's state plus its own changes, so the first-parent links
form a tree and the state difference between any two commits is the changes along the tree path
between them: up from one to their lowest common ancestor, down to the other. Its cost grows
with the changes on that path, never with the size of the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from isometry.model import RowKind
from isometry.vcs.graph import CommitGraph
from isometry.vcs.rows import Key, chunks, marks


@dataclass(frozen=True, slots=True)
class Step:
    """One row's value at the two ends of a path; ``touched`` is the seq that set ``after``."""

    before: bytes | None
    after: bytes | None
    touched: int | None


def lookup(
    conn: sqlite3.Connection, graph: CommitGraph, seq: int, keys: Iterable[Key]
) -> dict[Key, bytes | None]:
    """The row hash each key has at commit ``seq`` (None when absent)."""
    result: dict[Key, bytes | None] = {}
    by_kind: dict[RowKind, list[str]] = {}
    for kind, key in keys:
        result[(kind, key)] = None
        by_kind.setdefault(kind, []).append(key)
    for kind, names in by_kind.items():
        for part in chunks(names):
            rows = conn.execute(
                f"SELECT key, commit_seq, new FROM changes WHERE kind = ? AND key IN"
                f" ({marks(len(part))}) AND commit_seq <= ? ORDER BY key, commit_seq DESC",
                (int(kind), *part, seq),
            ).fetchall()
            settled: set[str] = set()
            for key, commit_seq, new in rows:
                if key in settled or not graph.is_fp_ancestor(commit_seq, seq):
                    continue
                settled.add(key)
                result[(kind, key)] = new
    return result


def _leg_changes(
    conn: sqlite3.Connection, seqs: list[int]
) -> dict[Key, tuple[bytes | None, bytes | None, int]]:
    """Per key along one leg: value before the leg, value after it, and the seq that set it."""
    out: dict[Key, tuple[bytes | None, bytes | None, int]] = {}
    for part in chunks(sorted(seqs)):
        for seq, kind, key, old, new in conn.execute(
            "SELECT commit_seq, kind, key, old, new FROM changes"
            f" WHERE commit_seq IN ({marks(len(part))}) ORDER BY commit_seq",
            part,
        ):
            k = (RowKind(kind), key)
            seen = out.get(k)
            out[k] = (old if seen is None else seen[0], new, seq)
    return out


def path_delta(conn: sqlite3.Connection, graph: CommitGraph, a: int, b: int) -> dict[Key, Step]:
    """Every row whose value differs between commits ``a`` and ``b``."""
    if a == b:
        return {}
    top = graph.fp_lca(a, b)
    up = _leg_changes(conn, graph.fp_chain(a, top))
    down = _leg_changes(conn, graph.fp_chain(b, top))
    delta: dict[Key, Step] = {}
    for k, (at_top, at_a, _) in up.items():
        seen = down.get(k)
        at_b, touched = (at_top, None) if seen is None else (seen[1], seen[2])
        if at_a != at_b:
            delta[k] = Step(at_a, at_b, touched)
    for k, (at_top, at_b, seq) in down.items():
        if k not in up and at_top != at_b:
            delta[k] = Step(at_top, at_b, seq)
    return delta


def descent(
    conn: sqlite3.Connection, graph: CommitGraph, ancestor: int, seq: int, size: int = 5_000
) -> Iterator[list[tuple[Key, bytes | None]]]:
    """The value at ``seq`` of every row changed since ``ancestor`` (on its first-parent
    chain), in chunks: what moving a branch forward needs, without the whole delta in memory.
    """
    chain = graph.fp_chain(seq, ancestor)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS descent_chain (seq INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM descent_chain")
    conn.executemany("INSERT INTO descent_chain (seq) VALUES (?)", ((s,) for s in chain))
    # SQLite returns the bare columns of the row that holds MAX(): the last change of each row.
    cursor = conn.execute(
        "SELECT kind, key, new, MAX(commit_seq) FROM changes"
        " WHERE commit_seq IN (SELECT seq FROM descent_chain) GROUP BY kind, key"
    )
    while rows := cursor.fetchmany(size):
        yield [((RowKind(kind), key), new) for kind, key, new, _ in rows]
    conn.execute("DELETE FROM descent_chain")
