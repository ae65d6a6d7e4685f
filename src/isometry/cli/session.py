"""One command's run: open the repository, print the result, turn errors into exit codes.

Every ``IsometryError`` leaves with its own ``exit_code`` and one line on stderr; anything else
is an internal error (exit 1). ``--debug`` adds the traceback.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import orjson
import typer
from rich.console import Console, RenderableType
from rich.text import Text

from isometry import api
from isometry.cli.options import repo_path
from isometry.clock import SystemClock
from isometry.errors import IsometryError, UnresolvedConflicts
from isometry.model import JSON

if TYPE_CHECKING:
    from isometry.vcs.repository import Repository

# The exit code of a merge or revert that stopped on conflicts.
CONFLICTS = UnresolvedConflicts.exit_code
PIPE_WIDTH = 120
# Exceptions Typer turns into exit codes and messages itself.
_TYPER_EXITS = (typer.Exit, typer.Abort, typer.BadParameter)


class Session:
    """What a command needs: the repository, an output channel, and how to report failure."""

    def __init__(self, repo: Path | None, *, as_json: bool, debug: bool) -> None:
        self.path = repo_path(repo)
        self.as_json = as_json
        self.debug = debug
        self.exit_code = 0
        self.out = Console(highlight=False)
        if not self.out.is_terminal and "COLUMNS" not in os.environ:
            # Piped output is read by people too: Rich's 80-column default squeezes tables.
            self.out.width = PIPE_WIDTH
        self.err = Console(stderr=True, highlight=False)
        self.clock = SystemClock()
        self._repo: Repository | None = None

    @property
    def repo(self) -> Repository:
        """The repository at ``path``, opened on first use."""
        if self._repo is None:
            self._repo = api.open_repository(self.path, clock=self.clock)
        return self._repo

    def adopt(self, repo: Repository) -> None:
        """Use (and close at the end) a repository the command opened itself, e.g. by ``init``."""
        self._repo = repo

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    def working(self, message: str) -> AbstractContextManager[Any]:
        """A spinner on stderr while long work runs, only for a person watching a terminal."""
        if self.as_json or not sys.stderr.isatty():
            return nullcontext()
        return self.err.status(message)

    def emit(self, data: JSON, human: RenderableType) -> None:
        """The result: ``data`` as one JSON document with ``--json``, else ``human`` via Rich."""
        if self.as_json:
            sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
            sys.stdout.flush()
        else:
            self.out.print(human)

    def emit_lines(self, data: JSON, lines: Iterable[str]) -> None:
        """``data`` with ``--json``, else ``lines`` written as they are (no wrapping, no markup),
        e.g. JSON Lines meant for ``grep`` and ``jq``."""
        if self.as_json:
            self.emit(data, "")
            return
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def fail(self, message: str, code: int = 1) -> NoReturn:
        """One line on stderr (plus the traceback under ``--debug``), then exit with ``code``."""
        if self.debug and sys.exc_info()[0] is not None:
            self.err.print_exception()
        line = " ".join(message.split("\n"))
        self.err.print(Text.assemble(("error: ", "bold red"), line), soft_wrap=True)
        raise typer.Exit(code)


@contextmanager
def session(repo: Path | None, *, as_json: bool, debug: bool) -> Iterator[Session]:
    """Run a command body with errors mapped to one line and an exit code."""
    current = Session(repo, as_json=as_json, debug=debug)
    try:
        yield current
    except _TYPER_EXITS:
        raise
    except IsometryError as error:
        current.fail(str(error), error.exit_code)
    except OSError as error:
        where = error.filename if error.filename is not None else current.path
        current.fail(f"{where}: {error.strerror or error}")
    except sqlite3.Error as error:
        current.fail(f"{current.path}: database error: {error}")
    except Exception as error:
        hint = "" if debug else " (run again with --debug to see the traceback)"
        current.fail(f"internal error: {type(error).__name__}: {error}{hint}")
    finally:
        current.close()
    if current.exit_code:
        raise typer.Exit(current.exit_code)
