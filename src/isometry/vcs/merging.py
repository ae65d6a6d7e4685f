"""Merge and revert: three-way at field level, with conflicts kept as rows until resolved.

A merge that meets conflicts under the ``manual`` strategy writes nothing to the branch: the
merged rows and one conflict row per clashing field wait in ``pending_*`` tables until every
conflict is resolved (then ``continue`` commits) or the merge is aborted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson

from isometry.errors import (
    BranchMoved,
    InvalidOperation,
    ModelError,
    NoMergeInProgress,
    UnresolvedConflicts,
)
from isometry.model import JSON, RowKind, encode
from isometry.vcs import refs
from isometry.vcs.commits import Commit, load_commit, prepare, write_commit
from isometry.vcs.fieldmerge import ROW, FieldConflict, MergePolicy, flatten, merge_row, unflatten
from isometry.vcs.history import lookup, path_delta
from isometry.vcs.ops import validate
from isometry.vcs.repository import Repository
from isometry.vcs.rows import Key, fetch_rows

KIND_NAMES = {RowKind.NODE: "node", RowKind.EDGE: "edge"}


@dataclass(frozen=True, slots=True)
class Conflict:
    target: str
    kind: RowKind
    id: str
    field: str
    base: JSON
    ours: JSON
    theirs: JSON
    resolved: bool = False
    resolution: JSON = None

    def to_json(self) -> dict[str, JSON]:
        return {
            "branch": self.target,
            "kind": KIND_NAMES[self.kind],
            "id": self.id,
            "field": self.field or None,
            "base": self.base,
            "ours": self.ours,
            "theirs": self.theirs,
            "resolved": self.resolved,
            "resolution": self.resolution,
        }


@dataclass
class MergeResult:
    status: str
    commit: Commit | None
    conflicts: list[Conflict] = field(default_factory=list)
    flagged: list[dict[str, JSON]] = field(default_factory=list)

    def to_json(self) -> dict[str, JSON]:
        return {
            "status": self.status,
            "commit": self.commit.id if self.commit else None,
            "conflicts": [c.to_json() for c in self.conflicts],
            "flagged": self.flagged,
        }


@dataclass(frozen=True, slots=True)
class Side:
    """One row at the three corners of a merge, as hashes, with when each side last set it."""

    base: bytes | None
    ours: bytes | None
    theirs: bytes | None
    ours_time: str | None = None
    theirs_time: str | None = None


@dataclass
class Outcome:
    """Merged rows, rows taken as they are (by hash, never decoded), and what ``ours`` had."""

    rows: dict[Key, dict[str, JSON] | None] = field(default_factory=dict)
    taken: dict[Key, bytes | None] = field(default_factory=dict)
    ours: dict[Key, bytes | None] = field(default_factory=dict)
    conflicts: list[tuple[Key, FieldConflict]] = field(default_factory=list)
    flagged: list[tuple[Key, str]] = field(default_factory=list)


def three_way(conn: sqlite3.Connection, sides: Mapping[Key, Side], policy: MergePolicy) -> Outcome:
    """The merged value of every key whose result differs from ``ours``.

    Only rows changed on both sides are decoded; a row changed on one side is taken by hash.
    """
    outcome = Outcome()
    contested: dict[Key, Side] = {}
    for key, side in sides.items():
        if side.ours == side.theirs:
            continue
        outcome.ours[key] = side.ours
        if side.ours == side.base:
            outcome.taken[key] = side.theirs
        else:
            contested[key] = side
    rows = fetch_rows(conn, [h for s in contested.values() for h in (s.base, s.ours, s.theirs)])
    for key, side in contested.items():
        merged = merge_row(
            _row(rows, side.base),
            _row(rows, side.ours),
            _row(rows, side.theirs),
            policy,
            side.ours_time,
            side.theirs_time,
        )
        if merged.row is not None and not merged.conflicts:
            try:
                merged.row = validate(key[0], merged.row)
            except ModelError:
                # Fields merged one by one can break a rule that spans fields: ask a person.
                merged.row = _row(rows, side.ours)
                merged.conflicts = [
                    FieldConflict(
                        ROW, _row(rows, side.base), _row(rows, side.ours), _row(rows, side.theirs)
                    )
                ]
                merged.flagged = []
        outcome.rows[key] = merged.row
        outcome.conflicts.extend((key, c) for c in merged.conflicts)
        outcome.flagged.extend((key, f) for f in merged.flagged)
    return outcome


def _row(rows: Mapping[bytes, dict[str, JSON]], digest: bytes | None) -> dict[str, JSON] | None:
    return rows[digest] if digest is not None else None


def merge(
    repo: Repository,
    source: str,
    into: str,
    policy: MergePolicy,
    *,
    author: str,
    message: str | None = None,
    metadata: dict[str, JSON] | None = None,
    fast_forward: bool = True,
) -> MergeResult:
    """Merge ``source`` (any ref or commit) into branch ``into``."""
    graph = repo.graph
    with repo.db.transaction() as conn:
        repo._refuse_pending(into)
        ours = refs.branch_head(conn, into)
        theirs = repo.resolve(source)
        if graph.is_ancestor(theirs, ours):
            return MergeResult("up-to-date", load_commit(conn, graph, ours))
        if fast_forward and graph.is_ancestor(ours, theirs):
            repo.move_branch(into, ours, theirs)
            return MergeResult("fast-forward", load_commit(conn, graph, theirs))
        base = graph.merge_base(ours, theirs)
        if base is None:
            raise InvalidOperation(f"{source!r} and {into!r} share no history")
        ours_delta = path_delta(conn, graph, base, ours)
        theirs_delta = path_delta(conn, graph, base, theirs)
        sides: dict[Key, Side] = {}
        for key, step in theirs_delta.items():
            mine = ours_delta.get(key)
            sides[key] = Side(
                step.before,
                mine.after if mine else step.before,
                step.after,
                _side_time(repo, key, ours, base, mine.touched) if mine else None,
                _side_time(repo, key, theirs, base, step.touched),
            )
        outcome = three_way(conn, sides, policy)
        text = message or f"Merge {source} into {into}"
        info: dict[str, JSON] = {"merge": {"source": source, "policy": policy.to_json()}}
        details = {**(metadata or {}), **info}
        if outcome.conflicts:
            return _suspend(
                repo,
                "merge",
                into,
                ours,
                theirs,
                base,
                source,
                policy,
                author,
                text,
                details,
                outcome,
            )
        return _finish(repo, into, [ours, theirs], outcome, author, text, details)


def _side_time(repo: Repository, key: Key, head: int, base: int, touched: int | None) -> str:
    """When one side of a merge last wrote ``key``.

    ``touched`` is the commit on the head's first-parent line that set the row; it is None when
    the row's state came in through a merge (say, a deletion merged from elsewhere). Then the
    newest commit that changed the row and that the head has but the base has not decides, and
    failing that the head itself.
    """
    graph = repo.graph
    if touched is None:
        candidates = repo.conn.execute(
            "SELECT commit_seq FROM changes WHERE kind = ? AND key = ? AND commit_seq <= ?"
            " ORDER BY commit_seq DESC",
            (int(key[0]), key[1], head),
        )
        touched = next(
            (
                seq
                for (seq,) in candidates
                if graph.is_ancestor(seq, head) and not graph.is_ancestor(seq, base)
            ),
            head,
        )
    return graph.get(touched).time


def _finish(
    repo: Repository,
    into: str,
    parents: list[int],
    outcome: Outcome,
    author: str,
    message: str,
    metadata: dict[str, JSON],
) -> MergeResult:
    conn = repo.conn
    unknown = [k for k in (*outcome.rows, *outcome.taken) if k not in outcome.ours]
    current = {**outcome.ours, **lookup(conn, repo.graph, parents[0], unknown)}
    prepared = prepare(outcome.rows, current)
    changes = prepared.changes
    changes += [(k, current[k], h) for k, h in outcome.taken.items() if h != current[k]]
    flagged = _flag_list(outcome)
    if flagged:
        metadata = {**metadata, "flagged": flagged}
    commit = write_commit(
        conn,
        repo.graph,
        branch=into,
        parents=parents,
        changes=changes,
        new_rows=prepared.new_rows,
        author=author,
        message=message,
        time=repo.now(),
        metadata=metadata,
        known=prepared.known,
    )
    conn.executemany(
        "INSERT OR IGNORE INTO review_flags (commit_seq, kind, key, field) VALUES (?, ?, ?, ?)",
        ((commit.seq, int(k), key, f) for (k, key), f in outcome.flagged),
    )
    return MergeResult("merged", commit, flagged=flagged)


def _flag_list(outcome: Outcome) -> list[dict[str, JSON]]:
    # Sorted: the order rows come in depends on the path history took, and this list goes
    # into the commit's metadata, so equal merges must list it equally.
    return [
        {"kind": KIND_NAMES[k], "id": key, "field": f} for (k, key), f in sorted(outcome.flagged)
    ]


def _dump(value: JSON) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _suspend(
    repo: Repository,
    kind: str,
    into: str,
    ours: int,
    source_seq: int,
    base: int | None,
    source: str,
    policy: MergePolicy,
    author: str,
    message: str,
    metadata: dict[str, JSON],
    outcome: Outcome,
) -> MergeResult:
    conn = repo.conn
    if outcome.flagged:
        metadata = {**metadata, "flagged": _flag_list(outcome)}
    conn.execute(
        "INSERT INTO pending_merges (target, kind, target_seq, source_seq, base_seq, source_name,"
        " policy, author, message, metadata, started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            into,
            kind,
            ours,
            source_seq,
            base,
            source,
            _dump(policy.to_json()).decode(),
            author,
            message,
            _dump(metadata).decode(),
            repo.now(),
        ),
    )
    taken = fetch_rows(conn, outcome.taken.values())
    rows = {**outcome.rows, **{k: _row(taken, h) for k, h in outcome.taken.items()}}
    conn.executemany(
        "INSERT INTO pending_rows (target, kind, key, data) VALUES (?, ?, ?, ?)",
        (
            (into, int(k), key, encode(row) if row is not None else None)
            for (k, key), row in rows.items()
        ),
    )
    conn.executemany(
        "INSERT INTO conflicts (target, kind, key, field, base, ours, theirs)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (into, int(k), key, c.field, _dump(c.base), _dump(c.ours), _dump(c.theirs))
            for (k, key), c in outcome.conflicts
        ),
    )
    return MergeResult(
        "conflicts", None, conflicts=_load_conflicts(conn, into), flagged=_flag_list(outcome)
    )


def _load_conflicts(conn: sqlite3.Connection, target: str | None = None) -> list[Conflict]:
    query = (
        "SELECT target, kind, key, field, base, ours, theirs, resolved, resolution FROM conflicts"
    )
    rows = conn.execute(
        query + (" WHERE target = ?" if target else "") + " ORDER BY target, kind, key, field",
        (target,) if target else (),
    )
    return [
        Conflict(
            t,
            RowKind(k),
            key,
            f,
            orjson.loads(b),
            orjson.loads(o),
            orjson.loads(th),
            bool(done),
            orjson.loads(res) if res is not None else None,
        )
        for t, k, key, f, b, o, th, done, res in rows
    ]


def conflicts(repo: Repository, into: str | None = None) -> list[Conflict]:
    with repo.db.snapshot() as conn:
        return _load_conflicts(conn, into)


def pending_targets(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT target FROM pending_merges ORDER BY target")]


def _pending_target(conn: sqlite3.Connection, into: str | None) -> str:
    targets = pending_targets(conn)
    if into is not None:
        if into not in targets:
            raise NoMergeInProgress(f"no merge into {into!r} is waiting")
        return into
    if not targets:
        raise NoMergeInProgress("no merge is waiting for conflicts to be resolved")
    if len(targets) > 1:
        raise NoMergeInProgress(
            f"merges into {', '.join(targets)} are waiting; say which one with --into"
        )
    return targets[0]


def resolve(
    repo: Repository,
    key: str,
    *,
    choice: str,
    value: JSON = None,
    field_name: str | None = None,
    into: str | None = None,
) -> list[Conflict]:
    """Settle the conflicts of one node (or one of its fields) with ours, theirs or a value."""
    if choice not in ("ours", "theirs", "value"):
        raise InvalidOperation("resolve with ours, theirs or an explicit value")
    with repo.db.transaction() as conn:
        target = _pending_target(conn, into)
        matching = [
            c
            for c in _load_conflicts(conn, target)
            if c.id == key
            and (
                field_name is None or c.field == field_name or (field_name == "" and c.field == ROW)
            )
        ]
        if not matching:
            what = f"field {field_name!r} of {key!r}" if field_name else repr(key)
            raise NoMergeInProgress(f"no conflict on {what} in the merge into {target!r}")
        if choice == "value" and field_name is None and len(matching) > 1:
            raise InvalidOperation(
                f"{key!r} has conflicts in several fields; give --field with --value"
            )
        for c in matching:
            chosen = c.ours if choice == "ours" else c.theirs if choice == "theirs" else value
            if c.field == ROW and chosen is not None and not isinstance(chosen, dict):
                raise InvalidOperation(
                    f"{key!r} is a whole-row conflict: the value must be a full object or null"
                )
            conn.execute(
                "UPDATE conflicts SET resolved = 1, resolution = ?"
                " WHERE target = ? AND kind = ? AND key = ? AND field = ?",
                (_dump(chosen), target, int(c.kind), c.id, c.field),
            )
        return _load_conflicts(conn, target)


def abort(repo: Repository, into: str | None = None) -> str:
    """Drop a waiting merge; the branch never moved, so nothing else changes."""
    with repo.db.transaction() as conn:
        target = _pending_target(conn, into)
        for table in ("conflicts", "pending_rows", "pending_merges"):
            conn.execute(f"DELETE FROM {table} WHERE target = ?", (target,))
        return target


def continue_(repo: Repository, into: str | None = None) -> MergeResult:
    """Commit a waiting merge once every conflict is resolved."""
    with repo.db.transaction() as conn:
        target = _pending_target(conn, into)
        kind, ours, theirs, author, message, metadata = conn.execute(
            "SELECT kind, target_seq, source_seq, author, message, metadata FROM pending_merges"
            " WHERE target = ?",
            (target,),
        ).fetchone()
        if refs.branch_head(conn, target) != ours:
            raise BranchMoved(
                f"branch {target!r} moved since the merge started; "
                "run 'isometry merge --abort' and merge again"
            )
        found = _load_conflicts(conn, target)
        open_ = [c for c in found if not c.resolved]
        if open_:
            listed = ", ".join(f"{c.id}{'.' + c.field if c.field else ''}" for c in open_[:5])
            raise UnresolvedConflicts(
                f"{len(open_)} conflict(s) are still unresolved ({listed}); "
                "resolve them with 'isometry resolve' or abort the merge"
            )
        details = orjson.loads(metadata)
        outcome = Outcome(
            rows=_resolved_rows(conn, target, found),
            flagged=[
                ((RowKind.NODE if f["kind"] == "node" else RowKind.EDGE, f["id"]), f["field"])
                for f in details.pop("flagged", [])
            ],
        )
        result = _finish(
            repo,
            target,
            [ours, theirs] if kind == "merge" else [ours],
            outcome,
            author,
            message,
            details,
        )
        for table in ("conflicts", "pending_rows", "pending_merges"):
            conn.execute(f"DELETE FROM {table} WHERE target = ?", (target,))
        return result


def _resolved_rows(
    conn: sqlite3.Connection, target: str, found: Iterable[Conflict]
) -> dict[Key, dict[str, JSON] | None]:
    rows: dict[Key, dict[str, JSON] | None] = {
        (RowKind(k), key): orjson.loads(data) if data is not None else None
        for k, key, data in conn.execute(
            "SELECT kind, key, data FROM pending_rows WHERE target = ?", (target,)
        )
    }
    for c in found:
        key = (c.kind, c.id)
        if c.field == ROW:
            rows[key] = c.resolution
            continue
        flat = flatten(rows[key])
        flat[c.field] = c.resolution
        rows[key] = unflatten(flat)
    for key, row in rows.items():
        if row is None:
            continue
        try:
            rows[key] = validate(key[0], {**row, "id": key[1]})
        except ModelError as error:
            raise InvalidOperation(
                f"the resolved {KIND_NAMES[key[0]]} {key[1]!r}: {error}"
            ) from None
    return rows


def revert(
    repo: Repository,
    rev: str,
    branch: str,
    *,
    author: str,
    message: str | None = None,
    policy: MergePolicy | None = None,
) -> MergeResult:
    """A new commit on ``branch`` that undoes what ``rev`` changed against its first parent."""
    graph = repo.graph
    with repo.db.transaction() as conn:
        repo._refuse_pending(branch)
        ours = refs.branch_head(conn, branch)
        undone = repo.resolve(rev)
        if not graph.is_ancestor(undone, ours):
            raise InvalidOperation(f"{rev!r} is not in the history of branch {branch!r}")
        target = load_commit(conn, graph, undone)
        if graph.get(undone).parent is None:
            raise InvalidOperation("the initial commit cannot be reverted")
        changed = conn.execute(
            "SELECT kind, key, old, new FROM changes WHERE commit_seq = ?", (undone,)
        ).fetchall()
        keys = [(RowKind(k), key) for k, key, _, _ in changed]
        current = lookup(conn, graph, ours, keys)
        sides = {
            (RowKind(k), key): Side(new, current[(RowKind(k), key)], old)
            for k, key, old, new in changed
        }
        outcome = three_way(conn, sides, policy or MergePolicy())
        text = message or f'Revert "{target.message}"'
        details: dict[str, JSON] = {"revert": target.id}
        if outcome.conflicts:
            return _suspend(
                repo,
                "revert",
                branch,
                ours,
                undone,
                None,
                target.id,
                policy or MergePolicy(),
                author,
                text,
                details,
                outcome,
            )
        return _finish(repo, branch, [ours], outcome, author, text, details)
