"""The ``isometry`` command: the Typer app, its commands, and the entry point.

Each command parses its arguments, calls ``isometry.api`` and renders the result; errors become
one line on stderr and an exit code in ``isometry.cli.session``.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from isometry.cli import (
    engine,
    history,
    lineage,
    maintenance,
    merging,
    ops,
    reading,
    repository,
    storage,
)

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="isometry",
    help="A versioned node database: import sources through safe, resumable operations; apply "
    "changes on branches, diff, merge, revert, blame; ask where each node came from.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
)

COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("init", repository.init),
    ("templates", engine.templates),
    ("import", engine.import_),
    ("apply", repository.apply),
    ("branch", repository.branch),
    ("branches", repository.branches),
    ("log", history.log),
    ("show-commit", history.show_commit),
    ("diff", history.diff),
    ("merge", merging.merge),
    ("conflicts", merging.conflicts),
    ("resolve", merging.resolve),
    ("revert", merging.revert),
    ("reset", repository.reset),
    ("tag", repository.tag),
    ("tags", repository.tags),
    ("nodes", reading.nodes),
    ("edges", reading.edges),
    ("show", reading.show),
    ("blame", reading.blame),
    ("lineage", lineage.lineage),
    ("quarantine", engine.quarantine),
    ("metrics", engine.metrics),
    ("grant", engine.grant),
    ("gc", maintenance.gc),
    ("fsck", maintenance.fsck),
    ("cat", storage.cat),
    ("export", storage.export),
    ("tables", engine.tables),
)
OPS_COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("list", ops.list_),
    ("show", ops.show),
    ("queue", ops.queue),
    ("run", ops.run_),
    ("resume", ops.resume),
    ("cancel", ops.cancel),
    ("log", ops.log),
)
STORAGE_COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("put", storage.put),
    ("stats", storage.stats),
    ("gc", storage.gc),
    ("verify", storage.verify),
    ("quota", storage.quota),
)

for name, command in COMMANDS:
    app.command(name)(command)

ops_app = typer.Typer(
    name="ops",
    help="Operations: list, show, queue, run the queue, resume, cancel, log.",
    no_args_is_help=True,
    context_settings=CONTEXT,
)
for name, command in OPS_COMMANDS:
    ops_app.command(name)(command)
app.add_typer(ops_app, name="ops")

storage_app = typer.Typer(
    name="storage",
    help="The blob store: put files, stats, gc unreferenced blobs, verify; see also cat.",
    no_args_is_help=True,
    context_settings=CONTEXT,
)
for name, command in STORAGE_COMMANDS:
    storage_app.command(name)(command)
app.add_typer(storage_app, name="storage")


def run() -> None:
    """Console-script entry point."""
    app(prog_name="isometry")
