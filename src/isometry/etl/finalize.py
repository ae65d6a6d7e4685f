"""The end of an operation: deletions a sync found, the post-execution commit, the merge or the
rollback its strategies ask for, and its final state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from isometry.errors import IsometryError
from isometry.etl import operations
from isometry.etl.states import State, move
from isometry.model import RowKind
from isometry.vcs import merging, refs
from isometry.vcs.fieldmerge import MergePolicy
from isometry.vcs.ops import Patch

if TYPE_CHECKING:
    from isometry.etl.executor import Executor, _Run


def _own_branch(run: _Run) -> bool:
    return run.op.config.branch_strategy in ("isolated", "temporary")


def _sync_deletes(ex: Executor, run: _Run) -> None:
    """Soft-delete the nodes a full re-import of each file no longer found."""
    op = run.op
    assert op.branch is not None
    with ex.repo.db.snapshot() as conn:
        seen = {k for (k,) in conn.execute("SELECT key FROM op_seen WHERE op_id = ?", (op.id,))}
        prefixes = {(f.importer.name, f"{f.path}#") for f in run.files}
        gone = [
            str(row["id"])
            for row in ex.repo.rows_at(run.head, RowKind.NODE)
            if row.get("deleted_at") is None
            and str(row["id"]) not in seen
            and any(row.get("source") == name and str(row.get("source_id", "")).startswith(p)
                    for name, p in prefixes)
        ]  # fmt: skip
    if not gone:
        return
    stamp = ex.stamp()
    ops = [Patch(RowKind.NODE, key, {"deleted_at": stamp}) for key in gone]
    result = ex.repo.apply(
        op.branch, ops, author=ex.author, expected_head=run.head,
        message=f"{op.template}: {len(gone)} record(s) gone from the source",
        metadata={"operation": op.id, "phase": "sync-deletes"},
    )  # fmt: skip
    run.head = result.commit.seq
    run.counts["deleted"] = run.counts.get("deleted", 0) + result.changes
    op.commits.append(result.commit.id)


def finish(ex: Executor, run: _Run) -> None:
    op, config = run.op, run.op.config
    assert op.branch is not None
    if config.sync_deletes:
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
    post = ex.repo.apply(
        op.branch, [], author=ex.author, allow_empty=True, expected_head=run.head,
        message=f"{op.template}: operation {op.id} done",
        metadata={"operation": op.id, "phase": "post-execution", "counts": run.counts,
                  "batches": run.batches},
    ).commit  # fmt: skip
    run.head = post.seq
    op.commits.append(post.id)
    state = State.PARTIALLY_SUCCEEDED if quarantined else State.SUCCEEDED
    outcome: dict[str, object] = {}
    if _own_branch(run) and config.post_execution in ("auto-merge", "rollback-on-failure"):
        result = merging.merge(
            ex.repo, op.branch, config.target, MergePolicy(config.merge_strategy),
            author=ex.author, message=f"Merge {op.template} operation {op.id}",
            metadata={"operation": op.id},
        )  # fmt: skip
        outcome = {
            "merge": result.status,
            "merge_commit": result.commit.id if result.commit else None,
        }
        if result.status == "conflicts":
            state = State.PARTIALLY_SUCCEEDED
            outcome["conflicts"] = len(result.conflicts)
            outcome["note"] = (
                f"the merge into {config.target} waits for {len(result.conflicts)} conflict(s): "
                "see 'isometry conflicts'"
            )
        elif config.branch_strategy == "temporary":
            with ex.repo.db.transaction() as conn:
                refs.delete_ref(conn, op.branch, "branch")
            outcome["branch_deleted"] = True
    elif _own_branch(run) and config.post_execution == "manual-merge":
        outcome = {
            "merge": "awaiting review",
            "note": f"review and merge with 'isometry merge {op.branch} --into {config.target}'",
        }
    _close(ex, run, state, None, outcome)


def end_early(ex: Executor, run: _Run, state: State, reason: str) -> None:
    """Failed or cancelled: roll the branch back when the strategies say so, keep it else."""
    op, config = run.op, run.op.config
    rollback = (
        config.post_execution == "rollback-on-failure" or config.branch_strategy == "temporary"
    )
    outcome: dict[str, object] = {"rolled_back": False}
    if rollback and op.branch is not None and run.head:
        try:
            with ex.repo.db.transaction() as conn:
                if _own_branch(run):
                    refs.delete_ref(conn, op.branch, "branch")
                else:
                    ex.repo.move_branch(op.branch, run.head, run.start_head)
            outcome["rolled_back"] = True
        except IsometryError as error:
            outcome["rollback_error"] = str(error)
    _close(ex, run, state, reason, outcome)


def _close(
    ex: Executor, run: _Run, state: State, error: str | None, outcome: dict[str, object]
) -> None:
    op = run.op
    with ex.repo.db.transaction() as conn:
        current = operations.load(conn, op.id).state
        move(conn, op.id, current, state)
        result = {**op.result, **outcome}
        operations.update(
            conn, op.id, counts=run.counts, commits=op.commits, result=result, error=error,
            phase="finalizing", lease_owner=None, lease_until=None, finished_at=ex.stamp(),
            progress={"done": run.counts.get("read", 0), "total": run.total},
        )  # fmt: skip
        operations.log(
            conn,
            op.id,
            ex.stamp(),
            "error" if error else "info",
            str(state),
            reason=error,
            counts=run.counts,
            **{k: str(v) for k, v in outcome.items()},
        )
    ex._phase(run, "finalizing")
