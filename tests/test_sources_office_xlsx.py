"""The ``office`` importer on Excel workbooks: a node per sheet with its table as Markdown, rows
as nodes when the header names node fields, formulas, merges, resume, per-row errors, and an
import through the engine. The workbooks are written here with openpyxl."""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.hyperlink import Hyperlink

from isometry import api
from isometry.etl.states import State
from isometry.model import JSON, node_id_for, node_row
from isometry.sources.base import Draft, Item, Options, Rejected
from isometry.sources.office import OfficeImporter, sheet
from isometry.vcs.repository import Repository
from openers import DirectOpener

IMPORTER = OfficeImporter()
ROWS = Options({"rows_as_nodes": True})
SHEET_ONLY = Options()
TASKS_TABLE = """\
| id | Title | Notes | Due | Tags | Type | Qty | Price | Total | Done |
|---|---|---|---|---|---|---|---|---|---|
| t1 | Buy milk | two \\| litres<br>skimmed | 2024-05-01 | home, shop | task | 2 | 1.5 | 3 | TRUE |
|   | Call \\*Bob\\* |   | 2024-05-02T09:30:00 | work |   | 1 | 3 | 3 | FALSE |
| t3 | Book \\<u\\>flights\\</u\\> |   |   |   | event | 4 |   |   |   |"""


OPENER = DirectOpener()


def read(path: Path, options: Options = ROWS, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, OPENER, options, cursor))


def drafts(path: Path, options: Options = ROWS) -> list[Draft]:
    return [item for item, _ in read(path, options) if isinstance(item, Draft)]


def by_name(found: list[Draft]) -> dict[str, Draft]:
    return {str(d.node["name"]): d for d in found}


def patch(path: Path, member: str, change: Callable[[str], str]) -> None:
    """Rewrite one part of a workbook (what openpyxl cannot write: cached formula values,
    broken cells)."""
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[member] = change(parts[member].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def cache_values(text: str, values: dict[str, str]) -> str:
    """Give formula cells the value Excel would have cached when it saved the file."""
    for ref, value in values.items():
        pattern = rf'(<c r="{ref}"[^>]*>(?:<f>[^<]*</f>))<v\s*/?>(?:</v>)?'
        text = re.sub(pattern, rf"\1<v>{value}</v>", text)
    return text


def make_workbook(path: Path) -> Path:
    """Two sheets: tasks under a header that names node fields (with an empty row between
    them), and a summary under a merged title with a formula."""
    book = openpyxl.Workbook()
    tasks = book.active
    assert tasks is not None
    tasks.title = "Tasks"
    tasks.append(["id", "Title", "Notes", "Due", "Tags", "Type", "Qty", "Price", "Total", "Done"])
    tasks.append(["t1", "Buy milk", "two | litres\nskimmed", datetime(2024, 5, 1), "home, shop",
                  "task", 2, 1.5, "=G2*H2", True])  # fmt: skip
    tasks.append([])
    tasks.append([None, "Call *Bob*", None, datetime(2024, 5, 2, 9, 30), "work", None, 1, 3,
                  "=G4*H4", False])  # fmt: skip
    tasks.append(["t3", "Book <u>flights</u>", "", None, None, "event", 4])
    tasks["B2"].hyperlink = "https://shop.example/milk"
    tasks["B5"].hyperlink = Hyperlink(ref="B5", location="Summary!A1")
    summary = book.create_sheet("Summary")
    summary["A1"] = "Quarterly report"
    summary.merge_cells("A1:C1")
    summary.append([1, 2, 3])
    summary.append([4, 5, "=SUM(A2:B2)"])
    book.properties.creator = "Ann"
    book.properties.title = "Household"
    book.properties.keywords = "home; 2024"
    book.properties.created = datetime(2024, 4, 1, 8, 0)
    book.save(path)
    # openpyxl stamps the time of saving as modified: write the one under test afterwards.
    patch(path, "docProps/core.xml", lambda t: re.sub(
        r"(<dcterms:modified[^>]*>)[^<]*", r"\g<1>2024-04-02T09:00:00Z", t))  # fmt: skip
    patch(path, "xl/worksheets/sheet1.xml", lambda t: cache_values(t, {"I2": "3", "I4": "3"}))
    patch(path, "xl/worksheets/sheet2.xml", lambda t: cache_values(t, {"C3": "9"}))
    return path


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return make_workbook(tmp_path / "household.xlsx")


def test_each_sheet_is_a_spreadsheet_node_with_its_table(workbook: Path) -> None:
    found = drafts(workbook, SHEET_ONLY)
    assert [d.node["name"] for d in found] == ["household / Tasks", "household / Summary"]
    tasks, summary = found
    assert tasks.node["node_type"] == "spreadsheet"
    assert tasks.node["content"] == TASKS_TABLE
    assert tasks.node["source_id"] == f"{workbook.resolve()}#Tasks"
    assert tasks.node["created_at"] == "2024-04-01T08:00:00Z"
    assert tasks.node["modified_at"] == "2024-04-02T09:00:00Z"
    assert tasks.node["tags"] == ["home", "2024"]
    props = tasks.node["properties"]
    assert isinstance(props, dict)
    assert props["sheet_index"] == 0
    assert props["dimensions"] == "A1:J5"
    assert (props["rows"], props["columns"], props["header_row"]) == (4, 10, 1)
    assert props["header"][:3] == ["id", "Title", "Notes"]
    assert props["formulas"] == {"I2": "=G2*H2", "I4": "=G4*H4"}
    assert props["hyperlinks"] == {"B2": "https://shop.example/milk", "B5": "#Summary!A1"}
    assert props["workbook"] == {"file": "household.xlsx", "title": "Household", "creator": "Ann"}
    assert summary.node["content"] == (
        "| Quarterly report |   |   |\n|---|---|---|\n| 1 | 2 | 3 |\n| 4 | 5 | 9 |"
    )
    summary_props = summary.node["properties"]
    assert isinstance(summary_props, dict)
    assert summary_props["merged_cells"] == ["A1:C1"]
    assert summary_props["formulas"] == {"C3": "=SUM(A2:B2)"}
    assert tasks.locator.record == "Tasks"
    assert all(node_row(d.node) for d in found)  # valid nodes


def test_rows_become_nodes_when_the_header_names_node_fields(workbook: Path) -> None:
    found = drafts(workbook)
    nodes = by_name(found)
    assert list(nodes) == ["Buy milk", "Call *Bob*", "Book <u>flights</u>", "household / Tasks",
                           "household / Summary"]  # fmt: skip
    milk = nodes["Buy milk"]
    assert milk.node["node_type"] == "task"
    assert milk.node["content"] == "two | litres\nskimmed"
    assert milk.node["due_at"] == "2024-05-01T00:00:00Z"
    assert milk.node["tags"] == ["home", "shop"]
    assert milk.node["source_id"] == f"{workbook.resolve()}#Tasks!t1"
    assert milk.node["properties"] == {
        "id": "t1", "Qty": 2, "Price": 1.5, "Total": 3, "Done": True,
        "formulas": {"Total": "=G2*H2"},
    }  # fmt: skip
    assert (milk.locator.record, milk.locator.line) == ("Tasks!2", 2)
    bob = nodes["Call *Bob*"]
    assert bob.node["node_type"] == "note"  # no type given
    assert bob.node["due_at"] == "2024-05-02T09:30:00Z"
    assert bob.node["source_id"] == f"{workbook.resolve()}#Tasks!4"  # no id: the row number
    assert nodes["Book <u>flights</u>"].node["node_type"] == "event"
    sheet_id = node_id_for("office", f"{workbook.resolve()}#Tasks")
    for draft in (milk, bob):
        (edge,) = draft.edges
        assert edge["edge_type"] == "NEST"
        assert edge["source_id"] == sheet_id
        assert edge["target_id"] == node_id_for("office", str(draft.node["source_id"]))
        assert edge["sequence_order"] == draft.locator.line
    tasks_props = nodes["household / Tasks"].node["properties"]
    assert isinstance(tasks_props, dict)
    assert tasks_props["row_nodes"] == 3
    summary_props = nodes["household / Summary"].node["properties"]
    assert isinstance(summary_props, dict)
    assert "no header row naming node fields" in str(summary_props["rows_not_nodes"])


def test_cursors_count_the_rows_the_sheet_stores(workbook: Path) -> None:
    # openpyxl stores no element for the empty row 3: rows 4 and 5 are the third and fourth.
    cursors = [cursor for _, cursor in read(workbook)]
    assert cursors == [
        {"sheet": 0, "row": 2}, {"sheet": 0, "row": 3}, {"sheet": 0, "row": 4},
        {"sheet": 1, "row": 0}, {"sheet": 2, "row": 0},
    ]  # fmt: skip


def test_resuming_from_every_cursor_yields_exactly_what_followed(workbook: Path) -> None:
    for options in (ROWS, SHEET_ONLY):
        whole = read(workbook, options)
        for index, (_, cursor) in enumerate(whole):
            assert read(workbook, options, cursor) == whole[index + 1 :]


def test_scan_counts_sheets_and_rows_and_fingerprints_the_file(workbook: Path) -> None:
    data = workbook.read_bytes()
    scan = IMPORTER.scan(workbook, OPENER, ROWS)
    assert scan.fingerprint == hashlib.sha256(data).hexdigest()
    assert scan.size == len(data)
    # Two sheets, and the Tasks rows the sheet declares after its header (the empty one too).
    assert scan.records == 2 + 4
    assert IMPORTER.scan(workbook, OPENER, SHEET_ONLY).records == 2


def test_a_first_row_that_is_no_header_gives_lettered_columns(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    data = book.active
    assert data is not None
    data.append([None, 10, "ten"])
    data.append([None, 20, "twenty", time(9, 30), timedelta(hours=26, minutes=30)])
    path = tmp_path / "numbers.xlsx"
    book.save(path)
    (only,) = drafts(path)
    assert only.node["content"] == (
        "| B | C | D | E |\n|---|---|---|---|\n| 10 | ten |   |   |\n"
        "| 20 | twenty | 09:30:00 | 26:30:00 |"
    )
    props = only.node["properties"]
    assert isinstance(props, dict)
    assert props["dimensions"] == "B1:E2"
    assert "header" not in props
    assert "rows_not_nodes" in props


def test_a_big_sheets_table_is_capped_and_says_how_many_rows_it_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sheet, "TABLE_ROWS", 3)
    book = openpyxl.Workbook()
    data = book.active
    assert data is not None
    data.append(["title", "n"])
    for n in range(10):
        data.append([f"row {n}", n])
    path = tmp_path / "big.xlsx"
    book.save(path)
    found = drafts(path)
    table = found[-1]
    assert table.node["content"] == (
        "| title | n |\n|---|---|\n| row 0 | 0 |\n| row 1 | 1 |\n| row 2 | 2 |"
    )
    props = table.node["properties"]
    assert isinstance(props, dict)
    assert (props["rows"], props["rows_left_out"], props["row_nodes"]) == (11, 7, 10)
    assert len(found) == 11  # every row is still a node


def test_a_cell_that_cannot_be_read_rejects_its_row_and_the_rest_is_imported(
    workbook: Path,
) -> None:
    # Row 4's title points past the end of the shared strings.
    def break_cell(text: str) -> str:
        return re.sub(r'(<c r="B4"[^>]*t=")[^"]*("[^>]*>).*?</c>', r"\1s\2<v>999</v></c>", text)

    patch(workbook, "xl/worksheets/sheet1.xml", break_cell)
    items = [item for item, _ in read(workbook)]
    rejected = [item for item in items if isinstance(item, Rejected)]
    assert len(rejected) == 1
    assert rejected[0].locator.record == "Tasks!4"
    assert rejected[0].locator.line == 4
    assert "row 4 cannot be read" in rejected[0].reason
    assert "Tasks" in rejected[0].reason
    names = [item.node["name"] for item in items if isinstance(item, Draft)]
    assert names == ["Buy milk", "Book <u>flights</u>", "household / Tasks", "household / Summary"]
    tasks = next(
        item for item in items if isinstance(item, Draft) and item.locator.record == "Tasks"
    )
    assert tasks.node["properties"]["rows_rejected"] == 1


def test_a_sheet_that_breaks_off_keeps_its_rows_so_far_and_the_next_sheet(workbook: Path) -> None:
    patch(workbook, "xl/worksheets/sheet1.xml", lambda t: t[: t.index('<row r="4"') + 20])
    items = [item for item, _ in read(workbook)]
    rejected = [item for item in items if isinstance(item, Rejected)]
    assert len(rejected) == 1
    # Row 3 is empty (openpyxl writes no element for it): row 2 is the last one read.
    assert "the sheet cannot be read past row 2" in rejected[0].reason
    assert rejected[0].locator.record == "Tasks!3"
    names = [item.node["name"] for item in items if isinstance(item, Draft)]
    assert names == ["Buy milk", "household / Tasks", "household / Summary"]


def test_rows_out_of_order_are_rejected_and_resume_stays_exact(workbook: Path) -> None:
    patch(workbook, "xl/worksheets/sheet1.xml",
          lambda t: t.replace('<row r="5"', '<row r="2"').replace('r="A5"', 'r="A2"'))  # fmt: skip
    whole = read(workbook)
    rejected = [item for item, _ in whole if isinstance(item, Rejected)]
    assert [r.reason for r in rejected] == [
        "sheet 'Tasks': row 2 comes after row 4: the sheet's rows are out of order"
    ]
    assert rejected[0].locator.record == "Tasks!2"
    for index, (_, cursor) in enumerate(whole):
        assert read(workbook, ROWS, cursor) == whole[index + 1 :]


def test_source_hashes_are_stable_and_change_with_the_record(workbook: Path) -> None:
    first = {d.locator.record: d.source_hash for d in drafts(workbook)}
    assert first == {d.locator.record: d.source_hash for d in drafts(workbook)}
    patch(workbook, "xl/worksheets/sheet1.xml", lambda t: t.replace("<v>1.5</v>", "<v>2.5</v>"))
    second = {d.locator.record: d.source_hash for d in drafts(workbook)}
    changed = {record for record in first if first[record] != second[record]}
    assert changed == {"Tasks!2", "Tasks"}


CELLS = st.one_of(
    st.none(),
    st.integers(-1000, 1000),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8),
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.lists(st.sampled_from(["title", "due", "notes", "id", "x", "tags"]), min_size=1,
                    max_size=4, unique=True),
    rows=st.lists(st.lists(CELLS, max_size=5), max_size=12),
    cut=st.integers(0, 100),
)  # fmt: skip
def test_resume_from_any_cursor_equals_an_uninterrupted_read(
    tmp_path: Path, header: list[str], rows: list[list[object]], cut: int
) -> None:
    book = openpyxl.Workbook()
    data = book.active
    assert data is not None
    data.append(header)
    for row in rows:
        data.append(row)
    book.create_sheet("Second").append(["name", 1])
    path = tmp_path / "generated.xlsx"
    book.save(path)
    whole = read(path)
    index = cut % len(whole)
    assert read(path, ROWS, whole[index][1]) == whole[index + 1 :]
    assert [d.locator.record for d in drafts(path)] == [
        d.locator.record for d in drafts(path)
    ]  # deterministic
    assert all(isinstance(item, Draft) for item, _ in whole)


# -- through the engine ----------------------------------------------------------------------


def test_import_through_the_engine_and_again_writes_nothing(
    repo: Repository, tmp_path: Path, workbook: Path
) -> None:
    folder = workbook.parent
    config = {"options": {"rows_as_nodes": True}}
    op = api.import_(repo, "bulk-office-import", [workbook], author="alice",
                     grants=[f"file-system={folder}"], base=tmp_path, config=config)  # fmt: skip
    assert op.state is State.SUCCEEDED
    assert (op.counts["read"], op.counts["inserted"], op.counts["quarantined"]) == (5, 5, 0)
    nodes = {str(n["name"]): n for n in api.nodes(repo)}
    assert set(nodes) == {"Buy milk", "Call *Bob*", "Book <u>flights</u>", "household / Tasks",
                          "household / Summary"}  # fmt: skip
    assert nodes["household / Tasks"]["content"] == TASKS_TABLE
    assert nodes["Buy milk"]["due_at"] == "2024-05-01T00:00:00Z"
    nest = [e for e in api.edges(repo) if e["edge_type"] == "NEST"]
    assert {e["source_id"] for e in nest} == {nodes["household / Tasks"]["id"]}
    assert {e["target_id"] for e in nest} == {
        nodes[name]["id"] for name in ("Buy milk", "Call *Bob*", "Book <u>flights</u>")
    }
    lineage = api.lineage(repo, op_id=op.id)
    records = {str(entry["locator"]["record"]) for entry in lineage if entry.get("locator")}
    assert {"Tasks!2", "Tasks!4", "Tasks!5", "Tasks", "Summary"} <= records
    again = api.import_(repo, "bulk-office-import", [workbook], author="alice",
                        grants=[f"file-system={folder}"], base=tmp_path, config=config)  # fmt: skip
    assert again.state is State.SUCCEEDED
    counts = again.counts
    assert (counts["unchanged"], counts["inserted"], counts["updated"]) == (5, 0, 0)


def test_a_changed_cell_updates_only_its_row_and_sheet(
    repo: Repository, tmp_path: Path, workbook: Path
) -> None:
    grants = [f"file-system={workbook.parent}"]
    config = {"options": {"rows_as_nodes": True}}
    api.import_(repo, "bulk-office-import", [workbook], author="alice", grants=grants,
                base=tmp_path, config=config)  # fmt: skip
    patch(workbook, "xl/worksheets/sheet1.xml", lambda t: t.replace("<v>1.5</v>", "<v>2.5</v>"))
    op = api.import_(repo, "bulk-office-import", [workbook], author="alice", grants=grants,
                     base=tmp_path, config=config)  # fmt: skip
    assert (op.counts["updated"], op.counts["unchanged"]) == (2, 3)
    milk = next(n for n in api.nodes(repo) if n["name"] == "Buy milk")
    assert milk["properties"]["Price"] == 2.5


def test_comments_and_charts_the_importer_leaves_out_are_named(tmp_path: Path) -> None:
    from openpyxl.chart import BarChart, Reference
    from openpyxl.comments import Comment

    book = openpyxl.Workbook()
    sheet_ = book.create_sheet("Sales", 0)
    book.remove(book.worksheets[1])
    for row in (("month", "amount"), ("May", 3), ("June", 5)):
        sheet_.append(row)
    sheet_["B2"].comment = Comment("estimated", "Ana")
    chart = BarChart()
    chart.add_data(Reference(sheet_, min_col=2, min_row=1, max_row=3), titles_from_data=True)
    sheet_.add_chart(chart, "D2")
    path = tmp_path / "sales.xlsx"
    book.save(path)
    (found,) = drafts(path, Options())
    properties = found.node["properties"]
    assert isinstance(properties, dict)
    workbook_properties = properties["workbook"]
    assert isinstance(workbook_properties, dict)
    assert workbook_properties["not_imported"] == {"cell comment parts": 1, "charts": 1}
    plain = make_workbook(tmp_path / "plain.xlsx")
    assert all(
        "not_imported" not in dict(d.node["properties"])["workbook"]
        for d in drafts(plain, Options())
    )
