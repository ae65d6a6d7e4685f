"""Commands that create a repository, write changes, and name commits: branches, tags, reset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from isometry import api
from isometry.cli import render
from isometry.cli.options import AuthorOption, DebugOption, JsonOption, RepoOption, author_name
from isometry.cli.session import session


def init(
    repo: RepoOption = None,
    author: AuthorOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Create an empty repository with a branch 'main'."""
    with session(repo, as_json=json_out, debug=debug) as run:
        run.adopt(api.init(run.path, clock=run.clock, author=author_name(author)))
        head = api.show_commit(run.repo, "main")
        run.emit(
            {"path": str(run.path), "branch": "main", "commit": head.id},
            Text(f"Created an empty repository in {run.path} (main at {render.short(head.id)})."),
        )


def apply(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help='JSON Lines: one {"op": ..., "node"|"edge": ...} a line.'
        ),
    ],
    branch: Annotated[str, typer.Option("--branch", "-b", help="Branch to commit to.")] = "main",
    message: Annotated[str | None, typer.Option("--message", "-m", help="Commit message.")] = None,
    repo: RepoOption = None,
    author: AuthorOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Apply a file of upserts, patches and deletes to a branch as one commit (all or nothing)."""
    with session(repo, as_json=json_out, debug=debug) as run:
        ops = api.read_ops(file)
        with run.working(f"Applying {len(ops)} change(s) to {branch}"):
            result = api.apply(
                run.repo,
                ops,
                branch=branch,
                message=message or f"Apply {file.name}",
                author=author_name(author),
            )
        if result.changes:
            human = Text.assemble(
                f"Committed {result.changes} change(s) to {branch}: ",
                render.commit_ref(result.commit),
            )
        else:
            human = Text(f"Nothing changed: {branch} already holds what {file.name} says.")
        run.emit({"commit": result.commit.id, "changes": result.changes}, human)


def branch(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Branch to create (or delete with --delete).")
    ],
    start: Annotated[
        str, typer.Option("--from", metavar="REF", help="Where the new branch starts.")
    ] = "main",
    delete: Annotated[bool, typer.Option("--delete", "-d", help="Delete the branch.")] = False,
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Create a branch (no rows are copied), or delete one with --delete."""
    with session(repo, as_json=json_out, debug=debug) as run:
        if delete:
            head = api.delete_branch(run.repo, name)
            run.emit(
                {"deleted": name, "commit": head.id},
                Text(f"Deleted branch {name} (was {render.short(head.id)})."),
            )
            return
        head = api.create_branch(run.repo, name, start)
        run.emit(
            {"branch": name, "commit": head.id},
            Text.assemble(f"Created branch {name} at ", render.commit_ref(head)),
        )


def branches(
    repo: RepoOption = None, json_out: JsonOption = False, debug: DebugOption = False
) -> None:
    """List the branches with their head commit."""
    with session(repo, as_json=json_out, debug=debug) as run:
        found = api.branches(run.repo)
        run.emit(
            [
                {"name": b.name, "commit": b.head.id, "pending_merge": b.pending_merge}
                for b in found
            ],
            render.branches(found),
        )


def tag(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Tag to create; tags never move.")],
    ref: Annotated[str, typer.Argument(metavar="REF", help="Commit to tag.")] = "main",
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Give a commit a name that never moves."""
    with session(repo, as_json=json_out, debug=debug) as run:
        target = api.tag(run.repo, name, ref)
        run.emit(
            {"tag": name, "commit": target.id},
            Text.assemble(f"Tagged {name}: ", render.commit_ref(target)),
        )


def tags(repo: RepoOption = None, json_out: JsonOption = False, debug: DebugOption = False) -> None:
    """List the tags."""
    with session(repo, as_json=json_out, debug=debug) as run:
        found = api.tags(run.repo)
        run.emit(
            [{"name": name, "commit": target.id} for name, target in found],
            render.tags(found),
        )


def reset(
    branch: Annotated[str, typer.Argument(metavar="BRANCH", help="Branch to move.")],
    commit: Annotated[
        str, typer.Argument(metavar="COMMIT", help="Commit, tag or REF~N to move it to.")
    ],
    repo: RepoOption = None,
    json_out: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Point a branch at another commit (commits left behind stay until gc)."""
    with session(repo, as_json=json_out, debug=debug) as run:
        target = api.reset(run.repo, branch, commit)
        run.emit(
            {"branch": branch, "commit": target.id},
            Text.assemble(f"Reset {branch} to ", render.commit_ref(target)),
        )
