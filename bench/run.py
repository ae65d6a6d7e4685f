"""The benchmarks of the issues, each against its peers in the same run.

``python -m bench.run [--suite all|store|imports|content|sources] [--n N] [--seed S]
[--json PATH] [--skip-peer]`` runs, by default, every suite at n = 1,000,000, store, imports,
content, sources:

* ``store``: our store and doltlite, same workload. Our side runs in this process, the
  doltlite side in a fresh interpreter (libdoltlite replaces the SQLite of any process that
  imports it); one table with the targets and the ours/theirs ratios; every figure in
  ``bench/out/results.json``.
* ``imports``: our ETL engine importing n JSON Lines records against four other loaders
  (raw ``executemany``, doltlite, sqlite-utils, dlt), plus the queue, lineage and
  resume-after-SIGKILL workloads (:mod:`bench.imports`); every figure in
  ``bench/out/imports.json``.
* ``content``: the blob store (:mod:`bench.content`): a 1 GB file against ``sha256sum``, the
  fixtures' dedup against their own hashes, 100,000 small blobs per second; full size at
  n >= 100,000 (capped there), scaled down below; every figure in ``bench/out/content.json``.

* ``sources``: each format importer on generated files of its own, each against its baseline
  in the same command (the parser alone): Apple Notes (10,000 notes), Evernote, Keep and HTML,
  office files, Markdown vaults, SQLite tables and plain folders (``bench/notes.py``,
  ``enex.py``, ``keep_html.py``, ``office.py``, ``vault.py``, ``sqlite_files.py``), each in a
  child process; their own sizes, not ``--n``.

``--json PATH`` also writes the results there (all suites: ``{"store": ..., "imports": ...,
"content": ...}``).
Ratios are reported, never asserted: a figure over its target is shown, not raised; a wrong
result fails the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.content import render as render_content
from bench.content import run_content
from bench.doltlite_side import run_peer_isolated
from bench.imports import render as render_imports
from bench.imports import run_imports
from bench.ours import LOAD_ROWS, run_ours

if TYPE_CHECKING:
    from collections.abc import Sequence

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = OUT / "results.json"
IMPORT_RESULTS = OUT / "imports.json"
CONTENT_RESULTS = OUT / "content.json"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    target: float | None

    def show(self, value: float | None) -> str:
        if value is None:
            return "-"
        if self.unit == "B":
            return f"{value:,.0f} B"
        if self.unit == "s":
            return f"{value:,.3f} s"
        return f"{value:,.3f} ms"


METRICS = (
    Metric("build_seconds", "load n nodes", "s", None),
    Metric("branch_ms", "create a branch", "ms", 1.0),
    Metric("diff_100_ms", "diff, 100 changed nodes", "ms", 10.0),
    Metric("merge_10000_s", "merge, 10,000 changed nodes", "s", 1.0),
    Metric("commit_one_bytes", "one-node commit, bytes added", "B", 1024.0),
    Metric("as_of_ms", "AS OF read of one node", "ms", 1.0),
)


def _peer_versions() -> dict[str, str]:
    """doltlite's package, Dolt and SQLite versions, asked in a throwaway interpreter."""
    try:
        facts = {"doltlite_package": metadata.version("doltlite")}
    except metadata.PackageNotFoundError:
        return {"doltlite_package": "not installed"}
    env = {k: v for k, v in os.environ.items() if k != "_DOLTLITE_BOOTSTRAPPED"}
    code = (
        "import doltlite, sqlite3, json; c = sqlite3.connect(':memory:');"
        "print(json.dumps([sqlite3.sqlite_version,"
        " c.execute('SELECT dolt_version()').fetchone()[0]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        sqlite_version, dolt = json.loads(done.stdout.strip().splitlines()[-1])
        facts |= {"doltlite_sqlite": str(sqlite_version), "doltlite_dolt_version": str(dolt)}
    return facts


def code_facts() -> dict[str, Any]:
    """Which code was measured: the commit, and how many files under src/ differ from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
            )
        except OSError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    changed = git("status", "--porcelain", "--", "src")
    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "src_files_changed": None if changed is None else len(changed.splitlines()),
    }


def machine_facts(skip_peer: bool) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    if not skip_peer:
        facts |= _peer_versions()
    return facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _max_rss_mb() -> float:
    """Peak resident memory of this process: our side, the peer runs in a child."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB else


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs


# How much one window of 200 commits adds depends on where b-tree pages split and when FTS
# segments merge; the verdict on the growth target takes the worse of two windows.
GROWTH_CROSS_CHECKS = ("commit_one_bytes_window2",)


def _verdict(m: Metric, mine: float, notes: dict[str, float]) -> bool | None:
    if m.target is None:
        return None
    worst = mine
    if m.key == "commit_one_bytes":
        worst = max([mine, *(notes[k] for k in GROWTH_CROSS_CHECKS if k in notes)])
    return worst <= m.target


def table(
    ours: dict[str, float], theirs: dict[str, float] | None, notes: dict[str, float]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for m in METRICS:
        mine, peer = ours[m.key], theirs[m.key] if theirs else None
        rows.append(
            {
                "metric": m.key,
                "label": m.label,
                "unit": m.unit,
                "target": m.target,
                "ours": mine,
                "doltlite": peer,
                "ratio": _ratio(mine, peer),
                "meets_target": _verdict(m, mine, notes),
            }
        )
    return rows


def render(rows: Sequence[dict[str, Any]]) -> str:
    by_key = {m.key: m for m in METRICS}
    header = ("metric", "target", "ours", "doltlite", "ours/theirs", "target met")
    lines = [header]
    for row in rows:
        m = by_key[row["metric"]]
        met = row["meets_target"]
        lines.append(
            (
                m.label,
                "-" if m.target is None else "<= " + m.show(m.target),
                m.show(row["ours"]),
                m.show(row["doltlite"]),
                "-" if row["ratio"] is None else f"{row['ratio']:.2f}",
                "-" if met is None else ("yes" if met else "NO"),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for number, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        out.append("  ".join(cells))
        if number == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def run_store(
    args: argparse.Namespace, facts: dict[str, Any], code: dict[str, Any]
) -> dict[str, Any]:
    """The store suite: our side in this process, doltlite in its own; prints its table and
    writes ``bench/out/results.json``."""
    base = args.workdir or Path(tempfile.mkdtemp(prefix="isometry-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        print(f"ours: loading {args.n:,} nodes in commits of {LOAD_ROWS:,} ...", flush=True)
        notes: dict[str, float] = {}
        t0 = time.perf_counter()
        ours = asdict(run_ours(args.n, base / "ours", args.seed, notes=notes))
        ours_wall = time.perf_counter() - t0
        print(f"ours: done in {ours_wall:,.1f} s", flush=True)
        theirs: dict[str, float] | None = None
        peer_wall: float | None = None
        if not args.skip_peer:
            print("doltlite: same workload in its own interpreter ...", flush=True)
            t0 = time.perf_counter()
            theirs = asdict(run_peer_isolated(args.n, base / "doltlite", args.seed))
            peer_wall = time.perf_counter() - t0
            print(f"doltlite: done in {peer_wall:,.1f} s", flush=True)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    total_wall = time.perf_counter() - started

    rows = table(ours, theirs, notes)
    print()
    print(render(rows))
    checks = ", ".join(f"{k} {notes[k]:,.0f} B" for k in GROWTH_CROSS_CHECKS if k in notes)
    print(f"(one-node commit: verdict also weighs {checks}; see bench/README.md)")
    print()
    print("ours, explanatory:")
    for key, value in notes.items():
        print(
            f"  {key:<44} {value:>16,.0f}"
            if float(value).is_integer()
            else f"  {key:<44} {value:>16,.3f}"
        )
    peer_text = f", doltlite {peer_wall:,.1f} s" if peer_wall is not None else ""
    print(f"wall: ours {ours_wall:,.1f} s{peer_text}, total {total_wall:,.1f} s")

    results = {
        "date": _now(),
        "n": args.n,
        "seed": args.seed,
        "machine": facts,
        "code": code,
        "ours": ours,
        "doltlite": theirs,
        "ours_notes": notes,
        "table": rows,
        "wall_seconds": {"ours": ours_wall, "doltlite": peer_wall, "total": total_wall},
        "ours_max_rss_mb": _max_rss_mb(),
    }
    _write(RESULTS, results)
    print(f"results: {RESULTS}", flush=True)
    return results


def run_import_suite(
    args: argparse.Namespace, facts: dict[str, Any], code: dict[str, Any]
) -> dict[str, Any]:
    """The import suite (``bench/imports.py``): every side in a child process of its own;
    prints its tables and writes ``bench/out/imports.json``."""
    base = (
        args.workdir / "imports"
        if args.workdir is not None
        else Path(tempfile.mkdtemp(prefix="isometry-imports-"))
    )
    started = time.perf_counter()
    print(f"imports: n={args.n:,}; ours and each anchor in a child process of its own", flush=True)
    try:
        figures = run_imports(
            args.n,
            base,
            args.seed,
            skip_anchors=args.skip_peer,
            keep=args.keep,
            say=lambda text: print(text, flush=True),
        )
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    total_wall = time.perf_counter() - started
    print()
    print(render_imports(figures))
    print(f"wall: imports suite {total_wall:,.1f} s")
    results = {"date": _now(), "machine": facts, "code": code, **figures}
    results["wall_seconds"] = {**figures["wall_seconds"], "total": total_wall}
    _write(IMPORT_RESULTS, results)
    print(f"results: {IMPORT_RESULTS}", flush=True)
    return results


def run_content_suite(
    args: argparse.Namespace, facts: dict[str, Any], code: dict[str, Any]
) -> dict[str, Any]:
    """The content suite (``bench/content.py``), in this process; prints its figures and
    writes ``bench/out/content.json``."""
    base = (
        args.workdir / "content"
        if args.workdir is not None
        else Path(tempfile.mkdtemp(prefix="isometry-content-"))
    )
    started = time.perf_counter()
    print(f"content: n={args.n:,} (full size at n >= 100,000)", flush=True)
    try:
        figures = run_content(args.n, base, args.seed, say=lambda text: print(text, flush=True))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    total_wall = time.perf_counter() - started
    print()
    print(render_content(figures))
    print(f"wall: content suite {total_wall:,.1f} s")
    results = {"machine": facts, "code": code, **figures, "wall_seconds": total_wall}
    _write(CONTENT_RESULTS, results)
    print(f"results: {CONTENT_RESULTS}", flush=True)
    return results


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


SUITES = ("all", "store", "imports", "content", "sources")
SOURCE_BENCHES = (
    ("bench.notes", "--n", "10000"),
    ("bench.enex",),
    ("bench.keep_html",),
    ("bench.office",),
    ("bench.vault",),
    ("bench.sqlite_files",),
)


def run_sources_suite() -> None:
    """Each format importer's benchmark in a child process of its own (they print their own
    figures and baselines)."""
    started = time.perf_counter()
    for module, *extra in SOURCE_BENCHES:
        print(f"-- {module}", flush=True)
        subprocess.run([sys.executable, "-m", module, *extra], cwd=ROOT, check=True)
    print(f"wall: sources suite {time.perf_counter() - started:,.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--suite",
        choices=SUITES,
        default="all",
        help="store (vs doltlite), imports (vs four loaders), content (blobs), sources (format "
        "importers), or all of them",
    )
    parser.add_argument(
        "--n", type=int, default=1_000_000, help="nodes to load / records to import (>= 1000)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--skip-peer", action="store_true", help="run our side only")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args(argv)

    facts = machine_facts(args.skip_peer)
    code = code_facts()
    print(
        f"benchmark suite={args.suite} n={args.n:,} seed={args.seed}; code {code['commit']}"
        f" ({code['src_files_changed']} file(s) under src/ changed since)"
    )
    print(
        f"machine: {facts['cpu_count']} CPU(s) {facts['cpu']}; Python {facts['python']};"
        f" SQLite {facts['sqlite']}"
        + (
            f"; doltlite {facts.get('doltlite_package')} (SQLite"
            f" {facts.get('doltlite_sqlite', '?')}, dolt {facts.get('doltlite_dolt_version', '?')})"
            if not args.skip_peer
            else ""
        ),
        flush=True,
    )

    results: dict[str, Any] = {}
    if args.suite in ("all", "store"):
        results["store"] = run_store(args, facts, code)
    if args.suite in ("all", "imports"):
        if results:
            print()
        results["imports"] = run_import_suite(args, facts, code)
    if args.suite in ("all", "content"):
        if results:
            print()
        results["content"] = run_content_suite(args, facts, code)
    if args.suite in ("all", "sources"):
        if results:
            print()
        run_sources_suite()
    if args.json is not None and results:
        # One suite: its results as they are; all: {"store": ..., "imports": ..., "content": ...}.
        _write(args.json, results if args.suite == "all" else results[args.suite])
        print(f"results also in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
