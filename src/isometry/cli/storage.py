"""``isometry storage`` (put, stats, gc, verify) and ``isometry cat``: the content-aware blob
store of the repository (``<repo>/blobs/``)."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from isometry import api
from isometry.cli import render_storage
from isometry.cli.options import AuthorOption, DebugOption, JsonOption, RepoOption, author_name
from isometry.cli.session import Session, session
from isometry.errors import InvalidContentRequest
from isometry.etl.access import name_problem


def _readable(run: Session, path: Path) -> list[Path]:
    """The files ``path`` names (a folder: every file under it, in name order), each checked
    readable now, so that a bad path fails before anything is stored."""
    if not path.exists():
        run.fail(f"{path}: no such file or folder")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            run.fail(f"{path}: cannot read the folder")
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        files = [path]
    for file in files:
        problem = name_problem(file, "store it")  # its name is kept as text
        if problem is not None:
            run.fail(problem)
        try:
            with file.open("rb"):
                pass
        except OSError as error:
            run.fail(f"{file}: cannot read: {error.strerror or error}")
    return files


def put(
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH...", help="Files or folders (every file under them)."),
    ],
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Store files as they are; print each one's hash, sizes, MIME type and whether it is new."""
    with session(repo, as_json=json_out, debug=debug) as run:
        files = [file for path in paths for file in _readable(run, path)]
        with run.working("Storing"):
            refs = api.store_files(run.repo, files)
        run.emit_lines(
            [ref.to_json() for ref in refs],
            render_storage.put([(str(f), r) for f, r in zip(files, refs, strict=True)]),
        )


def stats(
    repo: RepoOption = None, json_out: JsonOption = False, debug: DebugOption = False
) -> None:
    """Blob count, logical and stored bytes, savings, and a breakdown by MIME type."""
    with session(repo, as_json=json_out, debug=debug) as run:
        found = api.blob_stats(run.repo)
        run.emit(found.to_json(), render_storage.stats(found))


def gc(
    grace_hours: Annotated[
        float,
        typer.Option(
            "--grace-hours",
            min=0,
            metavar="H",
            help="Keep unreferenced blobs stored within the last H hours.",
        ),
    ] = 24,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Remove blobs nothing references any more (after a grace period)."""
    with session(repo, as_json=json_out, debug=debug) as run:
        with run.working("Collecting unreferenced blobs"):
            report = api.blob_gc(run.repo, grace=timedelta(hours=grace_hours))
        run.emit(report.to_json(), render_storage.gc(report))


def verify(
    sample: Annotated[
        float | None,
        typer.Option(
            "--sample", metavar="PERCENT", help="Check a random PERCENT of the blobs, not all."
        ),
    ] = None,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Re-hash the stored blobs; exit 1 and name each damaged blob if any is."""
    with session(repo, as_json=json_out, debug=debug) as run:
        with run.working("Verifying blobs"):
            try:
                report = api.blob_verify(run.repo, sample_percent=sample)
            except InvalidContentRequest as error:  # the only request it makes: the sample
                raise typer.BadParameter(str(error), param_hint="--sample") from None
        run.emit(report.to_json(), render_storage.verify(report))
        if not report.ok:
            run.exit_code = 1


def cat(
    blob_hash: Annotated[
        str, typer.Argument(metavar="HASH", help="A blob hash or a unique prefix (4+ hex digits).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to FILE instead of standard output."
        ),
    ] = None,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Write a blob's original bytes to standard output (or FILE); --json reports on -o only."""
    with session(repo, as_json=json_out, debug=debug) as run:
        if output is None:
            api.read_blob(run.repo, blob_hash, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        full = api.blob_info(run.repo, blob_hash).ref.hash
        written = api.read_blob(run.repo, full, output)
        run.emit(
            {"hash": full, "bytes": written, "path": str(output)},
            Text(f"Wrote {written:,} bytes to {output}."),
        )


def export(
    out: Annotated[Path, typer.Argument(metavar="FOLDER", help="A new folder to write.")],
    at: Annotated[
        str, typer.Option("--at", metavar="REF", help="Branch, tag or commit to export.")
    ] = "main",
    form: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="jsonl (an archive 'import archive-import' restores exactly) or markdown "
            "(a vault: one note per file, attachments beside).",
        ),
    ] = "jsonl",
    repo: RepoOption = None,
    author: AuthorOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Export a branch, tag or commit: nodes, edges and attachments, with a manifest (a
    data-export-archive operation, listed by 'isometry ops list')."""
    with session(repo, as_json=json_out, debug=debug) as run:
        with run.working("Exporting"):
            report = api.export(run.repo, out, at=at, form=form, author=author_name(author))
        run.emit(report.to_json(), render_storage.exported(report))


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _bytes(text: str | None, option: str) -> int | None:
    """``12345``, ``200K``, ``100M``, ``10G`` (binary units; a trailing ``B``/``iB`` allowed)."""
    if text is None:
        return None
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in "KMGT" else (cleaned, "")
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        hint = f"{text!r}: expected bytes, like 500M or 2G"
        raise typer.BadParameter(hint, param_hint=option) from None
    if value <= 0:
        raise typer.BadParameter(f"{text!r}: a quota must be more than 0", param_hint=option)
    return int(value)


def quota(
    max_blob_size: Annotated[
        str | None,
        typer.Option("--max-blob-size", metavar="SIZE", help="Largest file to store (e.g. 2G)."),
    ] = None,
    max_total: Annotated[
        str | None,
        typer.Option("--max-total", metavar="SIZE", help="All stored bytes (e.g. 50G)."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove both quotas.")] = False,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Show or set the blob quotas every store keeps to, imports included: a file over them
    is refused before anything is written."""
    largest = _bytes(max_blob_size, "--max-blob-size")
    total = _bytes(max_total, "--max-total")
    with session(repo, as_json=json_out, debug=debug) as run:
        if clear or largest is not None or total is not None:
            found = api.set_quotas(
                run.repo, max_blob_size=largest, max_total_bytes=total, clear=clear
            )
        else:
            found = api.quotas(run.repo)
        run.emit(
            dict(found),
            Text(
                "\n".join(
                    f"{name.replace('_', ' ')}: "
                    f"{'no limit' if value is None else f'{value:,} bytes'}"
                    for name, value in found.items()
                )
            ),
        )
