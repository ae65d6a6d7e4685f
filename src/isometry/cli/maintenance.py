"""Commands that look after the repository: gc and fsck."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from isometry import api
from isometry.cli import render
from isometry.cli.options import DebugOption, JsonOption, RepoOption
from isometry.cli.session import session


def gc(
    keep_days: Annotated[
        int,
        typer.Option(
            "--keep-days", min=0, metavar="N", help="Keep unreachable commits younger than N days."
        ),
    ] = 14,
    vacuum: Annotated[
        bool, typer.Option("--vacuum", help="Also compact the database file.")
    ] = False,
    blob_grace_hours: Annotated[
        float,
        typer.Option(
            "--blob-grace-hours",
            min=0,
            metavar="H",
            help="Keep unreferenced stored files younger than H hours.",
        ),
    ] = 24,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Remove commits, row versions and stored files nothing reaches any more."""
    with session(repo, as_json=json_out, debug=debug) as run:
        with run.working("Collecting garbage"):
            report, blobs = api.collect_garbage(
                run.repo, keep_unreachable=timedelta(days=keep_days), vacuum=vacuum,
                blob_grace=timedelta(hours=blob_grace_hours),
            )  # fmt: skip
        run.emit({**report.to_json(), "blobs": blobs.to_json()}, render.gc(report, blobs))


def fsck(
    repair: Annotated[
        bool, typer.Option("--repair", help="Rebuild main's tables and index from history.")
    ] = False,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Recompute every hash and root and check main's tables; exit 1 if anything is wrong."""
    with session(repo, as_json=json_out, debug=debug) as run:
        with run.working("Checking the repository"):
            report = api.fsck(run.repo, repair=repair)
        run.emit(report.to_json(), render.fsck(report))
        if not report.ok:
            run.exit_code = 1
