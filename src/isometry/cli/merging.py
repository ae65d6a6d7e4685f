"""Commands that merge: merge (and --continue / --abort), conflicts, resolve, revert."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.text import Text

from isometry import api
from isometry.cli import render
from isometry.cli.options import (
    AuthorOption,
    DebugOption,
    IntoOption,
    JsonOption,
    RepoOption,
    author_name,
)
from isometry.cli.session import CONFLICTS, Session, session
from isometry.errors import IsometryError
from isometry.model import JSON

if TYPE_CHECKING:
    from isometry.vcs.fieldmerge import MergePolicy
    from isometry.vcs.merging import MergeResult

STRATEGY_HELP = "manual, markers, prefer-source, prefer-target or last-writer-wins"


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """``NAME=STRATEGY`` options as a mapping; a malformed one is a usage error."""
    found: dict[str, str] = {}
    for item in values or []:
        name, sign, strategy = item.partition("=")
        if not sign or not name.strip() or not strategy.strip():
            raise typer.BadParameter(f"{item!r}: expected NAME=STRATEGY", param_hint=option)
        found[name.strip()] = strategy.strip()
    return found


def _policy(strategy: str, by_type: list[str] | None, by_field: list[str] | None) -> MergePolicy:
    types = _pairs(by_type, "--type-strategy")
    fields = _pairs(by_field, "--field-strategy")
    try:
        return api.policy(strategy, types, fields)
    except IsometryError as error:
        raise typer.BadParameter(str(error), param_hint="--strategy") from None


def _report(run: Session, result: MergeResult, into: str | None, *, revert: bool = False) -> None:
    run.emit(result.to_json(), render.merge_result(result, into=into, revert=revert))
    if result.status == "conflicts":
        run.exit_code = CONFLICTS


def merge(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="SOURCE", help="Branch, tag or commit to merge.", show_default=False
        ),
    ] = None,
    into: Annotated[
        str | None,
        typer.Option(
            "--into",
            metavar="BRANCH",
            help=(
                "Branch to merge into (default: main; for --continue or --abort: the waiting one)."
            ),
        ),
    ] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", "-s", metavar="S", help=f"Default: {STRATEGY_HELP}.")
    ] = "manual",
    type_strategy: Annotated[
        list[str] | None,
        typer.Option("--type-strategy", metavar="TYPE=S", help="Strategy for one node type."),
    ] = None,
    field_strategy: Annotated[
        list[str] | None,
        typer.Option("--field-strategy", metavar="FIELD=S", help="Strategy for one field."),
    ] = None,
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="Merge commit message.")
    ] = None,
    no_ff: Annotated[
        bool, typer.Option("--no-ff", help="Record a merge commit even when a fast-forward works.")
    ] = False,
    continue_: Annotated[
        bool, typer.Option("--continue", help="Commit a merge whose conflicts are resolved.")
    ] = False,
    abort: Annotated[bool, typer.Option("--abort", help="Drop a waiting merge.")] = False,
    repo: RepoOption = None,
    author: AuthorOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Three-way merge SOURCE into a branch, field by field; exit 3 if it stops on conflicts."""
    if sum((source is not None, continue_, abort)) != 1:
        raise typer.BadParameter("give SOURCE, --continue or --abort (exactly one)")
    merge_policy = _policy(strategy, type_strategy, field_strategy)
    with session(repo, as_json=json_out, debug=debug) as run:
        if abort:
            target = api.merge_abort(run.repo, into)
            run.emit(
                {"status": "aborted", "branch": target},
                Text(f"Aborted the merge into {target}; the branch did not move."),
            )
            return
        if continue_:
            with run.working("Committing the merge"):
                result = api.merge_continue(run.repo, into)
            _report(run, result, into)
            return
        assert source is not None
        target = into or "main"
        with run.working(f"Merging {source} into {target}"):
            result = api.merge(
                run.repo,
                source,
                target,
                author=author_name(author),
                strategy=merge_policy,
                message=message,
                fast_forward=not no_ff,
            )
        _report(run, result, target)


def conflicts(
    into: IntoOption = None,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """List the conflicts of waiting merges: base, ours (target) and theirs (source) per field."""
    with session(repo, as_json=json_out, debug=debug) as run:
        found = api.conflicts(run.repo, into)
        run.emit([c.to_json() for c in found], render.conflicts(found))


def _json_value(text: str) -> JSON:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise typer.BadParameter(
            f"{text!r} is not JSON; quote text as JSON, e.g. --value '\"{text}\"'",
            param_hint="--value",
        ) from None


def resolve(
    node: Annotated[
        str, typer.Argument(metavar="NODE", help="Id of the node (or edge) in conflict.")
    ],
    field: Annotated[
        str | None,
        typer.Option("--field", "-f", help="Only this field (properties.NAME for a property)."),
    ] = None,
    ours: Annotated[bool, typer.Option("--ours", help="Keep the target branch's value.")] = False,
    theirs: Annotated[bool, typer.Option("--theirs", help="Take the merged-in value.")] = False,
    value: Annotated[
        str | None, typer.Option("--value", metavar="JSON", help="Set this JSON value.")
    ] = None,
    into: IntoOption = None,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Settle the conflicts of one node (or one of its fields)."""
    if sum((ours, theirs, value is not None)) != 1:
        raise typer.BadParameter("give exactly one of --ours, --theirs or --value JSON")
    chosen = _json_value(value) if value is not None else None
    choice = "ours" if ours else "theirs" if theirs else "value"
    with session(repo, as_json=json_out, debug=debug) as run:
        remaining = api.resolve(run.repo, node, choice=choice, value=chosen, field=field, into=into)
        run.emit(
            {
                "resolved": node,
                "field": field,
                "open": sum(not c.resolved for c in remaining),
                "conflicts": [c.to_json() for c in remaining],
            },
            render.resolved(node, remaining),
        )


def revert(
    commit: Annotated[
        str, typer.Argument(metavar="COMMIT", help="Commit to undo (id, tag or REF~N).")
    ],
    branch: Annotated[str, typer.Option("--branch", "-b", help="Branch to commit to.")] = "main",
    message: Annotated[str | None, typer.Option("--message", "-m", help="Message.")] = None,
    repo: RepoOption = None,
    author: AuthorOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Add a commit that undoes COMMIT; exit 3 if it stops on conflicts (see merge --continue)."""
    with session(repo, as_json=json_out, debug=debug) as run:
        with run.working(f"Reverting {commit}"):
            result = api.revert(
                run.repo, commit, branch=branch, author=author_name(author), message=message
            )
        _report(run, result, branch, revert=True)
