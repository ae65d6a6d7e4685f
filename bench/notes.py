"""Apple Notes import: notes per second for the importer alone and through the whole engine,
against merely decompressing and parsing the same note bodies.

``python -m bench.notes [--n N] [--workdir DIR] [--keep]`` writes a synthetic Notes container
of ``n`` notes (default 10,000) with the test suite's generator (``tests/notestore_factory``:
the real macOS 15 schema; formatted bodies with headings, emphasis, links, checklists, nested
lists, quotes and code; nested folders; hashtags on one note in four, a table on one in ten,
a link to another note on one in ten, a PNG or PDF file on one in twenty). Then, in one run:
- baseline: every body read from the store, gunzipped and parsed as protobuf, nothing more;
- the importer alone: ``AppleNotesImporter.read`` over the store through the engine's
  accessor (Markdown, tables, attachments hashed, drafts built);
- ``api.import_`` of the container into a fresh repository (template ``apple-notes-import``
  with its defaults: an isolated branch, batches of 200, lineage, attachments stored,
  auto-merge), and a second import of the unchanged container (read again, nothing written).
A wrong count fails the run; the figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from isometry import api
from isometry.clock import SystemClock
from isometry.etl.access import Accessor, Grants
from isometry.etl.states import State
from isometry.sources.applenotes import AppleNotesImporter
from isometry.sources.applenotes.proto import parse_note
from isometry.sources.base import Draft, Options

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from notestore_factory import synthetic_store  # the tests' generator (tests/ is no package)

TEMPLATE = "apple-notes-import"
AUTHOR = "bench <bench@isometry.invalid>"


def decode_only(store: Path) -> tuple[float, int]:
    """Seconds to read, gunzip and parse every body, and how many there were."""
    start = time.perf_counter()
    db = sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)
    try:
        count = 0
        for (data,) in db.execute("SELECT ZDATA FROM ZICNOTEDATA ORDER BY Z_PK"):
            parse_note(data)
            count += 1
    finally:
        db.close()
    return time.perf_counter() - start, count


def importer_alone(container: Path, store: Path) -> tuple[float, int]:
    importer = AppleNotesImporter()
    grants = Grants.parse([f"notes={container}", f"file-system={container}"], container)
    accessor = Accessor(grants, importer.permissions)
    start = time.perf_counter()
    drafts = sum(
        isinstance(item, Draft) for item, _ in importer.read(store, accessor, Options(), None)
    )
    return time.perf_counter() - start, drafts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="notes (default 10,000)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-notes-", dir=args.workdir))
    try:
        started = time.perf_counter()
        store = synthetic_store(work / "source", args.n, seed=1).resolve()
        container = store.parent
        written = time.perf_counter() - started
        baseline, bodies = decode_only(store)
        alone, drafts = importer_alone(container, store)
        if bodies != args.n or drafts != args.n:
            raise SystemExit(f"wrong result: {bodies} bodies and {drafts} drafts of {args.n}")
        repo = api.init(work / "repo", clock=SystemClock(), author=AUTHOR)
        try:
            grants = [f"notes={container}", f"file-system={container}"]
            runs = []
            for _ in range(2):
                start = time.perf_counter()
                op = api.import_(repo, TEMPLATE, [container], author=AUTHOR, grants=grants,
                                 base=work)  # fmt: skip
                runs.append((time.perf_counter() - start, op))
            (first, op), (second, again) = runs
            if op.state is not State.SUCCEEDED or op.counts.get("inserted") != args.n:
                raise SystemExit(f"wrong result: {op.state} {op.counts}")
            if again.counts.get("unchanged") != args.n:
                raise SystemExit(f"wrong result on the second import: {again.counts}")
            edges = len(api.edges(repo))
        finally:
            repo.close()
        n = args.n
        print(f"apple notes: {n} synthetic notes ({written:.1f} s to write), {edges} edges")
        print(f"  import                   {first:8.2f} s   {n / first:10.0f} notes/s")
        print(f"  import, unchanged        {second:8.2f} s   {n / second:10.0f} notes/s")
        print(f"  importer alone           {alone:8.2f} s   {n / alone:10.0f} notes/s")
        print(f"  gunzip + protobuf only   {baseline:8.3f} s   {n / baseline:10.0f} notes/s")
        print(f"  import / baseline        {first / baseline:8.0f} x")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
