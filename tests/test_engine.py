"""The ETL engine as a user meets it: operations run through ``isometry.api`` on real
repositories and real JSON Lines / CSV files under ``tmp_path``.

Each test checks one promise of the engine: states, the seven phases and their progress,
deduplication, quarantine, branch and post-execution strategies, resume, cancel, permissions,
limits, the queue, lineage, metrics and the operation log.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from isometry import api
from isometry.clock import SystemClock
from isometry.errors import InvalidTransition, SourceUnreadable
from isometry.etl import operations as etl_operations
from isometry.etl import settings as etl_settings
from isometry.etl import states as etl_states
from isometry.etl.executor import PHASES, Executor, Progress
from isometry.etl.operations import Operation
from isometry.etl.states import FINAL, TRANSITIONS, State
from isometry.model import JSON, node_id_for
from isometry.vcs.ops import Op, parse_op
from isometry.vcs.repository import Repository

AUTHOR = "alice"
Row = dict[str, JSON]
Record = dict[str, JSON]

# -- helpers ----------------------------------------------------------------------------------


def record(i: int, **changes: JSON) -> Record:
    out: Record = {
        "id": f"r{i}",
        "title": f"Title {i}",
        "body": f"Body of record {i}",
        "tags": ["imported", f"group-{i % 3}"],
    }
    out.update(changes)
    return out


def write_jsonl(path: Path, items: Sequence[Record | str]) -> Path:
    """One line per item: records as JSON, strings written as they are (malformed lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [item if isinstance(item, str) else json.dumps(item) for item in items]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def records(count: int, start: int = 0) -> list[Record]:
    return [record(i) for i in range(start, start + count)]


def grants(tmp_path: Path) -> list[str]:
    return [f"file-system={tmp_path}"]


def run_import(
    repo: Repository,
    tmp_path: Path,
    source: Path | Sequence[Path],
    *,
    template: str = "json-import",
    on_progress: Callable[[Progress], None] | None = None,
    **config: Any,
) -> Operation:
    sources = [source] if isinstance(source, Path) else list(source)
    config.setdefault("batch_size", 50)
    return api.import_(
        repo, template, sources, author=AUTHOR, grants=grants(tmp_path), config=config,
        base=tmp_path, on_progress=on_progress,
    )  # fmt: skip


def create(repo: Repository, tmp_path: Path, source: Path, **config: Any) -> Operation:
    config.setdefault("batch_size", 50)
    return api.create_operation(
        repo, "json-import", [source], grants=grants(tmp_path), config=config, base=tmp_path
    )


def root(repo: Repository, rev: str = "main") -> str:
    return api.show_commit(repo, rev).root


def head_id(repo: Repository, rev: str = "main") -> str:
    return api.show_commit(repo, rev).id


def nid(source: Path, key: str, importer: str = "json") -> str:
    return node_id_for(importer, f"{source.resolve()}#{key}")


def nodes_by_id(repo: Repository, at: str = "main") -> dict[str, Row]:
    return {str(row["id"]): row for row in api.nodes(repo, at=at)}


def branch_names(repo: Repository) -> set[str]:
    return {b.name for b in api.branches(repo)}


def patch_node(key: str, **fields: JSON) -> Op:
    return parse_op({"op": "patch", "node": {"id": key, **fields}})


def edit_main(repo: Repository, key: str, **fields: JSON) -> None:
    api.apply(repo, [patch_node(key, **fields)], branch="main", message="edit", author="bob")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def dead_pid() -> int:
    """The pid of a child process that has exited and been reaped."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(child.stdout)


def pretend_running(repo: Repository, op_id: str, owner: str, until: str) -> None:
    """Mark ``op_id`` running under ``owner``'s lease, as its process would have."""
    with repo.db.transaction() as conn:
        op = etl_operations.load(conn, op_id)
        etl_states.move(conn, op.id, op.state, State.RUNNING)
        etl_operations.update(
            conn, op.id, lease_owner=owner, lease_until=until, started_at=repo.now()
        )


def set_owner(repo: Repository, op_id: str, owner: str) -> None:
    with repo.db.transaction() as conn:
        conn.execute("UPDATE operations SET lease_owner = ? WHERE id = ?", (owner, op_id))


def live_owner() -> str:
    """A lease owner naming this (running) process."""
    return f"{socket.gethostname()}:{os.getpid()}:test"


def dead_owner() -> str:
    return f"{socket.gethostname()}:{dead_pid()}:gone"


FAR_FUTURE = "2999-01-01T00:00:00.000000Z"
LONG_AGO = "2000-01-01T00:00:00.000000Z"


class Interrupt(Exception):
    """Raised from a progress callback: the process 'dies' there, leaving the op running."""


def interrupt_after_batches(count: int) -> Callable[[Progress], None]:
    seen: list[int] = []

    def sink(progress: Progress) -> None:
        if progress.phase == "loading" and progress.done and progress.done not in seen:
            seen.append(progress.done)
            if len(seen) >= count:
                raise Interrupt(f"stopped after {count} batch(es)")

    return sink


# -- states -----------------------------------------------------------------------------------


def test_the_eight_states_and_their_transitions() -> None:
    assert {str(s) for s in State} == {
        "created", "queued", "running", "interrupted", "succeeded", "partially-succeeded",
        "failed", "cancelled",
    }  # fmt: skip
    for state in FINAL:
        assert TRANSITIONS[state] == frozenset()
    assert State.INTERRUPTED in TRANSITIONS[State.RUNNING]
    assert State.RUNNING in TRANSITIONS[State.INTERRUPTED]
    for current in State:
        for new in State:
            if new in TRANSITIONS[current]:
                etl_states.check(current, new, "x")
            else:
                with pytest.raises(InvalidTransition):
                    etl_states.check(current, new, "x")


def test_created_then_succeeded_and_a_finished_operation_cannot_run_again(
    repo: Repository, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "src" / "notes.jsonl", records(5))
    op = create(repo, tmp_path, source)
    assert op.state is State.CREATED
    assert api.operation(repo, op.id).state is State.CREATED
    done = api.run_operation(repo, op.id, author=AUTHOR)
    assert done.state is State.SUCCEEDED
    assert done.started_at
    assert done.finished_at
    with pytest.raises(InvalidTransition):
        api.run_operation(repo, op.id, author=AUTHOR)
    with pytest.raises(InvalidTransition):
        api.cancel_operation(repo, op.id)
    assert api.operation(repo, op.id).state is State.SUCCEEDED


def test_an_operation_can_be_found_by_an_id_prefix(repo: Repository, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "src" / "notes.jsonl", records(2))
    op = create(repo, tmp_path, source)
    assert api.operation(repo, op.id[:6]).id == op.id
    assert [o.id for o in api.operations(repo)] == [op.id]


# -- phases and progress ----------------------------------------------------------------------


def test_seven_phases_in_order_with_live_progress(repo: Repository, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "src" / "notes.jsonl", records(120))
    events: list[Progress] = []
    live: list[tuple[str, dict[str, Any]]] = []
    op = create(repo, tmp_path, source)

    def sink(progress: Progress) -> None:
        events.append(progress)
        if progress.phase == "extracting":
            live.append((progress.phase, api.operation(repo, op.id).progress))

    done = api.run_operation(repo, op.id, author=AUTHOR, on_progress=sink)
    assert done.state is State.SUCCEEDED
    assert all(e.op_id == op.id for e in events)
    phases = [e.phase for e in events]
    collapsed = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]
    assert sorted(set(phases), key=phases.index) == list(PHASES)
    pattern = r"preparing scanning (extracting transforming validating loading )+finalizing"
    assert re.fullmatch(pattern, " ".join(collapsed)), collapsed
    assert collapsed.count("extracting") == 3  # 120 records, batches of 50
    after_scan = events[phases.index("scanning") + 1 :]
    assert {e.total for e in after_scan} == {120}
    dones = [e.done for e in events]
    assert dones == sorted(dones)
    assert events[-1].done == 120
    assert events[-1].counts["inserted"] == 120
    # Other readers see the progress move, batch by batch, with the total from scanning.
    assert [p["done"] for _, p in live] == [0, 50, 100]
    assert {p["total"] for _, p in live} == {120}
    assert done.progress == {"done": 120, "total": 120}
    assert done.fraction() == 1.0


def test_an_empty_source_succeeds_with_nothing_written(repo: Repository, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "src" / "empty.jsonl", [])
    before = root(repo)
    phases: list[str] = []
    op = run_import(repo, tmp_path, source, on_progress=lambda p: phases.append(p.phase))
    assert op.state is State.SUCCEEDED
    assert op.counts["read"] == 0
    assert root(repo) == before
    assert phases[0] == "preparing"
    assert phases[-1] == "finalizing"


def test_a_folder_is_expanded_into_its_files(repo: Repository, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    one = write_jsonl(folder / "a.jsonl", records(30))
    two = write_jsonl(folder / "sub" / "b.jsonl", records(40, start=100))
    (folder / "readme.txt").write_text("not a record file")
    write_jsonl(folder / ".hidden" / "c.jsonl", records(5, start=500))
    totals: set[int] = set()
    op = run_import(repo, tmp_path, folder, on_progress=lambda p: totals.add(p.total))
    assert op.state is State.SUCCEEDED, op.error
    assert op.counts["inserted"] == 70
    assert max(totals) == 70
    found = nodes_by_id(repo)
    assert nid(one, "r0") in found
    assert nid(two, "r100") in found
    assert len(found) == 70


# -- deduplication ----------------------------------------------------------------------------


def test_reimporting_an_unchanged_source_writes_nothing(repo: Repository, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "src" / "notes.jsonl", records(120))
    first = run_import(repo, tmp_path, source)
    assert first.state is State.SUCCEEDED
    assert first.counts["inserted"] == 120
    before_root, before_nodes = root(repo), api.nodes(repo)
    before_log = {c.id for c in api.log(repo)}
    second = run_import(repo, tmp_path, source)
    assert second.state is State.SUCCEEDED
    assert (second.counts["inserted"], second.counts["updated"]) == (0, 0)
    assert second.counts["unchanged"] == 120
    assert root(repo) == before_root
    assert api.nodes(repo) == before_nodes
    new_commits = [c for c in api.log(repo) if c.id not in before_log]
    assert new_commits, "the operation's own pre- and post-execution commits"
    assert all(c.changes == 0 for c in new_commits)
    assert all(c.metadata.get("operation") == second.id for c in new_commits)
    assert api.lineage(repo, op_id=second.id) == []


@pytest.mark.parametrize("gap", [0, 60], ids=["same-batch", "later-batch"])
def test_a_repeated_record_id_is_quarantined_and_the_first_record_kept(
    repo: Repository, tmp_path: Path, gap: int
) -> None:
    """A source that holds one id twice: the first record becomes the node, the later one is
    quarantined with why (not silently written over the first), whatever the batches; importing
    the same source again changes nothing."""
    rows = [record(1, title="First version"), *records(gap, start=100), record(1, title="Second")]
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", rows)
    first = run_import(repo, tmp_path, path, max_error_rate=0.5)
    assert first.state is State.PARTIALLY_SUCCEEDED
    counts = first.counts
    assert (counts["inserted"], counts["updated"], counts["unchanged"]) == (gap + 1, 0, 0)
    assert counts["quarantined"] == 1
    assert nodes_by_id(repo)[nid(path, "r1")]["name"] == "First version"
    assert len(api.nodes(repo)) == gap + 1
    (entry,) = api.quarantine(repo, first.id)
    assert json.loads(str(entry["raw"]))["title"] == "Second"
    assert f"line {gap + 2} has the id 'r1' of line 1" in str(entry["reason"])
    before = root(repo)
    second = run_import(repo, tmp_path, path, max_error_rate=0.5)
    assert (second.counts["inserted"], second.counts["updated"]) == (0, 0)
    assert second.counts["quarantined"] == 1
    assert root(repo) == before
    assert nodes_by_id(repo)[nid(path, "r1")]["name"] == "First version"


def test_counts_add_up_to_the_records_read(repo: Repository, tmp_path: Path) -> None:
    """Every record read is counted once: inserted, updated, unchanged, quarantined or
    filtered, also when the source repeats an id, and a record whose file cannot be stored
    once (the file is counted apart)."""
    rows: list[Record | str] = [*records(5), record(1, title="Again"), "broken", *records(3, 10),
                                record(20, attachments=["missing.pdf", "gone.pdf"])]  # fmt: skip
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", rows)
    counted = ("inserted", "updated", "unchanged", "quarantined", "filtered")
    for _ in range(2):
        op = run_import(repo, tmp_path, path, max_error_rate=0.5)
        assert op.counts["read"] == 11
        assert sum(op.counts[name] for name in counted) == 11, op.counts
    assert op.counts["attachments_quarantined"] == 0  # the second time, the record is unchanged


def test_a_changed_record_updates_the_same_node(repo: Repository, tmp_path: Path) -> None:
    path = tmp_path / "src" / "notes.jsonl"
    write_jsonl(path, records(10))
    run_import(repo, tmp_path, path)
    key = nid(path, "r3")
    changed = records(10)
    changed[3] = record(3, title="A new title", body="A new body")
    write_jsonl(path, changed)
    op = run_import(repo, tmp_path, path)
    assert op.state is State.SUCCEEDED
    assert (op.counts["inserted"], op.counts["updated"], op.counts["unchanged"]) == (0, 1, 9)
    found = nodes_by_id(repo)
    assert len(found) == 10
    assert found[key]["name"] == "A new title"
    assert found[key]["content"] == "A new body"
    history = api.lineage(repo, node=key)
    assert [h["change"] for h in history] == ["update", "insert"]
    assert history[0]["operation"] == op.id


def test_edits_on_main_survive_a_reimport(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(10))
    run_import(repo, tmp_path, path)
    edit_main(repo, nid(path, "r1"), name="Renamed by hand", priority=3)
    changed = records(10)
    changed[5] = record(5, body="changed at the source")
    write_jsonl(path, changed)
    op = run_import(repo, tmp_path, path)
    assert op.state is State.SUCCEEDED
    assert (op.counts["inserted"], op.counts["updated"]) == (0, 1)
    found = nodes_by_id(repo)
    assert found[nid(path, "r1")]["name"] == "Renamed by hand"
    assert found[nid(path, "r1")]["priority"] == 3
    assert found[nid(path, "r5")]["content"] == "changed at the source"


def test_sync_deletes_soft_deletes_records_gone_from_the_source(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(10))
    other = write_jsonl(tmp_path / "src" / "other.jsonl", records(3, start=50))
    run_import(repo, tmp_path, [path, other])
    kept = [r for r in records(10) if r["id"] not in ("r2", "r7")]
    write_jsonl(path, kept)
    op = run_import(repo, tmp_path, path, sync_deletes=True)
    assert op.state is State.SUCCEEDED, op.error
    assert op.counts["deleted"] == 2
    found = nodes_by_id(repo)
    assert len(found) == 13  # soft deletion: the nodes stay, marked
    gone = {k for k, row in found.items() if row.get("deleted_at")}
    assert gone == {nid(path, "r2"), nid(path, "r7")}
    # Records of a file this import did not read are not touched.
    assert all(not found[nid(other, f"r{i}")].get("deleted_at") for i in range(50, 53))


def test_without_sync_deletes_records_gone_from_the_source_stay(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(10))
    run_import(repo, tmp_path, path)
    write_jsonl(path, records(8))
    op = run_import(repo, tmp_path, path)
    assert op.counts["deleted"] == 0
    assert not any(row.get("deleted_at") for row in api.nodes(repo))


def test_a_record_back_in_the_source_after_a_sync_delete_is_live_again(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(5))
    run_import(repo, tmp_path, path, sync_deletes=True)
    write_jsonl(path, records(4))
    run_import(repo, tmp_path, path, sync_deletes=True)
    key = nid(path, "r4")
    assert nodes_by_id(repo)[key].get("deleted_at")
    write_jsonl(path, records(5))
    op = run_import(repo, tmp_path, path, sync_deletes=True)
    assert op.state is State.SUCCEEDED
    assert not nodes_by_id(repo)[key].get("deleted_at"), "the record is in the source again"


def test_sync_deletes_with_a_date_range_keeps_records_outside_the_range(
    repo: Repository, tmp_path: Path
) -> None:
    old = [record(i, created=f"2020-01-0{i + 1}T00:00:00Z") for i in range(3)]
    new = [record(i, created=f"2024-01-0{i + 1}T00:00:00Z") for i in range(3, 6)]
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", old + new)
    run_import(repo, tmp_path, path)
    op = run_import(repo, tmp_path, path, sync_deletes=True, date_from="2023-01-01T00:00:00Z")
    assert op.state is State.SUCCEEDED
    assert op.counts["filtered"] == 3
    # Every record is still in the source: a filtered import has no grounds to delete any.
    assert not any(row.get("deleted_at") for row in api.nodes(repo))


def test_date_range_filters_records(repo: Repository, tmp_path: Path) -> None:
    rows = [record(i, created=f"202{i}-06-01T00:00:00Z") for i in range(6)]
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", rows)
    op = run_import(
        repo, tmp_path, path, date_from="2022-01-01T00:00:00Z", date_to="2023-12-31T00:00:00Z"
    )
    assert (op.counts["inserted"], op.counts["filtered"]) == (2, 4)
    assert set(nodes_by_id(repo)) == {nid(path, "r2"), nid(path, "r3")}


def test_csv_import_and_reimport(repo: Repository, tmp_path: Path) -> None:
    header = ["id", "Title", "Notes", "Tags", "Due Date"]
    rows = [[f"c{i}", f"Task {i}", f"notes {i}", "a;b", "2030-02-01"] for i in range(60)]
    path = write_csv(tmp_path / "src" / "tasks.csv", header, rows)
    first = run_import(repo, tmp_path, path, template="csv-import")
    assert first.state is State.SUCCEEDED, first.error
    assert first.counts["inserted"] == 60
    row = nodes_by_id(repo)[nid(path, "c7", "csv")]
    assert (row["name"], row["content"], row["tags"]) == ("Task 7", "notes 7", ["a", "b"])
    assert row["due_at"] == "2030-02-01T00:00:00Z"
    before = root(repo)
    again = run_import(repo, tmp_path, path, template="csv-import")
    assert (again.counts["inserted"], again.counts["updated"]) == (0, 0)
    assert root(repo) == before
    rows[7][1] = "Task seven"
    write_csv(path, header, rows)
    changed = run_import(repo, tmp_path, path, template="csv-import")
    assert (changed.counts["inserted"], changed.counts["updated"]) == (0, 1)
    assert nodes_by_id(repo)[nid(path, "c7", "csv")]["name"] == "Task seven"


# -- validation and quarantine ----------------------------------------------------------------

BAD_LINES = ("this is not JSON", "[1, 2, 3]", json.dumps(record(99, priority="high")))


def test_bad_records_are_quarantined_with_raw_form_locator_and_reason(
    repo: Repository, tmp_path: Path
) -> None:
    good = records(8)
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", [*good[:3], *BAD_LINES, *good[3:]])
    op = run_import(repo, tmp_path, path, max_error_rate=0.5)
    assert op.state is State.PARTIALLY_SUCCEEDED, op.error
    assert (op.counts["read"], op.counts["inserted"], op.counts["quarantined"]) == (11, 8, 3)
    assert len(api.nodes(repo)) == 8
    entries = api.quarantine(repo, op.id)
    assert [e["raw"] for e in entries] == list(BAD_LINES)
    assert [e["locator"]["line"] for e in entries] == [4, 5, 6]
    assert {e["locator"]["file"] for e in entries} == {str(path.resolve())}
    assert all(e["operation"] == op.id for e in entries)
    assert "not valid JSON" in str(entries[0]["reason"])
    assert "not an object" in str(entries[1]["reason"])
    assert "priority" in str(entries[2]["reason"])
    assert api.quarantine(repo) == entries


def test_bad_csv_rows_are_quarantined(repo: Repository, tmp_path: Path) -> None:
    path = tmp_path / "src" / "tasks.csv"
    path.parent.mkdir(parents=True)
    path.write_text("id,title,priority\nc1,One,1\nc2,Two,2,extra\nc3,Three,high\nc4,Four,4\n")
    op = run_import(repo, tmp_path, path, template="csv-import", max_error_rate=0.5)
    assert op.state is State.PARTIALLY_SUCCEEDED, op.error
    assert (op.counts["inserted"], op.counts["quarantined"]) == (2, 2)
    entries = api.quarantine(repo, op.id)
    assert [e["raw"] for e in entries] == ["c2,Two,2,extra", "c3,Three,high"]
    assert [e["locator"]["line"] for e in entries] == [3, 4]
    assert "fields" in str(entries[0]["reason"])


def test_an_error_rate_at_the_maximum_still_succeeds(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", [*records(9), "broken"])
    op = run_import(repo, tmp_path, path, max_error_rate=0.1)
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert len(api.nodes(repo)) == 9


def test_past_the_maximum_error_rate_the_operation_fails(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", [*records(7), *BAD_LINES])
    before = root(repo)
    op = run_import(repo, tmp_path, path)  # default: at most 10% of the records
    assert op.state is State.FAILED
    assert op.error is not None
    assert "3 of 10" in op.error
    assert "error rate" in op.error
    assert root(repo) == before
    assert len(api.quarantine(repo, op.id)) == 3, "nothing is lost"
    # The default strategy keeps the branch: the good records wait there.
    assert op.branch in branch_names(repo)
    assert len(api.nodes(repo, at=str(op.branch))) == 7


# -- branch and post-execution strategies ------------------------------------------------------

STRATEGIES = [
    # branch strategy, post-execution, main gets the data, the op's branch is kept, merge
    ("main", "auto-merge", True, False, None),
    ("main", "manual-merge", True, False, None),
    ("main", "preserve-branch", True, False, None),
    ("main", "rollback-on-failure", True, False, None),
    ("isolated", "auto-merge", True, True, "fast-forward"),
    ("isolated", "rollback-on-failure", True, True, "fast-forward"),
    ("isolated", "manual-merge", False, True, "awaiting review"),
    ("isolated", "preserve-branch", False, True, None),
    ("temporary", "auto-merge", True, False, "fast-forward"),
    ("temporary", "rollback-on-failure", True, False, "fast-forward"),
    ("temporary", "manual-merge", False, True, "awaiting review"),
    ("temporary", "preserve-branch", False, True, None),
]


@pytest.mark.parametrize(("branching", "post", "merged", "kept", "merge"), STRATEGIES)
def test_branch_and_post_execution_strategies(
    repo: Repository,
    tmp_path: Path,
    branching: str,
    post: str,
    merged: bool,
    kept: bool,
    merge: str | None,
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(60))
    before = root(repo)
    op = run_import(repo, tmp_path, path, branch_strategy=branching, post_execution=post)
    assert op.state is State.SUCCEEDED, op.error
    assert op.counts["inserted"] == 60
    if branching == "main":
        assert op.branch == "main"
        assert branch_names(repo) == {"main"}
    else:
        assert op.branch == f"import/{op.id}"
        assert (op.branch in branch_names(repo)) is kept
    if kept:
        assert op.branch is not None
        assert len(api.nodes(repo, at=op.branch)) == 60
    assert op.result.get("merge") == merge
    assert (len(api.nodes(repo)) == 60) is merged
    if not merged:
        assert root(repo) == before
    if branching == "temporary" and not kept:
        assert op.result.get("branch_deleted") is True
    if not merged and kept:
        assert op.branch is not None
        result = api.merge(repo, op.branch, "main", author=AUTHOR)
        assert result.status in ("fast-forward", "merged")
        assert len(api.nodes(repo)) == 60
    assert api.fsck(repo).ok


def test_pre_and_post_execution_commits_carry_the_operation(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(60))
    op = run_import(repo, tmp_path, path)
    mine = [c for c in api.log(repo) if c.metadata.get("operation") == op.id]
    phases = [c.metadata.get("phase") for c in mine]
    assert "pre-execution" in phases
    assert "post-execution" in phases
    batches = sorted(int(c.metadata["batch"]) for c in mine if "batch" in c.metadata)
    assert batches == [1, 2]
    assert set(op.commits) <= {c.id for c in api.log(repo)}
    pre = next(c for c in mine if c.metadata.get("phase") == "pre-execution")
    assert pre.metadata["template"] == "json-import"
    post = next(c for c in mine if c.metadata.get("phase") == "post-execution")
    assert post.metadata["counts"]["inserted"] == 60


@pytest.mark.parametrize("post", ["preserve-branch", "manual-merge"])
def test_existing_branch_strategy_imports_into_that_branch(
    repo: Repository, tmp_path: Path, post: str
) -> None:
    api.create_branch(repo, "staging")
    before = root(repo)
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(20))
    op = run_import(repo, tmp_path, path, branch_strategy="existing:staging", post_execution=post)
    assert op.state is State.SUCCEEDED, op.error
    assert op.branch == "staging"
    assert branch_names(repo) == {"main", "staging"}
    assert len(api.nodes(repo, at="staging")) == 20
    assert root(repo) == before


def test_an_existing_branch_that_does_not_exist_fails(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    before = root(repo)
    op = run_import(repo, tmp_path, path, branch_strategy="existing:nowhere")
    assert op.state is State.FAILED
    assert op.error is not None
    assert "nowhere" in op.error
    assert root(repo) == before
    assert branch_names(repo) == {"main"}


FAILURES = [
    # branch strategy, post-execution, the op's branch is kept afterwards
    ("main", "rollback-on-failure", False),
    ("isolated", "rollback-on-failure", False),
    ("temporary", "auto-merge", False),
    ("temporary", "rollback-on-failure", False),
    ("isolated", "auto-merge", True),
    ("isolated", "preserve-branch", True),
    ("isolated", "manual-merge", True),
]


@pytest.mark.parametrize(("branching", "post", "kept"), FAILURES)
def test_a_failed_operation_leaves_the_target_as_it_was(
    repo: Repository, tmp_path: Path, branching: str, post: str, kept: bool
) -> None:
    seed = write_jsonl(tmp_path / "src" / "seed.jsonl", records(5, start=500))
    run_import(repo, tmp_path, seed)
    before_root, before_head, before_nodes = root(repo), head_id(repo), api.nodes(repo)
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", [*records(60), *["broken"] * 20])
    op = run_import(repo, tmp_path, path, branch_strategy=branching, post_execution=post)
    assert op.state is State.FAILED
    assert op.result.get("rolled_back") is (not kept)
    assert root(repo) == before_root
    assert head_id(repo) == before_head
    assert api.nodes(repo) == before_nodes
    if branching != "main":
        assert (op.branch in branch_names(repo)) is kept
    if kept:
        assert op.branch is not None
        assert len(api.nodes(repo, at=op.branch)) == 65, "nothing is lost"
    assert len(api.quarantine(repo, op.id)) == 20
    assert api.fsck(repo).ok


def test_rollback_on_failure_restores_an_existing_branch(repo: Repository, tmp_path: Path) -> None:
    api.create_branch(repo, "staging")
    seed = write_jsonl(tmp_path / "src" / "seed.jsonl", records(5, start=500))
    run_import(
        repo, tmp_path, seed, branch_strategy="existing:staging", post_execution="preserve-branch"
    )
    before = root(repo, "staging"), head_id(repo, "staging")
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", [*records(10), *["broken"] * 10])
    op = run_import(
        repo, tmp_path, path, branch_strategy="existing:staging",
        post_execution="rollback-on-failure",
    )  # fmt: skip
    assert op.state is State.FAILED
    assert (root(repo, "staging"), head_id(repo, "staging")) == before
    assert "staging" in branch_names(repo)


def _conflicting_reimport(
    repo: Repository, tmp_path: Path, merge_strategy: str
) -> tuple[Operation, str]:
    """Import, change a record at the source, and edit the same field on main while the
    re-import runs on its branch: the merge meets a real conflict."""
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(10))
    run_import(repo, tmp_path, path)
    key = nid(path, "r4")
    changed = records(10)
    changed[4] = record(4, title="Title from the source")
    write_jsonl(path, changed)
    edited: list[bool] = []

    def edit_during(progress: Progress) -> None:
        if progress.phase == "scanning" and not edited:
            edited.append(True)
            edit_main(repo, key, name="Title edited on main")

    op = run_import(repo, tmp_path, path, merge_strategy=merge_strategy, on_progress=edit_during)
    return op, key


def test_merge_strategy_manual_leaves_conflicts_for_review(
    repo: Repository, tmp_path: Path
) -> None:
    op, key = _conflicting_reimport(repo, tmp_path, "manual")
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert op.result["merge"] == "conflicts"
    assert op.result["conflicts"] == 1
    waiting = api.conflicts(repo, "main")
    assert [(c.id, c.field, c.ours, c.theirs) for c in waiting] == [
        (key, "name", "Title edited on main", "Title from the source")
    ]
    assert nodes_by_id(repo)[key]["name"] == "Title edited on main"
    assert op.branch in branch_names(repo)
    api.resolve(repo, key, choice="theirs", field="name", into="main")
    result = api.merge_continue(repo, "main")
    assert result.status == "merged"
    assert nodes_by_id(repo)[key]["name"] == "Title from the source"


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("prefer-source", "Title from the source"), ("prefer-target", "Title edited on main")],
)
def test_merge_strategy_decides_a_conflict(
    repo: Repository, tmp_path: Path, strategy: str, expected: str
) -> None:
    op, key = _conflicting_reimport(repo, tmp_path, strategy)
    assert op.state is State.SUCCEEDED, op.error
    assert op.result["merge"] == "merged"
    assert nodes_by_id(repo)[key]["name"] == expected
    assert api.conflicts(repo) == []


# -- resume -----------------------------------------------------------------------------------


def test_a_stopped_process_is_resumed_from_its_last_checkpoint(
    repo_path: Path, repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "src" / "notes.jsonl", [*records(180), "broken", *records(40, 200)]
    )
    op = create(repo, tmp_path, path)
    with pytest.raises(Interrupt):
        api.run_operation(repo, op.id, author=AUTHOR, on_progress=interrupt_after_batches(2))
    midway = api.operation(repo, op.id)
    assert midway.state is State.RUNNING
    assert midway.counts["read"] == 100
    set_owner(repo, op.id, dead_owner())
    phases: list[str] = []
    done = api.run_operation(
        repo, op.id, author=AUTHOR, on_progress=lambda p: phases.append(p.phase)
    )
    assert done.state is State.PARTIALLY_SUCCEEDED, done.error
    assert done.counts["read"] == 221
    assert done.counts["inserted"] == 220
    assert done.counts["quarantined"] == 1
    assert phases.count("extracting") == 3  # only the batches after the checkpoint
    assert done.recovery_seconds is not None
    assert [e["event"] for e in api.operation_log(repo, op.id)][:3] == [
        "started",
        "prepared",
        "resumed",
    ]
    assert len(api.lineage(repo, op_id=op.id)) == 220
    assert len(api.quarantine(repo, op.id)) == 1

    reference = api.init(tmp_path / "reference", clock=repo.clock, author=AUTHOR)
    with reference:
        again = run_import(reference, tmp_path, path)
        assert again.counts == done.counts
        assert root(reference) == root(repo)
        assert api.nodes(reference) == api.nodes(repo)


def test_a_resumed_source_must_be_unchanged(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(120))
    op = create(repo, tmp_path, path)
    with pytest.raises(Interrupt):
        api.run_operation(repo, op.id, author=AUTHOR, on_progress=interrupt_after_batches(1))
    write_jsonl(path, records(130))
    set_owner(repo, op.id, dead_owner())
    with pytest.raises(SourceUnreadable, match="changed since the operation started"):
        api.run_operation(repo, op.id, author=AUTHOR)
    assert api.operation(repo, op.id).shown_state(repo.clock.now()) is State.INTERRUPTED


def test_a_resumed_source_whose_time_alone_changed_resumes(
    repo: Repository, tmp_path: Path
) -> None:
    """A file touched (its time changed, its bytes not), as sync tools do, is the same file: the
    resume goes on, and ends as an import that never stopped. Same size, other bytes: refused."""
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(120))
    op = create(repo, tmp_path, path)
    with pytest.raises(Interrupt):
        api.run_operation(repo, op.id, author=AUTHOR, on_progress=interrupt_after_batches(1))
    later = path.stat().st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(later, later))
    set_owner(repo, op.id, dead_owner())
    done = api.run_operation(repo, op.id, author=AUTHOR)
    assert done.state is State.SUCCEEDED
    assert done.counts["inserted"] == 120

    other = write_jsonl(tmp_path / "src" / "other.jsonl", records(120))
    op = create(repo, tmp_path, other)
    with pytest.raises(Interrupt):
        api.run_operation(repo, op.id, author=AUTHOR, on_progress=interrupt_after_batches(1))
    data = other.read_bytes()
    other.write_bytes(data.replace(b"Title 119", b"Title 911"))  # the same size
    set_owner(repo, op.id, dead_owner())
    with pytest.raises(SourceUnreadable, match="changed since the operation started"):
        api.run_operation(repo, op.id, author=AUTHOR)


def test_a_running_operation_whose_process_is_gone_shows_as_interrupted(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    op = create(repo, tmp_path, path)
    pretend_running(repo, op.id, dead_owner(), FAR_FUTURE)
    shown = api.operation(repo, op.id)
    assert shown.to_json(repo.clock.now())["state"] == "interrupted"
    assert [o.shown_state(repo.clock.now()) for o in api.operations(repo)] == [State.INTERRUPTED]


def test_a_running_operation_whose_lease_ran_out_shows_as_interrupted(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    op = create(repo, tmp_path, path)
    pretend_running(repo, op.id, "another-host:4242:abcd", LONG_AGO)
    assert api.operation(repo, op.id).to_json(repo.clock.now())["state"] == "interrupted"
    done = api.run_operation(repo, op.id, author=AUTHOR)
    assert done.state is State.SUCCEEDED
    assert "resumed" in [e["event"] for e in api.operation_log(repo, op.id)]


def test_an_operation_running_in_a_live_process_is_not_taken_over(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    op = create(repo, tmp_path, path)
    pretend_running(repo, op.id, live_owner(), FAR_FUTURE)
    assert api.operation(repo, op.id).to_json(repo.clock.now())["state"] == "running"
    with pytest.raises(InvalidTransition):
        api.run_operation(repo, op.id, author=AUTHOR)
    assert api.operation(repo, op.id).state is State.RUNNING


def test_an_operation_whose_process_is_gone_is_resumed(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    op = create(repo, tmp_path, path)
    pretend_running(repo, op.id, dead_owner(), FAR_FUTURE)
    done = api.run_operation(repo, op.id, author=AUTHOR)
    assert done.state is State.SUCCEEDED
    assert len(api.nodes(repo)) == 3


def test_cancelling_an_operation_whose_process_is_gone(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    op = create(repo, tmp_path, path)
    pretend_running(repo, op.id, dead_owner(), FAR_FUTURE)
    assert api.cancel_operation(repo, op.id).state is State.CANCELLED


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_from_the_progress_callback_stops_at_the_next_batch(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(200))
    before = root(repo)
    op = create(repo, tmp_path, path)
    asked: list[Operation] = []

    def sink(progress: Progress) -> None:
        if progress.phase == "loading" and progress.done == 50 and not asked:
            asked.append(api.cancel_operation(repo, progress.op_id))

    done = api.run_operation(repo, op.id, author=AUTHOR, on_progress=sink)
    assert asked[0].state is State.RUNNING
    assert asked[0].cancel_requested
    assert done.state is State.CANCELLED
    assert done.error == "cancelled"
    assert done.counts["read"] == 50
    assert root(repo) == before
    events = [e["event"] for e in api.operation_log(repo, op.id)]
    assert "cancel requested" in events
    assert events[-1] == "cancelled"


def test_cancel_with_rollback_drops_the_partial_branch(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(200))
    op = create(repo, tmp_path, path, post_execution="rollback-on-failure")

    def sink(progress: Progress) -> None:
        if progress.phase == "loading" and progress.done == 100:
            api.cancel_operation(repo, progress.op_id)

    done = api.run_operation(repo, op.id, author=AUTHOR, on_progress=sink)
    assert done.state is State.CANCELLED
    assert done.result["rolled_back"] is True
    assert branch_names(repo) == {"main"}


def test_cancel_from_another_thread(tmp_path: Path) -> None:
    repo_path = tmp_path / "repo"
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(1500))
    with api.init(repo_path, clock=SystemClock(), author=AUTHOR) as repo:
        op = create(repo, tmp_path, path)
        before = root(repo)
    outcome: list[Operation] = []

    def slow(progress: Progress) -> None:
        time.sleep(0.002)

    def run() -> None:
        with api.open_repository(repo_path, clock=SystemClock()) as mine:
            outcome.append(api.run_operation(mine, op.id, author=AUTHOR, on_progress=slow))

    worker = threading.Thread(target=run)
    worker.start()
    with api.open_repository(repo_path, clock=SystemClock()) as repo:
        deadline = time.monotonic() + 30
        while api.operation(repo, op.id).counts.get("read", 0) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        api.cancel_operation(repo, op.id)
        worker.join(30)
        assert not worker.is_alive()
        done = api.operation(repo, op.id)
        assert done.state is State.CANCELLED
        assert 0 < done.counts["read"] < 1500
        assert done.counts["read"] % 50 == 0, "stopped at a batch boundary"
        assert root(repo) == before
        assert outcome[0].state is State.CANCELLED


def test_cancel_a_waiting_operation(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    created = create(repo, tmp_path, path)
    queued = api.queue_operation(
        repo, "json-import", [path], grants=grants(tmp_path), config={}, base=tmp_path
    )
    assert api.cancel_operation(repo, created.id).state is State.CANCELLED
    assert api.cancel_operation(repo, queued.id).state is State.CANCELLED
    with pytest.raises(InvalidTransition):
        api.run_operation(repo, created.id, author=AUTHOR)
    assert api.run_queue(repo, author=AUTHOR) == []
    assert api.nodes(repo) == []


# -- permissions ------------------------------------------------------------------------------


def test_an_operation_without_its_grants_fails_before_reading(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    before = head_id(repo)
    phases: list[str] = []
    op = api.import_(
        repo, "json-import", [path], author=AUTHOR, grants=[], base=tmp_path,
        on_progress=lambda p: phases.append(p.phase),
    )  # fmt: skip
    assert op.state is State.FAILED
    assert op.error is not None
    assert "file-system" in op.error
    assert "scanning" not in phases
    assert op.counts.get("read", 0) == 0
    assert op.commits == []
    assert head_id(repo) == before
    assert branch_names(repo) == {"main"}
    assert op.result.get("sources") is None


def test_a_missing_source_fails_with_its_name(repo: Repository, tmp_path: Path) -> None:
    missing = tmp_path / "src" / "nowhere.jsonl"
    op = run_import(repo, tmp_path, missing)
    assert op.state is State.FAILED
    assert op.error is not None
    assert str(missing) in op.error
    assert branch_names(repo) == {"main"}


def test_a_failed_operation_reports_the_phase_it_failed_in(
    repo: Repository, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    op = api.import_(repo, "json-import", [path], author=AUTHOR, grants=[], base=tmp_path)
    assert op.state is State.FAILED
    assert op.phase == "preparing"


def test_standing_grants_of_the_repository_are_used(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    api.grant(repo, [f"file-system={tmp_path / 'src'}"], base=tmp_path)
    op = api.import_(repo, "json-import", [path], author=AUTHOR, base=tmp_path)
    assert op.state is State.SUCCEEDED, op.error


def test_a_source_outside_the_grant_is_refused(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "elsewhere" / "notes.jsonl", records(3))
    (tmp_path / "granted").mkdir()
    before = head_id(repo)
    op = api.import_(
        repo, "json-import", [path], author=AUTHOR, base=tmp_path,
        grants=[f"file-system={tmp_path / 'granted'}"],
    )  # fmt: skip
    assert op.state is State.FAILED
    assert op.error is not None
    assert "outside" in op.error
    assert str(path) in op.error
    assert head_id(repo) == before
    assert branch_names(repo) == {"main"}


def test_a_symlink_out_of_the_granted_folder_is_refused(repo: Repository, tmp_path: Path) -> None:
    secret = write_jsonl(tmp_path / "secret" / "private.jsonl", [record(1, title="SECRET")])
    granted = tmp_path / "granted"
    granted.mkdir()
    link = granted / "notes.jsonl"
    link.symlink_to(secret)
    op = api.import_(
        repo, "json-import", [link], author=AUTHOR, base=tmp_path,
        grants=[f"file-system={granted}"],
    )  # fmt: skip
    assert op.state is State.FAILED
    assert op.error is not None
    assert "outside" in op.error
    assert str(secret) in op.error
    assert api.nodes(repo) == []


def test_a_symlink_inside_a_granted_source_folder_is_refused(
    repo: Repository, tmp_path: Path
) -> None:
    """A link out of the granted folder is never followed: the file is quarantined with the
    grant it would need, and the rest of the folder is imported."""
    secret = write_jsonl(tmp_path / "secret" / "private.jsonl", [record(1, title="SECRET")])
    granted = tmp_path / "granted"
    write_jsonl(granted / "ok.jsonl", records(2))
    (granted / "sneaky.jsonl").symlink_to(secret)
    op = api.import_(
        repo, "json-import", [granted], author=AUTHOR, base=tmp_path,
        grants=[f"file-system={granted}"], config={"max_error_rate": 1.0},
    )  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED
    (refused,) = api.quarantine(repo, op.id)
    assert "outside" in str(refused["reason"])
    assert "sneaky.jsonl" in str(refused["reason"])
    assert op.counts["inserted"] == 2
    assert not any(row.get("name") == "SECRET" for row in api.nodes(repo))
    for branch in branch_names(repo):
        assert not any(row.get("name") == "SECRET" for row in api.nodes(repo, at=branch))


def test_a_symlink_that_stays_inside_the_grant_is_followed(
    repo: Repository, tmp_path: Path
) -> None:
    granted = tmp_path / "granted"
    real = write_jsonl(granted / "real" / "notes.jsonl", records(4))
    link = granted / "link.jsonl"
    link.symlink_to(real)
    op = api.import_(
        repo, "json-import", [link], author=AUTHOR, base=tmp_path,
        grants=[f"file-system={granted}"],
    )  # fmt: skip
    assert op.state is State.SUCCEEDED, op.error
    assert set(nodes_by_id(repo)) == {nid(real, f"r{i}") for i in range(4)}


# -- limits -----------------------------------------------------------------------------------

LIMITS = [
    ({"timeout_seconds": 5}, "timeout"),
    ({"max_memory_mb": 1}, "memory limit"),
    ({"max_database_mb": 0.01}, "database size limit"),
]


@pytest.mark.parametrize(("limit", "reason"), LIMITS)
@pytest.mark.parametrize("post", ["rollback-on-failure", "preserve-branch"])
def test_a_limit_stops_the_operation_at_a_batch_boundary(
    repo: Repository, tmp_path: Path, limit: dict[str, Any], reason: str, post: str
) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(200))
    before = root(repo)
    op = run_import(repo, tmp_path, path, post_execution=post, **limit)
    assert op.state is State.FAILED
    assert op.error is not None
    assert reason in op.error
    assert op.counts["read"] == 50, "stopped after the first batch"
    assert root(repo) == before
    if post == "rollback-on-failure":
        assert op.branch not in branch_names(repo)
    else:
        assert op.branch is not None
        assert len(api.nodes(repo, at=op.branch)) == 50
    final = api.operation_log(repo, op.id)[-1]
    assert final["event"] == "failed"
    assert reason in str(final["reason"])


def test_the_concurrency_limit_refuses_another_operation(repo: Repository, tmp_path: Path) -> None:
    with repo.db.transaction() as conn:
        etl_settings.put(conn, "max_concurrent", 1)
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    busy = create(repo, tmp_path, path)
    pretend_running(repo, busy.id, live_owner(), FAR_FUTURE)
    before = head_id(repo)
    op = run_import(repo, tmp_path, path)
    assert op.state is State.FAILED
    assert op.error is not None
    assert "limit is 1" in op.error
    assert head_id(repo) == before
    assert branch_names(repo) == {"main"}
    assert api.operation(repo, busy.id).state is State.RUNNING
    with repo.db.transaction() as conn:
        etl_settings.put(conn, "max_concurrent", 2)
    assert run_import(repo, tmp_path, path).state is State.SUCCEEDED


def test_a_dead_operation_does_not_count_toward_the_concurrency_limit(
    repo: Repository, tmp_path: Path
) -> None:
    with repo.db.transaction() as conn:
        etl_settings.put(conn, "max_concurrent", 1)
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(3))
    dead = create(repo, tmp_path, path)
    pretend_running(repo, dead.id, dead_owner(), FAR_FUTURE)
    assert run_import(repo, tmp_path, path).state is State.SUCCEEDED


# -- the queue --------------------------------------------------------------------------------


def test_the_queue_runs_every_waiting_operation(repo_path: Path, tmp_path: Path) -> None:
    sources = [
        write_jsonl(tmp_path / "src" / f"part-{n}.jsonl", records(70, start=100 * n))
        for n in range(4)
    ]
    with api.init(repo_path, clock=SystemClock(), author=AUTHOR) as repo:
        queued = [
            api.queue_operation(
                repo, "json-import", [s], grants=grants(tmp_path), config={"batch_size": 50},
                base=tmp_path,
            )
            for s in sources
        ]  # fmt: skip
        assert {op.state for op in queued} == {State.QUEUED}
    # The queue is persisted: another connection (another process, later) runs it.
    with api.open_repository(repo_path, clock=SystemClock()) as repo:
        assert [op.state for op in api.operations(repo)] == [State.QUEUED] * 4
        done = api.run_queue(repo, author=AUTHOR)
        assert [op.id for op in done] == [op.id for op in queued]
        assert {op.state for op in done} == {State.SUCCEEDED}, [op.error for op in done]
        assert len(api.nodes(repo)) == 280
        assert api.conflicts(repo) == []
        assert api.fsck(repo).ok
        assert api.run_queue(repo, author=AUTHOR) == []
        events = api.operation_log(repo, queued[0].id)
        assert events[0]["event"] == "queued"


# -- lineage ----------------------------------------------------------------------------------


def _import_then_change_one(
    repo: Repository, tmp_path: Path, count: int, changed: int
) -> tuple[Path, Path, Operation, Operation, list[Record]]:
    """Two files imported together, then one record of the first changed and imported again."""
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(count))
    other = write_jsonl(tmp_path / "src" / "other.jsonl", records(5, start=100))
    first = run_import(repo, tmp_path, [path, other])
    now = records(count)
    now[changed] = record(changed, body="changed")
    write_jsonl(path, now)
    return path, other, first, run_import(repo, tmp_path, path), now


def test_lineage_of_a_node_an_operation_and_a_source(repo: Repository, tmp_path: Path) -> None:
    path, other, first, second, changed = _import_then_change_one(repo, tmp_path, 60, 10)
    key = nid(path, "r10")

    history = api.lineage(repo, node=key)
    assert [(h["change"], h["operation"]) for h in history] == [
        ("update", second.id),
        ("insert", first.id),
    ]
    newest = history[0]
    line = json.dumps(changed[10])
    assert newest["source_hash"] == sha256(line)
    assert newest["locator"] == {
        "file": str(path.resolve()), "record": "r10", "line": 11,
        "offset": sum(len(json.dumps(r)) + 1 for r in changed[:10]), "length": len(line),
    }  # fmt: skip
    assert newest["template"] == "json-import"
    assert newest["source_system"] == "json"
    assert (newest["transform"], newest["transform_version"]) == ("json", "1")
    assert newest["commit"] in second.commits
    assert newest["kind"] == "node"
    assert newest["id"] == key

    by_first = api.lineage(repo, op_id=first.id)
    assert len(by_first) == 65
    assert {e["id"] for e in by_first} == set(nodes_by_id(repo))
    assert len(api.lineage(repo, op_id=second.id)) == 1
    assert len(api.lineage(repo, op_id=first.id, limit=7)) == 7

    by_file = api.lineage(repo, source=path)
    assert len(by_file) == 61
    assert {e["locator"]["file"] for e in by_file} == {str(path.resolve())}
    assert len(api.lineage(repo, source=other)) == 5
    # Every node version on main can say where it came from.
    for row in api.nodes(repo):
        assert api.lineage(repo, node=str(row["id"]))


# The lineage table as schema version 3 had it: one row per change, every field inline.
_LINEAGE_V3 = """
CREATE TABLE lineage (
    id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, key TEXT NOT NULL,
    commit_seq INTEGER NOT NULL, op_id TEXT NOT NULL, template TEXT NOT NULL,
    source_system TEXT NOT NULL, file TEXT, record TEXT, line INTEGER, offset INTEGER,
    length INTEGER, source_hash TEXT, transform TEXT NOT NULL, transform_version TEXT NOT NULL,
    change TEXT NOT NULL, time TEXT NOT NULL
)"""


def test_lineage_of_an_older_repository_survives_its_migration(
    repo: Repository, repo_path: Path, tmp_path: Path
) -> None:
    path, other, first, second, _ = _import_then_change_one(repo, tmp_path, 30, 3)

    def answers(r: Repository) -> list[list[dict[str, JSON]]]:
        return [
            api.lineage(r, node=nid(path, "r3")),
            api.lineage(r, op_id=first.id),
            api.lineage(r, op_id=second.id),
            api.lineage(r, source=other),
        ]

    before = answers(repo)
    repo.close()
    # Put the rows back in the version-3 layout, as a repository of that version holds them.
    with sqlite3.connect(repo_path / "isometry.db") as conn:
        conn.execute(_LINEAGE_V3.replace("TABLE lineage", "TABLE lineage_v3"))
        conn.execute(
            "INSERT INTO lineage_v3 (kind, key, commit_seq, op_id, template, source_system, file,"
            " record, line, offset, length, source_hash, transform, transform_version, change,"
            " time) SELECT l.kind, l.key, l.commit_seq, o.op_id, o.template, o.source_system,"
            " o.file, l.record, l.line, l.offset, l.length, l.source_hash, o.transform,"
            " o.transform_version, l.change, l.time FROM lineage l"
            " JOIN lineage_origins o ON o.id = l.origin ORDER BY l.commit_seq, l.kind, l.key"
        )
        conn.execute("DROP TABLE lineage")
        conn.execute("DROP TABLE lineage_origins")
        conn.execute("ALTER TABLE lineage_v3 RENAME TO lineage")
        conn.execute("DELETE FROM schema_migrations WHERE version >= 4")
    with api.open_repository(repo_path, clock=SystemClock()) as reopened:
        assert answers(reopened) == before
    assert [len(found) for found in before] == [2, 35, 1, 5]


def test_lineage_records_a_sync_delete(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(5))
    run_import(repo, tmp_path, path)
    write_jsonl(path, records(4))
    op = run_import(repo, tmp_path, path, sync_deletes=True)
    assert op.counts["deleted"] == 1
    newest = api.lineage(repo, node=nid(path, "r4"))[0]
    assert newest["operation"] == op.id
    assert newest["change"] in ("delete", "update")


# -- metrics and the operation log ------------------------------------------------------------


def test_metrics_per_operation_and_overall(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", [*records(9), "broken"])
    first = run_import(repo, tmp_path, path)
    other = write_jsonl(tmp_path / "src" / "other.jsonl", records(120, start=100))
    second = create(repo, tmp_path, other)
    with pytest.raises(Interrupt):
        api.run_operation(repo, second.id, author=AUTHOR, on_progress=interrupt_after_batches(1))
    set_owner(repo, second.id, dead_owner())
    api.run_operation(repo, second.id, author=AUTHOR)
    create(repo, tmp_path, other)  # waiting: counted, not in the history

    found = api.metrics(repo)
    assert {
        "operations", "by_state", "items", "items_per_second", "operations_per_hour",
        "average_seconds", "peak_rss_mb", "error_rate", "average_recovery_seconds", "history",
    } <= set(found)  # fmt: skip
    assert found["operations"] == 3
    assert found["by_state"] == {"partially-succeeded": 1, "succeeded": 1, "created": 1}
    assert found["items"] == 130
    assert found["error_rate"] == round(1 / 130, 4)
    assert isinstance(found["items_per_second"], float)
    assert found["items_per_second"] > 0
    assert isinstance(found["average_seconds"], float)
    assert found["average_seconds"] > 0
    assert isinstance(found["peak_rss_mb"], float)
    assert found["peak_rss_mb"] > 0
    assert found["average_recovery_seconds"] is not None
    history = found["history"]
    assert [h["id"] for h in history] == [first.id, second.id]
    assert history[0]["error_rate"] == 0.1
    assert history[0]["items"] == 10
    assert history[1]["recovery_seconds"] is not None
    assert {"seconds", "items_per_second", "peak_rss_mb", "state", "template"} <= set(history[0])


def test_the_operation_log(repo: Repository, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", [*records(9), "broken"])
    op = run_import(repo, tmp_path, path)
    log = api.operation_log(repo, op.id)
    assert [e["event"] for e in log] == ["started", "prepared", "partially-succeeded"]
    assert [e["seq"] for e in log] == [1, 2, 3]
    assert all(e["level"] == "info" and isinstance(e["time"], str) for e in log)
    assert log[0]["owner"]
    assert log[1]["branch"] == op.branch
    assert log[-1]["counts"] == op.counts
    assert log[-1]["merge"] == "fast-forward"
    times = [str(e["time"]) for e in log]
    assert times == sorted(times)

    failing = write_jsonl(tmp_path / "src" / "bad.jsonl", [record(1), *["broken"] * 3])
    failed = run_import(repo, tmp_path, failing)
    last = api.operation_log(repo, failed.id)[-1]
    assert (last["event"], last["level"]) == ("failed", "error")
    assert "error rate" in str(last["reason"])


def test_a_stop_request_leaves_the_operation_interrupted_and_resumable(
    repo: Repository, tmp_path: Path
) -> None:
    """What Ctrl-C during 'ops run' does: the running operation stops at its next batch as
    interrupted, and a resume finishes it with the same data as an uninterrupted run."""
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", records(300))
    op = create(repo, tmp_path, path, batch_size=50)
    batches: list[int] = []

    def sink(progress: Progress) -> None:
        if progress.phase == "loading":
            batches.append(progress.done)

    stopped = Executor(
        repo, author=AUTHOR, on_progress=sink, should_stop=lambda: len(batches) >= 2
    ).run(op.id)
    assert stopped.state is State.INTERRUPTED
    assert 0 < stopped.counts["read"] < 300
    assert stopped.finished_at is None
    resumed = api.run_operation(repo, op.id, author=AUTHOR)
    assert resumed.state is State.SUCCEEDED
    assert resumed.counts["inserted"] == 300
    fresh = api.init(tmp_path / "fresh", clock=SystemClock(), author=AUTHOR)
    assert run_import(fresh, tmp_path, path).state is State.SUCCEEDED
    assert root(repo) == root(fresh)


def test_an_unreadable_file_in_a_folder_is_quarantined_and_the_rest_imported(
    repo: Repository, tmp_path: Path
) -> None:
    folder = tmp_path / "src"
    write_jsonl(folder / "good.jsonl", records(20))
    (folder / "broken.json").write_text('{"id": 1, "title": "cut off')
    op = api.import_(
        repo, "json-import", [folder], author=AUTHOR, grants=[f"file-system={tmp_path}"],
        base=tmp_path, config={"max_error_rate": 0.5},
    )  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert op.counts["inserted"] == 20
    assert op.counts["quarantined"] == 1
    (entry,) = api.quarantine(repo, op.id)
    assert entry["locator"] == {"file": str((folder / "broken.json").resolve()), "record": ""}
    assert "broken.json" in str(entry["reason"])
    assert [s["path"] for s in op.result["sources"]] == [str((folder / "good.jsonl").resolve())]


def test_an_unreadable_file_named_on_its_own_fails_the_operation(
    repo: Repository, tmp_path: Path
) -> None:
    broken = tmp_path / "src" / "broken.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"id": 1, "title": "cut off')
    op = api.import_(
        repo, "json-import", [broken], author=AUTHOR, grants=[f"file-system={tmp_path}"],
        base=tmp_path,
    )  # fmt: skip
    assert op.state is State.FAILED
    assert op.error is not None
    assert "broken.json" in op.error
    assert api.nodes(repo) == []


def test_edits_made_since_an_import_survive_a_change_at_the_source(
    repo: Repository, tmp_path: Path
) -> None:
    """Fields edited here that the source did not change are kept; a field both changed takes
    the source's value."""
    path = write_jsonl(
        tmp_path / "src" / "notes.jsonl",
        [{"id": "r1", "title": "Title", "body": "First body", "folder": "Inbox"}],
    )
    assert run_import(repo, tmp_path, path).state is State.SUCCEEDED
    node = nid(path, "r1")
    api.apply(
        repo, [parse_op({"op": "patch", "node": {"id": node, "name": "My title",
                                                  "summary": "my note", "folder": "Mine"}})],
        branch="main", message="edit by hand", author=AUTHOR,
    )  # fmt: skip
    write_jsonl(path, [{"id": "r1", "title": "Title", "body": "Second body", "folder": "Work"}])
    again = run_import(repo, tmp_path, path)
    assert again.state is State.SUCCEEDED
    assert again.counts["updated"] == 1
    row = nodes_by_id(repo)[node]
    assert row["content"] == "Second body"  # changed at the source only: taken
    assert row["name"] == "My title"  # edited here only: kept
    assert row["summary"] == "my note"  # added here: kept
    assert row["folder"] == "Work"  # changed on both sides: the source wins
