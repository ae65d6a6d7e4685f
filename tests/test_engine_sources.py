"""Which files an operation reads, and what each importer is told about where they came from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from isometry import api
from isometry.clock import SystemClock
from isometry.etl.access import Accessor, Grants
from isometry.etl.config import OperationConfig
from isometry.etl.executor import Executor, Progress
from isometry.etl.operations import Operation, add_counts, counts_by_source
from isometry.etl.sources import expand, recheck
from isometry.etl.states import State
from isometry.sources.base import Options
from isometry.sources.jsonrecords import JsonImporter
from isometry.vcs.ops import parse_op
from isometry.vcs.repository import Repository


def files_accessor(root: Path) -> Accessor:
    return Accessor(Grants.parse([f"file-system={root}"], root), frozenset({"file-system"}))


def test_files_found_in_a_folder_know_that_folder_and_keep_it_on_resume(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    (vault / "sub").mkdir(parents=True)
    (vault / "sub" / "a.jsonl").write_text('{"title": "a"}\n')
    (vault / ".hidden.jsonl").write_text('{"title": "hidden"}\n')
    alone = tmp_path / "alone.jsonl"
    alone.write_text('{"title": "alone"}\n')
    accessor = Accessor(
        Grants.parse([f"file-system={tmp_path}"], tmp_path), frozenset({"file-system"})
    )
    files = expand(
        [str(vault), str(alone)], OperationConfig(), [JsonImporter()], accessor, Options()
    )
    assert [(f.path.name, f.root) for f in files] == [
        ("a.jsonl", vault.resolve()),
        ("alone.jsonl", None),
    ]
    assert files[0].options(Options({"dayfirst": True})) == Options(
        {"dayfirst": True}, root=vault.resolve()
    )
    again = recheck([f.to_json() for f in files], accessor, Options())
    assert [f.root for f in again] == [vault.resolve(), None]


class LinesAgain(JsonImporter):
    """A second importer for the same files (as calendar and reminders share .ics files)."""

    name = "json-again"


class Family(JsonImporter):
    family = "lines"


class FamilyAgain(LinesAgain):
    family = "lines"


def test_a_file_goes_to_the_first_importer_and_the_rest_of_its_family(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"title": "a"}\n')
    accessor = Accessor(
        Grants.parse([f"file-system={tmp_path}"], tmp_path), frozenset({"file-system"})
    )

    def chosen(source: Path, *importers: JsonImporter) -> list[str]:
        found = expand([str(source)], OperationConfig(), importers, accessor, Options())
        return [f.importer.name for f in found]

    assert chosen(tmp_path, JsonImporter(), LinesAgain()) == ["json"]
    assert chosen(tmp_path, Family(), FamilyAgain()) == ["json", "json-again"]
    assert chosen(tmp_path / "a.jsonl", Family(), FamilyAgain()) == ["json", "json-again"]
    assert chosen(tmp_path, Family(), LinesAgain()) == ["json"]


def test_counts_are_kept_in_total_and_per_source() -> None:
    counts = add_counts({}, "safari", read=3, inserted=2)
    counts = add_counts(counts, "apple-notes", read=5, quarantined=1)
    counts = add_counts(counts, None, read=1)  # an unreadable file belongs to no importer
    assert {k: counts[k] for k in ("read", "inserted", "quarantined")} == {
        "read": 9,
        "inserted": 2,
        "quarantined": 1,
    }
    by_source = counts_by_source(counts)
    assert list(by_source) == ["apple-notes", "safari"]
    assert by_source["safari"]["read"] == 3
    assert by_source["safari"]["quarantined"] == 0
    assert by_source["apple-notes"]["quarantined"] == 1


def test_an_import_reports_its_counts_per_source(repo: Repository, tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"title": "a"}\nnot json\n{"title": "b"}\n')
    op = api.import_(repo, "json-import", [path], author="alice",
                     grants=[f"file-system={tmp_path}"], base=tmp_path)  # fmt: skip
    shown = op.to_json(datetime.now(UTC))
    assert shown["counts_by_source"] == {"json": shown["counts"]}
    assert shown["counts"]["inserted"] == 2
    assert shown["counts"]["quarantined"] == 1


def test_a_folder_of_small_files_is_written_a_batch_at_a_time_and_resumes_exactly(
    repo: Repository, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for number in range(120):
        (folder / f"{number:03}.jsonl").write_text(f'{{"title": "note {number}"}}\n')
    (folder / "empty.jsonl").write_text("")  # a file with no record does not end a batch
    op = api.create_operation(repo, "json-import", [folder], grants=[f"file-system={folder}"],
                              config={"batch_size": 50}, base=tmp_path)  # fmt: skip
    batches: list[int] = []

    def sink(progress: Progress) -> None:
        if progress.phase == "loading":
            batches.append(progress.done)

    stopped = Executor(
        repo, author="alice", on_progress=sink, should_stop=lambda: len(batches) >= 1
    ).run(op.id)
    assert stopped.state is State.INTERRUPTED
    assert stopped.counts["read"] == 50  # one batch across fifty files
    done = api.run_operation(repo, op.id, author="alice")
    assert done.state is State.SUCCEEDED
    assert done.counts["inserted"] == 120
    data_commits = [c for c in api.log(repo) if c.metadata.get("batch") is not None]
    assert len(data_commits) == 3  # 50 + 50 + 20 records, not a commit per file
    fresh = api.init(tmp_path / "fresh", clock=repo.clock, author="alice")
    try:
        whole = api.import_(fresh, "json-import", [folder], author="alice",
                            grants=[f"file-system={folder}"], config={"batch_size": 50},
                            base=tmp_path)  # fmt: skip
        assert whole.state is State.SUCCEEDED
        assert fresh.commit("main").root == repo.commit("main").root
    finally:
        fresh.close()


def test_a_link_taken_out_of_a_note_takes_its_edge_with_it(
    repo: Repository, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "a.md").write_text("# A\n\nSee [[b]] and [[c]].\n")
    (vault / "c.md").write_text("# C\n")

    def import_vault() -> None:
        op = api.import_(repo, "markdown-import", [vault], author="alice",
                         grants=[f"file-system={vault}"], base=tmp_path)  # fmt: skip
        assert op.state is State.SUCCEEDED, op.error

    def links() -> set[tuple[str, str]]:
        names = {str(n["id"]): str(n["name"]) for n in api.nodes(repo)}
        return {(names.get(str(e["source_id"]), "?"), names.get(str(e["target_id"]), "dangling"))
                for e in api.edges(repo)}  # fmt: skip

    import_vault()
    assert links() == {("A", "dangling"), ("A", "C")}
    a = next(str(n["id"]) for n in api.nodes(repo) if n["name"] == "A")
    c = next(str(n["id"]) for n in api.nodes(repo) if n["name"] == "C")
    by_hand = parse_op({"op": "upsert", "edge": {"edge_type": "AFFINITY", "source_id": a,
                                                 "target_id": c, "label": "mine"}})  # fmt: skip
    api.apply(repo, [by_hand], branch="main", message="by hand", author="alice")
    (vault / "b.md").write_text("# B\n")  # the dangling link now resolves
    (vault / "a.md").write_text("# A\n\nSee [[b]] only.\n")  # and the link to c is gone
    import_vault()
    assert links() == {("A", "B"), ("A", "C")}  # A -> C is the hand-made edge, kept
    assert {e.get("label") for e in api.edges(repo)} == {None, "mine"}


def test_a_sync_marks_deleted_what_a_folder_no_longer_holds(
    repo: Repository, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    (vault / "sub").mkdir(parents=True)
    for name in ("keep", "remove", "rename"):
        (vault / "sub" / f"{name}.md").write_text(f"# {name.title()}\n")
    outside = tmp_path / "elsewhere.md"
    outside.write_text("# Elsewhere\n")

    def sync(*sources: Path) -> None:
        op = api.import_(repo, "markdown-import", list(sources), author="alice",
                         grants=[f"file-system={tmp_path}"], base=tmp_path,
                         config={"sync_deletes": True})  # fmt: skip
        assert op.state is State.SUCCEEDED, op.error

    def live() -> set[str]:
        return {str(n["name"]) for n in api.nodes(repo) if n.get("deleted_at") is None}

    sync(vault, outside)
    assert live() == {"Keep", "Remove", "Rename", "Elsewhere"}
    (vault / "sub" / "remove.md").unlink()
    (vault / "sub" / "rename.md").rename(vault / "sub" / "renamed.md")
    sync(vault)  # the file imported on its own is not under this folder: left alone
    assert live() == {"Keep", "Rename", "Elsewhere"}
    renamed = [n for n in api.nodes(repo) if n["name"] == "Rename"]
    assert sorted(n.get("deleted_at") is None for n in renamed) == [False, True]


def test_a_sync_deletes_nothing_for_a_file_it_could_not_read(
    repo: Repository, tmp_path: Path
) -> None:
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"title": "from a"}\n')
    (folder / "b.jsonl").write_text('{"title": "from b"}\n')

    def sync() -> Operation:
        return api.import_(repo, "json-import", [folder], author="alice",
                           grants=[f"file-system={folder}"], base=tmp_path,
                           config={"sync_deletes": True, "max_error_rate": 1.0})  # fmt: skip

    sync()
    (folder / "a.jsonl").write_bytes(b"\x00\x01 not JSON at all \xff")
    (folder / "b.jsonl").write_text("")  # read fine, and empty: its record is gone
    op = sync()
    assert op.counts["quarantined"] == 1
    assert op.counts["deleted"] == 1
    assert {n["name"]: n.get("deleted_at") is None for n in api.nodes(repo)} == {
        "from a": True,
        "from b": False,
    }


def test_edges_a_record_did_not_carry_are_not_taken_for_stale(
    repo: Repository, tmp_path: Path
) -> None:
    """A sheet's links to its rows are carried by the rows' records, read in other batches:
    re-importing the sheet alone (one changed cell) keeps every one of them."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.create_sheet("Tasks", 0)
    book.remove(book.worksheets[1])
    sheet.append(["id", "title"])
    for number in range(1, 121):
        sheet.append([number, f"task {number}"])
    path = tmp_path / "files" / "tasks.xlsx"
    path.parent.mkdir()
    book.save(path)

    def import_book() -> Operation:
        config = {"batch_size": 50, "options": {"rows_as_nodes": True}}
        return api.import_(repo, "bulk-office-import", [path], author="alice",
                           grants=[f"file-system={path.parent}"], base=tmp_path,
                           config=config)  # fmt: skip

    assert import_book().counts["inserted"] == 121  # the sheet and its rows
    assert len(api.edges(repo)) == 120
    sheet["B6"] = "task 5, changed"
    book.save(path)
    again = import_book()
    assert again.counts["updated"] == 2  # the row and the sheet's table
    assert len(api.edges(repo)) == 120


def _after_batches(repo: Repository, op_id: str, count: int) -> Callable[[], bool]:
    """Stop once ``count`` of the operation's batches are committed (asked between batches)."""

    def stop() -> bool:
        commits = api.log(repo, f"import/{op_id}")
        return sum(1 for c in commits if c.metadata.get("batch")) >= count

    return stop


def test_a_mixed_folder_resumed_after_any_batch_ends_as_if_never_stopped(
    tmp_path: Path,
) -> None:
    """file-system-import of a folder of several kinds (batches end at each change of
    importer and every 50 records): stopped after any batch and resumed, it ends with the
    root hash of a run never stopped."""
    folder = tmp_path / "mixed"
    (folder / "notes").mkdir(parents=True)
    for number in range(70):
        (folder / "notes" / f"{number:03}.md").write_text(
            f"# Note {number}\n\nSee [[{number + 1:03}]].\n"
        )
    (folder / "tasks.jsonl").write_text("".join(f'{{"title": "task {n}"}}\n' for n in range(60)))
    (folder / "calendar.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
        + "".join(
            f"BEGIN:VEVENT\r\nUID:e{n}\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Event {n}\r\n"
            f"DTSTART:202401{n % 28 + 1:02}T100000Z\r\nEND:VEVENT\r\n"
            f"BEGIN:VTODO\r\nUID:t{n}\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:Todo\r\nEND:VTODO\r\n"
            for n in range(30)
        )
        + "END:VCALENDAR\r\n"
    )
    (folder / "scan.bin").write_bytes(bytes(range(256)) * 8)
    grants = [f"file-system={folder}"]

    def fresh(name: str) -> Repository:
        return api.init(tmp_path / name, clock=SystemClock(), author="alice")

    whole = fresh("whole")
    try:
        done = api.import_(whole, "file-system-import", [folder], author="alice", grants=grants,
                           config={"batch_size": 50}, base=tmp_path)  # fmt: skip
        assert done.state is State.SUCCEEDED, done.error
        batches = sum(1 for c in api.log(whole) if c.metadata.get("batch") is not None)
        assert batches >= 5
        expected = whole.commit("main").root
    finally:
        whole.close()
    stops: list[int] = []  # records read when stopped: a different point each time
    for stop_after in range(1, batches):
        repo = fresh(f"stopped-{stop_after}")
        try:
            op = api.create_operation(repo, "file-system-import", [folder], grants=grants,
                                      config={"batch_size": 50}, base=tmp_path)  # fmt: skip
            stopped = Executor(
                repo, author="alice", should_stop=_after_batches(repo, op.id, stop_after)
            ).run(op.id)
            assert stopped.state is State.INTERRUPTED
            stops.append(stopped.counts["read"])
            resumed = api.run_operation(repo, op.id, author="alice")
            assert resumed.state is State.SUCCEEDED, resumed.error
            assert repo.commit("main").root == expected, stop_after
        finally:
            repo.close()
    assert stops == sorted(set(stops))
