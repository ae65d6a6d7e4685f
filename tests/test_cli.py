"""The ``isometry`` command as a user meets it: arguments, output, exit codes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clitool import CliTool
from isometry import api
from isometry.cli import main as cli_main

runner = CliRunner()


def node(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"op": "upsert", "node": {"id": node_id, **fields}}


def patch(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"op": "patch", "node": {"id": node_id, **fields}}


class Cli(CliTool):
    """Runs ``isometry ARGS --repo REPO`` in-process and keeps the files it writes apart."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.files = 0

    def write(self, *lines: Mapping[str, Any] | str) -> str:
        self.files += 1
        path = self.root / f"ops{self.files}.jsonl"
        path.write_text(
            "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
        )
        return str(path)

    def apply(self, *lines: Mapping[str, Any], branch: str = "main", message: str = "m") -> str:
        out = self.json("apply", self.write(*lines), "--branch", branch, "-m", message)
        commit: str = out["commit"]
        return commit


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    tool = Cli(tmp_path)
    tool("init")
    return tool


@pytest.fixture
def diverged(cli: Cli) -> Cli:
    """main and branch 'side' both changed the name, status and priority of node 'n1'."""
    cli.apply(node("n1", name="Base", status="todo", priority=1, node_type="task"), node("n2"))
    cli("branch", "side")
    cli.apply(patch("n1", name="Side", status="doing", priority=2), branch="side")
    cli.apply(patch("n1", name="Main", status="done", priority=3))
    return cli


def run_module(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess: separate stdout and stderr, real exit codes."""
    return subprocess.run(
        [sys.executable, "-m", "isometry", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


# -- init, apply, log ---------------------------------------------------------------------


def test_init_creates_a_repository_once(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    out = cli.json("init")
    assert out["branch"] == "main"
    assert (cli.repo / "isometry.db").is_file()
    again = cli("init", code=1)
    assert again.stderr.startswith("error: ")
    assert "already" in again.stderr


def test_apply_commits_and_log_json_has_the_commit_fields(cli: Cli) -> None:
    path = cli.write(
        node("a", name="Alpha", tags=["x"]),
        node("b", name="Beta"),
        {
            "op": "upsert",
            "edge": {"id": "e1", "edge_type": "LINK", "source_id": "a", "target_id": "b"},
        },
    )
    out = cli.json("apply", path, "-m", "first", "--author", "ada")
    assert out["changes"] == 3
    assert len(out["commit"]) == 64
    log = cli.json("log")
    assert [c["message"] for c in log] == ["first", "Initial commit"]
    assert {"id", "parents", "author", "message", "time", "root", "metadata"} <= set(log[0])
    assert log[0]["id"] == out["commit"]
    assert log[0]["author"] == "ada"
    assert log[0]["parents"] == [log[1]["id"]]
    assert cli.json("log", "--limit", "1")[0]["id"] == out["commit"]
    cli.apply(patch("a", name="A"), {"op": "delete", "node": "b"}, {"op": "delete", "edge": "e1"})
    assert [n["id"] for n in cli.json("nodes")] == ["a"]
    assert cli.json("edges") == []
    human = cli("log").stdout
    assert "first" in human
    assert out["commit"][:12] in human


def test_apply_without_changes_makes_no_commit(cli: Cli) -> None:
    first = cli.apply(node("a", name="Alpha"))
    again = cli.json("apply", cli.write(node("a", name="Alpha")))
    assert again == {"commit": first, "changes": 0}


def test_an_invalid_line_rejects_the_whole_file(cli: Cli) -> None:
    path = cli.write(node("a", name="Alpha"), node("b", name="Beta"), '{"op": "upsert", "node": ')
    result = cli("apply", path, code=1)
    assert result.stderr.startswith("error: ")
    assert f"{path}:3:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
    assert [c["message"] for c in cli.json("log")] == ["Initial commit"]
    assert cli.json("nodes") == []
    bad_field = cli("apply", cli.write(node("a", colour="red")), code=1)
    assert ":1:" in bad_field.stderr
    assert "colour" in bad_field.stderr


def test_a_missing_file_is_one_line_naming_it(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.jsonl"
    result = cli("apply", str(missing), code=1)
    assert result.stderr.count("\n") == 1
    assert str(missing) in result.stderr


# -- branches, tags, reset ----------------------------------------------------------------


def test_branch_create_list_delete(cli: Cli) -> None:
    head = cli.apply(node("a"))
    assert cli.json("branch", "feature") == {"branch": "feature", "commit": head}
    listed = cli.json("branches")
    assert [(b["name"], b["commit"]) for b in listed] == [("feature", head), ("main", head)]
    cli("branch", "feature", code=1)
    cli("branch", "old", "--from", "main~1")
    assert cli.json("branch", "--delete", "feature")["deleted"] == "feature"
    assert [b["name"] for b in cli.json("branches")] == ["main", "old"]
    gone = cli("branch", "--delete", "feature", code=1)
    assert gone.stderr == "error: branch 'feature' does not exist\n"
    cli("branch", "--delete", "main", code=1)
    assert "feature" not in cli("branches").stdout


def test_tags_cannot_be_created_twice(cli: Cli) -> None:
    head = cli.apply(node("a"))
    assert cli.json("tag", "v1") == {"tag": "v1", "commit": head}
    cli("tag", "v0", "main~1")
    again = cli("tag", "v1", code=1)
    assert again.stderr.startswith("error: ")
    assert "v1" in again.stderr
    assert [t["name"] for t in cli.json("tags")] == ["v0", "v1"]


def test_reset_moves_a_branch_and_main_tables_follow(cli: Cli) -> None:
    cli.apply(node("a"))
    cli("tag", "one")
    cli.apply(node("b"))
    out = cli.json("reset", "main", "one")
    assert out["branch"] == "main"
    assert [n["id"] for n in cli.json("nodes")] == ["a"]
    cli("reset", "main", "no-such-ref", code=1)


# -- reading ------------------------------------------------------------------------------


def test_nodes_at_a_tag_and_search(cli: Cli) -> None:
    cli.apply(node("a", name="Lisbon trip", folder="Travel"), node("b", name="Groceries"))
    cli("tag", "before")
    cli.apply(node("c", name="Lisbon hotel"), {"op": "delete", "node": "b"})
    assert [n["id"] for n in cli.json("nodes", "--at", "before")] == ["a", "b"]
    assert [n["id"] for n in cli.json("nodes")] == ["a", "c"]
    assert sorted(n["id"] for n in cli.json("nodes", "--search", "lisbon")) == ["a", "c"]
    assert cli.json("nodes", "--search", "groceries") == []
    assert len(cli.json("nodes", "--limit", "1")) == 1
    table = cli("nodes").stdout
    assert "Lisbon trip" in table
    assert "Travel" in table


def test_human_output_prints_brackets_in_data_as_they_are(cli: Cli) -> None:
    cli.apply(node("a", name="[bold]not markup[/bold]", properties={"[k]": "[v]"}))
    assert "[bold]not markup[/bold]" in cli("nodes").stdout
    shown = cli("show", "a").stdout
    assert "properties.[k]" in shown
    assert "[v]" in shown


def test_show_prints_every_field(cli: Cli) -> None:
    cli.apply(node("a", name="Alpha", status="todo", tags=["x", "y"], properties={"k": "v"}))
    out = cli.json("show", "a")
    assert out == {
        "kind": "node",
        "id": "a",
        "node_type": "note",
        "name": "Alpha",
        "status": "todo",
        "tags": ["x", "y"],
        "properties": {"k": "v"},
        "attachments": [],
    }
    human = cli("show", "a").stdout
    assert "properties.k" in human
    assert "todo" in human
    cli("show", "zzz", code=1)


def test_blame_names_the_commit_of_each_field(cli: Cli) -> None:
    first = cli.apply(node("a", name="Alpha", status="todo"), message="create")
    second = cli.apply(patch("a", status="done"), message="finish")
    lines = {line["field"]: line for line in cli.json("blame", "a")}
    assert lines["name"]["commit"] == first
    assert lines["status"]["commit"] == second
    assert lines["status"]["value"] == "done"
    assert lines["status"]["author"] == "tester"
    assert second[:12] in cli("blame", "a").stdout


# -- diff ---------------------------------------------------------------------------------


def test_diff_json_lists_added_removed_and_field_changes(cli: Cli) -> None:
    cli.apply(node("a", name="Alpha", status="todo"), node("b", name="Beta"))
    cli("tag", "v1")
    cli.apply(patch("a", status="done"), {"op": "delete", "node": "b"}, node("c", name="Gamma"))
    out = cli.json("diff", "v1", "main")
    assert [n["id"] for n in out["added"]] == ["c"]
    assert [n["id"] for n in out["removed"]] == ["b"]
    assert out["modified"] == [{"id": "a", "fields": {"status": {"from": "todo", "to": "done"}}}]
    assert out["summary"]["nodes"] == {"added": 1, "removed": 1, "modified": 1}
    assert set(out["edges"]) == {"added", "removed", "modified"}
    stat = cli.json("diff", "v1", "main", "--stat")
    assert "added" not in stat
    assert stat["summary"] == out["summary"]
    human = cli("diff", "v1", "main").stdout
    assert "status" in human
    assert "1 added, 1 removed, 1 modified" in human


# -- merging ------------------------------------------------------------------------------


def test_merge_fast_forward_and_up_to_date(cli: Cli) -> None:
    cli("branch", "side")
    head = cli.apply(node("a"), branch="side")
    out = cli.json("merge", "side", "--into", "main")
    assert out["status"] == "fast-forward"
    assert out["commit"] == head
    assert cli.json("merge", "side")["status"] == "up-to-date"


def test_merge_without_conflicts_makes_a_merge_commit(cli: Cli) -> None:
    cli.apply(node("a", name="A", status="todo"))
    cli("branch", "side")
    side = cli.apply(patch("a", status="done"), branch="side")
    main = cli.apply(patch("a", name="Renamed"))
    out = cli.json("merge", "side", "--into", "main", "-m", "bring side in")
    assert out["status"] == "merged"
    assert out["conflicts"] == []
    merged = cli.json("show-commit", out["commit"])
    assert merged["parents"] == [main, side]
    assert merged["message"] == "bring side in"
    shown = cli.json("show", "a")
    assert (shown["name"], shown["status"]) == ("Renamed", "done")


def test_merge_no_ff_records_a_merge_commit(cli: Cli) -> None:
    cli("branch", "side")
    cli.apply(node("a"), branch="side")
    out = cli.json("merge", "side", "--no-ff")
    assert out["status"] == "merged"
    assert len(cli.json("show-commit", "main")["parents"]) == 2


def test_merge_conflicts_resolve_and_continue(diverged: Cli) -> None:
    cli = diverged
    stopped = cli.json("merge", "side", "--into", "main", code=3)
    assert stopped["status"] == "conflicts"
    assert stopped["commit"] is None
    fields = {c["field"]: c for c in stopped["conflicts"]}
    assert set(fields) == {"name", "priority", "status"}
    assert fields["name"] == {
        "branch": "main",
        "kind": "node",
        "id": "n1",
        "field": "name",
        "base": "Base",
        "ours": "Main",
        "theirs": "Side",
        "resolved": False,
        "resolution": None,
    }
    assert len(cli.json("conflicts")) == 3
    assert "n1" in cli("conflicts").stdout
    assert [b["pending_merge"] for b in cli.json("branches")] == [True, False]
    blocked = cli("apply", cli.write(node("x")), code=1)
    assert "merge" in blocked.stderr
    unresolved = cli("merge", "--continue", code=3)
    assert unresolved.stderr.startswith("error: 3 conflict(s) are still unresolved")
    left = cli.json("resolve", "n1", "--field", "name", "--ours")
    assert left["open"] == 2
    cli("resolve", "n1", "--field", "status", "--theirs")
    done = cli.json("resolve", "n1", "--field", "priority", "--value", "7", "--into", "main")
    assert done["open"] == 0
    merged = cli.json("merge", "--continue")
    assert merged["status"] == "merged"
    shown = cli.json("show", "n1")
    assert (shown["name"], shown["status"], shown["priority"]) == ("Main", "doing", 7)
    assert len(cli.json("show-commit", "main")["parents"]) == 2
    assert cli.json("conflicts") == []
    cli("merge", "--continue", code=1)


def test_merge_abort_leaves_the_branch_alone(diverged: Cli) -> None:
    cli = diverged
    before = cli.json("show-commit", "main")["id"]
    cli("merge", "side", code=3)
    out = cli.json("merge", "--abort", "--into", "main")
    assert out == {"status": "aborted", "branch": "main"}
    assert cli.json("show-commit", "main")["id"] == before
    assert cli.json("conflicts") == []
    assert cli.json("show", "n1")["name"] == "Main"


def test_merge_strategies_settle_conflicts(diverged: Cli) -> None:
    cli = diverged
    out = cli.json(
        "merge",
        "side",
        "--strategy",
        "prefer-source",
        "--field-strategy",
        "name=prefer-target",
        "--type-strategy",
        "note=manual",
    )
    assert out["status"] == "merged"
    shown = cli.json("show", "n1")
    assert (shown["name"], shown["status"], shown["priority"]) == ("Main", "doing", 2)


def test_merge_usage_errors_exit_2(diverged: Cli) -> None:
    cli = diverged
    assert "strategy" in cli("merge", "side", "--strategy", "coin-toss", code=2).stderr
    cli("merge", "side", "--type-strategy", "task", code=2)
    cli("merge", code=2)
    cli("merge", "side", "--continue", code=2)
    cli("merge", "nowhere", code=1)


def test_resolve_needs_exactly_one_choice_and_json_values(diverged: Cli) -> None:
    cli = diverged
    cli("merge", "side", code=3)
    cli("resolve", "n1", "--field", "name", code=2)
    cli("resolve", "n1", "--field", "name", "--ours", "--theirs", code=2)
    bare = cli("resolve", "n1", "--field", "name", "--value", "Both", code=2)
    assert "--value" in bare.stderr
    assert "JSON" in bare.stderr
    cli("resolve", "n1", "--field", "name", "--value", '"Both"')
    cli("resolve", "nobody", "--ours", code=1)
    assert {c["field"]: c["resolution"] for c in cli.json("conflicts")}["name"] == "Both"


def test_revert_undoes_a_commit_and_stops_on_conflicts(cli: Cli) -> None:
    cli.apply(node("a", status="todo"), node("b"))
    delete = cli.apply({"op": "delete", "node": "b"})
    out = cli.json("revert", delete[:12])
    assert out["status"] == "merged"
    assert [n["id"] for n in cli.json("nodes")] == ["a", "b"]
    first = cli.apply(patch("a", status="doing"))
    cli.apply(patch("a", status="done"))
    stopped = cli.json("revert", first, "--branch", "main", code=3)
    assert stopped["status"] == "conflicts"
    cli("resolve", "a", "--theirs")
    assert cli.json("merge", "--continue")["status"] == "merged"
    assert cli.json("show", "a")["status"] == "todo"


# -- maintenance --------------------------------------------------------------------------


def test_gc_and_fsck_on_a_clean_repository(cli: Cli) -> None:
    cli.apply(node("a"))
    cli.apply(node("b"))
    cli("reset", "main", "main~1")
    kept = cli.json("gc")
    assert kept["commits_removed"] == 0
    removed = cli.json("gc", "--keep-days", "0", "--vacuum")
    assert removed["commits_removed"] == 1
    report = cli.json("fsck")
    assert report["ok"] is True
    assert report["problems"] == []
    assert "OK" in cli("fsck").stdout


def test_fsck_reports_problems_with_exit_1_and_repairs(cli: Cli) -> None:
    cli.apply(node("a", name="Alpha"))
    with sqlite3.connect(cli.repo / "isometry.db") as conn:
        conn.execute("UPDATE nodes SET name = 'tampered' WHERE id = 'a'")
    conn.close()
    broken = cli("fsck", code=1)
    assert "a differs" in broken.stdout
    assert cli.json("fsck", "--repair", code=1)["repaired"] is True
    cli("fsck")
    assert cli.json("show", "a")["name"] == "Alpha"


# -- repository location, errors, output --------------------------------------------------


def test_isometry_repo_environment_variable_is_used(tmp_path: Path) -> None:
    repo = tmp_path / "from-env"
    env = {"ISOMETRY_REPO": str(repo), "ISOMETRY_AUTHOR": "env-author"}
    assert runner.invoke(cli_main.app, ["init"], env=env).exit_code == 0
    result = runner.invoke(cli_main.app, ["log", "--json"], env=env)
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["author"] == "env-author"
    other = tmp_path / "explicit"
    result = runner.invoke(cli_main.app, ["log", "--repo", str(other)], env=env)
    assert result.exit_code == 1
    assert str(other) in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    missing = str(tmp_path / "none")
    quiet = runner.invoke(cli_main.app, ["log", "--repo", missing])
    assert "Traceback" not in quiet.stderr
    loud = runner.invoke(cli_main.app, ["log", "--repo", missing, "--debug"])
    assert loud.exit_code == 1
    assert "Traceback" in loud.stderr
    assert "error: " in loud.stderr


def test_unexpected_errors_are_one_line_internal_errors(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "log", boom)
    result = cli("log", code=1)
    assert result.stderr.startswith("error: internal error: RuntimeError: boom")
    assert result.stderr.count("\n") == 1


def test_subprocess_missing_repository_is_one_line_exit_1(tmp_path: Path) -> None:
    done = run_module("log", "--repo", str(tmp_path / "absent"))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_subprocess_usage_error_exits_2(tmp_path: Path) -> None:
    assert run_module("log", "--no-such-option").returncode == 2
    assert run_module("no-such-command").returncode == 2
    assert run_module("diff", "only-one", "--repo", str(tmp_path)).returncode == 2


def test_subprocess_json_is_one_document_on_stdout(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    env = {"ISOMETRY_REPO": repo, "ISOMETRY_AUTHOR": "sub"}
    assert run_module("init", "--json", env=env).returncode == 0
    ops = tmp_path / "ops.jsonl"
    ops.write_text(json.dumps(node("a", name="A")) + "\n")
    applied = run_module("apply", str(ops), "--json", "-m", "add a", env=env)
    assert applied.returncode == 0
    assert json.loads(applied.stdout)["changes"] == 1
    logged = run_module("log", "--json", "--repo", repo)
    assert logged.returncode == 0
    assert logged.stderr == ""
    assert [c["author"] for c in json.loads(logged.stdout)] == ["sub", "sub"]
    failed = run_module("show", "nothing", "--json", "--repo", repo)
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.startswith("error: ")
