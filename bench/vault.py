"""Markdown vault import: files per second through the whole engine, against merely reading and
hashing the same files.

``python -m bench.vault [--n N] [--folders F] [--workdir DIR] [--keep]`` writes ``n`` linked
notes (default 2,000) into ``F`` folders of a fresh vault (``.obsidian`` at its root): each has
front matter (tags, a date, an ``id`` on one note in ten), a heading, text with an inline tag,
four wikilinks (a bare name, a path, a heading reference with an alias, one to a note that does
not exist) and, on one note in five, an embedded image shared by the vault. It then imports the
vault with ``api.import_`` (template ``markdown-import``, its defaults: an isolated branch,
batches, lineage, attachments stored, auto-merge) and reports files per second; the baseline,
in the same run, opens, reads and SHA-256-hashes every note. Also timed: a second import of the
unchanged vault (everything is read again, nothing written), and the importer alone reading
every note through the engine's accessor (what the engine adds is the rest). A wrong count
fails the run; the figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from isometry import api
from isometry.clock import SystemClock
from isometry.etl.access import Accessor, Grants
from isometry.etl.states import State
from isometry.sources.base import Draft, Options
from isometry.sources.vault import MarkdownImporter

TEMPLATE = "markdown-import"
AUTHOR = "bench <bench@isometry.invalid>"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8ffff3f0005fe02fea7d6a4f30000000049454e44ae426082"
)
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "iota", "kappa", "lambda",
         "sigma", "omega"]  # fmt: skip


def write_vault(root: Path, n: int, folders: int, seed: int = 0) -> list[Path]:
    """``n`` linked notes in ``folders`` folders under ``root``; returns their paths."""
    rng = random.Random(seed)
    (root / ".obsidian").mkdir(parents=True)
    (root / "assets").mkdir()
    for i in range(10):
        (root / "assets" / f"image-{i}.png").write_bytes(PNG + bytes([i]))
    names = [f"note-{i:05d}" for i in range(n)]
    folder_of = [f"area-{i % folders:02d}" for i in range(n)]
    for folder in set(folder_of):
        (root / folder).mkdir()
    paths = []
    for i, name in enumerate(names):
        a, b, c = (rng.randrange(n) for _ in range(3))
        words = " ".join(rng.choice(WORDS) for _ in range(60))
        lines = [
            "---",
            f"tags: [bench, {rng.choice(WORDS)}]",
            f"created: 2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
            *([f"id: bench-{i}"] if i % 10 == 0 else []),
            "---",
            f"# Note {i}",
            "",
            f"{words} #topic/{rng.choice(WORDS)}",
            "",
            f"See [[{names[a]}]], [[{folder_of[b]}/{names[b]}]] and "
            f"[[{names[c]}#Note {c}|the other one]]; [[missing-{i}]] is still to be written.",
            "",
            *([f"![[image-{i % 10}.png]]", ""] if i % 5 == 0 else []),
        ]
        path = root / folder_of[i] / f"{name}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


def read_and_hash(paths: Sequence[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        with path.open("rb") as stream:
            hashlib.sha256(stream.read()).hexdigest()
    return time.perf_counter() - start


def importer_alone(vault: Path, paths: Sequence[Path]) -> float:
    importer = MarkdownImporter()
    accessor = Accessor(Grants.parse([f"file-system={vault}"], vault), importer.permissions)
    options = Options(root=vault.resolve())
    start = time.perf_counter()
    drafts = sum(
        isinstance(item, Draft)
        for path in paths
        for item, _ in importer.read(path.resolve(), accessor, options, None)
    )
    elapsed = time.perf_counter() - start
    if drafts != len(paths):
        raise SystemExit(f"wrong result: {drafts} drafts from {len(paths)} notes")
    return elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000, help="notes (default 2,000)")
    parser.add_argument("--folders", type=int, default=20, help="folders (default 20)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-vault-", dir=args.workdir))
    try:
        vault = work / "vault"
        paths = write_vault(vault, args.n, args.folders)
        baseline = read_and_hash(paths)
        alone = importer_alone(vault, paths)
        repo = api.init(work / "repo", clock=SystemClock(), author=AUTHOR)
        try:
            runs = []
            for _ in range(2):
                start = time.perf_counter()
                op = api.import_(repo, TEMPLATE, [vault], author=AUTHOR,
                                 grants=[f"file-system={vault}"], base=work)  # fmt: skip
                runs.append((time.perf_counter() - start, op))
            (first, op), (second, again) = runs
            if op.state is not State.SUCCEEDED or op.counts.get("inserted") != args.n:
                print(f"wrong result: {op.state} {op.counts}", file=sys.stderr)
                return 1
            if again.counts.get("unchanged") != args.n:
                print(f"wrong result on the second import: {again.counts}", file=sys.stderr)
                return 1
            edges = len(api.edges(repo))
        finally:
            repo.close()
        print(f"markdown vault: {args.n} notes in {args.folders} folders, {edges} edges")
        print(f"  import               {first:8.2f} s   {args.n / first:10.0f} files/s")
        print(f"  import, unchanged    {second:8.2f} s   {args.n / second:10.0f} files/s")
        print(f"  importer alone       {alone:8.2f} s   {args.n / alone:10.0f} files/s")
        print(f"  read + SHA-256 only  {baseline:8.3f} s   {args.n / baseline:10.0f} files/s")
        print(f"  import / baseline    {first / baseline:8.0f} x")
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
