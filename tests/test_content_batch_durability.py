"""Batches of blobs made durable together: ``Backend.seal_many`` on both backends, the order
of syncs, renames and the commit when a whole file system is synced at once (syncfs), and
errors that must leave nothing behind."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zstandard

from isometry.content import ContentStore, LocalBackend, MemoryBackend, backends, codec
from isometry.content import store as content_store
from isometry.content.backends import STAGING, SYNCFS_MIN, Backend, Staging
from isometry.errors import ContentError, InvalidContentRequest, QuotaExceeded
from isometry.store.connection import Database

START = datetime(2030, 1, 1, tzinfo=UTC)
TEXT = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(400))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def distinct(count: int, size: int = 2000) -> list[bytes]:
    return [i.to_bytes(4, "big") + os.urandom(size) for i in range(count)]


@pytest.fixture(params=["local", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return LocalBackend(tmp_path / "blobs")
    return MemoryBackend()


def staged(backend: Backend, blobs: list[bytes]) -> list[Staging]:
    stagings = []
    for data in blobs:
        staging = backend.stage()
        staging.write(data)
        stagings.append(staging)
    return stagings


@pytest.mark.parametrize("count", [1, SYNCFS_MIN + 3])
def test_contract_seal_many_then_commit(backend: Backend, count: int) -> None:
    blobs = distinct(count)
    assert backend.put(sha(blobs[0]), blobs[0])
    stagings = staged(backend, blobs)
    backend.seal_many(stagings)
    with pytest.raises(ContentError):
        stagings[0].write(b"more")
    placed = [s.commit(sha(b), sync=False) for s, b in zip(stagings, blobs, strict=True)]
    backend.sync(sha(b) for b in blobs[1:])
    assert placed == [False] + [True] * (count - 1)  # the first was there: kept
    assert list(backend.list()) == sorted(sha(b) for b in blobs)
    with backend.get(sha(blobs[-1])) as stored:
        assert stored.read() == blobs[-1]
    backend.seal_many([])
    if isinstance(backend, LocalBackend):
        assert list((backend.root / STAGING).iterdir()) == []


# -- the order of syncs, renames and the commit ---------------------------------------------


def local(store: ContentStore) -> LocalBackend:
    assert isinstance(store.backend, LocalBackend)
    return store.backend


def committed_rows(db: Database) -> int:
    """Rows another connection sees: committed ones only."""
    with sqlite3.connect(db.path) as other:
        return int(other.execute("SELECT COUNT(*) FROM blobs").fetchone()[0])


class Journal:
    """What happened, in order: each write to a staging file, rename, syncfs and fsync."""

    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.root = root
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.rows_at_syncs: list[int] = []

    def add(self, kind: str, what: str = "") -> None:
        with self.lock:
            self.events.append((kind, what))

    def syncfs(self, fd: int) -> None:
        os.sync()  # syncs at least as much as syncfs
        self.rows_at_syncs.append(committed_rows(self.db))
        self.add("syncfs", os.readlink(f"/proc/self/fd/{fd}"))


@pytest.fixture
def journal(store: ContentStore, db: Database, monkeypatch: pytest.MonkeyPatch) -> Journal:
    """Every ``os.write`` to a staging file, ``os.replace``, syncfs and ``os.fsync``,
    recorded."""
    backend = local(store)
    record = Journal(db, backend.root)
    real_write, real_replace, real_fsync = os.write, os.replace, os.fsync

    def write(fd: int, data: Any) -> int:
        written = real_write(fd, data)
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target.startswith(str(backend.root / STAGING)):
            record.add("write", target)
        return written

    def replace(source: Any, target: Any) -> None:
        real_replace(source, target)
        record.add("rename", str(source))

    def fsync(fd: int) -> None:
        real_fsync(fd)
        record.add("fsync", os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    backend.syncfs = record.syncfs
    return record


def test_syncfs_batch_bytes_synced_before_renames_names_before_commit(
    store: ContentStore, db: Database, journal: Journal
) -> None:
    blobs = distinct(3 * content_store.SEAL_BURST + SYNCFS_MIN + 1)
    refs = store.store_many((b, None) for b in blobs)

    events = journal.events
    syncs = [i for i, (kind, _) in enumerate(events) if kind == "syncfs"]
    renames = [i for i, (kind, _) in enumerate(events) if kind == "rename"]
    last_write = {what: i for i, (kind, what) in enumerate(events) if kind == "write"}
    assert len(renames) == len(blobs)
    # One sync per burst of staging files, one for what is left, one for the names.
    assert len(syncs) == 3 + 1 + 1
    for index in renames:
        staged = events[index][1]
        assert any(last_write[staged] < s < index for s in syncs), "renamed before synced"
    assert syncs[-1] > renames[-1], "names not synced before the commit"
    # Each syncfs goes through a descriptor opened before what it must cover (a burst's
    # oldest staging file; the root for the names), then an fsync of it flushes once more.
    synced = [(kind, what) for kind, what in events if kind in ("syncfs", "fsync")]
    assert synced == [(kind, what) for _, what in synced[::2] for kind in ("syncfs", "fsync")]
    staging = str(local(store).root / STAGING)
    assert all(what.startswith(staging) for _, what in synced[:-2])
    assert synced[-1] == ("fsync", str(local(store).root))
    assert journal.rows_at_syncs == [0] * len(syncs), "a row was committed before a sync"
    assert committed_rows(db) == len(blobs)
    assert [r.hash for r in refs] == [sha(b) for b in blobs]
    assert all(store.read(sha(b)) == b for b in blobs[:: content_store.SEAL_BURST // 2])
    assert list((local(store).root / STAGING).iterdir()) == []


@pytest.mark.parametrize(
    ("count", "has_syncfs"),
    [(SYNCFS_MIN // 2, True), (SYNCFS_MIN + 3, False)],
    ids=["small batch", "no syncfs"],
)
def test_without_syncfs_each_file_is_fsynced(
    store: ContentStore, db: Database, journal: Journal, count: int, has_syncfs: bool
) -> None:
    """A batch too small for syncfs, or a system without it: one fsync per staging file."""
    if not has_syncfs:
        local(store).syncfs = None
    blobs = distinct(count)
    store.store_many((b, None) for b in blobs)
    assert [kind for kind, _ in journal.events if kind == "syncfs"] == []
    staging = str(local(store).root / STAGING)
    fsynced = [what for kind, what in journal.events if kind == "fsync"]
    assert len([f for f in fsynced if f.startswith(staging)]) == len(blobs)
    assert committed_rows(db) == len(blobs)
    assert all(store.read(sha(b)) == b for b in blobs)


def _nothing_written(store: ContentStore, db: Database) -> None:
    backend = local(store)
    assert list(backend.list()) == []
    assert list((backend.root / STAGING).iterdir()) == []
    assert committed_rows(db) == 0
    assert db.conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 0


def failing_syncfs(fail_at: int, calls: list[int]) -> Callable[[int], None]:
    def syncfs(fd: int) -> None:
        calls.append(fd)
        if len(calls) == fail_at:
            raise OSError(errno.EIO, "syncfs: Input/output error")
        os.sync()

    return syncfs


@pytest.mark.parametrize("fail_at", ["first", "names"])
def test_a_failed_syncfs_is_raised_and_stores_nothing(
    store: ContentStore, db: Database, fail_at: str
) -> None:
    blobs = distinct(2 * content_store.SEAL_BURST + SYNCFS_MIN + 1)
    calls: list[int] = []
    # Syncs: two bursts, what is left, then the names (after every rename).
    local(store).syncfs = failing_syncfs(1 if fail_at == "first" else 4, calls)
    with pytest.raises(OSError, match="Input/output") as raised:
        store.store_many((b, None) for b in blobs)
    assert raised.value.errno == errno.EIO
    _nothing_written(store, db)
    local(store).syncfs = backends.SYNCFS
    assert len(store.store_many((b, None) for b in blobs[:3])) == 3


def test_a_write_failing_in_the_worker_stores_nothing(
    store: ContentStore, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.write
    calls = 0

    def write(fd: int, data: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == content_store.SEAL_BURST + 7:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(OSError, match="No space") as raised:
        store.store_many((b, None) for b in distinct(3 * content_store.SEAL_BURST))
    assert raised.value.errno == errno.ENOSPC
    monkeypatch.setattr(os, "write", real)
    _nothing_written(store, db)


def test_a_refusal_after_bursts_were_sealed_stores_nothing(
    store: ContentStore, db: Database
) -> None:
    blobs = distinct(3 * content_store.SEAL_BURST, size=1000)
    store.max_total_bytes = sum(len(b) + 1 for b in blobs[:-5])
    with pytest.raises(QuotaExceeded, match="storage quota"):
        store.store_many((b, None) for b in blobs)
    _nothing_written(store, db)


# The real syncfs(2) exists on Linux 5.8 and later only (CI runs there); elsewhere the batch
# path without it is what runs, and is tested above with syncfs taken away.
_needs_syncfs = pytest.mark.skipif(
    backends.SYNCFS is None, reason="no syncfs here (not Linux 5.8 or later)"
)


@_needs_syncfs
def test_syncfs_reports_errors_with_their_errno() -> None:
    assert backends.SYNCFS is not None
    with pytest.raises(OSError, match="syncfs: Bad file descriptor") as raised:
        backends.SYNCFS(-1)
    assert raised.value.errno == errno.EBADF


@_needs_syncfs
def test_the_real_syncfs_batch_reads_back(store: ContentStore, db: Database) -> None:
    blobs = distinct(content_store.SEAL_BURST + SYNCFS_MIN + 1)
    refs = store.store_many((b, None) for b in blobs)
    assert committed_rows(db) == len(blobs)
    assert all(store.read(r.hash) == b for r, b in zip(refs, blobs, strict=True))


# -- what a batch writes ----------------------------------------------------------------------


def test_a_blob_no_larger_than_the_probe_keeps_the_probe_frame(store: ContentStore) -> None:
    assert len(TEXT) <= codec.PROBE
    ref = store.store_many([(TEXT, "t.txt")])[0]
    stored = local(store).path_of(ref.hash).read_bytes()
    whole = zstandard.ZstdCompressor(level=codec.ZSTD_LEVEL).compress(TEXT)
    assert (ref.compression, ref.stored_size) == ("zstd", len(stored))
    assert stored == codec.ZSTD + whole
    assert store.read(ref.hash) == TEXT


def test_each_thread_has_its_own_compressor() -> None:
    found: list[object] = []
    thread = threading.Thread(target=lambda: found.append(codec.compressor()))
    thread.start()
    thread.join()
    assert codec.compressor() is codec.compressor()
    assert found[0] is not codec.compressor()


def test_a_fanout_folder_removed_behind_our_back_is_made_again(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "blobs")
    first = b"first"
    prefix = sha(first)[:2]
    second = next(
        data for data in (b"second %d" % i for i in range(100_000)) if sha(data).startswith(prefix)
    )
    assert backend.put(sha(first), first)
    assert backend.delete(sha(first))
    (tmp_path / "blobs" / prefix).rmdir()
    assert backend.put(sha(second), second)
    with backend.get(sha(second)) as stored:
        assert stored.read() == second


def test_a_staging_name_taken_by_another_process_is_not_reused(tmp_path: Path) -> None:
    """A forked child starts with its parent's staging names: creating one already there
    draws a new prefix instead of opening the other's file."""
    parent, child = LocalBackend(tmp_path / "blobs"), LocalBackend(tmp_path / "blobs")
    child._names_prefix = parent._names_prefix
    first, second = parent.stage(), child.stage()
    first.write(b"one")
    second.write(b"two")
    assert first.commit(sha(b"one"))
    assert second.commit(sha(b"two"))
    assert child._names_prefix != parent._names_prefix
    with parent.get(sha(b"one")) as one, parent.get(sha(b"two")) as two:
        assert (one.read(), two.read()) == (b"one", b"two")


# -- small batches, blobs staged ahead, the root's fsync ------------------------------------


def test_a_small_batch_is_sealed_in_order_without_threads(
    store: ContentStore, db: Database, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows_at_fsyncs: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        rows_at_fsyncs.append(committed_rows(db))
        real(fd)

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a thread pool was started for a small batch")

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(backends, "ThreadPoolExecutor", no_pool)
    blobs = distinct(backends.SERIAL_SEALS)
    refs = store.store_many((b, None) for b in blobs)

    staging = str(local(store).root / STAGING)
    events = [(kind, what) for kind, what in journal.events if kind in ("fsync", "rename")]
    files = [i for i, (kind, what) in enumerate(events) if kind == "fsync" and staging in what]
    renames = [i for i, (kind, _) in enumerate(events) if kind == "rename"]
    folders = [
        i for i, (kind, what) in enumerate(events) if kind == "fsync" and staging not in what
    ]
    assert len(files) == len(renames) == len(blobs)
    assert max(files) < min(renames), "renamed before every file was durable"
    assert folders, "no folder was synced"
    assert min(folders) > max(renames), "names not synced after the renames"
    assert rows_at_fsyncs == [0] * len(rows_at_fsyncs), "a row was committed before a sync"
    assert committed_rows(db) == len(blobs)
    assert all(store.read(r.hash) == b for r, b in zip(refs, blobs, strict=True))
    assert list((local(store).root / STAGING).iterdir()) == []


def test_a_failed_fsync_in_a_small_batch_stores_nothing(
    store: ContentStore, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.fsync
    calls = 0

    def fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="Input/output"):
        store.store_many((b, None) for b in distinct(3))
    monkeypatch.setattr(os, "fsync", real)
    _nothing_written(store, db)


def test_bytes_staged_ahead_are_stored_by_store_many(store: ContentStore, db: Database) -> None:
    blobs = distinct(2)
    staged = store.stage_bytes([(b, f"{i}.bin", "application/x-test") for i, b in enumerate(blobs)])
    assert committed_rows(db) == 0
    assert list(local(store).list()) == []
    refs = store.store_many([(s, f"{i}.bin") for i, s in enumerate(staged)])
    assert [r.hash for r in refs] == [sha(b) for b in blobs]
    assert {r.mime_type for r in refs} == {"application/x-test"}
    assert committed_rows(db) == 2
    assert all(store.read(sha(b)) == b for b in blobs)
    assert store.info(sha(blobs[1])).names == ["1.bin"]
    for entry in staged:
        entry.abort()  # stored: nothing to undo
    assert list((local(store).root / STAGING).iterdir()) == []
    assert all(store.read(sha(b)) == b for b in blobs)


def test_a_staged_blob_already_held_is_dropped(store: ContentStore, db: Database) -> None:
    data = distinct(1)[0]
    first = store.store(data, "a.bin")
    [staged] = store.stage_bytes([(data, "b.bin", None)])
    [again] = store.store_many([(staged, "b.bin")])
    assert again.hash == first.hash
    assert again.duplicate
    assert committed_rows(db) == 1
    assert list((local(store).root / STAGING).iterdir()) == []


def test_a_refused_staged_blob_stores_nothing(store: ContentStore, db: Database) -> None:
    small, large = distinct(1, size=100)[0], distinct(1, size=5000)[0]
    staged = store.stage_bytes([(small, "small.bin", None), (large, "large.bin", None)])
    store.max_blob_size = 1000
    try:
        with pytest.raises(QuotaExceeded, match=r"large\.bin"):
            store.store_many([(s, None) for s in staged])
    finally:
        for entry in staged:
            entry.abort()
    _nothing_written(store, db)


def test_a_blob_staged_by_another_store_is_refused(
    store: ContentStore, db: Database, tmp_path: Path
) -> None:
    other = ContentStore.open(tmp_path / "other", db, store.clock)
    [staged] = other.stage_bytes([(b"elsewhere", "x.txt", None)])
    with pytest.raises(InvalidContentRequest, match="staged"):
        store.store_many([(staged, None)])
    staged.abort()
    _nothing_written(store, db)
    assert list((tmp_path / "other" / "blobs" / STAGING).iterdir()) == []


def test_staging_that_fails_leaves_nothing(
    store: ContentStore, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="Input/output"):
        store.stage_bytes([(b, "", None) for b in distinct(2)])
    _nothing_written(store, db)


def test_the_root_is_fsynced_only_while_a_fanout_folder_may_be_new(
    store: ContentStore, journal: Journal, tmp_path: Path
) -> None:
    root = str(local(store).root)
    first = b"first"
    prefix = sha(first)[:2]
    same_folder = [
        data for data in (b"more %d" % i for i in range(200_000)) if sha(data).startswith(prefix)
    ][:2]

    def root_fsyncs() -> int:
        return sum(1 for kind, what in journal.events if kind == "fsync" and what == root)

    store.store_many([(first, None)])
    assert root_fsyncs() == 1  # its folder was new
    store.store_many([(same_folder[0], None)])
    assert root_fsyncs() == 1  # the folder's entry is durable already
    # A folder made again (removed behind our back) is new once more.
    for blob in (first, same_folder[0]):
        (local(store).root / prefix / sha(blob)).unlink()
    (local(store).root / prefix).rmdir()
    store.store_many([(same_folder[1], None)])
    assert root_fsyncs() == 2
    assert store.read(sha(same_folder[1])) == same_folder[1]
