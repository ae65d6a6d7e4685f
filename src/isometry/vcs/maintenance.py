"""Garbage collection of unreachable history, and ``fsck``: recompute and compare everything."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from isometry.model import RowKind, encode, row_hash
from isometry.vcs import refs
from isometry.vcs.commits import root_of
from isometry.vcs.history import lookup, path_delta
from isometry.vcs.materialize import MAIN, apply_to_main, from_columns
from isometry.vcs.repository import Repository
from isometry.vcs.rows import EMPTY_ROOT, Key, advance_root, chunks, marks, unpack


@dataclass(frozen=True, slots=True)
class GcReport:
    commits_removed: int
    row_versions_removed: int
    bytes_before: int
    bytes_after: int

    def to_json(self) -> dict[str, int]:
        return {
            "commits_removed": self.commits_removed,
            "row_versions_removed": self.row_versions_removed,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
        }


def _size(repo: Repository) -> int:
    base = repo.db.path
    return sum(os.path.getsize(p) for p in (base, base + "-wal") if os.path.exists(p))


def gc(
    repo: Repository, *, keep_unreachable: timedelta = timedelta(days=14), vacuum: bool = False
) -> GcReport:
    """Remove commits no branch, tag, waiting merge or retention window reaches, then their rows
    (changes, lineage, review flags) and the row versions nothing refers to any more.

    An unreachable commit younger than ``keep_unreachable`` is kept (a reset can be undone
    for that long); ancestors of anything kept are kept, since a commit's state is defined by
    its first-parent chain.
    """
    before = _size(repo)
    cutoff = repo.clock.now() - keep_unreachable
    with repo.db.transaction() as conn:
        roots = [row[0] for row in conn.execute("SELECT commit_seq FROM refs")]
        for target, source, base in conn.execute(
            "SELECT target_seq, source_seq, base_seq FROM pending_merges"
        ):
            roots += [s for s in (target, source, base) if s is not None]
        every = conn.execute("SELECT seq, time FROM commits").fetchall()
        roots += [seq for seq, time in every if _parse(time) >= cutoff]
        keep = set(repo.graph.ancestors(roots))
        doomed = sorted(seq for seq, _ in every if seq not in keep)
        for part in chunks(doomed):
            for table, column in (
                ("changes", "commit_seq"),
                ("lineage", "commit_seq"),
                ("review_flags", "commit_seq"),
                ("commits", "seq"),
            ):
                conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks(len(part))})", part)
        removed_rows = conn.execute(
            "DELETE FROM row_versions WHERE hash NOT IN ("
            " SELECT new FROM changes WHERE new IS NOT NULL"
            " UNION SELECT old FROM changes WHERE old IS NOT NULL)"
        ).rowcount
    repo.graph.forget()
    if vacuum:
        repo.conn.execute("VACUUM")
    repo.db.checkpoint()
    return GcReport(len(doomed), removed_rows, before, _size(repo))


def _parse(time: str) -> datetime:
    return datetime.fromisoformat(time.replace("Z", "+00:00"))


@dataclass
class FsckReport:
    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "problems": self.problems,
            "checked": self.checked,
            "repaired": self.repaired,
        }


def fsck(repo: Repository, *, repair: bool = False) -> FsckReport:
    """Recompute every hash, every root and main's tables from history; report differences.

    With ``repair``, main's tables and the full-text index are rebuilt from history (history
    itself is never rewritten: it is the source of truth).
    """
    report = FsckReport()
    with repo.db.snapshot() as conn:
        _check_rows(conn, report)
        _check_commits(repo, report)
        _check_refs(repo, report)
        expected = _main_state(repo)
        table_problems = _check_tables(repo, expected, report)
        try:
            conn.execute("INSERT INTO nodes_fts (nodes_fts, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as error:
            report.problems.append(f"full-text index: {error}")
            table_problems = True
    if repair and table_problems:
        _rematerialize(repo, expected)
        report.repaired = True
    return report


def _check_rows(conn: sqlite3.Connection, report: FsckReport) -> None:
    count = 0
    for digest, data in conn.execute("SELECT hash, data FROM row_versions"):
        count += 1
        try:
            intact = hashlib.sha256(unpack(data)).digest() == digest
        except (ValueError, IndexError, zlib.error):
            intact = False
        if not intact:
            report.problems.append(
                f"row version {digest.hex()[:16]}: content does not match its hash"
            )
    report.checked["row_versions"] = count


def _check_commits(repo: Repository, report: FsckReport) -> None:
    conn, graph = repo.conn, repo.graph
    roots: dict[int, str] = {}
    count = 0
    for seq, raw_id, parent, raw_root, stated in conn.execute(
        "SELECT seq, id, parent_seq, root, changes FROM commits ORDER BY seq"
    ).fetchall():
        cid, root = bytes(raw_id).hex(), bytes(raw_root).hex()
        count += 1
        changes = conn.execute(
            "SELECT kind, key, old, new FROM changes WHERE commit_seq = ?", (seq,)
        ).fetchall()
        keyed = [((RowKind(k), key), old, new) for k, key, old, new in changes]
        if parent is not None:
            seen = lookup(conn, graph, parent, [k for k, _, _ in keyed])
            for k, old, _ in keyed:
                if seen[k] != old:
                    report.problems.append(
                        f"commit {cid[:12]}: recorded old value of {k[1]} is not its parent's"
                    )
        # Parents come first in seq order, so their recomputed roots are already known.
        expected = advance_root(roots[parent] if parent is not None else EMPTY_ROOT, keyed)
        if expected != root:
            report.problems.append(
                f"commit {cid[:12]}: root hash {root[:12]} should be {expected[:12]}"
            )
        if stated != len(changes):
            report.problems.append(f"commit {cid[:12]}: says {stated} changes, has {len(changes)}")
        roots[seq] = expected
    report.checked["commits"] = count


def _check_refs(repo: Repository, report: FsckReport) -> None:
    for name, seq in repo.conn.execute("SELECT name, commit_seq FROM refs"):
        if not repo.conn.execute("SELECT 1 FROM commits WHERE seq = ?", (seq,)).fetchone():
            report.problems.append(f"ref {name!r} points at a missing commit")


def _main_state(repo: Repository) -> dict[Key, bytes]:
    head = refs.branch_head(repo.conn, MAIN)
    first = repo.graph.fp_chain(head, -1)[-1]
    state = {k: s.after for k, s in path_delta(repo.conn, repo.graph, first, head).items()}
    return {k: v for k, v in state.items() if v is not None}


def _check_tables(repo: Repository, expected: dict[Key, bytes], report: FsckReport) -> bool:
    conn = repo.conn
    found = 0
    problems = len(report.problems)
    seen: set[Key] = set()
    root = EMPTY_ROOT
    for kind, table in ((RowKind.NODE, "nodes"), (RowKind.EDGE, "edges")):
        for values in conn.execute(f"SELECT * FROM {table}"):
            found += 1
            key = (kind, str(values[0]))
            seen.add(key)
            digest = row_hash(encode(from_columns(kind, values)))
            root = advance_root(root, [(key, None, digest)])
            if key not in expected:
                report.problems.append(
                    f"{table}: {key[1]} is in the table but not in main's history"
                )
            elif expected[key] != digest:
                report.problems.append(f"{table}: {key[1]} differs from main's history")
    for key in expected.keys() - seen:
        report.problems.append(
            f"{'nodes' if key[0] is RowKind.NODE else 'edges'}: {key[1]} is missing"
        )
    head_root = root_of(conn, refs.branch_head(conn, MAIN))
    if root != head_root:
        report.problems.append("main's tables do not add up to main's root hash")
    report.checked["table_rows"] = found
    return len(report.problems) > problems


def _rematerialize(repo: Repository, expected: dict[Key, bytes]) -> None:
    with repo.db.transaction() as conn:
        conn.execute("DELETE FROM nodes")
        conn.execute("DELETE FROM edges")
        apply_to_main(conn, dict(expected))
        conn.execute("INSERT INTO nodes_fts (nodes_fts) VALUES ('rebuild')")
