"""The content suite: storing blobs, against ``sha256sum`` and against the files' own hashes.

Three workloads, each in a fresh temporary repository (``isometry.api.init``):

* ``large``: one file of incompressible random bytes (``os.urandom``; stored raw), 1 GB at
  n = 100,000, stored with ``ContentStore.store``; its throughput against ``sha256sum`` on the
  same file in the same run (the better of two ``sha256sum`` runs, the file already in the page
  cache for both sides). Goal: ours / sha256sum >= 0.5.
* ``fixtures``: every file under ``/work/shared/fixtures`` stored in one
  ``api.store_files`` call; the dedup saving the store reports (``BlobStats.dedup_saved_bytes``)
  against the saving the files' own SHA-256s say (counted here with hashlib: for each content,
  size x (copies - 1)). Goal: equal.
* ``small``: n distinct blobs of 1-10 KB (random bytes, seeded: incompressible) stored with
  ``ContentStore.store_many`` in batches of ``SMALL_BATCH``; stores per second. Goal: >= 5,000.
  Also what the disk costs per small new file in the same folder, serially: creating an
  empty one before the run (high right after a large deletion: see ``creation_cost``), and
  after it creating and writing one, one ``os.fsync`` of it (a blob's cost before batches,
  and in a batch too small for syncfs), and one ``syncfs`` after 256 of them (a batch's burst
  on Linux), per file.

Figures are reported, never asserted; a wrong result (a blob that does not read back, a count
that is off) fails the run.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from isometry import api
from isometry.clock import SystemClock
from isometry.content import backends
from isometry.vcs.repository import Repository

FIXTURES = Path("/work/shared/fixtures")
FULL_N = 100_000
GIB = 1 << 30
SMALL_BATCH = 10_000
WRITE_CHUNK = 1 << 24
SMALL_GOAL = 5_000.0
LARGE_GOAL = 0.5


def large_bytes(n: int) -> int:
    """1 GiB at n = 100,000, scaled linearly below (at least 16 MiB)."""
    return max(16 << 20, GIB * min(n, FULL_N) // FULL_N)


def _repo(base: Path, name: str) -> Repository:
    return api.init(base / name, clock=SystemClock(), author="bench")


def _random_file(path: Path, size: int, seed: int) -> None:
    del seed  # os.urandom: incompressible, not reproducible (it need not be)
    with path.open("wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(WRITE_CHUNK, left))
            out.write(chunk)
            left -= len(chunk)


def _sha256sum(path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        ["sha256sum", str(path)], capture_output=True, text=True, check=True
    )  # fmt: skip
    return time.perf_counter() - started, done.stdout.split()[0]


def run_large(base: Path, n: int, seed: int, say: Callable[[str], None]) -> dict[str, Any]:
    size = large_bytes(n)
    path = base / "large.bin"
    say(f"content/large: writing {size:,} random (incompressible) bytes ...")
    _random_file(path, size, seed)
    _sha256sum(path)  # warm the page cache for both sides
    peer_runs = [_sha256sum(path) for _ in range(2)]
    peer_seconds = min(t for t, _ in peer_runs)
    repo = _repo(base, "large-repo")
    try:
        store = api.content_store(repo)
        started = time.perf_counter()
        ref = store.store(path, "large.bin")
        ours_seconds = time.perf_counter() - started
        if ref.hash != peer_runs[0][1] or ref.size != size:
            raise AssertionError(f"large: stored {ref.hash} ({ref.size} B), sha256sum says "
                                 f"{peer_runs[0][1]} ({size} B)")  # fmt: skip
    finally:
        repo.close()
        path.unlink()
    ours = size / ours_seconds / 1e6
    peer = size / peer_seconds / 1e6
    return {
        "bytes": size,
        "data": "os.urandom (incompressible)",
        "compression": ref.compression,
        "ours_seconds": ours_seconds,
        "sha256sum_seconds": peer_seconds,
        "ours_mb_s": ours,
        "sha256sum_mb_s": peer,
        "ratio": ours / peer,
        "goal": LARGE_GOAL,
        "meets_goal": ours / peer >= LARGE_GOAL,
    }


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, _dirs, files in os.walk(root):
        found.extend(Path(folder) / name for name in files)
    return sorted(found)


def run_fixtures(base: Path, say: Callable[[str], None]) -> dict[str, Any]:
    files = _walk(FIXTURES)
    say(f"content/fixtures: {len(files):,} files under {FIXTURES} ...")
    sizes: dict[str, int] = {}
    copies: Counter[str] = Counter()
    for path in files:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        sizes[digest] = len(data)
        copies[digest] += 1
    expected = sum(sizes[h] * (c - 1) for h, c in copies.items())
    repo = _repo(base, "fixtures-repo")
    try:
        started = time.perf_counter()
        refs = api.store_files(repo, [FIXTURES])
        seconds = time.perf_counter() - started
        stats = api.blob_stats(repo)
    finally:
        repo.close()
    if len(refs) != len(files) or stats.blobs != len(copies):
        raise AssertionError(
            f"fixtures: {len(refs)} refs for {len(files)} files, {stats.blobs} blobs for "
            f"{len(copies)} distinct contents"
        )
    return {
        "files": len(files),
        "logical_bytes": sum(sizes[h] * c for h, c in copies.items()),
        "distinct_contents": len(copies),
        "duplicate_files": len(files) - len(copies),
        "expected_dedup_bytes": expected,
        "reported_dedup_bytes": stats.dedup_saved_bytes,
        "equal": expected == stats.dedup_saved_bytes,
        "duplicates_flagged": sum(r.duplicate for r in refs),
        "seconds": seconds,
    }


def _small_blobs(n: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for index in range(n):
        size = rng.randint(1024, 10 * 1024)
        # A distinct prefix makes every blob distinct whatever the random bytes are.
        yield index.to_bytes(8, "big") + rng.randbytes(size - 8)


def _new_file(path: Path, payload: bytes) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, payload)
    return fd


def creation_cost(base: Path, count: int = 200) -> float:
    """Microseconds to create one new empty file in ``base`` now (the files are left for the
    suite's clean-up: removing them would slow the next creations). Without a journal, ext4
    skips the inodes freed in the last minutes when it allocates one, so this is high right
    after a large deletion on the same file system."""
    folder = Path(tempfile.mkdtemp(dir=base, prefix="create-"))
    started = time.perf_counter()
    for index in range(count):
        os.close(os.open(folder / f"f{index}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return (time.perf_counter() - started) / count * 1e6


def disk_costs(base: Path, count: int = 512) -> dict[str, float | None]:
    """Serial costs of new 5 KB files in ``base`` (same disk): creating and writing one, one
    ``os.fsync`` of one, and one syncfs (the store's, with its fsync) after 256, per file."""
    folder = Path(tempfile.mkdtemp(dir=base, prefix="disk-"))
    payload = os.urandom(5000)
    try:
        create_seconds = fsync_seconds = 0.0
        for index in range(count):
            started = time.perf_counter()
            fd = _new_file(folder / f"f{index}", payload)
            create_seconds += time.perf_counter() - started
            try:
                started = time.perf_counter()
                os.fsync(fd)
                fsync_seconds += time.perf_counter() - started
            finally:
                os.close(fd)
        syncfs_us: float | None = None
        if backends.SYNCFS is not None:
            burst = 256
            fds = [_new_file(folder / f"s{index}", payload) for index in range(burst)]
            try:
                started = time.perf_counter()
                backends._sync_all(backends.SYNCFS, fds[0])
                syncfs_us = (time.perf_counter() - started) / burst * 1e6
            finally:
                for fd in fds:
                    os.close(fd)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    per = fsync_seconds / count
    return {
        "create_us": create_seconds / count * 1e6,
        "fsync_us": per * 1e6,
        "serial_fsync_cap_per_s": 1 / per,
        "syncfs_256_us_per_file": syncfs_us,
    }


def run_small(base: Path, n: int, seed: int, say: Callable[[str], None]) -> dict[str, Any]:
    say(f"content/small: {n:,} distinct 1-10 KB blobs in batches of {SMALL_BATCH:,} ...")
    blobs = list(_small_blobs(n, seed))  # generated before the clock starts
    repo = _repo(base, "small-repo")
    create_before_us = creation_cost(base)
    try:
        store = api.content_store(repo)
        started = time.perf_counter()
        refs = []
        for first in range(0, n, SMALL_BATCH):
            refs += store.store_many((b, None) for b in blobs[first : first + SMALL_BATCH])
        seconds = time.perf_counter() - started
        stats = store.stats()
        check = random.Random(seed + 1).sample(range(n), min(n, 100))
        for index in check:
            if store.read(refs[index].hash) != blobs[index]:
                raise AssertionError(f"small: blob {index} does not read back")
    finally:
        repo.close()
    if stats.blobs != n or any(r.duplicate for r in refs):
        raise AssertionError(f"small: {stats.blobs} blobs stored for {n} distinct ones")
    rate = n / seconds
    return {
        "blobs": n,
        "bytes": sum(len(b) for b in blobs),
        "batch": SMALL_BATCH,
        "seconds": seconds,
        "stores_per_s": rate,
        "goal": SMALL_GOAL,
        "meets_goal": rate >= SMALL_GOAL,
        "syncfs_min": backends.SYNCFS_MIN if backends.SYNCFS is not None else None,
        "create_before_us": create_before_us,
        **disk_costs(base),
    }


def run_content(
    n: int, base: Path, seed: int, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Every workload of the suite; n = 100,000 is full size (1 GB, 100,000 small blobs)."""
    base.mkdir(parents=True, exist_ok=True)
    small_n = min(n, FULL_N)
    scaled = n < FULL_N
    if scaled:
        say(f"content: QUICK RUN scaled down: {small_n:,} small blobs and "
            f"{large_bytes(n):,} bytes instead of 100,000 and 1 GiB")  # fmt: skip
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "n": n,
        "scaled_down": scaled,
        "large": run_large(base, n, seed, say),
        "fixtures": run_fixtures(base, say),
        "small": run_small(base, small_n, seed, say),
    }


def render(figures: dict[str, Any]) -> str:
    large, fixtures, small = figures["large"], figures["fixtures"], figures["small"]
    yes = {True: "yes", False: "NO"}
    lines = [
        f"store {large['bytes']:,} B ({large['data']}): ours {large['ours_mb_s']:,.0f} MB/s,"
        f" sha256sum {large['sha256sum_mb_s']:,.0f} MB/s, ratio {large['ratio']:.2f}"
        f" (goal >= {large['goal']}): {yes[large['meets_goal']]}",
        f"fixtures: {fixtures['files']} files, {fixtures['distinct_contents']} distinct,"
        f" dedup saving reported {fixtures['reported_dedup_bytes']:,} B, by the files' hashes"
        f" {fixtures['expected_dedup_bytes']:,} B: equal {yes[fixtures['equal']]}",
        f"small: {small['blobs']:,} blobs in {small['seconds']:,.2f} s ="
        f" {small['stores_per_s']:,.0f} stores/s (goal >= {small['goal']:,.0f}):"
        f" {yes[small['meets_goal']]}",
        f"disk here: a new empty file {small['create_before_us']:,.0f} us before the run;"
        f" per new 5 KB file after it: create and write {small['create_us']:,.0f} us,"
        f" one os.fsync {small['fsync_us']:,.0f} us (serial cap"
        f" {small['serial_fsync_cap_per_s']:,.0f}/s), "
        + (
            f"syncfs after 256 {small['syncfs_256_us_per_file']:,.0f} us"
            if small["syncfs_256_us_per_file"] is not None
            else "no syncfs (one fsync per file)"
        ),
    ]
    if figures["scaled_down"]:
        lines.append("(QUICK RUN: scaled down; full size is --n 100000)")
    return "\n".join(lines)
