"""Branches and tags, and turning a revision string into a commit.

Refs move only by compare-and-swap: ``set_if_equals`` succeeds only when the ref still points
where the caller last saw it, so two writers can never silently lose each other's commits.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from isometry.errors import (
    BranchMoved,
    InvalidRefName,
    ModelError,
    RefExists,
    RefNotFound,
)
from isometry.model import utc_timestamp
from isometry.vcs.graph import CommitGraph

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$")
_HEX = re.compile(r"^[0-9a-f]{4,64}$")
_TILDE = re.compile(r"^(.*)~(\d+)$")


@dataclass(frozen=True, slots=True)
class Ref:
    name: str
    type: str
    seq: int


def check_name(name: str) -> str:
    if not _NAME.match(name) or ".." in name or name.endswith((".", "/")) or "//" in name:
        raise InvalidRefName(
            f"{name!r} is not a usable branch or tag name "
            "(letters, digits and . _ / + -, not starting with . or -)"
        )
    return name


def get_ref(conn: sqlite3.Connection, name: str) -> Ref | None:
    row = conn.execute("SELECT name, type, commit_seq FROM refs WHERE name = ?", (name,)).fetchone()
    return Ref(*row) if row else None


def branch_head(conn: sqlite3.Connection, name: str) -> int:
    ref = get_ref(conn, name)
    if ref is None or ref.type != "branch":
        raise RefNotFound(f"branch {name!r} does not exist")
    return ref.seq


def list_refs(conn: sqlite3.Connection, kind: str) -> list[Ref]:
    return [
        Ref(*row)
        for row in conn.execute(
            "SELECT name, type, commit_seq FROM refs WHERE type = ? ORDER BY name", (kind,)
        )
    ]


def create_ref(conn: sqlite3.Connection, name: str, kind: str, seq: int, now: str) -> Ref:
    check_name(name)
    existing = get_ref(conn, name)
    if existing is not None:
        raise RefExists(f"a {existing.type} named {name!r} already exists")
    conn.execute(
        "INSERT INTO refs (name, type, commit_seq, created_at) VALUES (?, ?, ?, ?)",
        (name, kind, seq, now),
    )
    return Ref(name, kind, seq)


def delete_ref(conn: sqlite3.Connection, name: str, kind: str) -> int:
    ref = get_ref(conn, name)
    if ref is None or ref.type != kind:
        raise RefNotFound(f"{kind} {name!r} does not exist")
    conn.execute("DELETE FROM refs WHERE name = ? AND type = ?", (name, kind))
    return ref.seq


def set_if_equals(conn: sqlite3.Connection, name: str, old: int, new: int) -> None:
    """Move branch ``name`` from ``old`` to ``new``, or fail if it no longer points at ``old``."""
    moved = conn.execute(
        "UPDATE refs SET commit_seq = ? WHERE name = ? AND type = 'branch' AND commit_seq = ?",
        (new, name, old),
    ).rowcount
    if moved != 1:
        raise BranchMoved(f"branch {name!r} moved while this change was being made; retry")


def _at_time(graph: CommitGraph, seq: int, when: str) -> int:
    limit = datetime.fromisoformat(when.replace("Z", "+00:00"))
    for candidate in graph.fp_chain(seq, -1):
        info = graph.get(candidate)
        if datetime.fromisoformat(info.time.replace("Z", "+00:00")) <= limit:
            return candidate
    raise RefNotFound(f"nothing was committed at or before {when}")


def resolve(conn: sqlite3.Connection, graph: CommitGraph, rev: str) -> int:
    """A branch, tag, commit id (or unique prefix), ``REV~N``, ``REV@TIME`` or a bare time."""
    text = rev.strip()
    tilde = _TILDE.match(text)
    if tilde:
        seq = resolve(conn, graph, tilde.group(1))
        for _ in range(int(tilde.group(2))):
            parent = graph.get(seq).parent
            if parent is None:
                raise RefNotFound(f"{rev!r} goes back past the first commit")
            seq = parent
        return seq
    ref = get_ref(conn, text)
    if ref is not None:
        return ref.seq
    if "@" in text:
        name, _, when = text.partition("@")
        return _at_time(graph, resolve(conn, graph, name or "main"), _time(when, rev))
    if _HEX.match(text):
        exact = graph.seq_of(text)  # a full id: one dict lookup, no scan of every id
        if exact is not None:
            return exact
        matches = graph.ids_with_prefix(text)
        found = graph.seq_of(matches[0]) if len(matches) == 1 else None
        if found is not None:
            return found
        if len(matches) > 1:
            raise RefNotFound(f"{rev!r} is an ambiguous commit prefix; give more digits")
    if text[:1].isdigit() and "-" in text:
        return _at_time(graph, resolve(conn, graph, "main"), _time(text, rev))
    raise RefNotFound(f"{rev!r} is not a branch, tag, commit or time")


def _time(text: str, rev: str) -> str:
    try:
        return utc_timestamp(text.strip("{}"), "time")
    except ModelError:
        raise RefNotFound(f"{rev!r}: {text!r} is not an ISO-8601 time") from None
