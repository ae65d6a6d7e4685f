"""Two records of a file with one key would be one node, the later written over the earlier.

A record without an id is keyed by its row number; one whose id is that number would be the
same node. Such a row is quarantined whichever of the two comes first. A record that repeats an
earlier record's id is quarantined too. So no record is silently written over another, and
every import of the file ends the same, whatever its batches."""

from __future__ import annotations

import json
from pathlib import Path
from socket import gethostname
from typing import Any

import openpyxl
import pytest

from isometry import api
from isometry.etl.executor import Progress
from isometry.etl.states import State
from isometry.sources import records
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


@pytest.mark.parametrize(
    ("line_70", "line_90", "found", "refused_line"),
    [
        ({"title": "no id"}, {"id": 70, "title": "Seventy"}, {"clashing": ["70"]}, 70),
        ({"id": 70, "title": "Seventy"}, {"id": "70", "title": "again"}, {"repeated": {"70": 70}},
         90),
    ],
    ids=["clashing", "repeated"],
)  # fmt: skip
def test_a_resumed_operation_still_refuses_what_the_scan_found(
    repo: Repository, tmp_path: Path, line_70: dict[str, object], line_90: dict[str, object],
    found: dict[str, object], refused_line: int,
) -> None:  # fmt: skip
    lines: list[dict[str, object]] = [{"title": f"line {n}"} for n in range(1, 101)]
    lines[69], lines[89] = line_70, line_90
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", lines)
    op = create(repo, tmp_path, path, max_error_rate=0.5)

    def dies(progress: Progress) -> None:
        if progress.phase == "loading" and progress.done >= 50:
            raise Interrupt

    with pytest.raises(Interrupt):
        api.run_operation(repo, op.id, author=AUTHOR, on_progress=dies)
    # What the scan found is kept with the operation, for the resumed run to read.
    source = api.operation(repo, op.id).result["sources"][0]
    assert {name: source[name] for name in found} == found
    assert api.quarantine(repo, op.id) == []
    with repo.db.transaction() as conn:  # the process that ran it is gone
        conn.execute("UPDATE operations SET lease_owner = ?", (f"{gethostname()}:999999:x",))
    done = api.run_operation(repo, op.id, author=AUTHOR)
    assert (done.counts["inserted"], done.counts["quarantined"]) == (99, 1)
    assert [e["locator"]["line"] for e in api.quarantine(repo, op.id)] == [refused_line]
    assert {n["name"] for n in api.nodes(repo)} >= {"Seventy", "line 69", "line 71", "line 91"}


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


def save_book(path: Path, sheets: dict[str, list[tuple[object, ...]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.worksheets[0])
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path.parent.mkdir(exist_ok=True)
    book.save(path)
    return path


def quarantined_row(repo: Repository, tmp_path: Path, path: Path) -> dict[str, Any]:
    """The one row quarantined when a workbook is imported with a node per row."""
    config = {"options": {"rows_as_nodes": True}, "max_error_rate": 0.5}
    op = api.import_(repo, "bulk-office-import", [path], author=AUTHOR, grants=grants(tmp_path),
                     base=tmp_path, config=config)  # fmt: skip
    assert op.counts["quarantined"] == 1
    (entry,) = api.quarantine(repo, op.id)
    return entry


def test_sheet_rows_clash_within_their_sheet(repo: Repository, tmp_path: Path) -> None:
    path = save_book(tmp_path / "src" / "book.xlsx", {
        "Tasks": [("id", "title"), (None, "second row, no id"), (2, "Two"), (None, "fourth")],
        "Other": [("id", "title"), (None, "no id"), (3, "Three")],
    })  # fmt: skip
    options = Options({"rows_as_nodes": True})
    assert OfficeImporter().scan(path, OPENER, options).clashing == ("Tasks!2",)

    entry = quarantined_row(repo, tmp_path, path)
    assert entry["locator"]["record"] == "Tasks!2"
    assert "sheet 'Tasks': row 2" in str(entry["reason"])
    names = {n["name"] for n in api.nodes(repo)}
    assert {"Two", "fourth", "no id", "Three"} <= names
    assert "second row, no id" not in names


def test_a_csv_row_that_is_no_record_takes_no_key(tmp_path: Path) -> None:
    # Row 2 has id 1 but too many fields: it is rejected, so row 1 keeps its number as key.
    path = write_csv(tmp_path / "tasks.csv", ["id", "title"], [["", "first"], ["1", "One", "x"]])
    assert CsvImporter().scan(path, OPENER, Options()).clashing == ()


def repeats(*found: tuple[dict[str, object], int], scope: str = "") -> dict[str, int]:
    """What a scan finds repeated among these records, looking twice when it must."""
    clashes = KeyClashes()
    for fields, number in found:
        clashes.add(fields, number, scope)
    if clashes.second_look():
        for fields, number in found:
            clashes.add(fields, number, scope)
    return clashes.repeated()


def test_ids_that_repeat_are_found_with_their_first_record() -> None:
    assert repeats(({"id": "a"}, 1), ({"id": "b"}, 2), ({"id": "a"}, 3), ({"id": "a"}, 9)) == {
        "a": 1
    }
    assert repeats(({"id": 1}, 4), ({"id": " 1"}, 5)) == {"1": 4}  # a number and its text
    assert repeats(({"id": "a"}, 1), ({"id": "A"}, 2), ({"title": "a"}, 3)) == {}
    assert repeats(({"uuid": "x"}, 2), ({"key": "x"}, 7)) == {"x": 2}  # any id name


def test_a_file_without_repeated_ids_is_read_once() -> None:
    clashes = KeyClashes()
    for number in range(1, 2001):
        clashes.add({"id": f"note-{number}"}, number)
    assert not clashes.second_look()
    assert clashes.repeated() == {}


def test_ids_whose_hashes_are_equal_are_told_apart_by_the_second_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every id hashes alike here: only the ids themselves can tell a repeat from a lookalike.
    monkeypatch.setattr(records, "hash", lambda value: 42, raising=False)
    assert repeats(({"id": "a"}, 1), ({"id": "b"}, 2), ({"id": "c"}, 3)) == {}
    assert repeats(({"id": "a"}, 1), ({"id": "b"}, 2), ({"id": "b"}, 3)) == {"b": 2}


def test_ids_repeat_only_within_their_scope() -> None:
    clashes = KeyClashes()
    for fields, number, scope in (({"id": "x"}, 2, "A!"), ({"id": "x"}, 2, "B!"),
                                  ({"id": "x"}, 5, "B!")):  # fmt: skip
        clashes.add(fields, number, scope)
    assert clashes.second_look()
    for fields, number, scope in (({"id": "x"}, 2, "A!"), ({"id": "x"}, 2, "B!"),
                                  ({"id": "x"}, 5, "B!")):  # fmt: skip
        clashes.add(fields, number, scope)
    assert clashes.repeated() == {"B!x": 2}


def test_json_records_that_repeat_an_id_are_refused_after_the_first(
    repo: Repository, tmp_path: Path
) -> None:
    # 120 lines in batches of 50: the repeats sit in the first record's batch and in later ones.
    lines: list[dict[str, object]] = [{"id": f"n{n}", "title": f"line {n}"} for n in range(1, 121)]
    lines[4] = {"id": 1, "title": "first one"}  # an id given as a number ...
    lines[30] = {"id": "1", "title": "one again"}  # ... and as text: one id
    lines[110] = {"id": "n2", "title": "two again"}
    path = write_jsonl(tmp_path / "src" / "notes.jsonl", lines)
    scan = JsonImporter().scan(path, OPENER, Options())
    assert scan.repeated == {"1": 5, "n2": 2}

    op = run_import(repo, tmp_path, path, max_error_rate=0.5)
    assert op.state is State.PARTIALLY_SUCCEEDED, op.error
    assert (op.counts["read"], op.counts["inserted"], op.counts["quarantined"]) == (120, 118, 2)
    assert (op.counts["updated"], op.counts["unchanged"]) == (0, 0)
    by_key = {str(n["source_id"]).rsplit("#", 1)[1]: n["name"] for n in api.nodes(repo)}
    assert (by_key["1"], by_key["n2"]) == ("first one", "line 2")
    entries = api.quarantine(repo, op.id)
    assert [e["locator"]["line"] for e in entries] == [31, 111]
    assert [json.loads(str(e["raw"]))["title"] for e in entries] == ["one again", "two again"]
    assert str(entries[0]["reason"]).startswith("line 31 has the id '1' of line 5, an earlier")
    assert "give this one an id of its own" in str(entries[1]["reason"])

    again = run_import(repo, tmp_path, path, max_error_rate=0.5)
    assert (again.counts["inserted"], again.counts["updated"]) == (0, 0)
    assert (again.counts["unchanged"], again.counts["quarantined"]) == (118, 2)


def test_json_document_items_that_repeat_an_id_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "cards.json"
    cards = [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "a", "title": "A2"}]
    path.write_text(json.dumps({"cards": cards}))
    importer = JsonImporter()
    scan = importer.scan(path, OPENER, Options())
    assert scan.repeated == {"a": 1}
    items = [item for item, _ in importer.read(path, OPENER, Options(repeated=scan.repeated), None)]
    assert [isinstance(item, Rejected) for item in items] == [False, False, True]
    refused = items[2]
    assert isinstance(refused, Rejected)
    assert refused.reason.startswith("item 3 has the id 'a' of item 1")


def test_csv_rows_that_repeat_an_id_are_refused(repo: Repository, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "src" / "tasks.csv",
        ["id", "title"],
        [["1", "A"], ["1", "B"], ["2", "C"], ["1", "D"]],
    )
    assert CsvImporter().scan(path, OPENER, Options()).repeated == {"1": 1}
    op = run_import(repo, tmp_path, path, template="csv-import", max_error_rate=0.5)
    assert (op.counts["inserted"], op.counts["quarantined"], op.counts["unchanged"]) == (2, 2, 0)
    assert {n["name"] for n in api.nodes(repo)} == {"A", "C"}
    entries = api.quarantine(repo, op.id)
    assert [e["raw"] for e in entries] == ["1,B", "1,D"]
    assert str(entries[0]["reason"]).startswith("row 2 (line 3) has the id '1' of row 1,")


def test_sheet_rows_repeat_ids_within_their_sheet(repo: Repository, tmp_path: Path) -> None:
    path = save_book(tmp_path / "src" / "book.xlsx", {
        "Tasks": [("id", "title"), ("t1", "first"), ("t2", "second"), ("t1", "first again")],
        "Other": [("id", "title"), ("t1", "other first")],
    })  # fmt: skip
    options = Options({"rows_as_nodes": True})
    assert OfficeImporter().scan(path, OPENER, options).repeated == {"Tasks!t1": 2}

    entry = quarantined_row(repo, tmp_path, path)
    assert entry["locator"]["record"] == "Tasks!4"
    assert str(entry["reason"]).startswith(
        "sheet 'Tasks': row 4 has the id 't1' of sheet 'Tasks': row 2"
    )
    names = {n["name"] for n in api.nodes(repo)}
    assert {"first", "second", "other first"} <= names
    assert "first again" not in names


def test_records_sharing_an_id_with_half_a_character_are_each_refused_for_it(
    repo: Repository, tmp_path: Path
) -> None:
    # Two lines with one id that is not text: each is refused for the id itself, not taken for
    # a repeat (the id cannot even be kept with the operation), and the rest is imported.
    path = tmp_path / "src" / "notes.jsonl"
    path.parent.mkdir()
    lines = ('{"id": "\\ud800", "title": "a"}', '{"id": "\\ud800", "title": "b"}', '{"id": "c"}')
    path.write_text("".join(line + "\n" for line in lines))
    assert JsonImporter().scan(path, OPENER, Options()).repeated == {}
    op = run_import(repo, tmp_path, path, max_error_rate=1.0)
    assert (op.counts["inserted"], op.counts["quarantined"]) == (1, 2)
    reasons = [str(e["reason"]) for e in api.quarantine(repo, op.id)]
    assert all("its id holds half a character" in reason for reason in reasons)
