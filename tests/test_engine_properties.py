"""Laws of the ETL engine, checked by Hypothesis on generated JSON Lines sources.

- Importing the same source twice writes nothing the second time.
- The nodes an import makes are what a small independent mapping of the records predicts, and
  every malformed line is quarantined.
- An import interrupted at any point and resumed ends exactly as one never interrupted.
"""

from __future__ import annotations

import json
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from isometry import api
from isometry.clock import FixedStepClock
from isometry.etl.executor import Progress
from isometry.etl.operations import Operation
from isometry.etl.states import State
from isometry.vcs.repository import Repository

AUTHOR = "prop"
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    # No "explain" phase: it reruns a failing example many times over, for little here.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COUNTED = ("inserted", "updated", "unchanged", "quarantined", "filtered")


@dataclass(frozen=True)
class Rec:
    """A valid record: ``id`` None means the record has no id field (its key is its line)."""

    id: str | None
    title: str
    body: str
    tags: tuple[str, ...]

    def line(self) -> str:
        fields: dict[str, Any] = {"title": self.title, "body": self.body, "tags": list(self.tags)}
        if self.id is not None:
            fields = {"id": self.id, **fields}
        return json.dumps(fields)


@dataclass(frozen=True)
class Bad:
    """A line that cannot become a node."""

    text: str


Entry = Rec | Bad

MALFORMED = (
    "{not json at all",
    "[1, 2, 3]",
    '"just a string"',
    json.dumps({"id": "bad-priority", "title": "x", "priority": "high"}),
    json.dumps({"id": "bad-date", "title": "y", "created": "not a date"}),
    json.dumps({"id": "bad-tags", "title": "z", "tags": [{"nested": 1}]}),
)

_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        st.sampled_from(" \t\n,;"),
    ),
    max_size=12,
)
_records = st.builds(
    Rec,
    # Ids that are row numbers too: a record without an id is keyed by its row number.
    id=st.one_of(
        st.none(), st.sampled_from([*(f"r{i}" for i in range(5)), "1", "2", "3", "12", "03"])
    ),
    title=_text,
    body=_text,
    tags=st.lists(_text, max_size=4).map(tuple),
)
_entries = st.lists(
    st.one_of(_records, _records, _records, st.sampled_from(MALFORMED).map(Bad)),
    min_size=1,
    max_size=40,
)


def write(path: Path, entries: list[Entry]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [e.line() if isinstance(e, Rec) else e.text for e in entries]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def refused(entries: list[Entry]) -> set[int]:
    """The numbers of the records refused for their key, so that no record is written over
    another: a record without an id whose row number is another record's id, and a record
    that repeats an earlier record's id."""
    ids = {e.id for e in entries if isinstance(e, Rec) and e.id is not None}
    seen: set[str] = set()
    out: set[int] = set()
    for number, e in enumerate(entries, start=1):
        if not isinstance(e, Rec):
            continue
        if e.id is None:
            if str(number) in ids:
                out.add(number)
        elif e.id in seen:
            out.add(number)
        else:
            seen.add(e.id)
    return out


def predicted(path: Path, entries: list[Entry]) -> dict[str, dict[str, Any]]:
    """What the import should make, by ``source_id``: every record but those ``refused``."""
    out: dict[str, dict[str, Any]] = {}
    resolved = str(path.resolve())
    skipped = refused(entries)
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, Rec) or number in skipped:
            continue
        key = entry.id if entry.id is not None else str(number)
        assert f"{resolved}#{key}" not in out
        tags = sorted({t.strip() for t in entry.tags} - {""})
        out[f"{resolved}#{key}"] = {
            "name": entry.title.strip(),
            "content": entry.body if entry.body.strip() else None,
            "tags": tags,
        }
    return out


def actual(repo: Repository) -> dict[str, dict[str, Any]]:
    return {
        str(row["source_id"]): {
            "name": row.get("name"),
            "content": row.get("content"),
            "tags": row.get("tags", []),
        }
        for row in api.nodes(repo)
    }


@contextmanager
def workspace() -> Iterator[tuple[Path, Callable[[str], Repository]]]:
    """A temporary folder and a way to make repositories in it, closed afterwards."""
    made: list[Repository] = []
    with tempfile.TemporaryDirectory() as name:
        base = Path(name)

        def new_repo(label: str) -> Repository:
            clock = FixedStepClock(datetime(2030, 1, 1, tzinfo=UTC), timedelta(seconds=1))
            repo = api.init(base / label, clock=clock, author=AUTHOR)
            made.append(repo)
            return repo

        try:
            yield base, new_repo
        finally:
            for repo in made:
                repo.close()


def create(repo: Repository, base: Path, source: Path, **config: Any) -> Operation:
    config = {"batch_size": 50, "max_error_rate": 1.0, **config}
    return api.create_operation(
        repo, "json-import", [source], grants=[f"file-system={base}"], config=config, base=base
    )


def import_(repo: Repository, base: Path, source: Path, **config: Any) -> Operation:
    return api.run_operation(repo, create(repo, base, source, **config).id, author=AUTHOR)


def root(repo: Repository) -> str:
    return api.show_commit(repo, "main").root


def many(entries: list[Entry], copies: int, fresh_ids: bool = True) -> list[Entry]:
    """The entries repeated, so a source spans several batches; with ``fresh_ids`` each copy
    gets ids of its own, else the copies repeat the records' ids (and are refused)."""
    out: list[Entry] = []
    for copy in range(copies):
        for entry in entries:
            if isinstance(entry, Rec) and entry.id is not None and copy and fresh_ids:
                out.append(Rec(f"{entry.id}-{copy}", entry.title, entry.body, entry.tags))
            else:
                out.append(entry)
    return out


# -- the laws ---------------------------------------------------------------------------------


# One id twice, in two batches, with different content.
SPLIT_DUPLICATE: list[Entry] = [
    Rec("r0", "First", "", ()),
    *[Rec(None, f"filler {i}", "", ()) for i in range(49)],
    Rec("r0", "Second", "", ()),
]

# Line 1 has no id, and line 3's id is 1: line 1 is refused, wherever the two fall in batches.
CLASHING_KEYS: list[Entry] = [
    Rec(None, "row one", "", ()),
    Rec("r0", "Zero", "", ()),
    Rec("1", "One", "", ()),
    Bad(MALFORMED[0]),
]


@SETTINGS
@given(entries=_entries, copies=st.integers(1, 4), fresh_ids=st.booleans())
@example(entries=SPLIT_DUPLICATE, copies=1, fresh_ids=True)
@example(entries=CLASHING_KEYS, copies=20, fresh_ids=False)
def test_importing_the_same_source_twice_writes_nothing(
    entries: list[Entry], copies: int, fresh_ids: bool
) -> None:
    with workspace() as (base, new_repo):
        repo = new_repo("repo")
        source = write(base / "src" / "records.jsonl", many(entries, copies, fresh_ids))
        first = import_(repo, base, source)
        assert first.state in (State.SUCCEEDED, State.PARTIALLY_SUCCEEDED), first.error
        before_root, before_nodes = root(repo), api.nodes(repo)
        before_log = {c.id for c in api.log(repo)}

        second = import_(repo, base, source)
        assert second.state is first.state, second.error
        assert (second.counts["inserted"], second.counts["updated"]) == (0, 0)
        assert root(repo) == before_root
        assert api.nodes(repo) == before_nodes
        new = [c for c in api.log(repo) if c.id not in before_log]
        # Only the operation's own pre- and post-execution commits: no data commit.
        assert [c.changes for c in new] == [0] * len(new)
        assert {c.metadata.get("phase") for c in new} <= {"pre-execution", "post-execution"}
        assert second.counts["quarantined"] == first.counts["quarantined"]


@SETTINGS
@given(entries=_entries, copies=st.integers(1, 4), fresh_ids=st.booleans())
@example(entries=SPLIT_DUPLICATE, copies=2, fresh_ids=False)  # the first record of r0 wins
@example(entries=CLASHING_KEYS, copies=20, fresh_ids=True)
def test_imported_nodes_are_what_the_records_say(
    entries: list[Entry], copies: int, fresh_ids: bool
) -> None:
    source_entries = many(entries, copies, fresh_ids)
    with workspace() as (base, new_repo):
        repo = new_repo("repo")
        source = write(base / "src" / "records.jsonl", source_entries)
        op = import_(repo, base, source)
        malformed = sum(1 for e in source_entries if isinstance(e, Bad)) + len(
            refused(source_entries)
        )
        expected = predicted(source, source_entries)
        assert actual(repo) == expected
        assert op.counts["quarantined"] == malformed
        assert len(api.quarantine(repo, op.id)) == malformed
        assert op.counts["read"] == len(source_entries)
        assert op.counts["inserted"] == len(expected)
        assert sum(op.counts[name] for name in COUNTED) == op.counts["read"]
        assert op.state is (State.PARTIALLY_SUCCEEDED if malformed else State.SUCCEEDED)
        rows = api.nodes(repo)
        assert len({row["id"] for row in rows}) == len(rows) == len(expected)


class Interrupt(Exception):
    """The process 'dies' in the middle of the operation (raised from its progress sink)."""


@SETTINGS
@given(entries=_entries, copies=st.integers(1, 8), data=st.data())
def test_resume_at_any_point_equals_an_uninterrupted_run(
    entries: list[Entry], copies: int, data: st.DataObject
) -> None:
    with workspace() as (base, new_repo):
        source = write(base / "src" / "records.jsonl", many(entries, copies))
        reference = new_repo("reference")
        events: list[Progress] = []
        expected_op = api.run_operation(
            reference, create(reference, base, source).id, author=AUTHOR,
            on_progress=events.append,
        )  # fmt: skip
        # Any event but the very last (sent once the operation has ended).
        stop_at = data.draw(st.integers(0, len(events) - 2), label="interrupt at event")

        repo = new_repo("repo")
        op_id = create(repo, base, source).id
        seen: list[Progress] = []

        def dies(progress: Progress) -> None:
            seen.append(progress)
            if len(seen) > stop_at:
                raise Interrupt(progress.phase)

        try:
            api.run_operation(repo, op_id, author=AUTHOR, on_progress=dies)
        except Interrupt:
            pass
        else:
            raise AssertionError("the operation was not interrupted")
        assert api.operation(repo, op_id).state is State.RUNNING
        # The process that ran it is gone: its lease names a process that does not exist.
        with repo.db.transaction() as conn:
            conn.execute(
                "UPDATE operations SET lease_owner = ? WHERE id = ?",
                (f"{socket.gethostname()}:999999:x", op_id),
            )
        assert api.operation(repo, op_id).shown_state(repo.clock.now()) is State.INTERRUPTED
        done = api.run_operation(repo, op_id, author=AUTHOR)

        assert done.state is expected_op.state, done.error
        assert done.counts == expected_op.counts
        assert root(repo) == root(reference)
        assert api.nodes(repo) == api.nodes(reference)
        assert len(api.quarantine(repo, op_id)) == len(api.quarantine(reference, expected_op.id))
        assert len(api.lineage(repo, op_id=op_id)) == len(
            api.lineage(reference, op_id=expected_op.id)
        )
