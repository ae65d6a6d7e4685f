"""An export template (``data-export-archive``) run as an operation.

The operation's one source is the folder to write; its options say what and how: ``at`` (a
branch, tag or commit, default ``main``) and ``format`` (``jsonl``, the default, or
``markdown``). It goes through preparing (grants, the place to write), scanning (the commit
to export), loading (the archive written into ``<folder>.partial``) and finalizing (renamed
into place; the report in the operation's result, its log and report kept as artifacts). It
writes nothing to the repository. An interrupted export starts over when resumed: the
half-written folder is discarded, and nothing is ever written under the name asked for until
the archive is complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from isometry.etl import operations
from isometry.etl.export import FORMATS, ExportRefused, export
from isometry.etl.finalize import close
from isometry.etl.states import State

if TYPE_CHECKING:
    from isometry.etl.executor import Executor, _Run


def options_of(run: _Run) -> tuple[Path, str, str]:
    """The folder to write, the revision and the format, checked."""
    op = run.op
    if len(op.sources) != 1:
        raise ExportRefused("an export writes one folder: give exactly one")
    options = op.config.options
    at, form = options.get("at", "main"), options.get("format", "jsonl")
    if not isinstance(at, str) or not at:
        raise ExportRefused(f"the option at must name a branch, tag or commit, not {at!r}")
    if form not in FORMATS:
        raise ExportRefused(f"unknown export format {form!r} (use one of {', '.join(FORMATS)})")
    return Path(op.sources[0]), at, str(form)


class PhaseSink(Protocol):
    """How the executor announces a phase (its ``_phase``), passed in to keep it private."""

    def __call__(self, run: _Run, phase: str, done: int | None = None) -> None: ...


def run_export(ex: Executor, run: _Run, phase: PhaseSink) -> None:
    """Write the export the operation asks for, then end it as succeeded."""
    out, at, form = options_of(run)
    phase(run, "preparing", 0)
    run.accessor.check(out)
    if out.exists():
        raise ExportRefused(f"{out} already exists; export into a new folder")
    phase(run, "scanning", 0)
    commit = ex.repo.commit(at)  # an unknown revision fails here, before anything is written
    phase(run, "loading", 0)
    report = export(ex.repo, ex.content, out, at=commit.id, form=form)
    run.counts = operations.add_counts(run.counts, None, read=report.nodes + report.edges)
    run.total = report.nodes + report.edges
    run.op.result["export"] = report.to_json() | {"ref": at}
    phase(run, "finalizing")
    close(ex, run, State.SUCCEEDED, None, {}, phase="finalizing")
