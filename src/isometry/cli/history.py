"""Commands that read history: log, show-commit, diff."""

from __future__ import annotations

from typing import Annotated

import typer

from isometry import api
from isometry.cli import render
from isometry.cli.options import DebugOption, JsonOption, RepoOption
from isometry.cli.session import session


def log(
    ref: Annotated[
        str, typer.Argument(metavar="REF", help="Branch, tag or commit to start from.")
    ] = "main",
    first_parent: Annotated[
        bool, typer.Option("--first-parent", help="Follow only the first parent of merges.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Show at most N commits.")
    ] = None,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """List commits, newest first."""
    with session(repo, as_json=json_out, debug=debug) as run:
        commits = api.log(run.repo, ref, first_parent=first_parent, limit=limit)
        run.emit([c.to_json() for c in commits], render.log(commits))


def show_commit(
    rev: Annotated[
        str, typer.Argument(metavar="REV", help="Commit id (or prefix), branch, tag or REF~N.")
    ],
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Show one commit."""
    with session(repo, as_json=json_out, debug=debug) as run:
        found = api.show_commit(run.repo, rev)
        run.emit(found.to_json(), render.commit(found))


def diff(
    source: Annotated[str, typer.Argument(metavar="FROM", help="The older side.")],
    target: Annotated[str, typer.Argument(metavar="TO", help="The newer side.")],
    stat: Annotated[bool, typer.Option("--stat", help="Only the summary counts.")] = False,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """What changed from FROM to TO: nodes and edges added, removed, and modified per field."""
    with session(repo, as_json=json_out, debug=debug) as run:
        with run.working(f"Comparing {source} and {target}"):
            found = api.diff(run.repo, source, target)
        run.emit(found.to_json(stat=stat), render.diff(found, stat=stat))
