"""Office import: rows per second from a workbook and files per second from Word documents,
through the whole engine, against openpyxl and python-docx reading the same files alone.

``python -m bench.office [--rows N] [--documents D] [--workdir DIR] [--keep]`` writes one
workbook of ``N`` task rows (default 20,000; a header that names node fields, a date, tags, a
formula per row) and ``D`` Word documents (default 200; headings, emphasis, a nested list, a
table and a picture each). It imports the workbook with ``rows_as_nodes`` and the folder of
documents with ``api.import_`` (template ``bulk-office-import``, its defaults: an isolated
branch, batches, lineage, attachments stored, auto-merge), then both again unchanged (read
again, nothing written). Baselines, in the same run: openpyxl streaming the workbook's values
(read-only, values only) and python-docx opening each document and reading its paragraphs and
tables; and the importer alone (``read`` without the engine). A wrong count fails the run; the
figures are reported, never asserted.

openpyxl writes strings inline rather than in a shared table as Excel does; both sides read the
same file, so the comparison holds.
"""

from __future__ import annotations

import argparse
import io
import shutil
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import docx
import openpyxl
from docx.shared import Inches

from isometry import api
from isometry.clock import SystemClock
from isometry.etl.states import State
from isometry.sources.base import Options
from isometry.sources.office import OfficeImporter

TEMPLATE = "bulk-office-import"
AUTHOR = "bench <bench@isometry.invalid>"
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "iota", "kappa", "lambda",
         "sigma", "omega"]  # fmt: skip
ROWS_AS_NODES = {"options": {"rows_as_nodes": True}}


def png(shade: int) -> bytes:
    """A 1x1 PNG of its own colour (python-docx reads a picture's header for its size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, shade % 256, shade // 256 % 256, 128]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


class _Opener:
    def open_binary(self, path: Path) -> BinaryIO:
        return path.open("rb")


def write_workbook(path: Path, rows: int) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Tasks"
    sheet.append(["id", "title", "notes", "due", "tags", "status", "priority", "hours", "cost"])
    start = datetime(2024, 1, 1)
    for i in range(rows):
        row = i + 2
        words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(12))
        sheet.append([f"task-{i}", f"Task {i}", words, start + timedelta(days=i % 365),
                      f"{WORDS[i % 12]}, bench", "open" if i % 3 else "done", i % 5,
                      1 + i % 8, f"=H{row}*40"])  # fmt: skip
    book.save(path)


def write_documents(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        document = docx.Document()
        document.core_properties.title = f"Report {i}"
        document.core_properties.keywords = f"bench, {WORDS[i % 12]}"
        document.add_heading(f"Report {i}", level=1)
        for p in range(6):
            paragraph = document.add_paragraph(" ".join(WORDS[(i + p + k) % 12] for k in range(40)))
            paragraph.add_run(" important").bold = True
            paragraph.add_run(" aside").italic = True
        document.add_heading("Actions", level=2)
        for item in range(4):
            document.add_paragraph(f"Action {item}", style="List Bullet")
            document.add_paragraph(f"Detail {item}", style="List Bullet 2")
        table = document.add_table(rows=4, cols=3)
        for r in range(4):
            for c in range(3):
                table.cell(r, c).text = f"{WORDS[(r + c) % 12]} {i}"
        document.add_picture(io.BytesIO(png(i)), width=Inches(1))
        path = folder / f"report-{i:04d}.docx"
        document.save(str(path))
        paths.append(path)
    return paths


def openpyxl_alone(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = sum(1 for sheet in book.worksheets for _ in sheet.iter_rows(values_only=True))
    book.close()
    return time.perf_counter() - start, rows


def docx_alone(paths: Sequence[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        document = docx.Document(str(path))
        text = [p.text for p in document.paragraphs]
        cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
        if not text or not cells:
            raise AssertionError(f"{path}: python-docx read no text")
    return time.perf_counter() - start


def importer_alone(paths: Sequence[Path], options: Options) -> tuple[float, int]:
    importer, opener = OfficeImporter(), _Opener()
    start = time.perf_counter()
    items = sum(1 for path in paths for _ in importer.read(path, opener, options, None))
    return time.perf_counter() - start, items


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="workbook rows (default 20,000)")
    parser.add_argument("--documents", type=int, default=200, help="Word files (default 200)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-office-", dir=args.workdir))
    try:
        book_folder = work / "workbook"
        book_folder.mkdir()
        workbook = book_folder / "tasks.xlsx"
        write_workbook(workbook, args.rows)
        documents = write_documents(work / "documents", args.documents)
        time.sleep(2.1)  # files are imported after they were written, not while
        # Each of these is run twice and the faster run kept: the first pays for warming up.
        baseline_book, baseline_rows = min(openpyxl_alone(workbook) for _ in range(2))
        baseline_docs = min(docx_alone(documents) for _ in range(2))
        options = Options(ROWS_AS_NODES["options"])
        alone_book, book_items = min(importer_alone([workbook], options) for _ in range(2))
        alone_docs, _ = min(importer_alone(documents, Options()) for _ in range(2))
        repo = api.init(work / "repo", clock=SystemClock(), author=AUTHOR)
        try:
            timed = []
            for sources, folder, config in (
                ([workbook], book_folder, ROWS_AS_NODES), ([work / "documents"], work, None),
                ([workbook], book_folder, ROWS_AS_NODES), ([work / "documents"], work, None),
            ):  # fmt: skip
                start = time.perf_counter()
                op = api.import_(repo, TEMPLATE, sources, author=AUTHOR, config=config,
                                 grants=[f"file-system={folder}"], base=work)  # fmt: skip
                timed.append((time.perf_counter() - start, op))
        finally:
            repo.close()
        (
            (book_s, book_op),
            (docs_s, docs_op),
            (book_again_s, book_again),
            (docs_again_s, docs_again),
        ) = timed
        records = args.rows + 1  # the rows and the sheet
        wrong = [
            (name, op.state, op.counts)
            for name, op, expected, field in (
                ("workbook", book_op, records, "inserted"),
                ("documents", docs_op, args.documents, "inserted"),
                ("workbook again", book_again, records, "unchanged"),
                ("documents again", docs_again, args.documents, "unchanged"),
            )
            if op.state is not State.SUCCEEDED or op.counts.get(field) != expected
        ]
        if wrong or baseline_rows != args.rows + 1 or book_items != records:
            print(f"wrong result: {wrong or (baseline_rows, book_items)}", file=sys.stderr)
            return 1
        rows, files = args.rows, args.documents
        print(f"office: a workbook of {rows} rows (rows_as_nodes), {files} Word documents")
        print(f"  workbook import            {book_s:8.2f} s   {rows / book_s:10.0f} rows/s")
        print(f"  workbook import, unchanged {book_again_s:8.2f} s   "
              f"{rows / book_again_s:10.0f} rows/s")  # fmt: skip
        print(
            f"  importer alone (no engine) {alone_book:8.2f} s   {rows / alone_book:10.0f} rows/s"
        )
        print(f"  openpyxl alone             {baseline_book:8.2f} s   "
              f"{rows / baseline_book:10.0f} rows/s")  # fmt: skip
        print(f"  documents import           {docs_s:8.2f} s   {files / docs_s:10.0f} files/s")
        print(f"  documents import, unchanged{docs_again_s:8.2f} s   "
              f"{files / docs_again_s:10.0f} files/s")  # fmt: skip
        print(
            f"  importer alone (no engine) {alone_docs:8.2f} s   {files / alone_docs:10.0f} files/s"
        )
        print(f"  python-docx alone          {baseline_docs:8.2f} s   "
              f"{files / baseline_docs:10.0f} files/s")  # fmt: skip
        if args.keep:
            print(f"  kept in {work}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
