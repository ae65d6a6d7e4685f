"""How an operation ends, whatever state it is in when it ends: a cancel applies the
post-execution strategy and keeps the log and report whether the operation was running,
interrupted or waiting; a resume that cannot go on is refused and leaves the operation as it
was; and what an operation reports about its end (its target, an import that found nothing).
"""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from isometry import api
from isometry.cli import main as cli_main
from isometry.clock import SystemClock
from isometry.errors import InvalidTransition, SourceUnreadable
from isometry.etl.executor import Progress
from isometry.etl.operations import Operation
from isometry.etl.states import State
from isometry.vcs.repository import Repository
from test_engine import (
    AUTHOR,
    Interrupt,
    branch_names,
    create,
    dead_owner,
    grants,
    head_id,
    interrupt_after_batches,
    record,
    records,
    root,
    run_import,
    set_owner,
    write_jsonl,
)


def interrupted(repo: Repository, tmp_path: Path, *, count: int = 200, **config: Any) -> Operation:
    """An import whose process died after its second batch (of 50 records)."""
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(count))
    op = create(repo, tmp_path, path, **config)
    with pytest.raises(Interrupt):
        api.run_operation(repo, op.id, author=AUTHOR, on_progress=interrupt_after_batches(2))
    set_owner(repo, op.id, dead_owner())
    return api.operation(repo, op.id)


def isometry(repo_path: Path, *args: str, code: int = 0) -> str:
    """What ``isometry ARGS --repo REPO`` prints, run in this process."""
    result = CliRunner().invoke(cli_main.app, [*args, "--repo", str(repo_path)])
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


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


# -- cancelling, whatever state the operation is in -------------------------------------------


def kept_artifacts(repo: Repository, op: Operation) -> list[str]:
    """The events of the log the operation kept as an artifact, after checking its report."""
    artifacts = op.result["artifacts"]
    report = json.loads(blob_text(repo, artifacts["report"]))
    assert (report["id"], report["state"]) == (op.id, "cancelled")
    lines = blob_text(repo, artifacts["log"]).splitlines()
    return [json.loads(line)["event"] for line in lines]


def blob_text(repo: Repository, digest: str) -> str:
    out = io.BytesIO()
    api.read_blob(repo, digest, out)
    return out.getvalue().decode()


def test_cancelling_an_interrupted_import_onto_main_puts_main_back(
    repo: Repository, tmp_path: Path
) -> None:
    before = (root(repo), head_id(repo))
    op = interrupted(repo, tmp_path, branch_strategy="main", post_execution="rollback-on-failure")
    assert len(api.nodes(repo)) == 100
    done = api.cancel_operation(repo, op.id)
    assert done.state is State.CANCELLED
    assert done.error == "cancelled"
    assert done.result["rolled_back"] is True
    assert (root(repo), head_id(repo)) == before
    assert api.nodes(repo) == []
    assert done.progress == {"done": 100, "total": 200}
    assert kept_artifacts(repo, done)[-2:] == ["cancel requested", "cancelled"]
    stored = api.operation(repo, op.id)
    assert (stored.lease_owner, stored.finished_at is not None) == (None, True)
    with pytest.raises(InvalidTransition, match="cannot be cancelled"):
        api.cancel_operation(repo, op.id)


@pytest.mark.parametrize(
    "config",
    [
        {"post_execution": "rollback-on-failure"},
        {"branch_strategy": "temporary"},
        {"branch_strategy": "temporary", "post_execution": "preserve-branch"},
    ],
)
def test_cancelling_an_interrupted_import_drops_its_branch_when_the_strategies_say_so(
    repo: Repository, tmp_path: Path, config: dict[str, Any]
) -> None:
    before = root(repo)
    op = interrupted(repo, tmp_path, **config)
    assert branch_names(repo) == {"main", f"import/{op.id}"}
    done = api.cancel_operation(repo, op.id)
    assert (done.state, done.result["rolled_back"]) == (State.CANCELLED, True)
    assert branch_names(repo) == {"main"}
    assert root(repo) == before
    assert "cancelled" in kept_artifacts(repo, done)


def test_cancelling_an_interrupted_import_keeps_its_branch_otherwise(
    repo: Repository, tmp_path: Path
) -> None:
    op = interrupted(repo, tmp_path)
    done = api.cancel_operation(repo, op.id)
    assert (done.state, done.result["rolled_back"]) == (State.CANCELLED, False)
    assert len(api.nodes(repo, at=f"import/{op.id}")) == 100
    assert api.nodes(repo) == []
    assert "cancelled" in kept_artifacts(repo, done)


def test_a_cancelled_waiting_operation_keeps_its_log_and_report(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    created = create(repo, tmp_path, path)
    queued = api.queue_operation(
        repo, "json-import", [path], grants=grants(tmp_path), config={}, base=tmp_path
    )
    for op in (created, queued):
        done = api.cancel_operation(repo, op.id)
        assert (done.state, done.error, done.started_at) == (State.CANCELLED, "cancelled", None)
        assert kept_artifacts(repo, done)[-2:] == ["cancel requested", "cancelled"]
    assert branch_names(repo) == {"main"}


def test_cancelling_an_operation_another_process_resumed_asks_that_process_to_stop(
    tmp_path: Path,
) -> None:
    """The resume holds the lease: the cancel only asks, and the resumed run ends it, rolled
    back, at its next batch; the operation is ended once."""
    repo_path = tmp_path / "repo"
    with api.init(repo_path, clock=SystemClock(), author=AUTHOR) as repo:
        before = root(repo)
        op = interrupted(
            repo, tmp_path, count=1500, branch_strategy="main", post_execution="rollback-on-failure"
        )
    outcome: list[Operation] = []
    started = threading.Event()

    def slow(progress: Progress) -> None:
        started.set()
        time.sleep(0.002)

    def resume() -> None:
        with api.open_repository(repo_path, clock=SystemClock()) as mine:
            outcome.append(api.run_operation(mine, op.id, author=AUTHOR, on_progress=slow))

    worker = threading.Thread(target=resume)
    worker.start()
    with api.open_repository(repo_path, clock=SystemClock()) as repo:
        assert started.wait(30)
        asked = api.cancel_operation(repo, op.id)
        assert (asked.state, asked.cancel_requested) == (State.RUNNING, True)
        worker.join(30)
        assert not worker.is_alive()
        assert outcome[0].state is State.CANCELLED
        assert outcome[0].result["rolled_back"] is True
        assert root(repo) == before
        events = [e["event"] for e in api.operation_log(repo, op.id)]
        assert events.count("cancelled") == 1


def test_an_operation_that_stopped_after_its_strategy_ran_is_not_cancelled(
    repo: Repository, tmp_path: Path
) -> None:
    """Killed between its merge and its end: nothing is left to undo; resuming ends it."""
    op = interrupted(repo, tmp_path)
    with repo.db.transaction() as conn:
        conn.execute("UPDATE checkpoints SET stage = 'merged' WHERE op_id = ?", (op.id,))
    with pytest.raises(InvalidTransition, match="nothing left to cancel"):
        api.cancel_operation(repo, op.id)
    assert shown_state(repo, op.id) is State.INTERRUPTED


def test_ops_cancel_says_what_it_rolled_back(
    repo_path: Path, repo: Repository, tmp_path: Path
) -> None:
    op = interrupted(repo, tmp_path, post_execution="rollback-on-failure")
    out = isometry(repo_path, "ops", "cancel", op.id)
    assert f"Operation {op.id} is cancelled; what it wrote was rolled back" in out


# -- a sync and the records it could not read -------------------------------------------------


def marked_deleted(repo: Repository) -> list[str]:
    return sorted(str(n["name"]) for n in api.nodes(repo) if n.get("deleted_at"))


def test_a_record_refused_for_a_field_is_not_taken_for_gone(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    run_import(repo, tmp_path, path)
    write_jsonl(path, [record(0), record(1, due="not a date")])
    op = run_import(repo, tmp_path, path, sync_deletes=True, max_error_rate=0.5)
    assert (op.counts["quarantined"], op.counts["deleted"]) == (1, 1)
    assert marked_deleted(repo) == ["Title 2"]
    assert "notes" not in op.result


def test_a_record_refused_for_repeating_an_id_holds_back_no_deletion(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    run_import(repo, tmp_path, path)
    write_jsonl(path, [record(0), record(0, title="again"), record(1)])
    op = run_import(repo, tmp_path, path, sync_deletes=True, max_error_rate=0.5)
    assert (op.counts["quarantined"], op.counts["deleted"]) == (1, 1)
    assert marked_deleted(repo) == ["Title 2"]
    assert "notes" not in op.result


def test_a_record_not_read_far_enough_to_know_it_keeps_every_node_of_its_file(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    other = write_jsonl(tmp_path / "src" / "other.jsonl", records(2, start=10))
    run_import(repo, tmp_path, path.parent)
    write_jsonl(path, ['{"id": "r0", "title": "Title 0"', record(1)])
    write_jsonl(other, records(1, start=10))
    op = run_import(repo, tmp_path, path.parent, sync_deletes=True, max_error_rate=0.5)
    assert (op.counts["quarantined"], op.counts["deleted"]) == (1, 1)
    # r0 is in quarantine; r2 is gone, but nothing says the unread line is not it.
    assert marked_deleted(repo) == ["Title 11"]
    [note] = op.result["notes"]
    assert note.startswith("2 node(s) of notes.jsonl were not marked deleted")
    [held] = [e for e in api.operation_log(repo, op.id) if e["event"] == "deletions held back"]
    assert (held["file"], held["nodes"]) == (str(path.resolve()), 2)
    out = isometry(repo.path, "ops", "show", op.id)
    assert "Note: 2 node(s) of notes.jsonl were not marked deleted" in out


# -- the target -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "strategy", "says"),
    [
        ("v1", "isolated", "the target 'v1' is a tag, not a branch"),
        ("v1", "main", "the target 'v1' is a tag, not a branch"),
        ("nope", "isolated", "there is no branch 'nope' to import into"),
        ("nope", "temporary", "there is no branch 'nope' to import into"),
    ],
)
def test_a_target_that_is_no_branch_fails_before_anything_is_read(
    repo: Repository, tmp_path: Path, target: str, strategy: str, says: str
) -> None:
    api.tag(repo, "v1")
    before = root(repo)
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    phases: list[str] = []
    op = run_import(
        repo, tmp_path, path, target=target, branch_strategy=strategy,
        on_progress=lambda p: phases.append(p.phase),
    )  # fmt: skip
    assert op.state is State.FAILED
    assert op.error is not None
    assert op.error.startswith(says)
    assert "give an existing branch as the target" in op.error
    assert (op.phase, set(phases), op.counts.get("read", 0)) == ("preparing", {"preparing"}, 0)
    assert (root(repo), branch_names(repo)) == (before, {"main"})


# -- an import that finds nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "template", "says"),
    [
        ({}, "json-import", "they hold no file that the json importer reads"),
        (
            {"readme.xyz": "hello\n"},
            "json-import",
            "they hold no file that the json importer reads",
        ),
        ({"tasks.csv": ""}, "csv-import", "the file read holds none"),
        ({"tasks.csv": "title,due\n"}, "csv-import", "the file read holds none"),
        ({"a.jsonl": "", "b.jsonl": "\n\n"}, "json-import", "the 2 files read hold none"),
    ],
)
def test_an_import_that_finds_no_record_succeeds_and_says_so(
    repo: Repository, tmp_path: Path, files: dict[str, str], template: str, says: str
) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    before = root(repo)
    op = run_import(repo, tmp_path, folder, template=template)
    assert (op.state, op.counts["read"]) == (State.SUCCEEDED, 0)
    assert op.result["notes"] == [f"no records were found in the given sources: {says}"]
    assert root(repo) == before
    out = isometry(repo.path, "ops", "show", op.id)
    assert "Note: No records were found in the given sources" in out


def test_an_import_that_reads_records_has_no_such_note(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(2))
    assert "notes" not in run_import(repo, tmp_path, path).result
