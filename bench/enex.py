"""Evernote import benchmark: notes per second through the engine, against a bare parse.

``python -m bench.enex [--n 2000] [--seed 0] [--every 5] [--resource-kb 24] [--keep DIR]``

Writes one .enex export of ``n`` notes (seeded: a title, tags, a few paragraphs with a
checklist and bold text; one note in ``every`` carries a PNG-like resource of ``resource-kb``
kilobytes shown in its text, one in ten a table, one in twenty a code block), then times, each
on the same file:

1. **bare parse**: ``defusedxml.ElementTree.iterparse`` over the file, each ``<note>`` cleared
   as it ends: the floor any streaming ENEX reader stands on;
2. **read**: the ``evernote`` importer's ``read`` alone (parse, resources decoded and checked,
   ENML to Markdown), no database;
3. **import**: ``api.import_`` with the ``evernote-import`` template and its defaults (an
   isolated branch, batches, checkpoints, lineage, resources stored as blobs, auto-merge).

Prints notes per second for each and the ratios; nothing is asserted but the counts.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from defusedxml.ElementTree import iterparse  # type: ignore[import-untyped]

from isometry import api
from isometry.clock import SystemClock
from isometry.etl.states import State
from isometry.sources.base import Draft, Options
from isometry.sources.evernote import EvernoteImporter

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE en-export SYSTEM "http://xml.evernote.com/pub/evernote-export4.dtd">\n'
    '<en-export export-date="20240301T100000Z" application="Evernote" version="10.80.1">\n'
)
WORDS = (
    "alpha", "beta", "gamma", "delta", "notes", "meeting", "budget", "plan", "travel", "garden",
    "recipe", "draft", "review", "idea", "summary", "project", "client", "invoice", "reading",
    "list", "archive", "weekly", "goals",
)  # fmt: skip
AUTHOR = "bench <bench@isometry.invalid>"


class _Opener:
    def open_binary(self, path: Path) -> BinaryIO:
        return path.open("rb")


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _note(rng: random.Random, number: int, every: int, resource_kb: int) -> str:
    paragraphs = "".join(f"<div>{_sentence(rng, 14)}</div>" for _ in range(4))
    body = (
        f"<div><b>{_sentence(rng, 3)}</b></div>{paragraphs}"
        '<ul style="--en-todo:true;">'
        '<li style="--en-checked:true;"><div>Done item</div></li>'
        '<li style="--en-checked:false;"><div>Open item</div></li></ul>'
    )
    if number % 10 == 0:
        body += "<table><tr><td>a</td><td>b</td></tr><tr><td>1</td><td>2</td></tr></table>"
    if number % 20 == 0:
        body += '<div style="-en-codeblock:true;"><div>print("hi")</div><div>x = 1</div></div>'
    resource = ""
    if number % every == 0:
        data = b"\x89PNG\r\n\x1a\n" + rng.randbytes(resource_kb * 1024)
        digest = hashlib.md5(data).hexdigest()
        body += f'<div><en-media hash="{digest}" type="image/png"/></div>'
        encoded = base64.encodebytes(data).decode()
        resource = (
            f'<resource><data encoding="base64">\n{encoded}</data><mime>image/png</mime>'
            f"<resource-attributes><file-name>photo-{number}.png</file-name>"
            "</resource-attributes></resource>"
        )
    tags = "".join(f"<tag>{rng.choice(WORDS)}</tag>" for _ in range(2))
    return (
        f"<note><title>Note {number}: {_sentence(rng, 4)}</title>"
        f"<created>2023{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}T120000Z</created>"
        f"<updated>20240101T120000Z</updated>{tags}"
        f"<note-attributes><author>bench</author></note-attributes>"
        f'<content><![CDATA[<?xml version="1.0" encoding="UTF-8" standalone="no"?>'
        f"<en-note>{body}</en-note>]]></content>{resource}</note>\n"
    )


def write_export(path: Path, n: int, seed: int, every: int, resource_kb: int) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for number in range(1, n + 1):
            out.write(_note(rng, number, every, resource_kb))
        out.write("</en-export>\n")


def bare_parse(path: Path) -> int:
    notes = 0
    for _, element in iterparse(str(path), events=("end",)):
        if element.tag == "note":
            notes += 1
            element.clear()
    return notes


def read_only(path: Path) -> int:
    importer = EvernoteImporter()
    return sum(
        1 for item, _ in importer.read(path, _Opener(), Options(), None) if isinstance(item, Draft)
    )


def import_through_engine(path: Path, work: Path) -> int:
    repo = api.init(work / "repo", clock=SystemClock(), author=AUTHOR)
    try:
        op = api.import_(repo, "evernote-import", [path], author=AUTHOR,
                         grants=[f"file-system={path.parent}"], base=work)  # fmt: skip
        if op.state is not State.SUCCEEDED:
            raise SystemExit(f"the import ended {op.state.value}: {op.counts}")
        return int(op.counts["inserted"])
    finally:
        repo.close()


def _timed(run: object, *args: object) -> tuple[int, float]:
    start = time.perf_counter()
    count = run(*args)  # type: ignore[operator]
    return int(count), time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.enex", description=__doc__)
    parser.add_argument("--n", type=int, default=2_000, help="notes in the export")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=5, help="one note in EVERY has a file")
    parser.add_argument("--resource-kb", type=int, default=24, help="size of each file")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-enex-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        export = work / "src" / "Bench.enex"
        export.parent.mkdir(parents=True, exist_ok=True)
        write_export(export, args.n, args.seed, args.every, args.resource_kb)
        size_mb = export.stat().st_size / 1e6
        print(f"export: {args.n} notes, {size_mb:.1f} MB, a file in one note of {args.every}")
        results = {
            "bare parse": _timed(bare_parse, export),
            "read": _timed(read_only, export),
            "import": _timed(import_through_engine, export, work),
        }
        for name, (count, _) in results.items():
            if count != args.n:
                raise SystemExit(f"{name}: {count} notes, expected {args.n}")
        bare = results["bare parse"][1]
        for name, (count, seconds) in results.items():
            print(
                f"{name:>10}: {seconds:7.2f} s  {count / seconds:9,.0f} notes/s  "
                f"{size_mb / seconds:6.1f} MB/s  x{seconds / bare:.1f} the bare parse"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
