"""Options every command shares, and the rules that turn them into a repository path and author.

This is the one layer that reads the environment: Typer reads ``ISOMETRY_REPO`` and
``ISOMETRY_AUTHOR`` for the options below.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import platformdirs
import typer

REPO_ENV = "ISOMETRY_REPO"
AUTHOR_ENV = "ISOMETRY_AUTHOR"


def _folder(text: str) -> Path:
    """A ``--repo`` folder; an empty one is refused rather than taken for the working folder."""
    if not text:
        raise typer.BadParameter("an empty path; give a folder ('.' for the working folder)")
    return Path(text)


RepoOption = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        envvar=REPO_ENV,
        show_envvar=True,
        metavar="DIR",
        parser=_folder,
        help="Repository directory (default: the user data directory).",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]
AuthorOption = Annotated[
    str | None,
    typer.Option(
        "--author",
        envvar=AUTHOR_ENV,
        show_envvar=True,
        metavar="NAME",
        help="Author of the commit (default: your login name).",
    ),
]
AtOption = Annotated[
    str,
    typer.Option("--at", metavar="REF", help="Branch, tag, commit, REF~N or time to read at."),
]
IntoOption = Annotated[
    str | None,
    typer.Option(
        "--into",
        metavar="BRANCH",
        help="Branch of the waiting merge (needed only when several are waiting).",
    ),
]


def repo_path(given: Path | None) -> Path:
    """``--repo``, else ``ISOMETRY_REPO`` (both arrive here through Typer), else the data dir."""
    if given is not None:
        return given.expanduser()
    return Path(platformdirs.user_data_dir("isometry"))


def author_name(given: str | None) -> str:
    """``--author``, else ``ISOMETRY_AUTHOR`` (through Typer), else the login name."""
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
