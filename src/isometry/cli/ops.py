"""``isometry ops``: operations as rows: list, show, queue, run the queue, resume, cancel, log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from isometry import api
from isometry.cli import render_engine
from isometry.cli.engine import (
    AllowOption,
    BatchSizeOption,
    BranchStrategyOption,
    DedupOption,
    ExcludeOption,
    FromOption,
    IncludeDeletedOption,
    IncludeOption,
    MaxDatabaseOption,
    MaxErrorRateOption,
    MaxMemoryOption,
    MergeStrategyOption,
    OptionOption,
    PostExecutionOption,
    SourcesArgument,
    SyncDeletesOption,
    TargetOption,
    TemplateArgument,
    TimeoutOption,
    ToOption,
    check_options,
    failure,
    grant_specs,
    import_config,
    report_operation,
)
from isometry.cli.options import AuthorOption, DebugOption, JsonOption, RepoOption, author_name
from isometry.cli.progress import live_progress
from isometry.cli.session import CONFLICTS, session

OpArgument = Annotated[
    str, typer.Argument(metavar="ID", help="Operation id (or a unique prefix of 4+ characters).")
]


def list_(
    repo: RepoOption = None, json_out: JsonOption = False, debug: DebugOption = False
) -> None:
    """List every operation, oldest first, with its state and progress."""
    with session(repo, as_json=json_out, debug=debug) as run:
        found = api.operations(run.repo)
        now = run.clock.now()
        run.emit([op.to_json(now) for op in found], render_engine.operations(found, now))


def show(
    op_id: OpArgument,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Show one operation: configuration, counts, branch, merge outcome, error."""
    with session(repo, as_json=json_out, debug=debug) as run:
        op = api.operation(run.repo, op_id)
        now = run.clock.now()
        run.emit(op.to_json(now), render_engine.operation(op, now))


def queue(
    template: TemplateArgument,
    sources: SourcesArgument,
    allow: AllowOption = None,
    batch_size: BatchSizeOption = None,
    branch_strategy: BranchStrategyOption = None,
    post_execution: PostExecutionOption = None,
    merge_strategy: MergeStrategyOption = None,
    target: TargetOption = None,
    dedup: DedupOption = None,
    sync_deletes: SyncDeletesOption = None,
    max_error_rate: MaxErrorRateOption = None,
    timeout: TimeoutOption = None,
    max_memory: MaxMemoryOption = None,
    max_database: MaxDatabaseOption = None,
    include: IncludeOption = None,
    exclude: ExcludeOption = None,
    date_from: FromOption = None,
    date_to: ToOption = None,
    option: OptionOption = None,
    include_deleted: IncludeDeletedOption = False,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Create an operation like 'isometry import' does, and queue it for 'isometry ops run'."""
    config = import_config(
        batch_size=batch_size, branch_strategy=branch_strategy, post_execution=post_execution,
        merge_strategy=merge_strategy, target=target, dedup=dedup, sync_deletes=sync_deletes,
        max_error_rate=max_error_rate, timeout=timeout, max_memory=max_memory,
        max_database=max_database, include=include, exclude=exclude, date_from=date_from,
        date_to=date_to, option=option, include_deleted=include_deleted,
    )  # fmt: skip
    grants = grant_specs(allow, "--allow")
    with session(repo, as_json=json_out, debug=debug) as run:
        check_options(template, config)
        op = api.queue_operation(
            run.repo, template, sources, grants=grants, config=config, base=Path.cwd()
        )
        run.emit(op.to_json(run.clock.now()), render_engine.queued(op))


def run_(
    max_concurrent: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent",
            metavar="N",
            min=1,
            help="Operations run at once (default: the repository's setting).",
        ),
    ] = None,
    repo: RepoOption = None,
    author: AuthorOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Run every queued operation; exit 1 if any fails, 3 if a merge stops on conflicts."""
    with session(repo, as_json=json_out, debug=debug) as run:
        with live_progress(run) as sink:
            done = api.run_queue(
                run.repo, author=author_name(author), max_concurrent=max_concurrent,
                on_progress=sink,
            )  # fmt: skip
        now = run.clock.now()
        run.emit([op.to_json(now) for op in done], render_engine.queue_results(done, now))
        errors = [line for line in (failure(op, run) for op in done) if line is not None]
        if errors:
            run.fail(
                f"{len(errors)} of {len(done)} operation(s) did not succeed: " + "; ".join(errors)
            )
        if any(op.result.get("merge") == "conflicts" for op in done):
            run.exit_code = CONFLICTS


def resume(
    op_id: OpArgument,
    repo: RepoOption = None,
    author: AuthorOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Continue an interrupted operation from its last checkpoint (or run a queued one now)."""
    with session(repo, as_json=json_out, debug=debug) as run:
        with live_progress(run) as sink:
            op = api.run_operation(run.repo, op_id, author=author_name(author), on_progress=sink)
        report_operation(run, op)


def cancel(
    op_id: OpArgument,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Cancel a waiting operation, or ask a running one to stop at its next batch."""
    with session(repo, as_json=json_out, debug=debug) as run:
        op = api.cancel_operation(run.repo, op_id)
        now = run.clock.now()
        run.emit(op.to_json(now), render_engine.cancelled(op, now))


def log(
    op_id: OpArgument,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """The operation's structured log, one JSON object a line (with --json: one list)."""
    with session(repo, as_json=json_out, debug=debug) as run:
        entries = api.operation_log(run.repo, op_id)
        run.emit_lines(entries, render_engine.log_lines(entries))
