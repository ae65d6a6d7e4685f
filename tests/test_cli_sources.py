"""Where an import finds its files, as a user meets it: names that cannot be stored, folders
that cannot be read; on real files and a real repository through the CLI."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import Result

import isometry
from clitool import CliTool

# A file name that is not valid UTF-8, as Linux allows (and as it reaches Python: with the
# undecodable bytes as surrogates).
BAD_NAME = os.fsdecode(b"bad\xff\xfename.jsonl")
BAD_SHOWN = r"bad\xff\xfename.jsonl"


class Cli(CliTool):
    """Runs ``isometry ARGS --repo REPO`` in-process; sources go in ``root/src``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.sources = root / "src"
        self.sources.mkdir()
        self("init")

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


def test_storing_or_asking_the_lineage_of_a_file_whose_name_is_not_utf8_says_why(
    cli: Cli,
) -> None:
    bad = cli.note(cli.sources / BAD_NAME, "unreachable")
    cli.note(cli.sources / "good.jsonl", "fine")
    for given in (bad, cli.sources):  # named, or found in a folder
        result = cli("storage", "put", str(given), code=1)
        assert result.stderr == (
            f"error: {cli.sources / BAD_SHOWN}: its name is not valid UTF-8; rename it to "
            "store it\n"
        )
    assert cli.json("storage", "stats")["blobs"] == 0
    result = cli("lineage", "--source", str(bad), code=1)
    assert "its name is not valid UTF-8" in result.stderr
    assert BAD_SHOWN in result.stderr


# -- folders that cannot be read ------------------------------------------------------------

# Linux capabilities that let root read any folder whatever its mode (capability.h).
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2
PR_CAPBSET_DROP = 24


def _as_a_user() -> Callable[[], None] | None:
    """What a child process runs first so that a folder's mode stops it as it stops a user:
    nothing for a user; for root, its right to read any folder given up."""
    if os.geteuid() != 0:
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def drop() -> None:
        for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    return drop


def run_as_a_user(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess, unable to read what the folder modes forbid."""
    src = str(Path(isometry.__file__).resolve().parents[1])
    try:
        return subprocess.run(
            [sys.executable, "-m", "isometry", *args, "--repo", str(cli.repo)],
            capture_output=True, text=True, check=False, preexec_fn=_as_a_user(),
            env={**os.environ, "PYTHONPATH": src, "ISOMETRY_AUTHOR": "tester"},
        )  # fmt: skip
    except subprocess.SubprocessError as error:
        pytest.skip(f"running as root, and cannot give up reading every folder: {error}")


@pytest.fixture
def locked(cli: Cli) -> Iterator[Callable[[Path], None]]:
    """Takes every permission away from folders, given back at the end so they can be
    removed."""
    taken: list[Path] = []

    def lock(folder: Path) -> None:
        folder.chmod(0)
        taken.append(folder)

    yield lock
    for folder in taken:
        folder.chmod(0o755)


def test_a_source_folder_that_cannot_be_read_fails_the_operation(
    cli: Cli, locked: Callable[[Path], None]
) -> None:
    folder = cli.sources / "notes"
    cli.note(folder / "a.jsonl", "unreachable")
    locked(folder)
    allow = f"file-system={cli.sources}"
    result = run_as_a_user(cli, "import", "json-import", str(folder), "--allow", allow)
    assert result.returncode == 1, (result.stdout, result.stderr)
    (line,) = result.stderr.strip().splitlines()
    assert f"{folder}: cannot read the folder" in line
    (op,) = cli.json("ops", "list")
    assert op["state"] == "failed"
    assert "cannot read the folder" in op["error"]
    assert cli.json("nodes") == []


def test_a_subfolder_that_cannot_be_read_is_reported_and_the_rest_imported(
    cli: Cli, locked: Callable[[Path], None]
) -> None:
    cli.note(cli.sources / "a.jsonl", "kept")
    cli.note(cli.sources / "private" / "b.jsonl", "unreachable")
    locked(cli.sources / "private")
    allow = f"file-system={cli.sources}"
    result = run_as_a_user(cli, "import", "json-import", str(cli.sources), "--allow", allow,
                           "--max-error-rate", "1")  # fmt: skip
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "partially-succeeded" in result.stdout
    assert titles(cli) == ["kept"]
    (entry,) = cli.json("quarantine")
    assert entry["locator"]["file"] == str(cli.sources / "private")
    assert "cannot read the folder" in entry["reason"]
    assert "left out" in entry["reason"]


def test_a_sync_deletes_nothing_of_a_subfolder_it_could_not_read(
    cli: Cli, locked: Callable[[Path], None]
) -> None:
    cli.note(cli.sources / "a.jsonl", "kept")
    cli.note(cli.sources / "private" / "b.jsonl", "behind a lock")
    cli.import_(cli.sources)
    locked(cli.sources / "private")
    allow = f"file-system={cli.sources}"
    result = run_as_a_user(cli, "import", "json-import", str(cli.sources), "--allow", allow,
                           "--max-error-rate", "1", "--sync-deletes", "--json")  # fmt: skip
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert json.loads(result.stdout)["counts"]["deleted"] == 0
    assert {n["name"]: n.get("deleted_at") for n in cli.json("nodes")} == {
        "kept": None,
        "behind a lock": None,
    }


def test_a_subfolder_that_cannot_be_listed_is_reported_whoever_runs_it(cli: Cli) -> None:
    """A folder so deep that its path is longer than the system takes cannot be listed, by
    root as by anyone."""
    cli.note(cli.sources / "a.jsonl", "kept")
    limit = os.pathconf(cli.sources, "PC_PATH_MAX")
    step = "d" * 200
    depth = (limit - len(str(cli.sources))) // (len(step) + 1) + 2
    fd = os.open(cli.sources, os.O_RDONLY)
    try:
        for _ in range(depth):  # made one level at a time: the whole path is too long to use
            os.mkdir(step, dir_fd=fd)
            inner = os.open(step, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with open(os.open("deep.jsonl", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "w") as out:
            out.write(json.dumps({"title": "too deep"}) + "\n")
    finally:
        os.close(fd)
    result = cli.import_(cli.sources, "--max-error-rate", "1")
    assert "partially-succeeded" in result.stdout
    assert titles(cli) == ["kept"]
    (entry,) = cli.json("quarantine")
    assert str(entry["locator"]["file"]).startswith(str(cli.sources / step / step))
    assert len(str(entry["locator"]["file"])) >= limit
    assert "cannot read the folder" in entry["reason"]
