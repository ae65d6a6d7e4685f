"""``isometry lineage``: where nodes came from (one node, one operation's output, one file's)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from isometry import api
from isometry.cli import render_engine
from isometry.cli.options import DebugOption, JsonOption, RepoOption
from isometry.cli.session import session


def lineage(
    node: Annotated[
        str | None,
        typer.Argument(metavar="NODE", help="Id of a node (or an edge).", show_default=False),
    ] = None,
    op: Annotated[
        str | None,
        typer.Option("--op", metavar="ID", help="Everything this operation wrote instead."),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option("--source", metavar="PATH", help="Everything read from this file instead."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Show at most N versions.")
    ] = None,
    openlineage: Annotated[
        bool,
        typer.Option(
            "--openlineage",
            help="With --op: the operation as OpenLineage run events, one JSON object a line.",
        ),
    ] = False,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Each imported version, newest first: the operation, template, file, record and commit."""
    if sum(given is not None for given in (node, op, source)) != 1:
        raise typer.BadParameter("give NODE, --op ID or --source PATH (exactly one)")
    if openlineage and op is None:
        raise typer.BadParameter("--openlineage goes with --op ID")
    with session(repo, as_json=json_out, debug=debug) as run:
        if openlineage and op is not None:
            events = api.openlineage(run.repo, op)
            run.emit_lines(events, [orjson.dumps(e).decode() for e in events])
            return
        shown = api.lineage(run.repo, node=node, op_id=op, source=source, limit=limit)
        run.emit(shown, render_engine.lineage(shown, Path.cwd(), one_node=node is not None))
