"""The ``isometry`` command: the Typer app, its commands, and the entry point.

Each command parses its arguments, calls ``isometry.api`` and renders the result; errors become
one line on stderr and an exit code in ``isometry.cli.session``.
"""

from __future__ import annotations

import typer

from isometry.cli import history, maintenance, merging, reading, repository

app = typer.Typer(
    name="isometry",
    help="A versioned node database: apply changes on branches, diff, merge, revert, blame.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

for command in (
    repository.init,
    repository.apply,
    repository.branch,
    repository.branches,
    history.log,
    history.show_commit,
    history.diff,
    merging.merge,
    merging.conflicts,
    merging.resolve,
    merging.revert,
    repository.reset,
    repository.tag,
    repository.tags,
    reading.nodes,
    reading.edges,
    reading.show,
    reading.blame,
    maintenance.gc,
    maintenance.fsck,
):
    app.command()(command)


def run() -> None:
    """Console-script entry point."""
    app(prog_name="isometry")
