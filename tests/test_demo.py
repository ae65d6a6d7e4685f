"""``python -m isometry.demo`` runs the whole tour and exits 0."""

from __future__ import annotations

import subprocess
import sys
from importlib.resources import files
from pathlib import Path


def test_demo_data_ships_inside_the_package() -> None:
    folder = files("isometry") / "demo_data"
    names = {entry.name for entry in folder.iterdir()}
    assert {"samples.jsonl", "trip-edits.jsonl", "main-edits.jsonl", "cleanup.jsonl"} <= names


def test_demo_runs_the_tour_with_a_conflict_and_a_merge(tmp_path: Path) -> None:
    old = tmp_path / "demo-repo"
    old.mkdir()
    (old / "isometry.db").write_text("an old demo repository, replaced by a fresh one")
    done = subprocess.run(
        [sys.executable, "-m", "isometry.demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout.lower()
    assert "conflict" in output
    assert "$ isometry merge trip-planning" in output
    assert "merged:" in output
    assert "reverted on main" in output
    assert "ok: checked" in output
    assert (old / "isometry.db").stat().st_size > 1000


def test_demo_refuses_to_remove_a_folder_that_is_not_its_repository(tmp_path: Path) -> None:
    (tmp_path / "demo-repo").mkdir()
    (tmp_path / "demo-repo" / "precious.txt").write_text("keep me")
    done = subprocess.run(
        [sys.executable, "-m", "isometry.demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "not a demo repository" in done.stdout
    assert (tmp_path / "demo-repo" / "precious.txt").read_text() == "keep me"
