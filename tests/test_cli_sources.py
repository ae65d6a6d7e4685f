"""Where an import finds its files, as a user meets it: names that cannot be stored, folders
that cannot be read; on real files and a real repository through the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from isometry.cli import main as cli_main

runner = CliRunner()

# A file name that is not valid UTF-8, as Linux allows (and as it reaches Python: with the
# undecodable bytes as surrogates).
BAD_NAME = os.fsdecode(b"bad\xff\xfename.jsonl")
BAD_SHOWN = r"bad\xff\xfename.jsonl"


class Cli:
    """Runs ``isometry ARGS --repo REPO`` in-process; sources go in ``root/src``."""

    def __init__(self, root: Path) -> None:
        self.repo = root / "repo"
        self.sources = root / "src"
        self.sources.mkdir()
        self("init")

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = runner.invoke(
            cli_main.app,
            [*args, "--repo", str(self.repo)],
            env={"ISOMETRY_AUTHOR": "tester", "ISOMETRY_REPO": None},
        )
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)

    def note(self, path: Path, title: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"title": title}) + "\n")
        return path

    def import_(self, source: Path, *args: str, code: int = 0) -> Result:
        allow = f"file-system={self.sources}"
        return self("import", "json-import", str(source), "--allow", allow, *args, code=code)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def titles(cli: Cli) -> list[str]:
    return sorted(str(n["name"]) for n in cli.json("nodes"))


def test_a_file_named_in_bytes_that_are_not_utf8_is_refused_and_no_operation_is_left(
    cli: Cli,
) -> None:
    bad = cli.note(cli.sources / BAD_NAME, "unreachable")
    result = cli.import_(bad, code=1)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert BAD_SHOWN in line
    assert "not valid UTF-8" in line
    assert "rename" in line
    assert cli.json("ops", "list") == []
    assert [b["name"] for b in cli.json("branches")] == ["main"]
    assert cli.json("nodes") == []


def test_a_file_of_a_folder_whose_name_is_not_utf8_is_left_out_and_reported(cli: Cli) -> None:
    cli.note(cli.sources / "good.jsonl", "kept")
    cli.note(cli.sources / BAD_NAME, "left out")
    cli.note(cli.sources / os.fsdecode(b"sub\xe9") / "inner.jsonl", "left out too")
    result = cli.import_(cli.sources, "--max-error-rate", "1")
    assert "partially-succeeded" in result.stdout
    assert titles(cli) == ["kept"]
    (op,) = cli.json("ops", "list")
    assert op["state"] == "partially-succeeded"
    assert op["counts"]["quarantined"] == 2
    entries = sorted(cli.json("quarantine"), key=lambda e: str(e["locator"]["file"]))
    assert [e["locator"]["file"] for e in entries] == [
        str(cli.sources / BAD_SHOWN),
        str(cli.sources / r"sub\xe9" / "inner.jsonl"),
    ]
    assert "its name is not valid UTF-8" in entries[0]["reason"]
    assert "a folder on its path is not valid UTF-8" in entries[1]["reason"]
    # Resuming or importing again meets the same files the same way.
    again = cli.import_(cli.sources, "--max-error-rate", "1")
    assert "partially-succeeded" in again.stdout


def test_a_grant_whose_path_is_not_utf8_is_refused(cli: Cli) -> None:
    good = cli.note(cli.sources / "good.jsonl", "kept")
    bad_root = cli.sources / os.fsdecode(b"\xff")
    result = cli("import", "json-import", str(good), "--allow", f"file-system={bad_root}",
                 code=1)  # fmt: skip
    assert r"\xff" in result.stderr
    assert "not valid UTF-8" in result.stderr
    assert cli.json("ops", "list") == []
