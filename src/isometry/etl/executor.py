"""The executor: one operation through preparing, scanning, extracting, transforming,
validating, loading and finalizing, batch by batch.

Each batch is one transaction: its commit on the operation's branch, its lineage rows, its
quarantine entries and the checkpoint that says where the source continues. Killed at any
instant, an operation resumes from its last checkpoint and ends with exactly the data of a
run that was never interrupted.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from isometry.clock import stamp
from isometry.content.store import ContentStore
from isometry.errors import (
    InvalidConfiguration,
    InvalidTransition,
    IsometryError,
    LimitExceeded,
    ModelError,
    PermissionRefused,
    SourceUnreadable,
)
from isometry.etl import checkpoints, operations, settings
from isometry.etl import templates as template_registry
from isometry.etl.access import Accessor, Grants
from isometry.etl.attachments import store_attachments
from isometry.etl.batch import (
    SEEN_NODE,
    SEEN_UNKEYED_FILE,
    Batch,
    Quarantined,
    build,
    quarantine_rows,
)
from isometry.etl.heartbeat import Heartbeat
from isometry.etl.limits import Limits, peak_rss_bytes
from isometry.etl.operations import COUNTERS, LEASE, Operation, add_counts
from isometry.etl.sources import SourceFile, expand, recheck
from isometry.etl.states import State, move
from isometry.lineage import records as lineage
from isometry.lineage.queries import OF_CHANGES
from isometry.model import JSON, RowKind, node_row
from isometry.sources import registry
from isometry.sources.base import Importer, Item, Options
from isometry.vcs import refs
from isometry.vcs.commits import Change, Commit
from isometry.vcs.fieldmerge import MergePolicy, merge_row
from isometry.vcs.history import lookup
from isometry.vcs.ops import Delete, Upsert
from isometry.vcs.repository import Repository
from isometry.vcs.rows import chunks, fetch_rows, marks, pack_ahead

PHASES = (
    "preparing",
    "scanning",
    "extracting",
    "transforming",
    "validating",
    "loading",
    "finalizing",
)


@dataclass(frozen=True, slots=True)
class Progress:
    op_id: str
    phase: str
    done: int
    total: int
    counts: Mapping[str, int]


ProgressSink = Callable[[Progress], None]


class Stop(Exception):
    """Raised between batches: the operation ends here with ``state`` for ``reason``."""

    def __init__(self, state: State, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


@dataclass
class _Run:
    """What one run of an operation carries from phase to phase."""

    op: Operation
    importers: list[Importer]
    accessor: Accessor
    options: Options
    files: list[SourceFile] = field(default_factory=list)
    head: int = 0
    start_head: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    total: int = 0
    stage: str = "loading"
    source_index: int = 0
    cursor: JSON = None
    recovering_since: datetime | None = None
    final: Operation | None = None  # as it ended (set when it is closed as finished)
    # Deflate rows before their transaction (see _transform) while batches mostly write: on a
    # re-import that writes little, most of that work would be thrown away.
    pack_ahead: bool = True

    def stage_reached(self, stage: str) -> bool:
        return checkpoints.STAGES.index(self.stage) >= checkpoints.STAGES.index(stage)

    def back_to(self, point: checkpoints.Checkpoint) -> None:
        """The run's state as ``point`` holds it (the inverse of ``checkpoint``)."""
        self.head, self.counts, self.batches = point.branch_head, point.counts, point.batches
        self.stage, self.source_index, self.cursor = point.stage, point.source_index, point.cursor

    def checkpoint(self, **changes: JSON) -> checkpoints.Checkpoint:
        """The checkpoint of this run's state now (with ``changes`` applied to the run)."""
        for name, value in changes.items():
            setattr(self, name, value)
        return checkpoints.Checkpoint(
            self.op.id, self.source_index, self.cursor, dict(self.counts), self.head,
            self.batches, self.stage,
        )  # fmt: skip


class Executor:
    def __init__(
        self,
        repo: Repository,
        *,
        author: str,
        owner: str | None = None,
        on_progress: ProgressSink | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.should_stop = should_stop
        self.repo = repo
        self._content: ContentStore | None = None
        self._artifacts: ContentStore | None = None
        self.author = author
        self.owner = owner or operations.owner_name()
        self.on_progress = on_progress

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def artifacts(self) -> ContentStore:
        """The blob store for an operation's own log and report: outside the quotas, which
        are for what sources bring (an operation that could not keep its record of what it
        did would fail for that alone)."""
        if self._artifacts is None:
            self._artifacts = ContentStore.open(self.repo.path, self.repo.db, self.repo.clock)
        return self._artifacts

    @property
    def content(self) -> ContentStore:
        """The repository's blob store (with its quotas), opened when an operation first
        needs it."""
        if self._content is None:
            with self.repo.db.snapshot() as conn:
                largest, total = settings.quotas(conn)
            self._content = ContentStore.open(
                self.repo.path, self.repo.db, self.repo.clock,
                max_blob_size=largest, max_total_bytes=total,
            )  # fmt: skip
        return self._content

    def now(self) -> datetime:
        return self.repo.clock.now()

    def stamp(self) -> str:
        return self.repo.now()

    def run(self, op_id: str) -> Operation:
        """Run (or resume) one operation to its end; returns it in its final state."""
        return self.run_claimed(self.claim(op_id))

    def run_claimed(self, run: _Run) -> Operation:
        with Heartbeat(self.repo.db.path, run.op.id, self.owner, self.repo.clock):
            try:
                if template_registry.get(run.op.template).category == "export":
                    from isometry.etl.exports import run_export

                    run_export(self, run, self._phase)
                else:
                    self._prepare(run)
                    self._scan(run)
                    self._load(run)
                    self._finalize(run)
            except Stop as stop:
                self._end_early(run, stop.state, stop.reason)
            except (IsometryError, sqlite3.DatabaseError) as error:
                self._end_early(run, State.FAILED, str(error))
        return run.final or self.load(run.op.id)

    def load(self, op_id: str) -> Operation:
        with self.repo.db.snapshot() as conn:
            return operations.load(conn, op_id)

    def claim(self, op_id: str) -> _Run:
        """Take an operation to run: created or queued ones start, interrupted ones resume.
        A resume that cannot go on (a source gone or changed, a grant withdrawn) is refused
        before the operation is taken: it stays interrupted, to be resumed once that is put
        right, or cancelled."""
        now = self.now()
        with self.repo.db.snapshot() as conn:
            found = operations.load(conn, op_id)
            grants = Grants.from_json(found.grants).merged(
                Grants.from_json(settings.get(conn, "grants") or {})
            )
        # Before the operation is marked running: a template or importer that is gone fails
        # here, leaving the operation as it was.
        template = template_registry.get(found.template)
        importers = [registry.load(name) for name in template.sources]
        run = self.run_of(found, importers, Accessor(grants, template.permissions))
        if found.shown_state(now) is State.INTERRUPTED:
            self._check_resume(run)
        with self.repo.db.transaction() as conn:
            op, resuming = self.take(conn, op_id, now)
            stamp = self.stamp()
            op.started_at, op.finished_at = op.started_at or stamp, None
            operations.update(conn, op.id, started_at=op.started_at, finished_at=None)
            operations.log(
                conn, op.id, stamp, "info", "resumed" if resuming else "started", owner=self.owner
            )
        run.op, run.recovering_since = op, now if resuming else None
        return run

    def run_of(self, op: Operation, importers: list[Importer], accessor: Accessor) -> _Run:
        """A run of ``op``, its progress total as the operation has it (kept whatever ends it
        before scanning)."""
        total = int(op.progress.get("total") or 0)
        return _Run(op, importers, accessor, Options(op.config.options), total=total)

    def take(self, conn: sqlite3.Connection, op_id: str, now: datetime) -> tuple[Operation, bool]:
        """Move a created, queued or interrupted operation to running under this executor's
        lease (inside the caller's write transaction, so no other process takes it too); also
        whether it was interrupted."""
        op = operations.load(conn, op_id)
        shown = op.shown_state(now)
        if op.state is State.RUNNING and shown is State.INTERRUPTED:
            move(conn, op.id, State.RUNNING, State.INTERRUPTED)
            op.state = State.INTERRUPTED
        if op.state not in (State.CREATED, State.QUEUED, State.INTERRUPTED):
            raise InvalidTransition(
                f"operation {op.id} is {shown}; only created, queued or interrupted "
                "operations can run"
            )
        interrupted = op.state is State.INTERRUPTED
        move(conn, op.id, op.state, State.RUNNING)
        # What is written is set on the operation too, rather than read back.
        op.state, op.lease_owner, op.lease_until = State.RUNNING, self.owner, self._lease()
        operations.update(conn, op.id, lease_owner=op.lease_owner, lease_until=op.lease_until)
        return op, interrupted

    def _check_resume(self, run: _Run) -> None:
        """Refuse a resume whose sources cannot be read as they were when the operation
        started, naming why in the operation's log; the files checked are kept for scanning."""
        try:
            self._check_sources(run)
            if "sources" in run.op.result:
                run.files = recheck(run.op.result["sources"], run.accessor, run.options)
        except IsometryError as error:
            with self.repo.db.transaction() as conn:
                operations.log(
                    conn, run.op.id, self.stamp(), "warning", "resume refused", reason=str(error)
                )
            raise

    def _lease(self) -> str:
        return _iso(self.now() + LEASE)

    def _phase(self, run: _Run, phase: str, done: int | None = None) -> None:
        run.op.phase = phase
        if self.on_progress is not None:
            self.on_progress(
                Progress(
                    run.op.id,
                    phase,
                    run.counts.get("read", 0) if done is None else done,
                    run.total,
                    dict(run.counts),
                )
            )

    # -- preparing -------------------------------------------------------------------------

    def _prepare(self, run: _Run) -> None:
        op = run.op
        self._phase(run, "preparing", 0)
        self._check_sources(run)
        self._check_concurrency(run)
        with self.repo.db.transaction() as conn:
            point = checkpoints.read(conn, op.id)
            if point is not None:
                run.back_to(point)
                run.start_head = int(op.result.get("start_head", run.head))
                return
            branch = self._set_up_branch(conn, op)
            run.start_head = refs.branch_head(conn, branch)
            op.branch = branch
            op.result["start_head"] = run.start_head
            operations.update(conn, op.id, branch=branch, phase="preparing", result=op.result)
            commit = self.repo.apply(
                branch, [], author=self.author, allow_empty=True,
                message=f"{op.template}: operation {op.id} begins",
                metadata={"operation": op.id, "template": op.template, "phase": "pre-execution",
                          "config": op.config.to_json(), "sources": op.sources},
            ).commit  # fmt: skip
            op.commits.append(commit.id)
            operations.update(conn, op.id, commits=op.commits)
            checkpoints.write(
                conn,
                run.checkpoint(head=commit.seq, counts=dict.fromkeys(COUNTERS, 0)),
                self.stamp(),
            )
            operations.log(
                conn, op.id, self.stamp(), "info", "prepared", branch=branch, commit=commit.id
            )

    def _check_sources(self, run: _Run) -> None:
        """The template's permissions are granted and every source is there, inside them."""
        op = run.op
        template = template_registry.get(op.template)
        missing = run.accessor.grants.missing(template.permissions)
        if missing:
            raise PermissionRefused(
                f"template {op.template} needs the permission(s) {', '.join(missing)}; give "
                + " ".join(f"--allow {p}=PATH" for p in missing)
            )
        for source in op.sources:
            path = Path(source)
            if not path.exists():
                raise SourceUnreadable(f"{source}: no such file or folder")
            run.accessor.check(path)

    def _check_concurrency(self, run: _Run) -> None:
        now = self.now()
        with self.repo.db.snapshot() as conn:
            limit = int(settings.get(conn, "max_concurrent") or 1)
            running = [op_id for op_id in operations.running(conn, now) if op_id != run.op.id]
        if len(running) >= limit:
            raise LimitExceeded(
                f"{len(running)} operation(s) already running, the limit is {limit}; "
                "queue this one with 'isometry ops queue' or raise the limit"
            )

    def _set_up_branch(self, conn: sqlite3.Connection, op: Operation) -> str:
        config = op.config
        # Checked before anything is read: an import ends on its target (merged into it,
        # written onto it), which only a branch can take.
        target = refs.get_ref(conn, config.target)
        if target is None or target.type != "branch":
            what = (
                f"the target {config.target!r} is a tag, not a branch"
                if target is not None
                else f"there is no branch {config.target!r} to import into"
            )
            raise InvalidConfiguration(
                f"{what}: give an existing branch as the target ('isometry branches' lists them)"
            )
        if config.branch_strategy == "main":
            return config.target
        existing = config.branch_name
        if existing is not None:
            refs.branch_head(conn, existing)  # must exist
            return existing
        name = f"import/{op.id}"
        self.repo.create_branch(name, config.target)
        return name

    # -- scanning --------------------------------------------------------------------------

    def _scan(self, run: _Run) -> None:
        op = run.op
        self._phase(run, "scanning", 0)
        if "sources" in op.result:
            # Resuming: the sources must be the ones the checkpoints point into.
            if not run.files:
                run.files = recheck(op.result["sources"], run.accessor, run.options)
            run.total = sum(f.records for f in run.files)
            with self.repo.db.transaction() as conn:
                operations.update(
                    conn, op.id, progress={"done": run.counts.get("read", 0), "total": run.total}
                )
            return
        unreadable: list[tuple[Path, str]] = []
        run.files = expand(
            op.sources, op.config, run.importers, run.accessor, run.options, unreadable
        )
        run.total = sum(f.records for f in run.files)
        with self.repo.db.transaction() as conn:
            # A folder's unreadable files count as quarantined records, written with the
            # list of sources so a resume neither loses nor repeats them.
            stamp = self.stamp()
            conn.executemany(
                "INSERT INTO quarantine (op_id, locator, raw, reason, time)"
                " VALUES (?, ?, ?, ?, ?)",
                ((op.id, orjson.dumps({"file": str(path), "record": ""}).decode(),
                  str(path), reason, stamp) for path, reason in unreadable),
            )  # fmt: skip
            for name in ("read", "quarantined"):
                run.counts[name] = run.counts.get(name, 0) + len(unreadable)
            checkpoints.write(conn, run.checkpoint(), stamp)
            op.result["sources"] = [f.to_json() for f in run.files]
            operations.update(
                conn, op.id, result=op.result, phase="scanning", counts=run.counts,
                progress={"done": run.counts.get("read", 0), "total": run.total},
            )  # fmt: skip

    # -- extracting, transforming, validating, loading --------------------------------------

    def _load(self, run: _Run) -> None:
        if run.stage != "loading":
            return  # resumed after the source was read: finishing goes on where it stopped
        written = False
        try:
            for chunk in _chunks(self._entries(run), run.op.config.batch_size):
                # Each batch commits in the background while the next one is read and
                # transformed; the checks between batches wait for that commit.
                batch = self._transform(run, chunk)
                if written:
                    self._between_batches(run)
                self._batch(run, chunk, batch)
                written = True
            self.repo.db.settle()
        except BaseException:
            try:
                # A source that fails mid-read must not hide a commit that failed before it.
                self.repo.db.settle()
            finally:
                self._back_to_checkpoint(run)
            raise
        if written:
            self._between_batches(run)

    def _back_to_checkpoint(self, run: _Run) -> None:
        """After a batch whose transaction did not commit: the run as its last checkpoint has
        it, so that what ends the operation (a rollback, its counts, its commits) does not
        count that batch. Best effort: a database that cannot be read cannot be written to."""
        with contextlib.suppress(IsometryError, sqlite3.Error), self.repo.db.snapshot() as conn:
            point = checkpoints.read(conn, run.op.id)
            commits = operations.load(conn, run.op.id).commits
            if point is not None:
                run.back_to(point)
                run.op.commits = commits

    def _entries(self, run: _Run) -> Iterator[_Entry]:
        """Every record still to read, file after file, from the checkpoint on."""
        start, cursor = run.source_index, run.cursor
        for index in range(start, len(run.files)):
            source = run.files[index]
            items = source.importer.read(
                source.path,
                run.accessor,
                source.options(run.options),
                cursor if index == start else None,
            )
            for item, after in items:
                yield _Entry(index, source.importer, item, after)

    def _transform(self, run: _Run, chunk: list[_Entry]) -> Batch:
        """The records of one batch as rows, validated: no database work."""
        config = run.op.config
        self._phase(run, "extracting")
        self._phase(run, "transforming")
        batch = build(
            [entry.item for entry in chunk], date_from=config.date_from, date_to=config.date_to
        )
        if run.pack_ahead:
            batch.packed = pack_ahead(op.row for op in batch.ops)
        return batch

    def _batch(self, run: _Run, chunk: list[_Entry], batch: Batch) -> None:
        op, config = run.op, run.op.config
        importer, index = chunk[0].importer, chunk[-1].index
        self._phase(run, "validating")
        last = self._last_imported(run, importer, batch.node_keys)
        if config.deduplicate:
            batch.skip_unchanged({key: hashes for key, (hashes, _) in last.items()})
        self._keep_edits(run, batch, {key: seq for key, (_, seq) in last.items()})
        stale = [Delete(RowKind.EDGE, key) for key in self._stale_edges(run, importer, batch)]
        cursor = chunk[-1].cursor
        context = lineage.Context(
            op.id, op.template, importer.name, importer.name, importer.version
        )
        self._phase(run, "loading")
        number = run.batches + 1
        assert op.branch is not None

        def record(conn: sqlite3.Connection, commit: Commit | None, changes: list[Change]) -> None:
            stamp = self.stamp()
            counted = _count(batch, changes, run.counts, importer.name)
            lost: list[Quarantined] = []
            if commit is not None:
                lineage.write(conn, context, commit.seq, stamp, (
                    (kind, key, "insert" if old is None else "delete" if new is None else "update",
                     batch.origins.get((kind, key)))
                    for (kind, key), old, new in changes
                ))  # fmt: skip
                op.commits.append(commit.id)
                run.head = commit.seq
                if batch.attachments:
                    written = [key for (kind, key), _, new in changes
                               if kind is RowKind.NODE and new is not None]  # fmt: skip
                    origins = {key: o for (kind, key), o in batch.origins.items()}
                    lost = store_attachments(self.content, run.accessor, commit.seq, written,
                                             batch.attachments, origins)  # fmt: skip
                    # Files, not records: their nodes are kept, so they are counted apart
                    # and never toward the error rate.
                    counted = add_counts(counted, importer.name, attachments_quarantined=len(lost))
            conn.executemany(
                "INSERT INTO quarantine (op_id, locator, raw, reason, time) VALUES (?,?,?,?,?)",
                quarantine_rows(op.id, [*batch.quarantined, *lost], stamp),
            )
            for left in batch.left_out:
                operations.log(conn, op.id, stamp, "info", "skipped", reason=left.reason,
                               **left.locator.to_json())  # fmt: skip
            if config.sync_deletes:
                conn.executemany(
                    "INSERT OR IGNORE INTO op_seen (op_id, kind, key) VALUES (?, ?, ?)",
                    [*((op.id, SEEN_NODE, key) for key in batch.seen),
                     *((op.id, SEEN_UNKEYED_FILE, file) for file in sorted(batch.unkeyed))],
                )  # fmt: skip
            point = run.checkpoint(
                counts=counted, source_index=index, cursor=cursor, batches=number
            )
            checkpoints.write(conn, point, stamp)
            rss = peak_rss_bytes()
            operations.update(
                conn, op.id, counts=counted, commits=op.commits, lease_until=self._lease(),
                phase="loading", peak_rss=rss,
                progress={"done": counted["read"], "total": run.total},
            )  # fmt: skip
            if run.recovering_since is not None:
                seconds = (self.now() - run.recovering_since).total_seconds()
                operations.update(conn, op.id, recovery_seconds=seconds)
                run.recovering_since = None

        # Only a full batch may have another behind it to overlap with; a small import's
        # single batch would only pay for the thread.
        full = len(chunk) >= config.batch_size
        with self.repo.db.transaction(commit_in_background=full):
            applied = self.repo.apply(
                op.branch, [*batch.ops, *stale], author=self.author, expected_head=run.head,
                message=f"{op.template}: batch {number} of operation {op.id}",
                metadata={"operation": op.id, "batch": number}, on_commit=record,
                packed=batch.packed,
            )  # fmt: skip
        run.pack_ahead = applied.changes * 2 >= len(batch.ops)
        self._phase(run, "loading")

    def _last_imported(
        self, run: _Run, importer: Importer, keys: list[str]
    ) -> dict[str, tuple[frozenset[str], int]]:
        """For these nodes: the source hashes of the import that last wrote each one, and the
        commit of its last write, when that import is in this branch's history, by this
        transform and version, and the node is still there. A record with one of those hashes
        is unchanged at its source and is skipped: a re-import writes nothing and keeps the
        edits made since."""
        if not keys:
            return {}
        graph, conn = self.repo.graph, self.repo.conn
        history: dict[str, list[tuple[int, str, str, str | None]]] = {}
        for part in chunks(keys):
            for key, seq, op_id, change, digest, transform, version in conn.execute(
                "SELECT ch.key, ch.commit_seq, o.op_id, l.change, l.source_hash, o.transform,"
                f" o.transform_version {OF_CHANGES} WHERE ch.kind = ?"
                f" AND ch.key IN ({marks(len(part))})",
                (int(RowKind.NODE), *part),
            ):
                # Written by another transform (or version): never "unchanged".
                same = (transform, version) == (importer.name, importer.version)
                history.setdefault(key, []).append((seq, op_id, change, digest if same else None))
        found: dict[str, tuple[frozenset[str], int]] = {}
        for key, entries in history.items():
            mine = [e for e in entries if graph.is_ancestor(e[0], run.head)]
            if not mine:
                continue
            last = max(mine)
            if last[2] == "delete" or last[3] is None:
                continue  # deleted by a sync, or written by something else: import it again
            if last[1] == run.op.id:
                # Written earlier in this very operation (a key the source holds twice): the
                # later record wins, as within one batch, whatever the earlier one said.
                continue
            hashes = frozenset(e[3] for e in mine if e[1] == last[1] and e[3] is not None)
            found[key] = (hashes, last[0])
        if not found:
            return {}
        present = lookup(conn, graph, run.head, [(RowKind.NODE, k) for k in found])
        return {k: v for k, v in found.items() if present[(RowKind.NODE, k)] is not None}

    def _keep_edits(self, run: _Run, batch: Batch, imported_at: Mapping[str, int]) -> None:
        """A record that changed at its source, for a node edited here since it was imported:
        three-way merge of the fields (base: the node as imported; ours: as it is now; theirs:
        the new record), so edits to fields the source did not change are kept. Where both
        changed one field, the source wins, as an import always did."""
        keys = [op.key for op in batch.ops if op.kind is RowKind.NODE and op.key in imported_at]
        if not keys:
            return
        conn, graph = self.repo.conn, self.repo.graph
        now = lookup(conn, graph, run.head, [(RowKind.NODE, k) for k in keys])
        # One batched lookup per import commit, not one query per record.
        by_commit: dict[int, list[tuple[RowKind, str]]] = {}
        for key in keys:
            by_commit.setdefault(imported_at[key], []).append((RowKind.NODE, key))
        base: dict[str, bytes | None] = {}
        for seq, wanted in by_commit.items():
            base.update(
                (key, digest) for (_, key), digest in lookup(conn, graph, seq, wanted).items()
            )
        edited = [k for k in keys if now[(RowKind.NODE, k)] not in (None, base[k])]
        if not edited:
            return
        rows = fetch_rows(
            conn, [now[(RowKind.NODE, k)] for k in edited] + [base[k] for k in edited]
        )
        policy = MergePolicy("prefer-source")
        for index, op in enumerate(batch.ops):
            if op.kind is not RowKind.NODE or op.key not in edited:
                continue
            before = base[op.key]
            merged = merge_row(
                rows[before] if before is not None else None,
                rows[now[(RowKind.NODE, op.key)]],  # type: ignore[index]
                op.row,
                policy,
            ).row
            if merged is not None:
                try:
                    batch.ops[index] = Upsert(RowKind.NODE, node_row(merged))
                except ModelError:
                    continue  # fields merged one by one broke a rule: the record as it is

    def _stale_edges(self, run: _Run, importer: Importer, batch: Batch) -> list[str]:
        """The edges a record gave when this importer last read it and no longer gives (a link
        taken out of a note, a dangling link now resolved to another target): deleted with
        the record's new version. An edge is judged by the record that carried it (its
        lineage), so edges other records carry (a sheet's links to rows read in other
        batches), edges made by hand and edges of other importers stay. Looked up among
        main's edges from the nodes this batch writes (where earlier imports were merged)
        that are still there at the operation's head."""
        written = {
            (origin.file, origin.record)
            for op in batch.ops
            if op.kind is RowKind.NODE and (origin := batch.origin_of.get(id(op))) is not None
        }
        if not written:
            return []
        nodes = [op.key for op in batch.ops if op.kind is RowKind.NODE]
        given = {op.key for op in batch.ops if op.kind is RowKind.EDGE}
        conn = self.repo.conn
        candidates: list[str] = []
        for part in chunks(nodes):
            candidates += [
                str(key)
                for (key,) in conn.execute(
                    f"SELECT id FROM edges WHERE source_id IN ({marks(len(part))})", part
                )
                if key not in given
            ]
        carried: dict[str, tuple[int, str | None, str | None]] = {}
        for part in chunks(candidates):
            for key, seq, file, record in conn.execute(
                f"SELECT ch.key, ch.commit_seq, o.file, l.record {OF_CHANGES} WHERE ch.kind = ?"
                f" AND o.transform = ? AND ch.key IN ({marks(len(part))})",
                [int(RowKind.EDGE), importer.name, *part],
            ):
                if key not in carried or seq >= carried[key][0]:
                    carried[key] = (seq, file, record)
        mine = [key for key, (_, file, record) in carried.items() if (file, record) in written]
        if not mine:
            return []
        present = lookup(conn, self.repo.graph, run.head, [(RowKind.EDGE, k) for k in mine])
        return [key for (_, key), digest in present.items() if digest is not None]

    def _between_batches(self, run: _Run) -> None:
        with self.repo.db.snapshot() as conn:
            cancel = conn.execute(
                "SELECT cancel_requested FROM operations WHERE id = ?", (run.op.id,)
            ).fetchone()[0]
        if cancel:
            raise Stop(State.CANCELLED, "cancelled")
        if self.should_stop is not None and self.should_stop():
            raise Stop(
                State.INTERRUPTED,
                f"stopped before the end; continue with 'isometry ops resume {run.op.id}'",
            )
        config = run.op.config
        limits = Limits(config.timeout_seconds, config.max_memory_mb, config.max_database_mb)
        started = datetime.fromisoformat((run.op.started_at or self.stamp()).replace("Z", "+00:00"))
        try:
            limits.check(started=started, now=self.now(), database=Path(self.repo.db.path))
        except LimitExceeded as error:
            raise Stop(State.FAILED, str(error)) from None

    # -- finalizing ------------------------------------------------------------------------

    def _finalize(self, run: _Run) -> None:
        from isometry.etl.finalize import finish

        self._phase(run, "finalizing")
        finish(self, run)

    def _end_early(self, run: _Run, state: State, reason: str) -> None:
        from isometry.etl.finalize import end_early

        end_early(self, run, state, reason)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One record read: the file it came from, its importer, and the cursor right after it."""

    index: int
    importer: Importer
    item: Item
    cursor: JSON


def _chunks(entries: Iterator[_Entry], size: int) -> Iterator[list[_Entry]]:
    """Batches of up to ``size`` records. A batch may span files (a folder of one-note files
    is written a batch at a time, not a commit per file) but never importers: lineage records
    one transform per batch."""
    chunk: list[_Entry] = []
    for entry in entries:
        if chunk and entry.importer.name != chunk[0].importer.name:
            yield chunk
            chunk = []
        chunk.append(entry)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count(
    batch: Batch, changes: list[Change], counts: Mapping[str, int], source: str
) -> dict[str, int]:
    """``counts`` plus this batch's, in total and for its source (``source/counter``)."""
    nodes = [(old, new) for (kind, _), old, new in changes if kind is RowKind.NODE]
    inserted = sum(1 for old, _ in nodes if old is None)
    updated = sum(1 for old, new in nodes if old is not None and new is not None)
    written_nodes = sum(1 for op in batch.ops if op.kind is RowKind.NODE)
    return add_counts(
        counts,
        source,
        read=batch.read,
        inserted=inserted,
        updated=updated,
        unchanged=batch.skipped + written_nodes - inserted - updated,
        quarantined=len(batch.quarantined),
        filtered=batch.filtered,
        skipped=len(batch.left_out),
    )


def _iso(moment: datetime) -> str:
    return stamp(moment)
