"""The persisted queue: operations wait as ``queued`` rows and run several at a time.

Each running operation has its own connection and branch; SQLite serialises their write
transactions, so batches interleave and merges happen one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from isometry.clock import Clock
from isometry.errors import IsometryError
from isometry.etl import operations, settings
from isometry.etl.executor import Executor, ProgressSink
from isometry.etl.operations import Operation
from isometry.etl.states import State, move
from isometry.vcs.repository import Repository


def enqueue(repo: Repository, op_id: str) -> Operation:
    with repo.db.transaction() as conn:
        op = operations.load(conn, op_id)
        move(conn, op.id, op.state, State.QUEUED)
        op.state, op.queued_at = State.QUEUED, repo.now()
        operations.update(conn, op.id, queued_at=op.queued_at)
        operations.log(conn, op.id, repo.now(), "info", "queued")
        return op


def _next_queued(repo: Repository) -> str | None:
    with repo.db.snapshot() as conn:
        row = conn.execute(
            "SELECT id FROM operations WHERE state = 'queued' ORDER BY seq LIMIT 1"
        ).fetchone()
    return str(row[0]) if row else None


def run_queue(
    path: Path,
    clock: Clock,
    *,
    author: str,
    max_concurrent: int | None = None,
    on_progress: ProgressSink | None = None,
    opener: Callable[[Path, Clock], Repository] = Repository.open,
) -> list[Operation]:
    """Run every queued operation, ``max_concurrent`` at a time (default: the repository's
    setting); returns them in their final states, in queue order."""
    with opener(path, clock) as repo, repo.db.snapshot() as conn:
        limit = max_concurrent or int(settings.get(conn, "max_concurrent") or 1)
    lock = threading.Lock()
    stopping = threading.Event()
    done: list[Operation] = []
    errors: list[BaseException] = []

    def worker() -> None:
        with opener(path, clock) as repo:
            executor = Executor(
                repo, author=author, on_progress=on_progress, should_stop=stopping.is_set
            )
            while not stopping.is_set():
                with lock:
                    op_id = _next_queued(repo)
                    if op_id is None:
                        return
                    try:
                        # Claimed under the lock: no two workers take the same operation.
                        executor_run = executor.claim(op_id)
                    except IsometryError:
                        continue
                try:
                    done.append(executor.run_claimed(executor_run))
                except BaseException as error:  # surfaced to the caller after all workers end
                    errors.append(error)
                    return

    threads = [threading.Thread(target=worker, name=f"isometry-queue-{i}") for i in range(limit)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        # Running operations stop at their next batch as interrupted (resumable); no new
        # one starts. Then the interrupt goes on to the caller.
        stopping.set()
        for thread in threads:
            thread.join()
        raise
    if errors:
        raise errors[0]
    return sorted(done, key=lambda op: op.seq)
