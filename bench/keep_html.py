"""Benchmark of the ``google-keep`` and ``html`` importers: files per second.

``python -m bench.keep_html [--n N] [--seed S] [--workdir DIR] [--keep] [--json PATH]``
writes ``n`` (default 1,000) Google Keep notes (a Takeout ``Keep/`` folder: text notes,
checklists, labels, web links, every tenth with a picture beside it) and ``n`` saved web pages
(articles with scripts, styles, Open Graph and JSON-LD; every tenth a small page that is
converted whole), seeded, then for each kind:

* **import**: ``api.import_`` of the folder with the kind's template and its defaults, into a
  fresh repository: the whole engine (scan, read, validate, load, lineage, checkpoints, blobs,
  merge into ``main``), files per second;
* **re-import**: the same folder again: every file read, nothing written (all unchanged);
* **importer alone**: the importer's ``read`` of every file, no engine;
* **baseline**: merely reading and parsing the same files: ``json.loads`` of each note, and
  trafilatura alone on each page (its Markdown text with its metadata).

Figures are reported, never asserted; a wrong result (a state, a count) fails the run.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import trafilatura

from isometry import api
from isometry.clock import SystemClock
from isometry.etl.states import State
from isometry.sources.base import Importer, Options
from isometry.sources.htmlpages import HtmlImporter
from isometry.sources.keep import GoogleKeepImporter

DEFAULT_N = 1_000
AUTHOR = "bench <bench@isometry.invalid>"
WORDS = [
    "river", "valley", "bridge", "walk", "morning", "light", "garden", "letter", "market",
    "winter", "summer", "station", "window", "coffee", "paper", "street", "harbour", "island",
    "mountain", "forest", "music", "evening", "friend", "journey", "kitchen", "library",
    "museum", "orchard", "village", "weather", "lantern", "meadow",
]  # fmt: skip
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16


def _sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(words)]
    return " ".join(chosen).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(3, 6)))


def write_keep(folder: Path, n: int, rng: random.Random) -> None:
    """``n`` Keep notes as Takeout writes them, one JSON file each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        created = 1_600_000_000_000_000 + i * 3_600_000_000
        note: dict[str, Any] = {
            "color": rng.choice(["DEFAULT", "RED", "BLUE", "YELLOW"]),
            "isTrashed": i % 50 == 0,
            "isPinned": i % 7 == 0,
            "isArchived": i % 11 == 0,
            "title": _sentence(rng, 4)[:-1] if i % 5 else "",
            "userEditedTimestampUsec": created + rng.randint(0, 10**11),
            "createdTimestampUsec": created,
        }
        if i % 3 == 0:
            note["listContent"] = [
                {"text": _sentence(rng, 3), "isChecked": rng.random() < 0.3}
                for _ in range(rng.randint(2, 8))
            ]
        else:
            note["textContent"] = "\n\n".join(_paragraph(rng) for _ in range(rng.randint(1, 3)))
        if i % 4 == 0:
            note["labels"] = [{"name": rng.choice(WORDS)} for _ in range(rng.randint(1, 3))]
        if i % 6 == 0:
            link = {"description": _sentence(rng, 6), "source": "WEBLINK",
                    "title": _sentence(rng, 3), "url": f"https://example.com/{i}"}  # fmt: skip
            note["annotations"] = [link]
        if i % 10 == 0:
            picture = f"{created // 1000}.{i}.png"
            (folder / picture).write_bytes(PNG + i.to_bytes(4, "big"))
            note["attachments"] = [{"filePath": picture, "mimetype": "image/png"}]
        (folder / f"note-{i:06d}.json").write_text(json.dumps(note), encoding="utf-8")


def write_pages(folder: Path, n: int, rng: random.Random) -> None:
    """``n`` saved web pages: articles, and every tenth a small page."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        title = _sentence(rng, 5)[:-1]
        if i % 10 == 0:
            body = (
                f"<h1>{title}</h1><p>{_sentence(rng, 6)}</p><ul><li>{_sentence(rng, 2)}</li></ul>"
            )
            html = (
                f"<html><head><title>{title}</title><style>h1{{color:red}}</style>"
                f"<script>track({i})</script></head><body>{body}</body></html>"
            )
        else:
            paragraphs = "".join(f"<p>{_paragraph(rng)}</p>" for _ in range(rng.randint(3, 8)))
            day = f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}"
            linked = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle",
                                 "headline": title, "datePublished": f"{day}T08:00:00Z",
                                 "author": {"@type": "Person", "name": "Jane Doe"}})  # fmt: skip
            html = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{title} | Example News</title>
<meta property="og:title" content="{title}"><meta property="og:site_name" content="Example News">
<meta name="description" content="{_sentence(rng, 8)}"><meta name="keywords" content="a, b, c">
<meta property="article:published_time" content="{day}T10:00:00+02:00">
<link rel="canonical" href="https://news.example.com/{i}">
<style>body{{font-family:serif}} .ad{{display:none}}</style>
<script>window.dataLayer=[];function track(){{}}</script>
<script type="application/ld+json">{linked}</script></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>{title}</h1>{paragraphs}<h2>{_sentence(rng, 3)}</h2><p>{_paragraph(rng)}</p>
<ul><li>{_sentence(rng, 3)}</li><li>{_sentence(rng, 3)}</li></ul></article>
<footer>Copyright Example News</footer></body></html>"""
        (folder / f"page-{i:06d}.html").write_text(html, encoding="utf-8")


class _DirectOpener:
    def open_binary(self, path: Path) -> BinaryIO:
        return path.open("rb")


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _import(workdir: Path, name: str, template: str, folder: Path, n: int) -> dict[str, float]:
    grants = [f"file-system={folder}"]
    with api.init(workdir / f"repo-{name}", clock=SystemClock(), author=AUTHOR) as repo:
        start = time.perf_counter()
        op = api.import_(repo, template, [folder], author=AUTHOR, grants=grants, base=workdir)
        first = time.perf_counter() - start
        if op.state is not State.SUCCEEDED or op.counts["inserted"] != n:
            raise SystemExit(f"{name}: import ended {op.state} with {op.counts}, expected {n}")
        start = time.perf_counter()
        again = api.import_(repo, template, [folder], author=AUTHOR, grants=grants, base=workdir)
        second = time.perf_counter() - start
        if again.counts["unchanged"] != n:
            raise SystemExit(f"{name}: re-import counted {again.counts}, expected {n} unchanged")
    return {"import_s": first, "reimport_s": second}


def _importer_alone(importer: Importer, files: Sequence[Path]) -> float:
    opener, options = _DirectOpener(), Options()

    def work() -> None:
        for path in files:
            for _ in importer.read(path, opener, options, None):
                pass

    return _timed(work)


def _parse_notes(files: Sequence[Path]) -> float:
    return _timed(lambda: [json.loads(p.read_bytes()) for p in files])


def _parse_pages(files: Sequence[Path]) -> float:
    def work() -> None:
        for path in files:
            trafilatura.extract(path.read_bytes(), output_format="markdown", with_metadata=True)

    return _timed(work)


def run(workdir: Path, n: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    keep_folder, html_folder = workdir / "Takeout" / "Keep", workdir / "pages"
    write_keep(keep_folder, n, rng)
    write_pages(html_folder, n, rng)
    notes = sorted(keep_folder.glob("*.json"))
    pages = sorted(html_folder.glob("*.html"))
    # Warm up the libraries (imports, caches) so no side pays for them alone.
    _parse_pages(pages[:5])
    _importer_alone(HtmlImporter(), pages[:5])
    results: dict[str, Any] = {"n": n, "seed": seed}
    for name, template, files, importer, baseline in (
        ("keep", "google-keep-import", notes, GoogleKeepImporter(), _parse_notes),
        ("html", "html-import", pages, HtmlImporter(), _parse_pages),
    ):
        figures = _import(workdir, name, template, files[0].parent, n)
        figures["importer_s"] = _importer_alone(importer, files)
        figures["baseline_s"] = baseline(files)
        results[name] = {
            **{k: round(v, 3) for k, v in figures.items()},
            **{k.replace("_s", "_files_per_s"): round(n / v, 1) for k, v in figures.items()},
        }
    return results


def render(results: dict[str, Any]) -> str:
    n = results["n"]
    lines = [
        f"{n} files of each kind (seed {results['seed']}), files per second (seconds):",
        f"{'':8}{'import':>18}{'re-import':>18}{'importer alone':>20}{'baseline':>18}",
    ]
    for name, baseline in (("keep", "json.loads"), ("html", "trafilatura")):
        r = results[name]
        cells = [
            f"{r[k + '_files_per_s']:>10,.0f} ({r[k + '_s']:.2f}s)"
            for k in ("import", "reimport", "importer", "baseline")
        ]
        lines.append(
            f"{name:8}{cells[0]:>18}{cells[1]:>18}{cells[2]:>20}{cells[3]:>18}  "
            f"baseline: {baseline}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="files of each kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="isometry-keep-html-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        results = run(workdir, args.n, args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
