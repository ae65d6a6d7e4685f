"""The versioned node store: one SQLite file, refs, commits, and reads at any commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from isometry.clock import Clock, stamp
from isometry.errors import (
    BranchMoved,
    InvalidOperation,
    MergeInProgress,
    NodeNotFound,
    RepositoryExists,
    RepositoryNotFound,
    StoreError,
)
from isometry.model import JSON, RowKind, compact
from isometry.store.connection import Database
from isometry.store.migrations import check_not_newer, migrate
from isometry.vcs import refs
from isometry.vcs.commits import Change, Commit, load_commit, prepare, write_commit
from isometry.vcs.graph import CommitGraph
from isometry.vcs.history import descent, lookup, path_delta
from isometry.vcs.materialize import MAIN, apply_to_main, compact_fts_after_bulk, from_columns
from isometry.vcs.ops import Delete, Op, Patch, Upsert, validate
from isometry.vcs.rows import Key, chunks, fetch_rows

DB_NAME = "isometry.db"
CommitHook = Callable[[sqlite3.Connection, "Commit | None", list[Change]], None]
FORMAT = "1"


def _repository_check(file: Path) -> Callable[[sqlite3.Connection], None]:
    """A check for ``Database`` that refuses a file which is not an isometry repository (an
    empty database, another program's) before anything is written to it: a repository has its
    schema's migrations recorded and its format in ``meta``, both written by ``init``."""

    def check(conn: sqlite3.Connection) -> None:
        try:
            tables = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            marked = {"meta", "schema_migrations"} <= tables and conn.execute(
                "SELECT 1 FROM meta WHERE key = 'format'"
            ).fetchone() is not None
        except sqlite3.DatabaseError as error:
            raise RepositoryNotFound(f"{file} is not an isometry repository: {error}") from None
        if not marked:
            raise RepositoryNotFound(
                f"{file} is not an isometry repository (an empty database, or another "
                "program's); it was left as it is"
            )

    return check


@dataclass(frozen=True, slots=True)
class BranchInfo:
    name: str
    head: Commit
    pending_merge: bool


@dataclass(frozen=True, slots=True)
class ApplyResult:
    commit: Commit
    changes: int


class Repository:
    """A repository directory holding ``isometry.db``.

    Every write is one transaction that ends by moving a ref with compare-and-swap; reads see
    one consistent snapshot.
    """

    def __init__(self, path: Path, db: Database, clock: Clock) -> None:
        self.path = path
        self.db = db
        self.clock = clock
        self.graph = CommitGraph(db.conn)
        # A rolled-back commit may have been cached; its seq will be reused by the next one.
        db.on_rollback.append(self.graph.forget)

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def init(cls, path: Path, clock: Clock, author: str) -> Repository:
        if (path / DB_NAME).exists():
            try:
                Database(path / DB_NAME, check=_repository_check(path / DB_NAME)).close()
            except StoreError:
                raise RepositoryExists(
                    f"{path / DB_NAME} already exists and is not an isometry repository; "
                    "move it away or create the repository in another folder"
                ) from None
            raise RepositoryExists(f"{path} already holds an isometry repository")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RepositoryNotFound(f"{path}: cannot create the repository: {error}") from None
        db = Database(path / DB_NAME)
        repo = cls(path, db, clock)
        now = repo.now()
        # One transaction: a repository is never left with its tables but not its mark.
        with db.transaction() as conn:
            migrate(db, now)
            conn.execute("INSERT INTO meta (key, value) VALUES ('format', ?)", (FORMAT,))
            conn.execute("INSERT INTO meta (key, value) VALUES ('created_at', ?)", (now,))
            root = write_commit(
                conn,
                repo.graph,
                branch=None,
                parents=[],
                changes=[],
                new_rows=[],
                author=author,
                message="Initial commit",
                time=now,
                metadata={},
            )
            refs.create_ref(conn, MAIN, "branch", root.seq, now)
        return repo

    @classmethod
    def open(cls, path: Path, clock: Clock) -> Repository:
        if not (path / DB_NAME).is_file():
            raise RepositoryNotFound(
                f"{path} is not an isometry repository (run 'isometry init' to create one)"
            )
        db = Database(path / DB_NAME, check=_repository_check(path / DB_NAME))
        try:
            check_not_newer(db)
            repo = cls(path, db, clock)
            migrate(db, repo.now())
        except sqlite3.DatabaseError as error:
            db.close()
            raise RepositoryNotFound(
                f"{path / DB_NAME}: not a readable repository: {error}"
            ) from None
        except BaseException:
            db.close()
            raise
        return repo

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def now(self) -> str:
        return stamp(self.clock.now())

    # -- refs ------------------------------------------------------------------------------

    def resolve(self, rev: str) -> int:
        return refs.resolve(self.conn, self.graph, rev)

    def commit(self, rev: str) -> Commit:
        return load_commit(self.conn, self.graph, self.resolve(rev))

    def head(self, branch: str) -> int:
        return refs.branch_head(self.conn, branch)

    def branches(self) -> list[BranchInfo]:
        with self.db.snapshot() as conn:
            pending = {row[0] for row in conn.execute("SELECT target FROM pending_merges")}
            return [
                BranchInfo(ref.name, load_commit(conn, self.graph, ref.seq), ref.name in pending)
                for ref in refs.list_refs(conn, "branch")
            ]

    def tags(self) -> list[tuple[str, Commit]]:
        with self.db.snapshot() as conn:
            return [
                (ref.name, load_commit(conn, self.graph, ref.seq))
                for ref in refs.list_refs(conn, "tag")
            ]

    def create_branch(self, name: str, start: str = MAIN) -> Commit:
        """A new branch at ``start``: one row in ``refs``, no rows copied."""
        with self.db.transaction() as conn:
            seq = self.resolve(start)
            refs.create_ref(conn, name, "branch", seq, self.now())
            return load_commit(conn, self.graph, seq)

    def delete_branch(self, name: str) -> Commit:
        if name == MAIN:
            raise InvalidOperation("the branch 'main' cannot be deleted")
        with self.db.transaction() as conn:
            self._refuse_pending(name)
            seq = refs.delete_ref(conn, name, "branch")
            return load_commit(conn, self.graph, seq)

    def create_tag(self, name: str, rev: str = MAIN) -> Commit:
        """An immutable name for a commit: tags are never moved."""
        with self.db.transaction() as conn:
            seq = self.resolve(rev)
            refs.create_ref(conn, name, "tag", seq, self.now())
            return load_commit(conn, self.graph, seq)

    def _refuse_pending(self, branch: str) -> None:
        if self.conn.execute("SELECT 1 FROM pending_merges WHERE target = ?", (branch,)).fetchone():
            raise MergeInProgress(
                f"a merge into {branch!r} is waiting for its conflicts to be resolved; finish "
                "it with 'isometry merge --continue' or drop it with 'isometry merge --abort'"
            )

    # -- writing ---------------------------------------------------------------------------

    def apply(
        self,
        branch: str,
        ops: Sequence[Op],
        *,
        author: str,
        message: str,
        metadata: dict[str, JSON] | None = None,
        allow_empty: bool = False,
        expected_head: int | None = None,
        on_commit: CommitHook | None = None,
        packed: Mapping[bytes, bytes] | None = None,
    ) -> ApplyResult:
        """Apply ``ops`` in order to the head of ``branch`` and commit them, all or nothing.

        ``expected_head`` makes the write conditional on where the branch is (compare-and-swap
        for callers that keep their own idea of it). ``on_commit`` runs inside the same
        transaction with the commit (None when nothing changed) and its changes, so what a
        caller records about the commit is written with it or not at all. ``packed``: stored
        forms of rows made ahead, by hash (:func:`isometry.vcs.rows.pack_ahead`).
        """
        with self.db.transaction() as conn:
            self._refuse_pending(branch)
            head = refs.branch_head(conn, branch)
            if expected_head is not None and head != expected_head:
                raise BranchMoved(f"branch {branch!r} moved since it was last read; retry")
            ops = [*ops, *self._detached_edges(head, ops)]
            keys = list(dict.fromkeys(_op_key(op) for op in ops))
            before = lookup(conn, self.graph, head, keys)
            # Only patches need the current rows; upserts replace and deletes only check.
            patched = {_op_key(op) for op in ops if isinstance(op, Patch)}
            rows = fetch_rows(conn, (before[k] for k in patched))
            working: dict[Key, dict[str, JSON] | None] = {
                k: (rows[h] if k in patched else {}) if h is not None else None
                for k, h in before.items()
            }
            for op in ops:
                key = _op_key(op)
                working[key] = _evaluate(op, working[key])
            prepared = prepare(working, before)
            commit: Commit | None = None
            if prepared.changes or allow_empty:
                commit = write_commit(
                    conn,
                    self.graph,
                    branch=branch,
                    parents=[head],
                    changes=prepared.changes,
                    new_rows=prepared.new_rows,
                    author=author,
                    message=message,
                    time=self.now(),
                    metadata=metadata or {},
                    known=prepared.known,
                    packed=packed,
                )
            if on_commit is not None:
                on_commit(conn, commit, prepared.changes)
            return ApplyResult(commit or load_commit(conn, self.graph, head), len(prepared.changes))

    def _detached_edges(self, head: int, ops: Sequence[Op]) -> list[Delete]:
        """Deleting a node deletes the edges that touch it (at ``head``), so no edge is left
        pointing at nothing; edges the same change writes itself are left to it."""
        gone = {op.key for op in ops if isinstance(op, Delete) and op.kind is RowKind.NODE}
        if not gone:
            return []
        written = {op.key for op in ops if op.kind is RowKind.EDGE}
        candidates: set[str] = set()
        for part in chunks(sorted(gone)):
            places = ",".join("?" * len(part))
            candidates.update(
                str(row[0])
                for row in self.conn.execute(
                    f"SELECT id FROM edges WHERE source_id IN ({places})"
                    f" OR target_id IN ({places})",
                    (*part, *part),
                )
            )
        main = refs.branch_head(self.conn, MAIN)
        if head != main:
            # Main's edges table is main's head: add the edges the path to ``head`` changed.
            candidates |= {
                key
                for (kind, key) in path_delta(self.conn, self.graph, main, head)
                if kind is RowKind.EDGE
            }
        hashes = lookup(self.conn, self.graph, head, [(RowKind.EDGE, k) for k in candidates])
        rows = fetch_rows(self.conn, hashes.values())
        return [
            Delete(RowKind.EDGE, key)
            for (_, key), digest in sorted(hashes.items())
            if digest is not None
            and key not in written
            and ({rows[digest].get("source_id"), rows[digest].get("target_id")} & gone)
        ]

    def reset(self, branch: str, rev: str) -> Commit:
        """Point ``branch`` at ``rev``; main's tables follow."""
        with self.db.transaction() as conn:
            self._refuse_pending(branch)
            old = refs.branch_head(conn, branch)
            new = self.resolve(rev)
            self.move_branch(branch, old, new)
            return load_commit(conn, self.graph, new)

    def move_branch(self, branch: str, old: int, new: int) -> None:
        """Compare-and-swap ``branch`` from ``old`` to ``new`` (inside a write transaction)."""
        refs.set_if_equals(self.conn, branch, old, new)
        if branch != MAIN:
            return
        indexed = 0
        if self.graph.is_fp_ancestor(old, new):
            # Forward (a fast-forward, an import's branch): stream, never the whole delta.
            for chunk in descent(self.conn, self.graph, old, new):
                indexed += apply_to_main(self.conn, dict(chunk), compact=False)
        else:
            delta = path_delta(self.conn, self.graph, old, new)
            indexed = apply_to_main(
                self.conn, {k: step.after for k, step in delta.items()}, compact=False
            )
        compact_fts_after_bulk(self.conn, indexed)

    # -- reading ---------------------------------------------------------------------------

    def log(
        self, rev: str = MAIN, *, first_parent: bool = False, limit: int | None = None
    ) -> list[Commit]:
        with self.db.snapshot() as conn:
            seq = self.resolve(rev)
            seqs = self.graph.fp_chain(seq, -1) if first_parent else self.graph.ancestors([seq])
            return [load_commit(conn, self.graph, s) for s in seqs[:limit]]

    def get_row(
        self, key: str, at: str = MAIN, kind: RowKind | None = None
    ) -> tuple[RowKind, dict[str, JSON]]:
        """The row with id ``key`` at ``at``, a node unless only an edge has that id."""
        with self.db.snapshot():
            seq = self.resolve(at)
            for k in (kind,) if kind is not None else (RowKind.NODE, RowKind.EDGE):
                row = self.row_at(seq, k, key)
                if row is not None:
                    return k, row
        raise NodeNotFound(f"no node or edge {key!r} at {at}")

    def ever_written(self, key: str) -> bool:
        """Whether a commit of any branch ever wrote (or removed) the node or edge ``key``."""
        found = self.conn.execute(
            "SELECT 1 FROM changes WHERE kind IN (?, ?) AND key = ? LIMIT 1",
            (int(RowKind.NODE), int(RowKind.EDGE), key),
        ).fetchone()
        return found is not None

    def row_at(self, seq: int, kind: RowKind, key: str) -> dict[str, JSON] | None:
        if seq == refs.branch_head(self.conn, MAIN):
            table = "nodes" if kind is RowKind.NODE else "edges"
            found = self.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (key,)).fetchone()
            return from_columns(kind, found) if found else None
        digest = lookup(self.conn, self.graph, seq, [(kind, key)])[(kind, key)]
        return fetch_rows(self.conn, [digest])[digest] if digest is not None else None

    def rows_at(self, seq: int, kind: RowKind) -> Iterator[dict[str, JSON]]:
        """Every row of ``kind`` at commit ``seq``: main's table adjusted by the path to ``seq``."""
        table = "nodes" if kind is RowKind.NODE else "edges"
        main = refs.branch_head(self.conn, MAIN)
        delta = {
            key: step.after
            for (k, key), step in path_delta(self.conn, self.graph, main, seq).items()
            if k is kind
        }
        for values in self.conn.execute(f"SELECT * FROM {table} ORDER BY id"):
            if values[0] not in delta:
                yield from_columns(kind, values)
        rows = fetch_rows(self.conn, delta.values())
        for key in sorted(delta):
            digest = delta[key]
            if digest is not None:
                yield rows[digest]

    def list_rows(self, kind: RowKind, at: str = MAIN) -> list[dict[str, JSON]]:
        with self.db.snapshot():
            return list(self.rows_at(self.resolve(at), kind))

    def search(self, text: str, at: str = MAIN, limit: int = 100) -> list[dict[str, JSON]]:
        """Nodes matching every word of ``text`` (full-text, prefix match), best first."""
        words = [w for w in text.split() if w.strip('"')]
        if not words:
            return []
        query = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
        with self.db.snapshot() as conn:
            seq = self.resolve(at)
            main = refs.branch_head(conn, MAIN)
            delta = {
                key: step.after
                for (k, key), step in path_delta(conn, self.graph, main, seq).items()
                if k is RowKind.NODE
            }
            found: list[dict[str, JSON]] = []
            for values in conn.execute(
                "SELECT nodes.* FROM nodes_fts JOIN nodes ON nodes.rowid = nodes_fts.rowid"
                " WHERE nodes_fts MATCH ? ORDER BY rank LIMIT ?",
                (query, limit + len(delta)),
            ):
                if values[0] not in delta:
                    found.append(from_columns(RowKind.NODE, values))
            lowered = [w.strip('"').lower() for w in words]
            for row in fetch_rows(conn, delta.values()).values():
                haystack = " ".join(
                    str(row.get(f) or "") for f in ("name", "content", "summary", "tags")
                ).lower()
                if all(w in haystack for w in lowered):
                    found.append(row)
            return found[:limit]

    def rows_by_hash(self, hashes: Iterable[bytes | None]) -> dict[bytes, dict[str, JSON]]:
        return fetch_rows(self.conn, hashes)

    def count(self, kind: RowKind) -> int:
        table = "nodes" if kind is RowKind.NODE else "edges"
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _op_key(op: Op) -> Key:
    return (op.kind, op.key)


def _evaluate(op: Op, current: dict[str, JSON] | None) -> dict[str, JSON] | None:
    if isinstance(op, Upsert):
        return op.row
    if isinstance(op, Delete):
        if current is None:
            raise NodeNotFound(f"cannot delete {op.key!r}: it does not exist on this branch")
        return None
    if current is None:
        raise NodeNotFound(f"cannot patch {op.key!r}: it does not exist on this branch")
    patched = {**current, **op.fields}
    return validate(op.kind, compact(patched))
