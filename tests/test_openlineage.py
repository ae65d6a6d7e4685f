"""An operation as OpenLineage run events, for the lineage tools that read them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from typer.testing import CliRunner

from isometry import api
from isometry.cli import main as cli_main
from isometry.etl.states import State
from isometry.vcs.repository import Repository

AUTHOR = "alice"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_an_import_is_a_start_and_a_complete_event(repo: Repository, tmp_path: Path) -> None:
    source = write(tmp_path / "src" / "notes.jsonl", '{"title": "a"}\n{"title": "b"}\nnope\n')
    grants = [f"file-system={source.parent}"]
    op = api.import_(repo, "json-import", [source], author=AUTHOR, base=tmp_path,
                     grants=grants, config={"max_error_rate": 0.5})  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED
    start, end = api.openlineage(repo, op.id)
    assert (start["eventType"], end["eventType"]) == ("START", "COMPLETE")
    assert start["run"] == {"runId": end["run"]["runId"], "facets": {}}
    assert uuid.UUID(str(end["run"]["runId"])).version == 5
    assert api.openlineage(repo, op.id)[1]["run"] == end["run"]  # the same id every time
    assert end["job"] == {"namespace": "isometry", "name": "json-import", "facets": {}}
    assert end["inputs"] == [{"namespace": "file", "name": str(source.resolve()), "facets": {}}]
    (output,) = end["outputs"]
    assert output["namespace"] == f"isometry:{repo.path}"
    assert output["name"] == op.branch
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 2
    for event in (start, end):
        assert str(event["producer"]).startswith("urn:isometry-etl:")
        assert event["schemaURL"] == (
            "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
        )
        assert str(event["eventTime"]).endswith("Z")


def test_a_failed_import_ends_with_a_fail_event_and_its_message(
    repo: Repository, tmp_path: Path
) -> None:
    source = write(tmp_path / "src" / "bad.jsonl", "not json\nnor this\n")
    op = api.import_(repo, "json-import", [source], author=AUTHOR,
                     grants=[f"file-system={source.parent}"], base=tmp_path)  # fmt: skip
    assert op.state is State.FAILED
    _, end = api.openlineage(repo, op.id)
    assert end["eventType"] == "FAIL"
    facet = end["run"]["facets"]["errorMessage"]
    assert facet["message"] == op.error
    assert facet["programmingLanguage"] == "python"


def test_a_queued_operation_has_no_event_yet(repo: Repository, tmp_path: Path) -> None:
    source = write(tmp_path / "src" / "notes.jsonl", '{"title": "a"}\n')
    op = api.queue_operation(repo, "json-import", [source], base=tmp_path,
                             grants=[f"file-system={source.parent}"])  # fmt: skip
    assert api.openlineage(repo, op.id) == []


def test_the_cli_prints_one_event_a_line(tmp_path: Path) -> None:
    runner = CliRunner()
    repo = str(tmp_path / "repo")
    env = {"ISOMETRY_AUTHOR": "tester", "ISOMETRY_REPO": None}
    assert runner.invoke(cli_main.app, ["init", "--repo", repo], env=env).exit_code == 0
    source = write(tmp_path / "src" / "notes.jsonl", '{"title": "a"}\n')
    done = runner.invoke(cli_main.app, ["import", "json-import", str(source), "--allow",
                                        f"file-system={source.parent}", "--repo", repo,
                                        "--json"], env=env)  # fmt: skip
    op_id = json.loads(done.stdout)["id"]
    shown = runner.invoke(cli_main.app, ["lineage", "--op", op_id, "--openlineage",
                                         "--repo", repo], env=env)  # fmt: skip
    assert shown.exit_code == 0, shown.stderr
    kinds = [json.loads(line)["eventType"] for line in shown.stdout.splitlines()]
    assert kinds == ["START", "COMPLETE"]
    wrong = runner.invoke(cli_main.app, ["lineage", "some-node", "--openlineage", "--repo", repo],
                          env=env)  # fmt: skip
    assert wrong.exit_code == 2
