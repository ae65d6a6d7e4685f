"""``python -m isometry.demo``: import sample sources, then a versioned session on what came in.

Every step runs the real ``isometry`` command in a subprocess and prints the command line and
its output, so the transcript can be replayed by hand. The repository is ``./demo-repo``. The
sample sources ship in ``isometry/demo_data``: personal notes as JSON Lines (one line cut off
mid-record, which ends in quarantine) and tasks as CSV. The edits of the versioned session name
the imported nodes by id; those ids derive from the sources' paths (UUIDv5 of
``"csv:/abs/path/tasks.csv#T-01"``), so the edit files are written at run time, into
``./demo-repo/edits``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.text import Text

from isometry.model import node_id_for

REPO_DIR = "demo-repo"
AUTHOR = "demo"
BRANCH = "trip-planning"
DB_NAME = "isometry.db"
NOTES = "notes.jsonl"
TASKS = "tasks.csv"


class DemoFailed(Exception):
    """A step ended with another exit code than the tour expects."""


class Tour:
    def __init__(self, repo: Path, data: Path, console: Console) -> None:
        self.repo = repo
        self.data = data
        self.console = console
        self.count = 0
        self.env = {**os.environ, "ISOMETRY_REPO": str(repo), "ISOMETRY_AUTHOR": AUTHOR}
        if console.is_terminal:
            # The commands' output is piped to us: let them colour it for the terminal.
            self.env |= {"FORCE_COLOR": "1", "COLUMNS": str(console.width)}

    def say(self, text: str) -> None:
        self.console.print(Text(text, style="bold cyan"), soft_wrap=True)

    def step(self, title: str, *args: str, expect: int = 0) -> str:
        """Run ``isometry ARGS``, print it and its output, and return that output."""
        self.count += 1
        self.console.print()
        self.console.print(Text(f"{self.count}. {title}", style="bold cyan"), soft_wrap=True)
        self.console.print(Text(f"$ isometry {shlex.join(args)}", style="bold"), soft_wrap=True)
        done = subprocess.run(
            [sys.executable, "-m", "isometry", *args],
            cwd=self.data,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        sys.stdout.write(done.stdout)
        sys.stdout.flush()
        if done.returncode != expect:
            raise DemoFailed(
                f"'isometry {shlex.join(args)}' exited with {done.returncode}, expected {expect}"
            )
        if expect:
            self.console.print(Text(f"(exit code {done.returncode}, as expected)", style="dim"))
        return done.stdout


@dataclass(frozen=True)
class Ids:
    """Ids of the imported nodes the session edits: what every machine derives from the
    source, the file's absolute path and the record's key in it."""

    passport: str
    hotel: str
    tax_return: str
    lisbon: str
    groceries: str
    book_club: str

    @classmethod
    def of(cls, data: Path) -> Ids:
        def csv(key: str) -> str:
            return str(node_id_for("csv", f"{(data / TASKS).resolve()}#{key}"))

        def json(key: str) -> str:
            return str(node_id_for("json", f"{(data / NOTES).resolve()}#{key}"))

        return cls(csv("T-01"), csv("T-02"), csv("T-03"), json("n-01"), json("n-02"), json("n-03"))


LISBON_WITH_SINTRA = (
    "# Lisbon, 14-19 March\n\n- Day 1: Alfama, Miradouro da Graça\n"
    "- Day 2: Belém, pastéis at the old bakery\n- Day 3: day trip to Sintra (train from Rossio)\n"
    "- Ask Ana for dinner places"
)


def _patch(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"op": "patch", "node": {"id": node_id, **fields}}


def edit_files(ids: Ids) -> dict[str, list[Mapping[str, Any]]]:
    """The ``apply`` files of the session, by name."""
    return {
        "trip-edits.jsonl": [
            _patch(ids.lisbon, content=LISBON_WITH_SINTRA, modified_at="2025-01-24T07:45:00Z"),
            _patch(ids.hotel, status="done", modified_at="2025-01-24T08:00:00Z"),
            _patch(ids.passport, due_at="2025-02-20T09:00:00Z"),
            {
                "op": "upsert",
                "node": {
                    "id": "task-buy-adapter",
                    "node_type": "task",
                    "name": "Buy an EU plug adapter",
                    "status": "todo",
                    "due_at": "2025-03-10T18:00:00Z",
                    "folder": "Travel",
                    "tags": ["travel"],
                    "created_at": "2025-01-24T08:05:00Z",
                },
            },
            {
                "op": "upsert",
                "edge": {
                    "id": "edge-trip-adapter",
                    "edge_type": "NEST",
                    "source_id": ids.lisbon,
                    "target_id": "task-buy-adapter",
                },
            },
        ],
        "main-edits.jsonl": [
            _patch(ids.passport, due_at="2025-02-27T09:00:00Z", priority=1),
            _patch(ids.tax_return, status="done", modified_at="2025-01-25T11:00:00Z"),
            _patch(ids.book_club, tags=["books", "fiction"], modified_at="2025-01-25T21:00:00Z"),
        ],
        "cleanup.jsonl": [{"op": "delete", "node": ids.groceries}],
    }


def write_edits(folder: Path, ids: Ids) -> dict[str, str]:
    """Write the edit files into ``folder``; returns each file's path by name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    for name, lines in edit_files(ids).items():
        path = folder / name
        path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
        paths[name] = str(path)
    return paths


def fresh_repository(path: Path) -> None:
    """Remove an old demo repository; refuse to touch a folder that is something else."""
    if path.is_dir() and (path / DB_NAME).exists():
        shutil.rmtree(path)
    elif path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise DemoFailed(f"{path} exists and is not a demo repository; move it away first")


def import_sources(tour: Tour, ids: Ids) -> None:
    data = str(tour.data)
    tour.step("Create a fresh repository.", "init")
    tour.step("The import templates offered here.", "templates")
    tour.step(
        "Import personal notes from JSON Lines. The template needs file-system access: grant "
        "it for the sample folder. One line was cut off mid-record: it goes to quarantine and "
        "the rest comes in, on the operation's own branch, merged into main.",
        "import",
        "json-import",
        NOTES,
        "--allow",
        f"file-system={data}",
    )
    tour.step(
        "Grant the folder for good, so the next operations need no --allow.",
        "grant",
        f"file-system={data}",
    )
    tour.step("Import tasks from CSV.", "import", "csv-import", TASKS)
    tour.step("The operations so far.", "ops", "list")
    tour.step("The record that could not be read, with where it is and why.", "quarantine")
    tour.step("What main holds now.", "nodes")
    tour.step(
        "Where the passport task came from: operation, file, record and commit.",
        "lineage",
        ids.passport,
    )
    tour.step(
        "Import the same CSV again: nothing changed at the source, so nothing is written.",
        "import",
        "csv-import",
        TASKS,
    )


def versioned_session(tour: Tour, ids: Ids, edits: Mapping[str, str]) -> None:
    tour.step("Name this state, so it can be read or compared later.", "tag", "imported")
    tour.step("Start a branch for planning the trip (nothing is copied).", "branch", BRANCH)
    tour.step(
        "On the branch: add a day to the Lisbon note, finish booking the hotel, add a task, and "
        "move the passport deadline to the appointment date.",
        "apply",
        edits["trip-edits.jsonl"],
        "--branch",
        BRANCH,
        "-m",
        "Plan the Lisbon trip",
    )
    tour.step(
        "Meanwhile on main: another passport deadline and a higher priority, a finished tax "
        "return, a new tag on the book club note.",
        "apply",
        edits["main-edits.jsonl"],
        "-m",
        "Weekly review",
    )
    output = tour.step(
        "Also on main: delete the old grocery list (with --json, to keep the commit id).",
        "apply",
        edits["cleanup.jsonl"],
        "-m",
        "Delete the old grocery list",
        "--json",
    )
    cleanup: str = orjson.loads(output)["commit"][:12]
    tour.step("What the branch changed since the import.", "diff", "imported", BRANCH)
    tour.step(
        "Merge the branch into main. Both sides changed the passport due date: a conflict.",
        "merge",
        BRANCH,
        "--into",
        "main",
        expect=3,
    )
    tour.step("The conflict, with the base, ours (main) and theirs (the branch).", "conflicts")
    tour.step("Committing is refused while a conflict is open.", "merge", "--continue", expect=3)
    tour.step(
        "Resolve it: take the branch's date, the day of the passport appointment.",
        "resolve",
        ids.passport,
        "--field",
        "due_at",
        "--theirs",
    )
    tour.step("Finish the merge.", "merge", "--continue")
    tour.step(
        "The merged task: priority from main, due date from the branch, the rest as imported.",
        "show",
        ids.passport,
    )
    tour.step("History of main.", "log", "--first-parent")
    tour.step("Everything that changed on main since the import.", "diff", "imported", "main")
    tour.step("Changed our mind: revert the deletion of the grocery list.", "revert", cleanup)
    tour.step("The grocery list is back.", "nodes", "--search", "grocery")
    tour.step(
        "Which commit set each field of the task: the import's batch, or the edits.",
        "blame",
        ids.passport,
    )
    tour.step("The branch is merged: delete it.", "branch", "--delete", BRANCH)
    tour.step("Throughput, times and error rates of the imports.", "metrics")
    tour.step("Check every hash, root and table against history.", "fsck")


def run_tour(tour: Tour) -> None:
    ids = Ids.of(tour.data)
    tour.say(f"$ cd {tour.data}")
    tour.say(f"$ export ISOMETRY_REPO={tour.repo} ISOMETRY_AUTHOR={AUTHOR}")
    import_sources(tour, ids)
    edits = write_edits(tour.repo / "edits", ids)
    versioned_session(tour, ids, edits)


@contextmanager
def sample_data() -> Iterator[Path]:
    with as_file(files("isometry") / "demo_data") as folder:
        yield Path(folder)


def main() -> int:
    console = Console(highlight=False)
    repo = Path.cwd() / REPO_DIR
    try:
        fresh_repository(repo)
        with sample_data() as data:
            run_tour(Tour(repo, data, console))
    except DemoFailed as error:
        console.print(Text(f"demo failed: {error}", style="bold red"))
        return 1
    console.print()
    console.print(Text(f"Done. The repository is in {repo}.", style="bold green"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
