"""The engine's commands as a user meets them: templates, import, ops, quarantine, lineage,
metrics, grant; on real files and a real repository."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from clitool import CliTool
from isometry import api
from isometry.cli import engine
from isometry.cli.progress import LiveProgress
from isometry.clock import SystemClock
from isometry.etl import operations as etl_operations
from isometry.etl.executor import Progress
from isometry.etl.states import State, move
from isometry.model import node_id_for
from isometry.vcs.ops import parse_op

NOTES: list[dict[str, Any]] = [
    {"id": "n1", "title": "Lisbon trip", "body": "Alfama, Belém", "tags": ["travel"]},
    {"id": "n2", "title": "Groceries", "body": "Milk, eggs", "folder": "Home"},
    {"id": "n3", "title": "Call Ana", "type": "task", "due": "2025-03-01T09:00:00Z"},
]


class Cli(CliTool):
    """Runs ``isometry ARGS --repo REPO`` in-process, with sample sources in ``root/src``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.sources = root / "src"
        self.sources.mkdir()

    def jsonl(self, name: str, records: Sequence[Mapping[str, Any]], *extra: str) -> Path:
        """A JSON Lines file of ``records``, then the ``extra`` lines as they are."""
        path = self.sources / name
        lines = [json.dumps(record) for record in records] + list(extra)
        path.write_text("\n".join(lines) + "\n")
        return path

    @property
    def allow(self) -> str:
        return f"file-system={self.sources}"

    def import_(self, path: Path, *args: str, code: int = 0) -> Any:
        return self.json(
            "import", "json-import", str(path), "--allow", self.allow, *args, code=code
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    tool = Cli(tmp_path)
    tool("init")
    return tool


def names(cli: Cli) -> list[str]:
    return sorted(str(n["name"]) for n in cli.json("nodes"))


# -- templates, import --------------------------------------------------------------------


def test_templates_lists_the_offered_ones_only(cli: Cli) -> None:
    offered = cli.json("templates")
    ids = [t["id"] for t in offered]
    assert "json-import" in ids
    assert "csv-import" in ids
    assert "cloud-sync-setup" not in ids  # its source does not exist yet
    json_import = next(t for t in offered if t["id"] == "json-import")
    assert json_import["permissions"] == ["file-system"]
    assert json_import["sources"] == ["json"]
    human = cli("templates").stdout
    assert "csv-import" in human
    assert "file-system" in human


def test_include_deleted_is_an_option_every_importer_can_read(cli: Cli) -> None:
    path = str(cli.jsonl("notes.jsonl", NOTES))
    op = cli.json("ops", "queue", "json-import", path, "--allow", cli.allow, "--include-deleted",
                  "--option", "layout=lines")  # fmt: skip
    assert op["config"]["options"] == {"include_deleted": True, "layout": "lines"}
    plain = cli.json("ops", "queue", "json-import", path, "--allow", cli.allow)
    assert not plain["config"].get("options")


def test_import_of_json_lines_makes_nodes(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    path = cli.jsonl("notes.jsonl", NOTES)
    monkeypatch.chdir(cli.sources)  # relative source and grant, against the working folder
    op = cli.json("import", "json-import", "notes.jsonl", "--allow", "file-system=.")
    assert op["template"] == "json-import"
    assert op["state"] == "succeeded"
    assert op["progress"] == 1.0
    assert op["counts"]["read"] == 3
    assert op["counts"]["inserted"] == 3
    assert op["branch"] == f"import/{op['id']}"
    assert op["result"]["merge"] in ("fast-forward", "merged")
    assert op["sources"] == [str(path)]
    assert op["error"] is None
    assert names(cli) == ["Call Ana", "Groceries", "Lisbon trip"]
    task = cli.json("show", str(node_id_for("json", f"{path}#n3")))
    assert task["node_type"] == "task"
    assert task["due_at"] == "2025-03-01T09:00:00Z"


def test_import_human_output_names_state_counts_and_merge(cli: Cli) -> None:
    path = cli.jsonl("notes.jsonl", NOTES)
    out = cli("import", "json-import", str(path), "--allow", cli.allow).stdout
    assert "succeeded" in out
    assert "3 read: 3 inserted, 0 updated, 0 unchanged, 0 quarantined" in out
    assert "import/" in out
    assert "main" in out


def test_import_without_a_grant_fails_with_one_line_naming_it(cli: Cli) -> None:
    path = cli.jsonl("notes.jsonl", NOTES)
    result = cli("import", "json-import", str(path), code=1)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "file-system" in lines[0]
    assert "--allow file-system=" in lines[0]
    assert cli.json("nodes") == []
    [op] = cli.json("ops", "list")
    assert op["state"] == "failed"
    assert op["counts"]["read"] == 0


def test_a_source_outside_the_grant_is_refused(cli: Cli, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text(json.dumps(NOTES[0]) + "\n")
    result = cli("import", "json-import", str(outside), "--allow", cli.allow, code=1)
    assert "outside this operation's grants" in result.stderr
    assert result.stderr.count("\n") == 1
    assert cli.json("nodes") == []


def test_a_malformed_record_goes_to_quarantine(cli: Cli) -> None:
    more = [json.dumps({"title": f"Note {i}"}) for i in range(8)]
    path = cli.jsonl("notes.jsonl", NOTES, '{"id": "n4", "title": "cut off', *more)
    op = cli.import_(path)
    assert op["state"] == "partially-succeeded"
    assert op["counts"]["quarantined"] == 1
    assert op["counts"]["inserted"] == 11
    [entry] = cli.json("quarantine")
    assert entry["operation"] == op["id"]
    assert entry["locator"]["file"] == str(path)
    assert entry["locator"]["line"] == 4
    assert '"cut off' in entry["raw"]
    assert "not valid JSON" in entry["reason"]
    assert cli.json("quarantine", "--op", op["id"]) == [entry]
    human = cli("quarantine").stdout
    assert "notes.jsonl" in human
    assert "line 4" in human
    # A partial success exits 0 and says where the record went.
    again = cli("import", "json-import", str(path), "--allow", cli.allow).stdout
    assert "quarantine --op" in again


def test_too_many_bad_records_fail_the_operation(cli: Cli) -> None:
    path = cli.jsonl("bad.jsonl", NOTES[:1], "not json", "nor this")
    op = cli.import_(path, code=1)
    assert op["state"] == "failed"
    assert "maximum error rate" in op["error"]
    result = cli("import", "json-import", str(path), "--allow", cli.allow, code=1)
    assert result.stderr.count("\n") == 1
    assert "maximum error rate" in result.stderr
    assert cli.import_(path, "--max-error-rate", "0.9")["state"] == "partially-succeeded"


def test_reimport_of_the_same_file_changes_nothing(cli: Cli) -> None:
    path = cli.jsonl("notes.jsonl", NOTES)
    cli.import_(path)
    before = cli.json("nodes")
    again = cli.import_(path)
    assert again["state"] == "succeeded"
    assert again["counts"]["read"] == 3
    assert again["counts"]["unchanged"] == 3
    assert again["counts"]["inserted"] == 0
    assert again["counts"]["updated"] == 0
    assert cli.json("nodes") == before
    edited = cli.jsonl("notes.jsonl", [{**NOTES[0], "title": "Lisbon, March"}, *NOTES[1:]])
    third = cli.import_(edited)
    assert (third["counts"]["updated"], third["counts"]["unchanged"]) == (1, 2)
    assert "Lisbon, March" in names(cli)


def test_configuration_options_reach_the_operation(cli: Cli) -> None:
    path = cli.jsonl("notes.jsonl", NOTES)
    op = cli.import_(
        path, "--batch-size", "50", "--no-dedup", "--branch-strategy", "temporary",
        "--max-error-rate", "0.2", "--timeout", "60", "--option", "layout=lines",
        "--option", "dayfirst=Yes", "--include", "*.jsonl",
    )  # fmt: skip
    config = op["config"]
    assert config["batch_size"] == 50
    assert config["deduplicate"] is False
    assert config["branch_strategy"] == "temporary"
    assert config["max_error_rate"] == 0.2
    assert config["timeout_seconds"] == 60
    assert config["options"] == {"layout": "lines", "dayfirst": True}
    assert config["include"] == ["*.jsonl"]
    assert op["result"]["branch_deleted"] is True
    assert op["branch"] not in [b["name"] for b in cli.json("branches")]


def test_manual_merge_leaves_the_branch_for_review(cli: Cli) -> None:
    path = cli.jsonl("notes.jsonl", NOTES)
    op = cli.import_(path, "--post-execution", "manual-merge")
    assert op["state"] == "succeeded"
    assert op["result"]["merge"] == "awaiting review"
    assert cli.json("nodes") == []
    assert len(cli.json("nodes", "--at", op["branch"])) == 3
    out = cli("ops", "show", op["id"]).stdout
    assert f"isometry merge {op['branch']} --into main" in out


def test_usage_errors_exit_2(cli: Cli) -> None:
    path = str(cli.jsonl("notes.jsonl", NOTES))
    cli("import", "json-import", path, "--allow", "file-system", code=2)
    cli("import", "json-import", path, "--batch-size", "10", code=2)
    cli("import", "json-import", path, "--option", "novalue", code=2)
    cli("import", "json-import", code=2)
    cli("lineage", code=2)
    cli("lineage", "some-node", "--op", "abcd", code=2)
    cli("grant", "file-system", code=2)
    cli("ops", "resume", code=2)


def test_engine_errors_are_one_line_exit_1(cli: Cli) -> None:
    """(A bad option value is a usage error instead: see test_cli_usage.py.)"""
    path = str(cli.jsonl("notes.jsonl", NOTES))
    for args in (
        ("import", "cloud-sync-setup", path, "--allow", cli.allow),
        ("ops", "show", "nope"),
        ("ops", "cancel", "nope"),
    ):
        result = cli(*args, code=1)
        assert result.stderr.startswith("error: "), args
        assert result.stderr.count("\n") == 1, args
    assert (
        "no template 'cloud-sync-setup' is offered"
        in cli("import", "cloud-sync-setup", path, code=1).stderr
    )
    assert cli.json("ops", "list") == []


def test_an_interrupted_import_says_how_to_resume(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, on_progress: Any = None, **kwargs: object) -> None:
        on_progress(Progress("0123456789ab", "loading", 10, 100, {}))
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "import_", interrupted)
    path = cli.jsonl("notes.jsonl", NOTES)
    result = cli("import", "json-import", str(path), "--allow", cli.allow, code=1)
    assert result.stderr == (
        "error: interrupted; continue with 'isometry ops resume 0123456789ab'\n"
    )


# -- merge conflicts: exit 3 ----------------------------------------------------------------


def test_an_import_whose_merge_stops_on_conflicts_exits_3(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Main changes the node while the import runs on its branch: the merge conflicts."""
    path = cli.jsonl("notes.jsonl", NOTES)
    key = str(node_id_for("json", f"{path}#n1"))

    @contextmanager
    def edit_main_meanwhile(run: object) -> Iterator[Any]:
        def sink(report: Progress) -> None:
            if report.phase == "extracting":
                edit = parse_op({"op": "upsert", "node": {"id": key, "name": "Edited on main"}})
                with api.open_repository(cli.repo, clock=SystemClock()) as repo:
                    api.apply(repo, [edit], branch="main", message="meanwhile", author="tester")

        yield sink

    monkeypatch.setattr(engine, "live_progress", edit_main_meanwhile)
    result = cli("import", "json-import", str(path), "--allow", cli.allow, "--json", code=3)
    op = json.loads(result.stdout)
    assert op["state"] == "partially-succeeded"
    assert op["result"]["merge"] == "conflicts"
    assert op["result"]["conflicts"] >= 1
    assert result.stderr == ""
    assert {c["id"] for c in cli.json("conflicts")} == {key}


# -- ops --------------------------------------------------------------------------------------


def test_ops_list_json_and_table(cli: Cli) -> None:
    first = cli.import_(cli.jsonl("a.jsonl", NOTES[:2]))
    second = cli.import_(cli.jsonl("b.jsonl", NOTES[2:]))
    listed = cli.json("ops", "list")
    assert [op["id"] for op in listed] == [first["id"], second["id"]]
    for op in listed:
        assert {"id", "template", "state", "progress", "counts", "created_at"} <= set(op)
        assert op["state"] == "succeeded"
        assert op["progress"] == 1.0
    table = cli("ops", "list").stdout
    assert first["id"] in table
    assert "100%" in table
    assert "2 operation(s)" in table
    shown = cli.json("ops", "show", first["id"][:6])
    assert shown == listed[0]
    human = cli("ops", "show", first["id"]).stdout
    assert "a.jsonl" in human
    assert "succeeded" in human


def test_ops_queue_then_run(cli: Cli) -> None:
    queued = [
        cli.json("ops", "queue", "json-import", str(cli.jsonl(f"{n}.jsonl", [note])),
                 "--allow", cli.allow)
        for n, note in enumerate(NOTES)
    ]  # fmt: skip
    assert {op["state"] for op in queued} == {"queued"}
    assert cli.json("nodes") == []
    human = cli("ops", "queue", "json-import", str(cli.sources / "0.jsonl"), "--allow", cli.allow)
    assert "Queued" in human.stdout
    ran = cli.json("ops", "run", "--max-concurrent", "2")
    assert len(ran) == 4
    assert {op["state"] for op in ran} == {"succeeded"}
    assert names(cli) == ["Call Ana", "Groceries", "Lisbon trip"]
    assert "No operations were queued." in cli("ops", "run").stdout


def test_ops_cancel_of_a_queued_operation(cli: Cli) -> None:
    path = cli.jsonl("notes.jsonl", NOTES)
    op = cli.json("ops", "queue", "json-import", str(path), "--allow", cli.allow)
    cancelled = cli.json("ops", "cancel", op["id"])
    assert cancelled["state"] == "cancelled"
    assert cli.json("ops", "run") == []
    assert cli.json("nodes") == []
    again = cli("ops", "cancel", op["id"], code=1)
    assert "cannot be cancelled" in again.stderr
    resumed = cli("ops", "resume", op["id"], code=1)
    assert resumed.stderr.count("\n") == 1


def test_ops_log_is_json_lines(cli: Cli) -> None:
    op = cli.import_(cli.jsonl("notes.jsonl", NOTES))
    entries = cli.json("ops", "log", op["id"])
    events = [entry["event"] for entry in entries]
    assert events[0] == "started"
    assert "prepared" in events
    assert events[-1] == "succeeded"
    lines = cli("ops", "log", op["id"]).stdout.splitlines()
    assert [json.loads(line) for line in lines] == entries


def test_ops_resume_continues_an_interrupted_operation(cli: Cli) -> None:
    """An operation whose process died while running is shown interrupted and resumes."""
    path = cli.jsonl("notes.jsonl", NOTES)
    queued = cli.json("ops", "queue", "json-import", str(path), "--allow", cli.allow)
    with api.open_repository(cli.repo, clock=SystemClock()) as repo, repo.db.transaction() as conn:
        move(conn, queued["id"], State.QUEUED, State.RUNNING)
        etl_operations.update(
            conn, queued["id"], lease_owner="elsewhere:1:dead", lease_until="2000-01-01T00:00:00Z"
        )
    [shown] = cli.json("ops", "list")
    assert shown["state"] == "interrupted"
    assert "ops resume" in cli("ops", "show", queued["id"]).stdout
    resumed = cli.json("ops", "resume", queued["id"])
    assert resumed["state"] == "succeeded"
    assert resumed["counts"]["inserted"] == 3
    assert "resumed" in [e["event"] for e in cli.json("ops", "log", queued["id"])]


# -- lineage, metrics, grant ------------------------------------------------------------------


def test_lineage_of_a_node_an_operation_and_a_source(cli: Cli) -> None:
    path = cli.jsonl("notes.jsonl", NOTES)
    first = cli.import_(path)
    cli.jsonl("notes.jsonl", [{**NOTES[0], "body": "Alfama, Belém, Sintra"}, *NOTES[1:]])
    second = cli.import_(path)
    key = str(node_id_for("json", f"{path}#n1"))
    history = cli.json("lineage", key)
    assert [h["change"] for h in history] == ["update", "insert"]
    assert [h["operation"] for h in history] == [second["id"], first["id"]]
    assert history[1]["locator"]["file"] == str(path)
    assert history[1]["locator"]["record"] == "n1"
    assert history[1]["template"] == "json-import"
    assert history[1]["commit"] in first["commits"]
    by_op = cli.json("lineage", "--op", first["id"])
    assert sorted(h["id"] for h in by_op) == sorted(
        str(node_id_for("json", f"{path}#{n['id']}")) for n in NOTES
    )
    by_source = cli.json("lineage", "--source", str(path))
    assert len(by_source) == 4
    assert by_source[0]["operation"] == second["id"]  # newest first
    assert len(cli.json("lineage", "--source", str(path), "--limit", "2")) == 2
    human = cli("lineage", key).stdout
    assert "update" in human
    assert "notes.jsonl" in human
    assert first["id"] in human
    assert key in cli("lineage", "--op", first["id"]).stdout
    assert "no node or edge 'no-such-node'" in cli("lineage", "no-such-node", code=1).stderr


def test_metrics_json_and_table(cli: Cli) -> None:
    op = cli.import_(cli.jsonl("notes.jsonl", NOTES))
    found = cli.json("metrics")
    assert found["operations"] == 1
    assert found["items"] == 3
    assert found["by_state"] == {"succeeded": 1}
    assert [h["id"] for h in found["history"]] == [op["id"]]
    human = cli("metrics").stdout
    assert "throughput" in human
    assert op["id"] in human


def test_grant_then_import_without_allow(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    path = cli.jsonl("notes.jsonl", NOTES)
    assert cli.json("grant") == {}
    assert "No standing grants" in cli("grant").stdout
    monkeypatch.chdir(cli.root)
    granted = cli.json("grant", "file-system=src")
    assert granted == {"file-system": [str(cli.sources)]}
    assert cli.json("grant") == granted
    assert str(cli.sources) in cli("grant").stdout
    op = cli.json("import", "json-import", str(path))
    assert op["state"] == "succeeded"
    assert len(cli.json("nodes")) == 3


# -- the live progress display ---------------------------------------------------------------


def test_live_progress_draws_one_bar_per_operation() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with LiveProgress(console) as sink:
        sink(Progress("op-a", "scanning", 0, 0, {}))
        sink(Progress("op-a", "loading", 500, 1000, {"read": 500}))
        sink(Progress("op-b", "preparing", 0, 0, {}))
        tasks = sink.display.tasks
        assert [t.fields["op"] for t in tasks] == ["op-a", "op-b"]
        assert (tasks[0].completed, tasks[0].total, tasks[0].fields["phase"]) == (
            500,
            1000,
            "loading",
        )
        assert tasks[1].total is None
        sink.display.refresh()
    assert "op-a" in out.getvalue()


# -- the real command in a subprocess ---------------------------------------------------------


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "isometry", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "ISOMETRY_REPO": str(cwd / "repo"), "ISOMETRY_AUTHOR": "sub"},
    )


def test_subprocess_import_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "notes.jsonl").write_text("".join(json.dumps(n) + "\n" for n in NOTES))
    assert run_module("init", cwd=tmp_path).returncode == 0
    refused = run_module("import", "json-import", "notes.jsonl", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("error: operation ")
    assert "--allow file-system=PATH" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = run_module(
        "import", "json-import", "notes.jsonl", "--allow", "file-system=.", "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout)["counts"]["inserted"] == 3
    listed = run_module("ops", "list", "--json", cwd=tmp_path)
    assert [op["state"] for op in json.loads(listed.stdout)] == ["failed", "succeeded"]
    assert run_module("ops", "no-such-command", cwd=tmp_path).returncode == 2
