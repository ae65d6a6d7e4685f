"""Importer options as a user meets them: each template says which it takes, every value is
read the same way, and an option a template does not take, or a value it cannot use, is
refused before any operation is made; on real files, a real repository and the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from clitool import CliTool
from isometry import api
from isometry.errors import InvalidOption
from isometry.etl import operations as etl_operations
from isometry.etl import templates
from isometry.etl.config import OperationConfig
from isometry.etl.executor import Executor, Progress
from isometry.etl.states import State
from isometry.sources import registry
from isometry.sources.base import options_of
from isometry.vcs.repository import Repository

CSV = "title,due\nPay rent,01/05/2024\n"


class Cli(CliTool):
    """``isometry ARGS --repo REPO`` in-process, with sources in ``root/src``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.sources = root / "src"
        self.sources.mkdir()

    def write(self, name: str, text: str) -> str:
        path = self.sources / name
        path.write_text(text)
        return str(path)

    def import_(self, template: str, source: str, *options: str, code: int = 0) -> Any:
        given = [arg for option in options for arg in ("--option", option)]
        allow = f"file-system={self.sources}"
        return self.json("import", template, source, "--allow", allow, *given, code=code)

    def refused(self, template: str, source: str, *options: str) -> str:
        """The usage error of ``import`` and of ``ops queue`` alike; nothing is made."""
        given = [arg for option in options for arg in ("--option", option)]
        allow = f"file-system={self.sources}"
        for command in (("import",), ("ops", "queue")):
            result = self(*command, template, source, "--allow", allow, *given, code=2)
        assert self.json("ops", "list") == []
        return " ".join(result.stderr.replace("│", " ").split())


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    tool = Cli(tmp_path)
    tool("init")
    return tool


def workbook(path: Path) -> str:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Chores"
    sheet.append(["title", "due"])
    sheet.append(["Pay rent", "2024-06-01"])
    sheet.append(["Water plants", "2024-06-02"])
    book.save(path)
    return str(path)


# -- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "True", "YES", "on", "1"])
def test_rows_as_nodes_is_on_however_it_is_written(cli: Cli, value: str) -> None:
    book = workbook(cli.sources / "chores.xlsx")
    op = cli.import_("bulk-office-import", book, f"rows_as_nodes={value}")
    assert op["config"]["options"] == {"rows_as_nodes": True}
    assert sorted(n["name"] for n in cli.json("nodes")) == [
        "Pay rent",
        "Water plants",
        "chores / Chores",
    ]


@pytest.mark.parametrize("value", ["false", "No", "OFF", "0"])
def test_rows_as_nodes_is_off_however_it_is_written(cli: Cli, value: str) -> None:
    book = workbook(cli.sources / "chores.xlsx")
    op = cli.import_("bulk-office-import", book, f"rows_as_nodes={value}")
    assert op["config"]["options"] == {"rows_as_nodes": False}
    assert [n["name"] for n in cli.json("nodes")] == ["chores / Chores"]


def test_dayfirst_yes_reads_dates_day_first(cli: Cli) -> None:
    cli.import_("csv-import", cli.write("tasks.csv", CSV), "dayfirst=yes")
    [node] = cli.json("nodes")
    assert node["due_at"] == "2024-05-01T00:00:00Z"


def test_choices_and_delimiters_are_kept_as_read(cli: Cli) -> None:
    source = cli.write("tasks.csv", "title;due\nPay rent;2024-05-01\n")
    op = cli.import_("csv-import", source, "delimiter=semicolon", "encoding=Latin-1")
    assert op["config"]["options"] == {"delimiter": ";", "encoding": "iso8859-1"}
    assert [n["name"] for n in cli.json("nodes")] == ["Pay rent"]
    notes = cli.write("notes.json", '{"title": "One"}\n{"title": "Two"}\n')
    op = cli.import_("json-import", notes, "layout=Lines")
    assert op["config"]["options"] == {"layout": "lines"}
    assert op["counts"]["inserted"] == 2


def test_a_value_is_text_even_when_it_looks_like_json(cli: Cli) -> None:
    enex = cli.write("export.enex", '<?xml version="1.0"?><en-export></en-export>')
    op = cli.import_("evernote-import", enex, "notebook=2024", "tag_separator=null")
    assert op["config"]["options"] == {"notebook": "2024", "tag_separator": "null"}


# -- refused before anything is made ----------------------------------------------------------


def test_a_misspelled_option_is_refused_with_the_one_meant(cli: Cli) -> None:
    message = cli.refused("csv-import", cli.write("tasks.csv", CSV), "delimter=;")
    assert "csv-import has no option 'delimter' (did you mean 'delimiter'?)" in message
    assert "delimiter, encoding, dayfirst, include_hidden, include_deleted" in message


def test_an_option_of_another_importer_is_refused(cli: Cli) -> None:
    notes = cli.write("notes.jsonl", '{"title": "One"}\n')
    message = cli.refused("json-import", notes, "encoding=cp1252")
    assert "json-import has no option 'encoding'" in message
    assert "layout, dayfirst, include_hidden, include_deleted" in message
    assert "no option 'nosuch';" in cli.refused("json-import", notes, "nosuch=1")


@pytest.mark.parametrize(
    ("template", "option", "expected"),
    [
        ("csv-import", "dayfirst=maybe", "dayfirst='maybe': give true or false"),
        ("json-import", "layout=line", "layout='line': give lines or document (did you mean"),
        ("csv-import", "delimiter=;;", "delimiter=';;': give one character"),
        ("csv-import", "encoding=klingon", "encoding='klingon': give the name of an encoding"),
        ("csv-import", "encoding=base64", "encoding='base64': give the name of an encoding"),
        ("sqlite-database-import", "tables=[1]", "tables='[1]': tables must be a list"),
    ],
)
def test_a_value_the_importer_cannot_use_is_refused(
    cli: Cli, template: str, option: str, expected: str
) -> None:
    source = cli.write("tasks.csv" if template != "json-import" else "notes.jsonl", CSV)
    assert expected in cli.refused(template, source, option)


def test_the_api_refuses_the_same_and_keeps_what_it_reads(repo: Repository, tmp_path: Path) -> None:
    source = tmp_path / "tasks.csv"
    source.write_text(CSV)

    def create(options: dict[str, Any]) -> etl_operations.Operation:
        return api.create_operation(repo, "csv-import", [source], base=tmp_path,
                                    config={"options": options})  # fmt: skip

    with pytest.raises(InvalidOption, match="no option 'nosuch'"):
        create({"nosuch": True})
    with pytest.raises(InvalidOption, match=r"dayfirst=2"):
        create({"dayfirst": 2})
    with pytest.raises(InvalidOption, match="an object"):
        api.create_operation(repo, "csv-import", [source], base=tmp_path,
                             config={"options": ["dayfirst"]})  # fmt: skip
    assert api.operations(repo) == []
    assert create({"dayfirst": "On", "include_hidden": 0}).config.options == {
        "dayfirst": True,
        "include_hidden": False,
    }


def test_an_operation_stored_before_options_were_checked_still_resumes(
    repo: Repository, tmp_path: Path
) -> None:
    """Options kept as an older version kept them (unknown keys, values as typed) load, and
    the operation is interrupted and resumed reading them as it did then: text where a flag
    is wanted is off."""
    source = tmp_path / "tasks.csv"
    source.write_text("title,due\n" + "".join(f"Task {i},01/05/2024\n" for i in range(120)))
    config = OperationConfig(batch_size=50, options={"depth": 2, "dayfirst": "yes"})
    with repo.db.transaction() as conn:
        op = etl_operations.create(conn, template="csv-import", config=config,
                                   sources=[str(source)], now=repo.now(),
                                   grants={"file-system": [str(tmp_path)]})  # fmt: skip
    batches: list[int] = []

    def sink(progress: Progress) -> None:
        if progress.phase == "loading":
            batches.append(progress.done)

    stopped = Executor(repo, author="alice", on_progress=sink,
                       should_stop=lambda: len(batches) >= 1).run(op.id)  # fmt: skip
    assert stopped.state is State.INTERRUPTED
    assert 0 < stopped.counts["read"] < 120
    done = api.run_operation(repo, op.id, author="alice")
    assert done.state is State.SUCCEEDED
    assert done.counts["inserted"] == 120
    assert done.config.options == {"depth": 2, "dayfirst": "yes"}
    assert {node["due_at"] for node in api.nodes(repo)} == {"2024-01-05T00:00:00Z"}


# -- what a template takes ------------------------------------------------------------------


def test_templates_lists_each_templates_options_with_what_they_do(cli: Cli) -> None:
    offered = {t["id"]: t for t in cli.json("templates")}
    csv_options = {o["name"]: o for o in offered["csv-import"]["options"]}
    assert list(csv_options) == [
        "delimiter",
        "encoding",
        "dayfirst",
        "include_hidden",
        "include_deleted",
    ]
    assert csv_options["dayfirst"]["takes"] == "true or false"
    assert "1 May" in csv_options["dayfirst"]["description"]
    export = [o["name"] for o in offered["data-export-archive"]["options"]]
    assert export == ["at", "format"]
    human = cli("templates").stdout
    [row] = [line.split() for line in human.splitlines() if line.startswith("rows_as_nodes")]
    assert row[:6] == ["rows_as_nodes", "true", "or", "false", "bulk-office-import,", "Also"]
    assert "--option KEY=VALUE" in human


def test_every_template_takes_its_own_default_options() -> None:
    for template in templates.offered():
        given = template.defaults.options
        assert template.check_options(given) == dict(given), template.id


def test_importers_that_read_one_option_declare_it_alike() -> None:
    declared: dict[str, object] = {}
    for name in registry.available():
        for spec in options_of(registry.load(name)):
            assert declared.setdefault(spec.name, spec) is spec, (name, spec.name)


def test_an_importer_that_declares_nothing_takes_no_option() -> None:
    class Plugin:  # a third-party importer written before options were declared
        name = "plugin"

    assert options_of(Plugin()) == ()  # type: ignore[arg-type]
