"""Usage mistakes on the import options exit 2 and name the option, as the README's exit-code
table says, and leave no operation behind; on a real repository through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from isometry.cli import main as cli_main

runner = CliRunner()


def isometry(repo: Path, *args: str) -> Result:
    return runner.invoke(
        cli_main.app,
        [*args, "--repo", str(repo)],
        env={"ISOMETRY_AUTHOR": "tester", "ISOMETRY_REPO": None, "COLUMNS": "200"},
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    assert isometry(repo, "init").exit_code == 0
    (tmp_path / "notes.jsonl").write_text(json.dumps({"title": "Lisbon"}) + "\n")
    return repo


@pytest.mark.parametrize(
    ("given", "option", "said"),
    [
        (["--branch-strategy", "sideways"], "--branch-strategy", "use main, isolated"),
        (["--post-execution", "later"], "--post-execution", "use auto-merge"),
        (["--merge-strategy", "coin-toss"], "--merge-strategy", "use manual, markers"),
        (["--timeout", "-5"], "--timeout", "the timeout must be positive, not -5"),
        (["--max-memory", "0"], "--max-memory", "the memory limit must be positive"),
        (["--max-database", "-1"], "--max-database", "must be positive"),
        (["--from", "notadate"], "--from", "'notadate' is not an ISO-8601 date or time"),
        (["--to", "2025-02-30"], "--to", "'2025-02-30' is not"),
        (["--allow", "bogus=data"], "--allow", "unknown permission 'bogus'"),
        (["--from", "2025-02-01", "--to", "2025-01-01"], "'--from' / '--to'", "is later than"),
    ],
)
@pytest.mark.parametrize("command", [["import"], ["ops", "queue"]], ids=["import", "queue"])
def test_a_bad_import_option_is_a_usage_error_naming_the_option(
    repo: Path, command: list[str], given: list[str], option: str, said: str
) -> None:
    source = str(repo.parent / "notes.jsonl")
    allow = ["--allow", f"file-system={repo.parent}"]
    result = isometry(repo, *command, "json-import", source, *allow, *given)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    message = " ".join(result.stderr.replace("│", " ").split())
    assert f"Invalid value for {option}" in message
    assert said in message
    assert "date_from" not in message
    assert "_mb" not in message
    listed = isometry(repo, "ops", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_a_standing_grant_of_an_unknown_permission_is_a_usage_error(repo: Path) -> None:
    result = isometry(repo, "grant", f"bogus={repo.parent}")
    assert result.exit_code == 2
    assert "unknown permission 'bogus'" in result.stderr
    assert json.loads(isometry(repo, "grant", "--json").stdout) == {}


def test_dates_in_order_are_taken(repo: Path) -> None:
    source = str(repo.parent / "notes.jsonl")
    result = isometry(repo, "ops", "queue", "json-import", source, "--json",
                      "--from", "2025-01-01", "--to", "2025-01-01T00:00:00.5Z")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    config = json.loads(result.stdout)["config"]
    assert (config["date_from"], config["date_to"]) == (
        "2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00.500000Z",
    )


@pytest.mark.parametrize("percent", ["0", "200"])
def test_a_verify_sample_outside_0_to_100_is_a_usage_error(repo: Path, percent: str) -> None:
    result = isometry(repo, "storage", "verify", "--sample", percent)
    assert result.exit_code == 2
    message = " ".join(result.stderr.replace("│", " ").split())
    assert "Invalid value for --sample" in message
    assert "give a percentage above 0 and at most 100" in message


@pytest.mark.parametrize("command", [["init"], ["ops", "list"], ["nodes"]])
def test_an_empty_repository_path_is_a_usage_error_not_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli_main.app, [*command, "--repo", ""], env={"ISOMETRY_REPO": None})
    assert result.exit_code == 2
    message = " ".join(result.stderr.replace("│", " ").split())
    assert "Invalid value for '--repo'" in message
    assert "an empty path" in message
    assert list(tmp_path.iterdir()) == []
