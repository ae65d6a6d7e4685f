"""Cancelling an operation: at once when it waits or its process is gone, at its next batch
when it runs.

However it is cancelled, an operation ends the same way: its post-execution strategy carried
out (``rollback-on-failure`` puts the target back as it was, a ``temporary`` branch is
deleted), its log and report kept as artifacts. One whose process is gone is first taken over,
lease and all, as a resume would take it, so two processes never end the same operation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from isometry.errors import InvalidTransition
from isometry.etl import checkpoints, operations
from isometry.etl.access import Accessor, Grants
from isometry.etl.finalize import end_early
from isometry.etl.heartbeat import Heartbeat
from isometry.etl.operations import Operation
from isometry.etl.states import FINAL, State

if TYPE_CHECKING:
    from isometry.etl.executor import Executor


def cancel(ex: Executor, op_id: str) -> Operation:
    """Cancel ``op_id``: a running one is asked to stop at its next batch (its own process
    ends it); any other is ended here. Returns the operation as it is then."""
    now = ex.now()
    with ex.repo.db.transaction() as conn:
        op = operations.load(conn, op_id)
        if op.state in FINAL:
            raise InvalidTransition(f"operation {op.id} is {op.state}; it cannot be cancelled")
        if op.shown_state(now) is State.RUNNING:
            operations.log(conn, op.id, ex.stamp(), "info", "cancel requested")
            operations.update(conn, op.id, cancel_requested=1)
            return operations.load(conn, op.id)
        point = checkpoints.read(conn, op.id)
        if point is not None and point.stage == "merged":
            # Its work is done and its strategy carried out: a cancel could undo nothing.
            raise InvalidTransition(
                f"operation {op.id} had carried out its post-execution strategy when it "
                f"stopped; there is nothing left to cancel: finish it with "
                f"'isometry ops resume {op.id}'"
            )
        operations.log(conn, op.id, ex.stamp(), "info", "cancel requested")
        op, _ = ex.take(conn, op.id, now)
    # Nothing is read from the sources: the run needs no importer and no grant.
    run = ex.run_of(op, [], Accessor(Grants.from_json({}), frozenset()))
    if point is not None:
        run.back_to(point)
        run.start_head = int(op.result.get("start_head", run.head))
    with Heartbeat(ex.repo.db.path, op.id, ex.owner, ex.repo.clock):
        end_early(ex, run, State.CANCELLED, "cancelled")
    return run.final or ex.load(op.id)
