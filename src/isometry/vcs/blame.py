"""Blame: for each field of a row, the commit that last set the value it has now."""

from __future__ import annotations

from dataclasses import dataclass

from isometry.errors import NodeNotFound
from isometry.model import JSON, RowKind
from isometry.vcs.commits import Commit, load_commit
from isometry.vcs.fieldmerge import flatten
from isometry.vcs.history import lookup
from isometry.vcs.repository import Repository
from isometry.vcs.rows import fetch_rows


@dataclass(frozen=True, slots=True)
class BlameLine:
    field: str
    value: JSON
    commit: Commit

    def to_json(self) -> dict[str, JSON]:
        return {
            "field": self.field,
            "value": self.value,
            "commit": self.commit.id,
            "time": self.commit.time,
            "author": self.commit.author,
            "message": self.commit.message,
        }


def _history(
    repo: Repository, kind: RowKind, key: str, seq: int
) -> list[tuple[int, bytes | None, bytes | None]]:
    """The changes to one row along the first-parent chain of ``seq``, newest first."""
    rows = repo.conn.execute(
        "SELECT commit_seq, old, new FROM changes WHERE kind = ? AND key = ? AND commit_seq <= ?"
        " ORDER BY commit_seq DESC",
        (int(kind), key, seq),
    ).fetchall()
    return [(s, old, new) for s, old, new in rows if repo.graph.is_fp_ancestor(s, seq)]


def _blame(
    repo: Repository, kind: RowKind, key: str, seq: int, wanted: dict[str, JSON]
) -> dict[str, int]:
    found: dict[str, int] = {}
    for commit_seq, old, new in _history(repo, kind, key, seq):
        if not wanted:
            break
        rows = fetch_rows(repo.conn, [old, new])
        before = flatten(rows[old]) if old is not None else {}
        after = flatten(rows[new]) if new is not None else {}
        set_here = {f for f in wanted if before.get(f) != after.get(f)}
        if not set_here:
            continue
        # A merge commit only carries values over from its other parents: follow them there.
        for other in repo.graph.get(commit_seq).others:
            digest = lookup(repo.conn, repo.graph, other, [(kind, key)])[(kind, key)]
            there = flatten(fetch_rows(repo.conn, [digest])[digest]) if digest is not None else {}
            came = {f: wanted[f] for f in set_here if there.get(f) == wanted[f]}
            if came:
                found |= _blame(repo, kind, key, other, dict(came))
                set_here -= set(came)
                for f in came:
                    wanted.pop(f)
        for f in set_here:
            found[f] = commit_seq
            wanted.pop(f)
    return found


def blame(repo: Repository, key: str, at: str = "main") -> list[BlameLine]:
    with repo.db.snapshot() as conn:
        seq = repo.resolve(at)
        for kind in (RowKind.NODE, RowKind.EDGE):
            row = repo.row_at(seq, kind, key)
            if row is not None:
                break
        else:
            raise NodeNotFound(f"no node or edge {key!r} at {at}")
        current = flatten(row)
        found = _blame(repo, kind, key, seq, dict(current))
        commits = {s: load_commit(conn, repo.graph, s) for s in set(found.values())}
        return [BlameLine(f, current[f], commits[found[f]]) for f in sorted(current)]
