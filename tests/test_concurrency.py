"""Several OS processes committing to one repository at once: nothing may be lost.

Each writer is a separate Python process (``subprocess``), started together through a "go"
file, committing N times, each commit adding nodes no other writer adds. ``BranchMoved`` is
acceptable only when the writer retries; afterwards every commit is in the log, every node is
there and ``fsck`` is clean.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from isometry import api
from isometry.clock import FixedStepClock
from isometry.model import RowKind
from isometry.vcs.repository import Repository

COMMITS = 30

WRITER = r"""
import json, sys, time
from datetime import UTC, datetime, timedelta
from datetime import UTC, datetime
from pathlib import Path

from isometry import api
from isometry.clock import FixedStepClock
from isometry.errors import BranchMoved
from isometry.vcs.ops import parse_op

repo_path, name, branch, go = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5]
count = int(sys.argv[4])
clock = FixedStepClock(datetime(2030, 1, 1, tzinfo=UTC), timedelta(milliseconds=1))
repo = api.open_repository(Path(repo_path), clock=clock)
while not Path(go).exists():
    time.sleep(0.001)
made, retries = [], 0
for i in range(count):
    ops = [
        parse_op({"op": "upsert", "node": {"id": f"{name}-{i}-{j}", "name": f"{name} {i} {j}"}})
        for j in range(3)
    ]
    while True:
        try:
            result = api.apply(repo, ops, branch=branch, message=f"{name} #{i}", author=name)
            break
        except BranchMoved:
            retries += 1
    made.append(result.commit.id)
    time.sleep(0.002)  # give the other writers a turn at the lock
repo.close()
print(json.dumps({"commits": made, "retries": retries}))
"""

READER = r"""
import json, sqlite3, sys, time
from datetime import UTC, datetime
from pathlib import Path

from isometry import api
from isometry.clock import FixedStepClock

repo_path, go, done = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
repo = api.open_repository(repo_path, clock=FixedStepClock(datetime(2030, 1, 1, tzinfo=UTC)))
plain = sqlite3.connect(repo_path / "isometry.db")
while not go.exists():
    time.sleep(0.001)
reads, sizes = 0, set()
while not done.exists():
    # Every commit adds three nodes: a read that sees a half-written commit is a bug.
    seen = len(api.nodes(repo))
    table = plain.execute("SELECT COUNT(*) FROM nodes").fetchone()[0]
    assert seen % 3 == 0 and table % 3 == 0, (seen, table)
    sizes.add(seen)
    reads += 1
print(json.dumps({"reads": reads, "sizes": len(sizes)}))
"""


def run_writers(path: Path, names: list[str], branches: list[str]) -> dict[str, list[str]]:
    """Start one process per writer, release them together, and collect their commit ids."""
    go = path.parent / "go"
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name, branch, str(COMMITS), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, branch in zip(names, branches, strict=True)
    }
    done = path.parent / "done"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(path), str(go), str(done)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.3)  # let every process open the repository and wait at the line
    go.touch()
    made: dict[str, list[str]] = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"writer {name} failed:\n{err}"
        made[name] = json.loads(out)["commits"]
    done.touch()
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, f"the reader saw a partial commit:\n{err}"
    assert json.loads(out)["reads"] > 0
    return made


def _open(path: Path) -> Repository:
    return api.open_repository(path, clock=FixedStepClock(datetime(2031, 1, 1, tzinfo=UTC)))


def test_writers_on_one_branch_lose_nothing(repo: Repository, repo_path: Path) -> None:
    repo.close()
    names = ["w1", "w2", "w3"]
    made = run_writers(repo_path, names, ["main"] * 3)

    with _open(repo_path) as again:
        history = api.log(again)
        ids = [c.id for c in history]
        assert len(ids) == len(set(ids))
        for name in names:
            assert len(made[name]) == COMMITS
            assert set(made[name]) <= set(ids), f"commits of {name} are missing from the log"
        assert len(history) == 1 + COMMITS * len(names)
        # One line of history: every commit's first parent is the one before it.
        assert [c.id for c in api.log(again, first_parent=True)] == ids
        for newer, older in itertools.pairwise(history):
            assert newer.parents == (older.id,)
        # Each writer's commits are in its own order.
        for name in names:
            mine = [c.message for c in reversed(history) if c.author == name]
            assert mine == [f"{name} #{i}" for i in range(COMMITS)]
        present = {row["id"] for row in api.nodes(again)}
        expected = {f"{n}-{i}-{j}" for n in names for i in range(COMMITS) for j in range(3)}
        assert present == expected
        assert again.count(RowKind.NODE) == len(expected)
        report = api.fsck(again)
        assert report.problems == []


def test_writers_on_separate_branches_then_merged(repo: Repository, repo_path: Path) -> None:
    api.create_branch(repo, "left")
    api.create_branch(repo, "right")
    repo.close()
    made = run_writers(repo_path, ["left", "right", "trunk"], ["left", "right", "main"])

    with _open(repo_path) as again:
        assert [c.id for c in api.log(again, "left")][:COMMITS] == made["left"][::-1]
        assert [c.id for c in api.log(again, "right")][:COMMITS] == made["right"][::-1]
        assert [c.id for c in api.log(again, "main")][:COMMITS] == made["trunk"][::-1]
        for source in ("left", "right"):
            result = api.merge(again, source, "main", author="merger")
            assert result.status == "merged"
        present = {row["id"] for row in api.nodes(again)}
        assert present == {
            f"{n}-{i}-{j}"
            for n in ("left", "right", "trunk")
            for i in range(COMMITS)
            for j in range(3)
        }
        logged = {c.id for c in api.log(again)}
        assert all(set(ids) <= logged for ids in made.values())
        assert api.fsck(again).problems == []
