"""A record without an id is keyed by its row number; one whose id is that number would be the
same node. Such a row is quarantined whichever of the two comes first, so neither record is
silently written over the other, and every import of the file ends the same."""

from __future__ import annotations

import json
from pathlib import Path
from socket import gethostname

import openpyxl
import pytest

from isometry import api
from isometry.etl.executor import Progress
from isometry.etl.states import State
from isometry.sources.base import Options, Rejected
from isometry.sources.csvrecords import CsvImporter
from isometry.sources.jsonrecords import JsonImporter
from isometry.sources.office import OfficeImporter
from isometry.sources.records import KeyClashes
from isometry.vcs.repository import Repository
from openers import DirectOpener
from test_engine import AUTHOR, create, grants, run_import, write_csv, write_jsonl

OPENER = DirectOpener()


class Interrupt(Exception):
    """The process 'dies' in the middle of the operation (raised from its progress sink)."""


def clashes(*records: tuple[dict[str, object], int], scope: str = "") -> tuple[str, ...]:
    found = KeyClashes()
    for fields, number in records:
        found.add(fields, number, scope)
    return found.keys()


def test_a_row_number_that_is_another_records_id_clashes() -> None:
    assert clashes(({"title": "a"}, 7), ({"id": "7"}, 9)) == ("7",)
    assert clashes(({"id": 7}, 2), ({"title": "a"}, 7)) == ("7",)  # the id first, a number
    assert clashes(({"id": " 12 "}, 1), ({"ID": None}, 12)) == ("12",)  # trimmed; a blank id
    assert clashes(({"title": "a"}, 1000), ({"key": "1000"}, 1)) == ("1000",)


def test_ids_that_only_look_like_numbers_do_not_clash() -> None:
    assert clashes(({"title": "a"}, 7), ({"id": "07"}, 8), ({"id": "+7"}, 9)) == ()
    assert clashes(({"title": "a"}, 7), ({"id": "7.0"}, 8), ({"id": "\u0667"}, 9)) == ()
    assert clashes(({"title": "a"}, 7), ({"id": "8"}, 8)) == ()  # row 8 has an id itself
    assert clashes(({"id": "7"}, 1), ({"id": "7"}, 2)) == ()  # one record read twice
    assert clashes(({"title": "a"}, 1), ({"id": "9" * 40}, 2)) == ()


def test_keys_clash_only_within_their_scope() -> None:
    found = KeyClashes()
    found.add({"title": "a"}, 3, "Sheet1!")
    found.add({"id": "3"}, 5, "Sheet2!")
    found.add({"id": "3"}, 6, "Sheet1!")
    assert found.keys() == ("Sheet1!3",)


def test_the_jsonl_scan_finds_clashes_and_the_read_refuses_the_row(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "notes.jsonl",
        [{"title": "row one"}, {"title": "row two"}, {"id": "1", "title": "One"}, "not json"],
    )
    importer = JsonImporter()
    scan = importer.scan(path, OPENER, Options())
    assert (scan.records, scan.clashing) == (4, ("1",))
    read = importer.read(path, OPENER, Options(clashing=frozenset({"1"})), None)
    items = [item for item, _ in read]
    refused = items[0]
    assert isinstance(refused, Rejected)
    assert refused.reason.startswith("line 1 has no id, so its key would be its row number, 1,")
    assert refused.raw == json.dumps({"title": "row one"})
    assert [item.locator.record for item in items[1:3]] == ["2", "1"]


def test_the_json_document_scan_finds_clashes_among_its_items(tmp_path: Path) -> None:
    path = tmp_path / "cards.json"
    path.write_text(json.dumps({"cards": [{"id": "2", "title": "Two"}, {"title": "second"}]}))
    assert JsonImporter().scan(path, OPENER, Options()).clashing == ("2",)


def test_json_records_clash_whichever_comes_first(repo: Repository, tmp_path: Path) -> None:
    # 120 lines in batches of 50: the clashing pairs sit in one batch and across batches.
    lines: list[dict[str, object]] = [{"title": f"line {n}"} for n in range(1, 121)]
    lines[0] = {"title": "line 1"}  # row 1, no id: clashes with the id "1" on line 100
    lines[99] = {"id": "1", "title": "One"}
    lines[119] = {"id": "3", "title": "Three"}  # clashes with line 3, in the first batch
    lines[9] = {"id": "11", "title": "Eleven"}  # and with line 11, right after it
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", lines)

    op = run_import(repo, tmp_path, path, max_error_rate=0.5)
    assert op.state is State.PARTIALLY_SUCCEEDED, op.error
    assert (op.counts["read"], op.counts["inserted"], op.counts["quarantined"]) == (120, 117, 3)
    by_key = {str(n["source_id"]).rsplit("#", 1)[1]: n["name"] for n in api.nodes(repo)}
    assert (by_key["1"], by_key["3"], by_key["11"]) == ("One", "Three", "Eleven")
    assert by_key["2"] == "line 2"
    assert "100" not in by_key
    assert "120" not in by_key
    entries = api.quarantine(repo, op.id)
    assert [e["locator"]["line"] for e in entries] == [1, 3, 11]
    assert all("give it an id of its own" in str(e["reason"]) for e in entries)

    again = run_import(repo, tmp_path, path, max_error_rate=0.5)
    assert (again.counts["inserted"], again.counts["updated"]) == (0, 0)
    assert (again.counts["unchanged"], again.counts["quarantined"]) == (117, 3)


def test_a_resumed_operation_still_refuses_the_clashing_rows(
    repo: Repository, tmp_path: Path
) -> None:
    lines: list[dict[str, object]] = [{"title": f"line {n}"} for n in range(1, 101)]
    lines[89] = {"id": "70", "title": "Seventy"}
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", lines)
    op = create(repo, tmp_path, path, max_error_rate=0.5)

    def dies(progress: Progress) -> None:
        if progress.phase == "loading" and progress.done >= 50:
            raise Interrupt

    with pytest.raises(Interrupt):
        api.run_operation(repo, op.id, author=AUTHOR, on_progress=dies)
    # What the scan found is kept with the operation, for the resumed run to read.
    assert api.operation(repo, op.id).result["sources"][0]["clashing"] == ["70"]
    assert api.quarantine(repo, op.id) == []
    with repo.db.transaction() as conn:  # the process that ran it is gone
        conn.execute("UPDATE operations SET lease_owner = ?", (f"{gethostname()}:999999:x",))
    done = api.run_operation(repo, op.id, author=AUTHOR)
    assert (done.counts["inserted"], done.counts["quarantined"]) == (99, 1)
    assert [e["locator"]["line"] for e in api.quarantine(repo, op.id)] == [70]
    assert {n["name"] for n in api.nodes(repo)} >= {"Seventy", "line 69", "line 71"}


def test_csv_rows_without_an_id_clash_with_numeric_ids(repo: Repository, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "src" / "tasks.csv",
        ["id", "title"],
        [["", "first, no id"], ["1", "One"], ["", "third, no id"], ["x", "Ex"]],
    )
    assert CsvImporter().scan(path, OPENER, Options()).clashing == ("1",)
    op = run_import(repo, tmp_path, path, template="csv-import", max_error_rate=0.5)
    assert (op.counts["inserted"], op.counts["quarantined"]) == (3, 1)
    assert {n["name"] for n in api.nodes(repo)} == {"One", "third, no id", "Ex"}
    (entry,) = api.quarantine(repo, op.id)
    assert entry["raw"] == ',"first, no id"'
    assert "row 1 (line 2) has no id" in str(entry["reason"])


def test_a_csv_without_an_id_column_scans_no_clashes(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "plain.csv", ["title"], [["a"], ["1"], ["2"]])
    assert CsvImporter().scan(path, OPENER, Options()).clashing == ()


def test_sheet_rows_clash_within_their_sheet(repo: Repository, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    tasks = book.active
    assert tasks is not None
    tasks.title = "Tasks"
    for row in (("id", "title"), (None, "second row, no id"), (2, "Two"), (None, "fourth")):
        tasks.append(row)
    other = book.create_sheet("Other")
    for row in (("id", "title"), (None, "no id"), (3, "Three")):
        other.append(row)
    path = tmp_path / "src" / "book.xlsx"
    path.parent.mkdir()
    book.save(path)
    options = Options({"rows_as_nodes": True})
    assert OfficeImporter().scan(path, OPENER, options).clashing == ("Tasks!2",)

    config = {"options": {"rows_as_nodes": True}, "max_error_rate": 0.5}
    op = api.import_(repo, "bulk-office-import", [path], author=AUTHOR, grants=grants(tmp_path),
                     base=tmp_path, config=config)  # fmt: skip
    assert op.counts["quarantined"] == 1
    (entry,) = api.quarantine(repo, op.id)
    assert entry["locator"]["record"] == "Tasks!2"
    assert "sheet 'Tasks': row 2" in str(entry["reason"])
    names = {n["name"] for n in api.nodes(repo)}
    assert {"Two", "fourth", "no id", "Three"} <= names
    assert "second row, no id" not in names


def test_a_csv_row_that_is_no_record_takes_no_key(tmp_path: Path) -> None:
    # Row 2 has id 1 but too many fields: it is rejected, so row 1 keeps its number as key.
    path = write_csv(tmp_path / "tasks.csv", ["id", "title"], [["", "first"], ["1", "One", "x"]])
    assert CsvImporter().scan(path, OPENER, Options()).clashing == ()
