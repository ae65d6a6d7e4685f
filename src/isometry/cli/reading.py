"""Commands that read the data at any commit: nodes, edges, show, blame."""

from __future__ import annotations

from typing import Annotated

import typer

from isometry import api
from isometry.cli import render
from isometry.cli.options import AtOption, DebugOption, JsonOption, RepoOption
from isometry.cli.session import session


def nodes(
    at: AtOption = "main",
    search: Annotated[
        str | None, typer.Option("--search", "-q", metavar="TEXT", help="Full-text search.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Show at most N nodes.")
    ] = None,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """List the nodes (optionally those matching every word of TEXT)."""
    with session(repo, as_json=json_out, debug=debug) as run:
        found = api.nodes(run.repo, at=at, search=search, limit=limit)
        run.emit(found, render.nodes(found))


def edges(
    at: AtOption = "main",
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """List the edges."""
    with session(repo, as_json=json_out, debug=debug) as run:
        found = api.edges(run.repo, at=at)
        run.emit(found, render.edges(found))


def show(
    node: Annotated[str, typer.Argument(metavar="NODE", help="Id of a node (or an edge).")],
    at: AtOption = "main",
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Show every field of one node, and the files linked to it."""
    with session(repo, as_json=json_out, debug=debug) as run:
        kind, row = api.show(run.repo, node, at=at)
        files = api.attachments(run.repo, node, at=at) if kind == "node" else []
        run.emit({"kind": kind, **row, "attachments": files}, render.show(kind, row, files))


def blame(
    node: Annotated[str, typer.Argument(metavar="NODE", help="Id of a node (or an edge).")],
    at: AtOption = "main",
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """For each field of a node, the commit that last set its value."""
    with session(repo, as_json=json_out, debug=debug) as run:
        lines = api.blame(run.repo, node, at=at)
        run.emit([line.to_json() for line in lines], render.blame(lines))
