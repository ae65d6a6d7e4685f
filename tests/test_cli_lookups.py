"""What commands say about things that are not there: a node, an operation id, figures with
nothing to compute from; on a real repository through the CLI."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest

from clitool import CliTool
from isometry import api
from isometry.clock import SystemClock
from isometry.errors import OperationNotFound
from isometry.etl import operations as etl_operations


class Cli(CliTool):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self("init")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_lineage_of_a_node_that_does_not_exist_says_so(cli: Cli) -> None:
    result = cli("lineage", "no-such-node", code=1)
    assert result.stderr == "error: no node or edge 'no-such-node' was ever committed here\n"
    assert result.stdout == ""


def test_lineage_of_a_node_made_by_hand_has_none_recorded(cli: Cli) -> None:
    edits = cli.root / "edits.jsonl"
    edits.write_text(json.dumps({"op": "upsert", "node": {"id": "hand", "name": "Mine"}}) + "\n")
    cli("apply", str(edits))
    assert "No lineage recorded." in cli("lineage", "hand").stdout
    assert cli.json("lineage", "hand") == []
    edits.write_text(json.dumps({"op": "delete", "node": "hand"}) + "\n")
    cli("apply", str(edits))
    assert cli.json("lineage", "hand") == []  # gone from main, still part of its history


def test_an_operation_id_with_wildcards_names_no_operation(cli: Cli) -> None:
    notes = cli.root / "notes.jsonl"
    notes.write_text(json.dumps({"title": "Lisbon"}) + "\n")
    op = cli.json("ops", "queue", "json-import", str(notes), "--allow", f"file-system={cli.root}")
    assert cli.json("ops", "show", op["id"][:4])["id"] == op["id"]
    assert cli.json("ops", "show", op["id"][:4].upper())["id"] == op["id"]
    for given in (op["id"][:2] + "%%", "____", op["id"][:4] + "_", "%"):
        for command in (("ops", "show", given), ("ops", "log", given), ("ops", "cancel", given),
                        ("ops", "resume", given), ("quarantine", "--op", given),
                        ("lineage", "--op", given)):  # fmt: skip
            result = cli(*command, code=1)
            assert (
                result.stderr == f"error: no operation {given!r} (an operation id is hex digits)\n"
            )
    assert cli.json("ops", "show", op["id"])["state"] == "queued"


def figure(text: str, name: str) -> str:
    """The value shown beside ``name`` in the metrics summary."""
    (line,) = [line for line in text.splitlines() if line.startswith(name)]
    return line[len(name) :].strip()


def test_metrics_show_no_error_rate_before_a_record_is_read(cli: Cli) -> None:
    empty = cli("metrics").stdout
    assert figure(empty, "items") == "0"
    assert figure(empty, "throughput") == "-"
    assert figure(empty, "error rate") == "-"
    assert cli.json("metrics")["error_rate"] is None
    nothing = cli.root / "nothing.jsonl"
    nothing.write_text("")
    cli("import", "json-import", str(nothing), "--allow", f"file-system={cli.root}")
    shown = cli("metrics").stdout
    assert figure(shown, "error rate") == "-"
    (row,) = [line for line in shown.splitlines() if "json-import" in line]
    assert "0.0%" not in row
    assert [entry["error_rate"] for entry in cli.json("metrics")["history"]] == [None]


def test_an_operation_is_found_by_prefix_with_no_character_taken_as_a_wildcard(
    cli: Cli,
) -> None:
    notes = cli.root / "notes.jsonl"
    notes.write_text(json.dumps({"title": "Lisbon"}) + "\n")
    op = cli.json("ops", "queue", "json-import", str(notes), "--allow", f"file-system={cli.root}")
    repo = api.open_repository(cli.repo, clock=SystemClock())
    with closing(repo), repo.db.snapshot() as conn:
        assert etl_operations.load(conn, op["id"][:5].upper()).id == op["id"]
        for given in (op["id"][:3] + "%", op["id"][:4] + "_", op["id"][:2] + "%%"):
            with pytest.raises(OperationNotFound):
                etl_operations.load(conn, given)
