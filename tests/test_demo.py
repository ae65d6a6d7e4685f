"""``python -m isometry.demo`` imports the sample sources, runs the whole tour and exits 0."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from importlib.resources import as_file, files
from pathlib import Path

from isometry.demo import Ids, edit_files


def test_demo_data_ships_inside_the_package() -> None:
    folder = files("isometry") / "demo_data"
    names = {entry.name for entry in folder.iterdir()}
    assert {"notes.jsonl", "tasks.csv"} <= names


def test_the_samples_hold_a_few_dozen_records_and_one_malformed() -> None:
    with as_file(files("isometry") / "demo_data") as folder:
        lines = (Path(folder) / "notes.jsonl").read_text().splitlines()
        with (Path(folder) / "tasks.csv").open(newline="") as stream:
            tasks = list(csv.DictReader(stream))
    broken = []
    for line in lines:
        try:
            json.loads(line)
        except json.JSONDecodeError:
            broken.append(line)
    assert len(broken) == 1
    assert len(lines) + len(tasks) >= 30
    assert [t["id"] for t in tasks][:3] == ["T-01", "T-02", "T-03"]


def test_the_edit_files_name_the_imported_nodes_by_their_derived_ids(tmp_path: Path) -> None:
    ids = Ids.of(tmp_path)
    assert ids.passport != ids.hotel
    edits = edit_files(ids)
    assert {"trip-edits.jsonl", "main-edits.jsonl", "cleanup.jsonl"} == set(edits)
    assert edits["cleanup.jsonl"] == [{"op": "delete", "node": ids.groceries}]


def test_demo_imports_then_tours_branches_conflicts_and_merges(tmp_path: Path) -> None:
    old = tmp_path / "demo-repo"
    old.mkdir()
    (old / "isometry.db").write_text("an old demo repository, replaced by a fresh one")
    done = subprocess.run(
        [sys.executable, "-m", "isometry.demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout.lower()
    # The imports: templates, a quarantined record, a grant, lineage, an unchanged re-import.
    assert "$ isometry templates" in output
    assert "$ isometry import json-import notes.jsonl --allow file-system=" in output
    assert "partially-succeeded" in output
    assert "17 inserted" in output
    assert "$ isometry grant file-system=" in output
    assert "$ isometry import csv-import tasks.csv\n" in output
    assert "16 read: 16 inserted" in output
    assert "1 record(s) in quarantine" in output
    assert "not valid json" in output
    assert "$ isometry lineage " in output
    assert "tasks.csv" in output
    assert "16 read: 0 inserted, 0 updated, 16 unchanged" in output
    # The versioned session on the imported nodes.
    assert "conflict" in output
    assert "$ isometry merge trip-planning" in output
    assert "merged:" in output
    assert "reverted on main" in output
    assert "grocery list" in output
    assert "ok: checked" in output
    assert (old / "isometry.db").stat().st_size > 1000
    assert (old / "edits" / "trip-edits.jsonl").is_file()


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
