"""Opening a repository as a user meets it: a file that is not one is refused and left as it
is; on real files through the CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from isometry.cli import main as cli_main

runner = CliRunner()

READING = (("ops", "list"), ("metrics",), ("nodes",), ("log",), ("branches",), ("quarantine",))


def isometry(*args: str) -> Result:
    return runner.invoke(
        cli_main.app, list(args), env={"ISOMETRY_AUTHOR": "tester", "ISOMETRY_REPO": None}
    )


def foreign(folder: Path) -> Path:
    """Another program's SQLite database, where a repository's would be."""
    folder.mkdir()
    path = folder / "isometry.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE mine (x)")
    conn.execute("INSERT INTO mine VALUES ('kept')")
    conn.commit()
    conn.close()
    return path


def empty(folder: Path) -> Path:
    folder.mkdir()
    path = folder / "isometry.db"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize("make", [foreign, empty], ids=["another program's", "empty"])
def test_a_database_that_is_not_a_repository_is_refused_and_left_as_it_is(
    tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    folder = tmp_path / "repo"
    path = make(folder)
    before = path.read_bytes()
    for command in READING:
        result = isometry(*command, "--repo", str(folder))
        assert result.exit_code == 1, (command, result.stdout, result.stderr)
        (line,) = result.stderr.strip().splitlines()
        assert line == (
            f"error: {path} is not an isometry repository (an empty database, or another "
            "program's); it was left as it is"
        )
        assert path.read_bytes() == before
        assert sorted(p.name for p in folder.iterdir()) == ["isometry.db"]
    refused = isometry("init", "--repo", str(folder))
    assert refused.exit_code == 1
    assert f"{path} already exists and is not an isometry repository" in refused.stderr
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    path = folder / "isometry.db"
    path.write_text("notes, not a database\n" * 100)
    result = isometry("ops", "list", "--repo", str(folder))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path} is not an isometry repository")
    assert result.stderr.count("\n") == 1
    assert path.read_text() == "notes, not a database\n" * 100


def test_a_repository_opens_after_the_refusals(tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    assert isometry("init", "--repo", str(folder)).exit_code == 0
    assert isometry("init", "--repo", str(folder)).exit_code == 1  # already one
    listed = isometry("ops", "list", "--repo", str(folder))
    assert listed.exit_code == 0, listed.stderr
    assert "No operations." in listed.stdout
