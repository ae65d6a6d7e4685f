"""How an operation ends, whatever state it is in when it ends: a cancel applies the
post-execution strategy and keeps the log and report whether the operation was running,
interrupted or waiting; a resume that cannot go on is refused and leaves the operation as it
was; and what an operation reports about its end (its target, an import that found nothing).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from isometry import api
from isometry.errors import SourceUnreadable
from isometry.etl.operations import Operation
from isometry.etl.states import State
from isometry.vcs.repository import Repository
from test_engine import (
    AUTHOR,
    Interrupt,
    create,
    dead_owner,
    interrupt_after_batches,
    records,
    set_owner,
    write_jsonl,
)


def interrupted(repo: Repository, tmp_path: Path, count: int = 200, **config: object) -> Operation:
    """An import whose process died after its second batch (of 50 records)."""
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(count))
    op = create(repo, tmp_path, path, **config)
    with pytest.raises(Interrupt):
        api.run_operation(repo, op.id, author=AUTHOR, on_progress=interrupt_after_batches(2))
    set_owner(repo, op.id, dead_owner())
    return api.operation(repo, op.id)


def shown_state(repo: Repository, op_id: str) -> State:
    return api.operation(repo, op_id).shown_state(repo.clock.now())


# -- a resume that cannot go on ---------------------------------------------------------------


def test_a_refused_resume_leaves_the_operation_interrupted_and_it_can_be_cancelled(
    repo: Repository, tmp_path: Path
) -> None:
    op = interrupted(repo, tmp_path)
    before = api.operation(repo, op.id)
    write_jsonl(tmp_path / "src" / "notes.jsonl", records(210))
    with pytest.raises(SourceUnreadable, match="changed since the operation started"):
        api.run_operation(repo, op.id, author=AUTHOR)
    after = api.operation(repo, op.id)
    assert shown_state(repo, op.id) is State.INTERRUPTED
    assert after.progress == before.progress == {"done": 100, "total": 200}
    assert after.counts == before.counts
    events = api.operation_log(repo, op.id)
    assert events[-1]["event"] == "resume refused"
    assert "changed since the operation started" in str(events[-1]["reason"])
    assert api.cancel_operation(repo, op.id).state is State.CANCELLED


def test_a_resume_refused_for_a_missing_source_can_be_resumed_once_it_is_back(
    repo: Repository, tmp_path: Path
) -> None:
    op = interrupted(repo, tmp_path)
    source = tmp_path / "src" / "notes.jsonl"
    aside = source.rename(tmp_path / "aside.jsonl")
    with pytest.raises(SourceUnreadable, match="no such file"):
        api.run_operation(repo, op.id, author=AUTHOR)
    assert shown_state(repo, op.id) is State.INTERRUPTED
    aside.rename(source)
    done = api.run_operation(repo, op.id, author=AUTHOR)
    assert done.state is State.SUCCEEDED
    assert done.counts["inserted"] == 200
