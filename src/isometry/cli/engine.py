"""Commands of the import engine: templates, import, quarantine, metrics, grant.

``import`` and ``ops queue`` take the same options; they are declared here once, and turned into
the operation's configuration by ``import_config`` (only what the user gave: the rest comes from
the template's defaults).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from isometry import api
from isometry.cli import render_engine
from isometry.cli.options import AuthorOption, DebugOption, JsonOption, RepoOption, author_name
from isometry.cli.progress import live_progress
from isometry.cli.session import CONFLICTS, Session, session
from isometry.errors import InvalidConfiguration, InvalidOption
from isometry.etl.access import PERMISSIONS
from isometry.etl.config import MAX_BATCH, MIN_BATCH, OperationConfig
from isometry.etl.states import State
from isometry.model import JSON

if TYPE_CHECKING:
    from isometry.etl.operations import Operation

TemplateArgument = Annotated[
    str, typer.Argument(metavar="TEMPLATE", help="Template id (see 'isometry templates').")
]
SourcesArgument = Annotated[
    list[str], typer.Argument(metavar="SOURCE", help="Files or folders to read (one or more).")
]
AllowOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow",
        metavar="PERMISSION=PATH",
        help="Let this operation read inside PATH, e.g. file-system=~/Notes (repeatable).",
    ),
]
BatchSizeOption = Annotated[
    int | None,
    typer.Option(
        "--batch-size", metavar="N", min=MIN_BATCH, max=MAX_BATCH, help="Records per commit."
    ),
]
BranchStrategyOption = Annotated[
    str | None,
    typer.Option(
        "--branch-strategy",
        metavar="S",
        help="isolated (default: a branch of its own, kept), temporary (dropped after the "
        "merge), main (straight onto the target) or existing:NAME.",
    ),
]
PostExecutionOption = Annotated[
    str | None,
    typer.Option(
        "--post-execution",
        metavar="S",
        help="auto-merge (default), manual-merge (leave the branch for review), "
        "rollback-on-failure or preserve-branch.",
    ),
]
MergeStrategyOption = Annotated[
    str | None,
    typer.Option(
        "--merge-strategy",
        metavar="S",
        help="How the merge settles clashes: manual, markers, prefer-source, prefer-target or "
        "last-writer-wins.",
    ),
]
TargetOption = Annotated[
    str | None,
    typer.Option("--target", metavar="BRANCH", help="Branch to merge into (default: main)."),
]
DedupOption = Annotated[
    bool | None,
    typer.Option(
        "--dedup/--no-dedup", help="Skip records unchanged since their last import (default)."
    ),
]
SyncDeletesOption = Annotated[
    bool | None,
    typer.Option(
        "--sync-deletes/--no-sync-deletes",
        help="Mark nodes whose records are gone from the source as deleted.",
    ),
]
MaxErrorRateOption = Annotated[
    float | None,
    typer.Option(
        "--max-error-rate",
        metavar="F",
        min=0.0,
        max=1.0,
        help="Fail when more than this share of records is quarantined (default 0.1).",
    ),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", metavar="SECONDS", help="Stop the operation after this long."),
]
MaxMemoryOption = Annotated[
    float | None,
    typer.Option("--max-memory", metavar="MB", help="Stop when resident memory passes this."),
]
MaxDatabaseOption = Annotated[
    float | None,
    typer.Option("--max-database", metavar="MB", help="Stop when the database passes this."),
]
IncludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--include",
        metavar="GLOB",
        help="In folders, only files whose name or relative path matches (repeatable).",
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        metavar="GLOB",
        help="In folders, skip files whose name or relative path matches (repeatable).",
    ),
]
FromOption = Annotated[
    str | None,
    typer.Option(
        "--from", metavar="DATE", help="Only records modified (else created) at or after DATE."
    ),
]
ToOption = Annotated[
    str | None,
    typer.Option("--to", metavar="DATE", help="Only records modified (else created) up to DATE."),
]
IncludeDeletedOption = Annotated[
    bool,
    typer.Option(
        "--include-deleted",
        help="Also import what the source keeps as deleted (Recently Deleted notes, trashed "
        "notes), marked with deleted_at.",
    ),
]
OptionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        metavar="KEY=VALUE",
        help="An option of the template's importers, e.g. delimiter=';', encoding=cp1252 or "
        "dayfirst=true; 'isometry templates' lists each template's (repeatable).",
    ),
]


def _pairs(
    values: list[str] | None, option: str, what: str, *, blank_values: bool = False
) -> list[tuple[str, str]]:
    """``KEY=VALUE`` options, split and trimmed; a malformed one is a usage error. With
    ``blank_values``, a value of only white space is kept as it is (``delimiter=<tab>``)."""
    found: list[tuple[str, str]] = []
    for item in values or []:
        key, sign, rest = item.partition("=")
        value = rest.strip() or (rest if blank_values else "")
        if not sign or not key.strip() or not value:
            raise typer.BadParameter(f"{item!r}: expected {what}", param_hint=option)
        found.append((key.strip(), value))
    return found


def grant_specs(values: list[str] | None, option: str) -> list[str]:
    """``PERMISSION=PATH`` grants, checked for their shape and permission (the engine checks
    the rest); a ``~`` the shell left alone after ``=`` is expanded here."""
    pairs = _pairs(values, option, "PERMISSION=PATH")
    for key, path in pairs:
        if key not in PERMISSIONS:
            raise typer.BadParameter(
                f"'{key}={path}': unknown permission {key!r}; use one of " + ", ".join(PERMISSIONS),
                param_hint=option,
            )
    return [f"{key}={Path(path).expanduser()}" for key, path in pairs]


def import_config(
    *,
    batch_size: int | None,
    branch_strategy: str | None,
    post_execution: str | None,
    merge_strategy: str | None,
    target: str | None,
    dedup: bool | None,
    sync_deletes: bool | None,
    max_error_rate: float | None,
    timeout: float | None,
    max_memory: float | None,
    max_database: float | None,
    include: list[str] | None,
    exclude: list[str] | None,
    date_from: str | None,
    date_to: str | None,
    option: list[str] | None,
    include_deleted: bool = False,
) -> dict[str, Any]:
    """The configuration keys the user gave, by the engine's names."""
    # Values stay text here: each option's declaration reads its own (``check_options``).
    options: dict[str, JSON] = dict(_pairs(option, "--option", "KEY=VALUE", blank_values=True))
    if include_deleted:
        options["include_deleted"] = True
    given: dict[str, Any] = {
        "batch_size": batch_size,
        "deduplicate": dedup,
        "sync_deletes": sync_deletes,
        "max_error_rate": max_error_rate,
        "timeout_seconds": timeout,
        "max_memory_mb": max_memory,
        "max_database_mb": max_database,
        "include": include or None,
        "exclude": exclude or None,
        "date_from": date_from,
        "date_to": date_to,
        "branch_strategy": branch_strategy,
        "post_execution": post_execution,
        "merge_strategy": merge_strategy,
        "target": target,
        "options": options or None,
    }
    chosen = {key: value for key, value in given.items() if value is not None}
    _check(chosen)
    return chosen


# The option that sets each configuration key, to name it in a usage error.
_OPTIONS = {
    "batch_size": "--batch-size",
    "deduplicate": "--dedup",
    "sync_deletes": "--sync-deletes",
    "max_error_rate": "--max-error-rate",
    "timeout_seconds": "--timeout",
    "max_memory_mb": "--max-memory",
    "max_database_mb": "--max-database",
    "include": "--include",
    "exclude": "--exclude",
    "date_from": "--from",
    "date_to": "--to",
    "branch_strategy": "--branch-strategy",
    "post_execution": "--post-execution",
    "merge_strategy": "--merge-strategy",
    "target": "--target",
    "options": "--option",
}


def _check(chosen: dict[str, Any]) -> None:
    """A value the engine would refuse is a usage error, naming its option: each key alone,
    then the dates together (``--from`` after ``--to``)."""
    for key, value in chosen.items():
        try:
            OperationConfig().with_overrides({key: value})
        except InvalidConfiguration as error:
            raise typer.BadParameter(str(error), param_hint=_OPTIONS[key]) from None
    dates: dict[str, Any] = {k: chosen[k] for k in ("date_from", "date_to") if k in chosen}
    try:
        OperationConfig().with_overrides(dates)
    except InvalidConfiguration as error:
        raise typer.BadParameter(str(error), param_hint=["--from", "--to"]) from None


def check_options(template: str, config: Mapping[str, Any]) -> None:
    """An option the template does not take, or a value it cannot use, is a usage error of
    ``--option``, found before the repository is opened (making the operation checks again)."""
    try:
        api.check_options(template, config.get("options") or {})
    except InvalidOption as error:
        raise typer.BadParameter(str(error), param_hint="--option") from None


def failure(op: Operation, run: Session) -> str | None:
    """The error line for an operation that failed or was cancelled, else None."""
    shown = op.shown_state(run.clock.now())
    if shown is State.CANCELLED:
        return f"operation {op.id} was cancelled"
    if shown is State.FAILED:
        return f"operation {op.id} failed: {op.error or 'no reason recorded'}"
    return None


def report_operation(run: Session, op: Operation) -> None:
    """An operation that ran: its result; exit 1 if it failed or was cancelled, 3 if its merge
    stopped on conflicts."""
    now = run.clock.now()
    run.emit(op.to_json(now), render_engine.operation_result(op, now))
    error = failure(op, run)
    if error is not None:
        run.fail(error)
    if op.result.get("merge") == "conflicts":
        run.exit_code = CONFLICTS


def templates(
    repo: RepoOption = None, json_out: JsonOption = False, debug: DebugOption = False
) -> None:
    """List the templates offered here (those whose importers are installed)."""
    with session(repo, as_json=json_out, debug=debug) as run:
        offered = api.templates()
        run.emit([t.to_json() for t in offered], render_engine.templates(offered))


def tables(
    database: Annotated[Path, typer.Argument(metavar="DATABASE", help="A SQLite file.")],
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """List a SQLite database's tables as sqlite-database-import reads them: columns, key,
    rows and links, to write a mapping from."""
    with session(None, as_json=json_out, debug=debug) as run:
        found = api.sqlite_tables(database)
        run.emit([t.to_json() for t in found], render_engine.tables(found))


def import_(
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
    author: AuthorOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Import SOURCE files or folders with TEMPLATE now; exit 1 if it fails, 3 if its merge
    stops on conflicts."""
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
        with live_progress(run) as sink:
            op = api.import_(
                run.repo, template, sources, author=author_name(author), grants=grants,
                config=config, base=Path.cwd(), on_progress=sink,
            )  # fmt: skip
        report_operation(run, op)


def quarantine(
    op: Annotated[
        str | None, typer.Option("--op", metavar="ID", help="Only this operation's records.")
    ] = None,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """List the records that could not become nodes, with where they are and why."""
    with session(repo, as_json=json_out, debug=debug) as run:
        found = api.quarantine(run.repo, op)
        run.emit(list(found), render_engine.quarantine(found, Path.cwd()))


def metrics(
    repo: RepoOption = None, json_out: JsonOption = False, debug: DebugOption = False
) -> None:
    """Throughput, times, memory and error rates, overall and per operation."""
    with session(repo, as_json=json_out, debug=debug) as run:
        found = api.metrics(run.repo)
        run.emit(found, render_engine.metrics(found))


def grant(
    specs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[PERMISSION=PATH]...",
            help="Permissions to grant every operation, each for a folder or file "
            "(none: list the grants).",
            show_default=False,
        ),
    ] = None,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Give every operation of this repository standing permission to read inside PATH."""
    given = grant_specs(specs, "PERMISSION=PATH")
    with session(repo, as_json=json_out, debug=debug) as run:
        current = api.grant(run.repo, given, base=Path.cwd()) if given else api.grants(run.repo)
        run.emit(dict(current), render_engine.grants(current))
