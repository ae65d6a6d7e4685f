"""The end of an operation: deletions a sync found, the post-execution commit, the merge or the
rollback its strategies ask for, and its final state.

Each finishing step writes its stage into the checkpoint in the transaction of its own commit,
so an operation killed while finishing resumes at the next step and never repeats one.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from isometry.content.store import Staged
from isometry.errors import IsometryError, MergeInProgress
from isometry.etl import checkpoints, operations
from isometry.etl.attachments import artifact_items, store_artifacts
from isometry.etl.batch import SEEN_UNKEYED_FILE
from isometry.etl.states import State, move
from isometry.lineage import records as lineage
from isometry.model import JSON, RowKind
from isometry.vcs import merging, refs
from isometry.vcs.commits import Change, Commit
from isometry.vcs.fieldmerge import MergePolicy
from isometry.vcs.history import lookup
from isometry.vcs.ops import Patch
from isometry.vcs.rows import fetch_rows, marks

if TYPE_CHECKING:
    from isometry.etl.executor import Executor, _Run


def _own_branch(run: _Run) -> bool:
    return run.op.config.branch_strategy in ("isolated", "temporary")


def _merges(run: _Run) -> bool:
    """Whether success ends with a merge of the operation's branch into its target."""
    config = run.op.config
    return run.op.branch != config.target and config.post_execution in (
        "auto-merge",
        "rollback-on-failure",
    )


def _in_scope(file: str | None, files: set[str], folders: list[str]) -> bool:
    return file is not None and (
        file in files or any(file.startswith(folder + os.sep) for folder in folders)
    )


def _under(file: str | None, unreadable: set[str]) -> bool:
    """Whether ``file`` could not be read this time: it, or a folder it is in (whose files
    could not be listed), is in quarantine."""
    if file is None:
        return False
    return file in unreadable or any(file.startswith(path.rstrip("/") + "/") for path in unreadable)


@dataclass
class _Gone:
    """What a sync found gone: each node with the importer it came from; and, for each file
    with a quarantined record that cannot be told apart, the nodes kept for it (by id)."""

    nodes: dict[str, str]
    kept: dict[str, list[str]]


def _gone(ex: Executor, run: _Run) -> _Gone:
    """The nodes this full import did not see that its sources gave before, with the importer
    each came from: those whose last import by one of its importers read them from one of its
    files, or from a file under one of its folders (a file deleted from a folder included;
    a file of the folder that could not be read this time excluded: nothing is deleted for
    want of reading it; nor from a file with a quarantined record that cannot be told apart,
    which may be any of them). Found through lineage, so it holds whatever an importer's ids
    are made of (a path, a note's identifier, a URL)."""
    op = run.op
    names = sorted({f.importer.name for f in run.files})
    if not names:
        return _Gone({}, {})
    files = {str(f.path) for f in run.files}
    folders = [str(Path(s).resolve()) for s in op.sources if Path(s).is_dir()]
    graph = ex.repo.graph
    with ex.repo.db.snapshot() as conn:
        seen: set[str] = set()
        unkeyed: set[str] = set()
        for kind, key in conn.execute("SELECT kind, key FROM op_seen WHERE op_id = ?", (op.id,)):
            (unkeyed if kind == SEEN_UNKEYED_FILE else seen).add(key)
        unreadable = {
            str(found.get("file"))
            for (text,) in conn.execute("SELECT locator FROM quarantine WHERE op_id = ?", (op.id,))
            if isinstance(found := orjson.loads(text), dict) and found.get("record") == ""
        }
        latest: dict[str, tuple[int, str | None, str]] = {}
        for key, seq, file, transform in conn.execute(
            "SELECT l.key, l.commit_seq, o.file, o.transform FROM lineage l"
            " JOIN lineage_origins o ON o.id = l.origin WHERE l.kind = ?"
            f" AND l.change != 'delete' AND o.transform IN ({marks(len(names))})",
            (int(RowKind.NODE), *names),
        ):
            if key in seen or not graph.is_ancestor(seq, run.head):
                continue
            if key not in latest or seq >= latest[key][0]:
                latest[key] = (seq, file, transform)
        wanted = {
            key: (file, transform)
            for key, (_, file, transform) in latest.items()
            if _in_scope(file, files, folders) and not _under(file, unreadable)
        }
        present = lookup(conn, graph, run.head, [(RowKind.NODE, k) for k in wanted])
        rows = fetch_rows(conn, [d for d in present.values() if d is not None])
    found = _Gone({}, {})
    for (_, key), digest in present.items():
        file, transform = wanted[key]
        if digest is None or rows[digest].get("deleted_at") is not None:
            continue
        if rows[digest].get("source") != transform:
            continue
        if file in unkeyed:
            found.kept.setdefault(str(file), []).append(key)
        else:
            found.nodes[key] = transform
    return found


def _keep_note(
    ex: Executor, run: _Run, conn: sqlite3.Connection, kept: dict[str, list[str]]
) -> None:
    """Say which nodes a sync kept for want of telling its quarantined records apart, and why:
    in the log, file by file, and in a note of the result."""
    op = run.op
    for file, keys in sorted(kept.items()):
        operations.log(
            conn, op.id, ex.stamp(), "warning", "deletions held back", file=file, nodes=len(keys),
            reason="a quarantined record of the file cannot be told apart: it may be the record "
            "of any of these nodes",
        )  # fmt: skip
    count = sum(len(keys) for keys in kept.values())
    shown = ", ".join(Path(file).name for file in sorted(kept))
    note(
        run,
        f"{count} node(s) of {shown} were not marked deleted though this import did not see "
        "their records: a record of that source went to quarantine before its key could be "
        f"read, and it may be one of theirs (see 'isometry quarantine --op {op.id}')",
    )


def note(run: _Run, text: str) -> None:
    """A note for the user in the operation's result (shown with it)."""
    notes = run.op.result.setdefault("notes", [])
    if text not in notes:
        notes.append(text)


def _sync_deletes(ex: Executor, run: _Run) -> None:
    """Soft-delete what the source no longer has; lineage records each deletion."""
    op = run.op
    assert op.branch is not None
    found = _gone(ex, run)
    gone = found.nodes
    stamp = ex.stamp()
    importers = {f.importer.name: f.importer for f in run.files}

    def record(conn: sqlite3.Connection, commit: Commit | None, changes: list[Change]) -> None:
        if commit is not None:
            # Each deletion is recorded as the work of the importer whose node it was.
            by_source: dict[str, list[Change]] = {}
            for change in changes:
                by_source.setdefault(gone.get(change[0][1], op.template), []).append(change)
            for source, group in by_source.items():
                importer = importers.get(source)
                version = importer.version if importer else ""
                context = lineage.Context(op.id, op.template, source, source, version)
                lineage.write(
                    conn,
                    context,
                    commit.seq,
                    stamp,
                    ((kind, key, "delete", None) for (kind, key), _, _ in group),
                )
                run.counts = operations.add_counts(run.counts, source, deleted=len(group))
            op.commits.append(commit.id)
            run.head = commit.seq
        if found.kept:
            _keep_note(ex, run, conn, found.kept)
        checkpoints.write(conn, run.checkpoint(stage="deleted"), stamp)
        operations.update(conn, op.id, counts=run.counts, commits=op.commits, result=op.result)

    ex.repo.apply(
        op.branch, [Patch(RowKind.NODE, key, {"deleted_at": stamp}) for key in gone],
        author=ex.author, expected_head=run.head,
        message=f"{op.template}: {len(gone)} record(s) gone from the source",
        metadata={"operation": op.id, "phase": "sync-deletes"}, on_commit=record,
    )  # fmt: skip


def _post_commit(ex: Executor, run: _Run) -> None:
    op = run.op
    assert op.branch is not None

    def record(conn: sqlite3.Connection, commit: Commit | None, changes: list[Change]) -> None:
        assert commit is not None
        op.commits.append(commit.id)
        checkpoints.write(conn, run.checkpoint(head=commit.seq, stage="committed"), ex.stamp())
        operations.update(conn, op.id, commits=op.commits)

    ex.repo.apply(
        op.branch, [], author=ex.author, allow_empty=True, expected_head=run.head,
        message=f"{op.template}: operation {op.id} done",
        metadata={"operation": op.id, "phase": "post-execution", "counts": run.counts,
                  "batches": run.batches},
        on_commit=record,
    )  # fmt: skip


def _merge(ex: Executor, run: _Run) -> dict[str, JSON]:
    """Carry out the post-execution strategy; the outcome is stored with the stage."""
    op, config = run.op, run.op.config
    assert op.branch is not None
    outcome: dict[str, JSON] = {}
    with ex.repo.db.transaction() as conn:
        if _merges(run):
            try:
                result = merging.merge(
                    ex.repo, op.branch, config.target, MergePolicy(config.merge_strategy),
                    author=ex.author, message=f"Merge {op.template} operation {op.id}",
                    metadata={"operation": op.id},
                )  # fmt: skip
            except MergeInProgress as error:
                outcome = {
                    "merge": "deferred",
                    "note": f"{error}; then merge with 'isometry merge {op.branch} --into "
                    f"{config.target}'",
                }
            else:
                outcome = {
                    "merge": result.status,
                    "merge_commit": result.commit.id if result.commit else None,
                }
                if result.status == "conflicts":
                    outcome["conflicts"] = len(result.conflicts)
                    outcome["note"] = (
                        f"the merge into {config.target} waits for {len(result.conflicts)} "
                        "conflict(s): see 'isometry conflicts'"
                    )
                elif config.branch_strategy == "temporary":
                    refs.delete_ref(conn, op.branch, "branch")
                    outcome["branch_deleted"] = True
        elif op.branch != config.target and config.post_execution == "manual-merge":
            command = f"isometry merge {op.branch} --into {config.target}"
            outcome = {"merge": "awaiting review", "note": f"review and merge with '{command}'"}
        op.result.update(outcome)
        operations.update(conn, op.id, result=op.result)
        checkpoints.write(conn, run.checkpoint(stage="merged"), ex.stamp())
    return outcome


def finish(ex: Executor, run: _Run) -> None:
    op, config = run.op, run.op.config
    assert op.branch is not None
    if config.sync_deletes and not run.stage_reached("deleted"):
        _sync_deletes(ex, run)
    read = run.counts.get("read", 0)
    quarantined = run.counts.get("quarantined", 0)
    rate = quarantined / read if read else 0.0
    if rate > config.max_error_rate:
        from isometry.etl.executor import Stop

        raise Stop(
            State.FAILED,
            f"{quarantined} of {read} records were quarantined ({rate:.1%}), above the "
            f"maximum error rate of {config.max_error_rate:.1%}",
        )
    if not run.stage_reached("committed"):
        _post_commit(ex, run)
    outcome = _merge(ex, run) if not run.stage_reached("merged") else {}
    waiting = op.result.get("merge") in ("conflicts", "deferred")
    lost = run.counts.get("attachments_quarantined", 0)
    state = State.PARTIALLY_SUCCEEDED if quarantined or lost or waiting else State.SUCCEEDED
    if not read:
        note(run, _nothing_found(run))
    close(ex, run, state, None, outcome, phase="finalizing")


def _nothing_found(run: _Run) -> str:
    """Why an import read no record: it found no file to read, or its files hold none."""
    found = "no records were found in the given sources"
    if len(run.files) == 1:
        return f"{found}: the file read holds none"
    if run.files:
        return f"{found}: the {len(run.files)} files read hold none"
    names = sorted({importer.name for importer in run.importers})
    which = (
        f"the {names[0]} importer"
        if len(names) == 1
        else f"any of the {', '.join(names)} importers"
    )
    return f"{found}: they hold no file that {which} reads"


def end_early(ex: Executor, run: _Run, state: State, reason: str) -> None:
    """Failed or cancelled: roll the branch back when the strategies say so, keep it else.
    Interrupted (the process is stopping): leave everything for a resume."""
    op, config = run.op, run.op.config
    if state is State.INTERRUPTED:
        close(ex, run, state, reason, {}, phase=op.phase, finished=False)
        return
    rollback = (
        config.post_execution == "rollback-on-failure" or config.branch_strategy == "temporary"
    )
    outcome: dict[str, JSON] = {"rolled_back": False}
    if rollback and op.branch is not None and run.head and not run.stage_reached("merged"):
        try:
            with ex.repo.db.transaction() as conn:
                if _own_branch(run):
                    refs.delete_ref(conn, op.branch, "branch")
                else:
                    ex.repo.move_branch(op.branch, run.head, run.start_head)
            outcome["rolled_back"] = True
        except IsometryError as error:
            outcome["rollback_error"] = str(error)
    close(ex, run, state, reason, outcome, phase=op.phase)


def close(
    ex: Executor,
    run: _Run,
    state: State,
    error: str | None,
    outcome: dict[str, JSON],
    *,
    phase: str | None,
    finished: bool = True,
) -> None:
    """End the operation in ``state`` (or leave it for a resume, ``finished=False``): its
    counts, result and error written, its log and report kept as artifacts."""
    op = run.op
    changes: dict[str, JSON] = {
        "counts": run.counts, "commits": op.commits, "result": {**op.result, **outcome},
        "error": error, "phase": phase, "lease_owner": None, "lease_until": None,
        "finished_at": ex.stamp() if finished else None,
        "progress": {"done": run.counts.get("read", 0), "total": run.total},
    }  # fmt: skip
    entry = _LogEntry(
        ex.stamp(), "error" if error and finished else "info", str(state),
        {"reason": error, "counts": run.counts, **{k: str(v) for k, v in outcome.items()}},
    )  # fmt: skip
    now = ex.now() if finished else None
    ahead = _artifacts_ahead(ex, op.id, state, changes, entry, now) if now is not None else []
    ended: operations.Operation | None = None
    try:
        with ex.repo.db.transaction() as conn:
            move(conn, op.id, operations.state_of(conn, op.id), state)
            op.result.update(outcome)
            operations.update(conn, op.id, **changes)
            operations.log(conn, op.id, entry.time, entry.level, entry.event, **entry.data)
            if now is not None:
                ended = operations.load(conn, op.id)
                artifacts = store_artifacts(
                    ex.artifacts, op.id, operations.read_log(conn, op.id), ended.to_json(now),
                    ahead,
                )  # fmt: skip
                op.result["artifacts"] = artifacts
                operations.update(conn, op.id, result=op.result)
                ended.result = operations.stored(op.result)
    finally:
        for staged in ahead:
            staged.abort()  # nothing, for those stored
    # The operation as it ended, for the caller, rather than read once more.
    run.final = ended


@dataclass(frozen=True)
class _LogEntry:
    """The log entry an operation ends with."""

    time: str
    level: str
    event: str
    data: dict[str, JSON]


def _artifacts_ahead(
    ex: Executor,
    op_id: str,
    state: State,
    changes: dict[str, JSON],
    entry: _LogEntry,
    now: datetime,
) -> list[Staged]:
    """The log and report the closing transaction will store, foreseen from the operation as
    it is now and what that transaction writes, written and made durable before it: the
    transaction (which holds the database's write lock) then only places them. It checks
    them against what it reads, and stores the real ones where they differ (a log entry
    another process wrote in between, say). When they cannot be staged, it stores them."""
    try:
        with ex.repo.db.snapshot() as conn:
            found = operations.load(conn, op_id)
            log = operations.read_log(conn, op_id)
        report = operations.updated(found, state=state, **changes).to_json(now)
        log = operations.logged(log, entry.time, entry.level, entry.event, **entry.data)
        return ex.artifacts.stage_bytes(artifact_items(found.id, log, report))
    except (IsometryError, sqlite3.Error, OSError):
        return []  # the closing transaction meets the same trouble, or stores them itself
