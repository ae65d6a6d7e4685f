"""``python -m isometry.demo``: a short versioned session on sample data, as a tour of the CLI.

Every step runs the real ``isometry`` command in a subprocess and prints the command line and
its output, so the transcript can be replayed by hand. The repository is ``./demo-repo``; the
sample files (JSON Lines in the ``apply`` format) ship in ``isometry/demo_data``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

import orjson
from rich.console import Console
from rich.text import Text

REPO_DIR = "demo-repo"
AUTHOR = "demo"
BRANCH = "trip-planning"
DB_NAME = "isometry.db"


@dataclass(frozen=True)
class Step:
    title: str
    args: tuple[str, ...]
    expect: int = 0


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


def fresh_repository(path: Path) -> None:
    """Remove an old demo repository; refuse to touch a folder that is something else."""
    if path.is_dir() and (path / DB_NAME).exists():
        shutil.rmtree(path)
    elif path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise DemoFailed(f"{path} exists and is not a demo repository; move it away first")


def run_tour(tour: Tour) -> None:
    tour.say(f"$ cd {tour.data}")
    tour.say(f"$ export ISOMETRY_REPO={tour.repo} ISOMETRY_AUTHOR={AUTHOR}")
    tour.step("Create a fresh repository.", "init")
    tour.step(
        "Import a dozen sample notes, tasks, events and contacts, with links, onto main.",
        "apply",
        "samples.jsonl",
        "-m",
        "Import sample notes",
    )
    tour.step("What main holds now.", "nodes")
    tour.step("Name this state, so it can be read or compared later.", "tag", "imported")
    tour.step("Start a branch for planning the trip (nothing is copied).", "branch", BRANCH)
    tour.step(
        "On the branch: add a day to the trip note, finish a task, add a task, and move the "
        "passport deadline to the appointment date.",
        "apply",
        "trip-edits.jsonl",
        "--branch",
        BRANCH,
        "-m",
        "Plan the Lisbon trip",
    )
    tour.step(
        "Meanwhile on main: another passport deadline and a higher priority, a finished tax "
        "return, a new tag on a note.",
        "apply",
        "main-edits.jsonl",
        "-m",
        "Weekly review",
    )
    output = tour.step(
        "Also on main: delete the old grocery list (with --json, to keep the commit id).",
        "apply",
        "cleanup.jsonl",
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
        "task-renew-passport",
        "--field",
        "due_at",
        "--theirs",
    )
    tour.step("Finish the merge.", "merge", "--continue")
    tour.step(
        "The merged task: priority from main, appointment and due date from the branch.",
        "show",
        "task-renew-passport",
    )
    tour.step("History of main.", "log")
    tour.step("Everything that changed on main since the import.", "diff", "imported", "main")
    tour.step("Changed our mind: revert the deletion of the grocery list.", "revert", cleanup)
    tour.step("The grocery list is back.", "nodes", "--search", "grocery")
    tour.step("Which commit set each field of the task.", "blame", "task-renew-passport")
    tour.step("The branch is merged: delete it.", "branch", "--delete", BRANCH)
    tour.step("Check every hash, root and table against history.", "fsck")


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
