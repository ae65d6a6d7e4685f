"""Content-aware storage: the backend contract on both backends, and the content store on a
real blob folder and a real SQLite database."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import sqlite3
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from isometry import api
from isometry.clock import FixedStepClock
from isometry.content import ContentStore, LocalBackend, MemoryBackend
from isometry.content.backends import FORMAT_FILE, STAGING, Backend
from isometry.content.codec import RAW, ZSTD
from isometry.errors import (
    BlobCorrupt,
    BlobFormatUnknown,
    BlobNotFound,
    InvalidContentRequest,
    InvalidHash,
    QuotaExceeded,
    SourceUnreadable,
)
from isometry.store.connection import Database
from isometry.vcs.repository import Repository

START = datetime(2030, 1, 1, tzinfo=UTC)
MiB = 1 << 20
TEXT = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(5000))
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(4000)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(4000)  # zeros would compress well
PDF = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 200


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the backend contract: every backend behaves the same ---------------------------------------


@pytest.fixture(params=["local", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return LocalBackend(tmp_path / "blobs")
    return MemoryBackend()


def test_contract_put_get_has_size_list_delete(backend: Backend) -> None:
    a, b = b"alpha" * 100, b"beta"
    assert backend.put(sha(a), a) is True
    assert backend.put(sha(b), io.BytesIO(b)) is True
    assert backend.has(sha(a))
    assert backend.has(sha(b))
    with backend.get(sha(a)) as stored:
        assert stored.read() == a
    assert backend.size(sha(b)) == len(b)
    assert list(backend.list()) == sorted([sha(a), sha(b)])
    assert backend.delete(sha(a)) is True
    assert backend.delete(sha(a)) is False
    assert not backend.has(sha(a))
    assert list(backend.list()) == [sha(b)]


def test_contract_a_blob_is_written_once(backend: Backend) -> None:
    data = b"same"
    assert backend.put(sha(data), data) is True
    assert backend.put(sha(data), b"something else entirely") is False
    with backend.get(sha(data)) as stored:
        assert stored.read() == data


def test_contract_two_stagings_of_one_name_end_with_one_good_blob(backend: Backend) -> None:
    data = b"raced" * 1000
    first, second = backend.stage(), backend.stage()
    for staging in (first, second):
        staging.write(data[:10])
        staging.write(data[10:])
        assert staging.written == len(data)
    assert first.commit(sha(data)) is True
    assert second.commit(sha(data)) is False
    assert list(backend.list()) == [sha(data)]
    with backend.get(sha(data)) as stored:
        assert stored.read() == data


def test_contract_an_aborted_staging_leaves_nothing(backend: Backend) -> None:
    staging = backend.stage()
    staging.write(b"half a blob")
    staging.abort()
    assert list(backend.list()) == []
    if isinstance(backend, LocalBackend):
        assert list((backend.root / STAGING).iterdir()) == []


def test_contract_missing_and_invalid_names(backend: Backend) -> None:
    missing = sha(b"never stored")
    assert not backend.has(missing)
    with pytest.raises(BlobNotFound, match=missing):
        backend.get(missing)
    with pytest.raises(BlobNotFound):
        backend.size(missing)
    for bad in ("../../etc/passwd", "ABC", sha(b"x").upper(), sha(b"x") + "0"):
        with pytest.raises(InvalidHash):
            backend.has(bad)
        with pytest.raises(InvalidHash):
            backend.put(bad, b"x")


# -- the local folder: layout and format ------------------------------------------------------


def test_local_layout_fanout_format_file_and_read_only_blobs(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    backend = LocalBackend(root)
    data = b"layout"
    backend.put(sha(data), data)
    path = root / sha(data)[:2] / sha(data)
    assert path.read_bytes() == data
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert (root / FORMAT_FILE).read_text().strip() == "isometry-blobs 1"
    assert list(LocalBackend(root).list()) == [sha(data)]  # reopening checks the format


def test_local_refuses_an_unknown_format(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    LocalBackend(root)
    (root / FORMAT_FILE).write_text("isometry-blobs 99\n")
    with pytest.raises(BlobFormatUnknown, match="99"):
        LocalBackend(root)


# -- the content store --------------------------------------------------------------------------


def rows(db: Database, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.conn.execute(sql, args).fetchall()]


def blob_file(store: ContentStore, blob_hash: str) -> Path:
    assert isinstance(store.backend, LocalBackend)
    return store.backend.path_of(blob_hash)


def test_same_bytes_under_two_names_is_one_blob_with_both_names(
    store: ContentStore, db: Database, tmp_path: Path
) -> None:
    first = store.store(TEXT, "a.txt")
    path = tmp_path / "b.md"
    path.write_bytes(TEXT)
    second = store.store(path)
    third = store.store(io.BytesIO(TEXT), "c.txt")
    assert (first.duplicate, second.duplicate, third.duplicate) == (False, True, True)
    assert first.hash == second.hash == third.hash == sha(TEXT)
    assert list(store.backend.list()) == [first.hash]
    assert rows(db, "SELECT filename FROM blob_names ORDER BY filename") == [
        ("a.txt",),
        ("b.md",),
        ("c.txt",),
    ]
    stats = store.stats()
    assert stats.blobs == 1
    assert stats.stores == 3
    assert stats.dedup_saved_bytes == 2 * len(TEXT)
    assert stats.logical_bytes == len(TEXT)


def test_compressible_text_is_compressed_and_reads_back_exactly(store: ContentStore) -> None:
    ref = store.store(TEXT, "notes.txt")
    assert ref.compression == "zstd"
    assert ref.stored_size < len(TEXT) // 3
    assert ref.mime_type == "text/plain"
    assert blob_file(store, ref.hash).read_bytes()[:1] == ZSTD
    assert store.read(ref.hash) == TEXT
    out = io.BytesIO()
    assert store.copy_to(ref.hash, out) == len(TEXT)
    assert out.getvalue() == TEXT
    stats = store.stats()
    assert stats.compression_saved_bytes == len(TEXT) - ref.stored_size
    assert stats.by_mime["text/plain"].stored_bytes == ref.stored_size


@pytest.mark.parametrize(
    ("data", "filename", "mime"),
    [
        (PNG, "picture.bin", "image/png"),
        (JPEG, "photo", "image/jpeg"),
        (PDF, "paper.dat", "application/pdf"),
    ],
)
def test_already_compressed_formats_are_stored_raw(
    store: ContentStore, data: bytes, filename: str, mime: str
) -> None:
    ref = store.store(data, filename)
    assert ref.mime_type == mime  # from the bytes, whatever the name says
    assert ref.compression == "raw"
    assert ref.stored_size == len(data) + 1
    assert blob_file(store, ref.hash).read_bytes() == RAW + data
    assert store.read(ref.hash) == data


def test_mime_falls_back_to_the_extension_then_octet_stream(store: ContentStore) -> None:
    assert store.store(b"# Title\n\nsome words", "readme.md").mime_type == "text/markdown"
    assert store.store(b"\x13\x37 opaque", "blob").mime_type == "application/octet-stream"
    given = store.store(b"explicit", "x.txt", mime_type="application/x-custom")
    assert given.mime_type == "application/x-custom"


def test_incompressible_bytes_are_stored_raw(store: ContentStore) -> None:
    noise = os.urandom(200_000)
    ref = store.store(noise, "noise.bin")
    assert ref.compression == "raw"
    assert store.read(ref.hash) == noise


def _write_large(path: Path, size: int) -> str:
    """Half random, half zeros in every 64 KiB: zstd works on every chunk, and it pays."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // MiB):
            chunk = b"".join(os.urandom(32 * 1024) + bytes(32 * 1024) for _ in range(16))
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def test_a_large_file_streams_in_constant_memory(store: ContentStore, tmp_path: Path) -> None:
    path = tmp_path / "large.bin"
    size = 64 * MiB
    expected = _write_large(path, size)
    tracemalloc.start()
    try:
        ref = store.store(path)
        _, stored_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        total = 0
        for chunk in store.open_chunks(ref.hash):
            digest.update(chunk)
            total += len(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ref.hash == expected
    assert (ref.size, total) == (size, size)
    assert ref.compression == "zstd"
    assert ref.stored_size < size * 0.6
    assert digest.hexdigest() == expected
    assert stored_peak < 8 * MiB, stored_peak
    assert read_peak < 8 * MiB, read_peak


def test_a_flipped_byte_is_found_by_verify_with_its_owner(
    store: ContentStore, tmp_path: Path
) -> None:
    good = store.store(b"fine" * 1000, "fine.txt")
    bad = store.store(PNG, "photo.png")
    store.reference(bad.hash, "node", "node-42", "attachment", commit_seq=7)
    path = blob_file(store, bad.hash)
    path.chmod(0o644)
    damaged = bytearray(path.read_bytes())
    damaged[100] ^= 0xFF
    path.write_bytes(bytes(damaged))

    report = store.verify()
    assert not report.ok
    assert report.checked == report.total == 2
    assert [d.hash for d in report.damaged] == [bad.hash]
    damage = report.damaged[0]
    assert damage.problem == "corrupt"
    assert bad.hash in damage.detail
    assert [(r.kind, r.owner, r.commit_seq) for r in damage.references] == [("node", "node-42", 7)]
    assert damage.names == ["photo.png"]
    assert report.to_json()["ok"] is False
    with pytest.raises(BlobCorrupt, match=bad.hash):
        store.read(bad.hash)
    assert store.read(good.hash) == b"fine" * 1000


def test_verify_reports_missing_blobs_and_samples(store: ContentStore) -> None:
    refs = [store.store(b"blob %d" % i, f"{i}.txt") for i in range(20)]
    store.reference(refs[3].hash, "artifact", "op-1", "log")
    blob_file(store, refs[3].hash).unlink()
    report = store.verify()
    assert [(d.hash, d.problem) for d in report.damaged] == [(refs[3].hash, "missing")]
    assert report.damaged[0].references[0].owner == "op-1"
    sample = store.verify(sample_percent=25, seed=1)
    assert (sample.total, sample.checked) == (20, 5)
    assert sample.checked == store.verify(sample_percent=25, seed=1).checked
    with pytest.raises(InvalidContentRequest):
        store.verify(sample_percent=0)
    # Storing the content again puts the lost file back.
    again = store.store(b"blob 3", "3-again.txt")
    assert again.duplicate
    assert store.verify().ok


def test_a_zstd_blob_with_a_damaged_frame_is_corrupt(store: ContentStore) -> None:
    ref = store.store(TEXT, "t.txt")
    path = blob_file(store, ref.hash)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[: ref.stored_size // 2])
    report = store.verify()
    assert [(d.hash, d.problem) for d in report.damaged] == [(ref.hash, "corrupt")]


def test_gc_keeps_what_retained_commits_and_artifacts_reach(
    store: ContentStore, db: Database
) -> None:
    kept_by_commit = store.store(b"attached at commit 5", "a")
    kept_by_artifact = store.store(b"an operation log", "log")
    kept_every_version = store.store(b"attached to every version", "v")
    dropped_commit = store.store(b"attached at commit 3 only", "c")
    unreferenced = store.store(b"nobody wants me", "n")
    store.reference(kept_by_commit.hash, "node", "n1", "attachment", commit_seq=5)
    store.reference(kept_by_commit.hash, "node", "n1", "attachment", commit_seq=3)
    store.reference(kept_by_artifact.hash, "artifact", "op-1", "log")
    store.reference(kept_every_version.hash, "node", "n2", "inline-image")
    store.reference(dropped_commit.hash, "node", "n3", "attachment", commit_seq=3)
    orphan = b"\x00a file left by a crash before its row was written"
    store.backend.put(sha(orphan[1:]), orphan)

    young = store.gc(timedelta(hours=24), reachable_commits={5})
    assert (young.removed, young.kept_young) == (0, 2)
    assert young.orphan_files_removed == 1

    store.clock = FixedStepClock(START + timedelta(hours=25))
    report = store.gc(timedelta(hours=24), reachable_commits={5})
    assert report.removed == 2
    assert report.kept_referenced == 3
    assert report.bytes_freed == dropped_commit.stored_size + unreferenced.stored_size
    remaining = {kept_by_commit.hash, kept_by_artifact.hash, kept_every_version.hash}
    assert set(store.backend.list()) == remaining
    assert {r[0] for r in rows(db, "SELECT hash FROM blobs")} == remaining
    assert rows(db, "SELECT COUNT(*) FROM blob_refs WHERE hash = ?", dropped_commit.hash) == [(0,)]
    # Without a set of retained commits every node reference keeps its blob.
    store.unreference(kept_by_artifact.hash, "artifact", "op-1")
    assert store.gc(timedelta(hours=24)).removed == 1
    assert set(store.backend.list()) == {kept_by_commit.hash, kept_every_version.hash}


def test_storing_again_restarts_the_grace_period(store: ContentStore) -> None:
    ref = store.store(b"stored twice", "x")
    store.clock = FixedStepClock(START + timedelta(hours=30))
    store.store(b"stored twice", "y")
    assert store.gc(timedelta(hours=24)).removed == 0
    store.clock = FixedStepClock(START + timedelta(hours=60))
    assert store.gc(timedelta(hours=24)).removed == 1
    with pytest.raises(BlobNotFound):
        store.read(ref.hash)


def _nothing_written(store: ContentStore, db: Database) -> None:
    assert isinstance(store.backend, LocalBackend)
    assert list(store.backend.list()) == []
    assert list((store.backend.root / STAGING).iterdir()) == []
    assert rows(db, "SELECT COUNT(*) FROM blobs") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM blob_names") == [(0,)]


def test_quota_refusals_leave_no_partial_file_and_no_row(
    store: ContentStore, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(3 * MiB))
    store.max_blob_size = 2 * MiB
    with pytest.raises(QuotaExceeded, match="maximum blob size"):
        store.store(path)
    _nothing_written(store, db)
    with pytest.raises(QuotaExceeded, match="maximum blob size"):
        store.store(io.BufferedReader(io.BytesIO(path.read_bytes())), "stream.bin")
    _nothing_written(store, db)

    store.max_blob_size = None
    store.max_total_bytes = 2 * MiB
    with pytest.raises(QuotaExceeded, match="storage quota"):
        store.store(io.BytesIO(path.read_bytes()), "stream.bin")
    _nothing_written(store, db)
    small = store.store(os.urandom(MiB), "fits.bin")
    with pytest.raises(QuotaExceeded, match="storage quota"):
        store.store(os.urandom(MiB + 1000), "does-not-fit.bin")
    assert list(store.backend.list()) == [small.hash]
    assert rows(db, "SELECT COUNT(*) FROM blobs") == [(1,)]
    assert store.store(os.urandom(MiB // 2), "fits-too.bin").size == MiB // 2


def test_references_are_checked(store: ContentStore) -> None:
    ref = store.store(b"x", "x")
    assert store.reference(ref.hash, "node", "n", "attachment", commit_seq=1) is True
    assert store.reference(ref.hash, "node", "n", "attachment", commit_seq=1) is False
    assert store.reference(ref.hash, "node", "n", "attachment", commit_seq=2) is True
    with pytest.raises(InvalidContentRequest):
        store.reference(ref.hash, "edge", "n", "attachment")
    with pytest.raises(InvalidContentRequest):
        store.reference(ref.hash, "node", "n", "thumbnail")
    with pytest.raises(BlobNotFound):
        store.reference(sha(b"absent"), "node", "n", "attachment")
    assert [r.commit_seq for r in store.references_of("node", "n")] == [1, 2]
    assert store.unreference(ref.hash, "node", "n") == 2
    assert store.references(ref.hash) == []
    assert store.resolve(ref.hash[:8]) == ref.hash
    with pytest.raises(BlobNotFound):
        store.resolve("0000000" if not ref.hash.startswith("0000000") else "fffffff")


def _store_in_a_process(db_path: str, repo: str, data_path: str, results: Any) -> None:
    db = Database(db_path)
    try:
        store = ContentStore.open(Path(repo), db, FixedStepClock(START))
        ref = store.store(Path(data_path))
        results.put((ref.hash, ref.duplicate))
    finally:
        db.close()


def test_two_processes_storing_the_same_content_end_with_one_good_blob(
    store: ContentStore, db: Database, tmp_path: Path
) -> None:
    data_path = tmp_path / "shared.bin"
    expected = _write_large(data_path, 16 * MiB)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(
            target=_store_in_a_process, args=(db.path, str(tmp_path), str(data_path), results)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    found = sorted(results.get(timeout=5) for _ in workers)
    assert [h for h, _ in found] == [expected, expected]
    assert sorted(d for _, d in found) == [False, True]
    assert list(store.backend.list()) == [expected]
    assert rows(db, "SELECT stores FROM blobs") == [(2,)]
    assert hashlib.sha256(store.read(expected)).hexdigest() == expected
    assert list((tmp_path / "blobs" / STAGING).iterdir()) == []
    assert store.verify().ok


# -- the porcelain -----------------------------------------------------------------------------


def test_api_store_stats_read_verify_and_gc(repo: Repository, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(TEXT)
    (folder / "sub" / "copy.txt").write_bytes(TEXT)
    (folder / "photo.png").write_bytes(PNG)
    refs = api.store_files(repo, [folder])
    assert [r.duplicate for r in refs] == [False, False, True]
    stats = api.blob_stats(repo).to_json()
    assert {"blobs", "logical_bytes", "stored_bytes", "dedup_saved_bytes"} <= set(stats)
    assert stats["blobs"] == 2
    assert stats["dedup_saved_bytes"] == len(TEXT)
    assert set(stats["by_mime"]) == {"image/png", "text/plain"}

    out = tmp_path / "out.txt"
    assert api.read_blob(repo, refs[0].hash[:10], out) == len(TEXT)
    assert out.read_bytes() == TEXT
    info = api.blob_info(repo, refs[0].hash[:10])
    assert info.names == ["a.txt", "copy.txt"]

    head = repo.db.conn.execute("SELECT MAX(seq) FROM commits").fetchone()[0]
    store = api.content_store(repo)
    store.reference(refs[0].hash, "node", "n1", "attachment", commit_seq=head)
    store.reference(refs[1].hash, "node", "n2", "attachment", commit_seq=head + 1000)
    assert api.blob_verify(repo).ok
    report = api.blob_gc(repo, grace=timedelta(0))
    assert report.removed == 1  # the PNG's commit is not in the history
    assert list(store.backend.list()) == [refs[0].hash]


def test_migration_3_creates_the_tables(db: Database) -> None:
    names = {r[0] for r in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"blobs", "blob_names", "blob_refs"} <= names
    with pytest.raises(sqlite3.IntegrityError):
        db.conn.execute(
            "INSERT INTO blob_refs (hash, kind, owner, role, created_at)"
            " VALUES ('h', 'edge', 'o', 'log', 't')"
        )


# -- batches ------------------------------------------------------------------------------------


def test_store_many_stores_dedups_and_names_like_store(store: ContentStore, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 * MiB + 5))  # streamed: larger than one chunk
    copy = tmp_path / "copy.txt"
    copy.write_bytes(TEXT)
    held = store.store(PNG, "held.png")
    refs = store.store_many(
        [(TEXT, "a.txt"), (copy, None), (PNG, "again.png"), (big, None), (big, "big2.bin")],
        metadata={"source": "batch"},
    )
    big_hash = sha(big.read_bytes())
    assert [r.hash for r in refs] == [sha(TEXT), sha(TEXT), held.hash, big_hash, big_hash]
    assert [r.duplicate for r in refs] == [False, True, True, False, True]
    assert refs[0].compression == "zstd"
    assert refs[3].compression == "raw"
    assert store.read(refs[0].hash) == TEXT
    assert store.read(refs[3].hash) == big.read_bytes()
    info = store.info(sha(TEXT))
    assert info.stores == 2
    assert info.names == ["a.txt", "copy.txt"]
    assert info.metadata == {"source": "batch"}
    assert store.info(held.hash).names == ["again.png", "held.png"]
    assert sorted(store.backend.list()) == sorted({sha(TEXT), held.hash, refs[3].hash})
    assert isinstance(store.backend, LocalBackend)
    assert list((store.backend.root / STAGING).iterdir()) == []
    assert store.stats().dedup_saved_bytes == len(TEXT) + len(PNG) + big.stat().st_size
    assert store.store_many([]) == []


def test_store_many_of_more_than_one_burst(store: ContentStore) -> None:
    blobs = [i.to_bytes(4, "big") + os.urandom(1000 + i) for i in range(600)]
    refs = store.store_many((b, f"{i}.bin") for i, b in enumerate(blobs))
    assert [r.hash for r in refs] == [sha(b) for b in blobs]
    assert store.stats().blobs == 600
    assert all(store.read(sha(b)) == b for b in blobs[::50])


def test_store_many_restores_a_lost_file(store: ContentStore) -> None:
    ref = store.store(TEXT, "t.txt")
    assert isinstance(store.backend, LocalBackend)
    path = store.backend.path_of(ref.hash)
    path.chmod(0o644)
    path.unlink()
    again = store.store_many([(TEXT, "t.txt")])
    assert again[0].duplicate
    assert store.read(ref.hash) == TEXT


@pytest.mark.parametrize("quota", ["blob", "total"])
def test_store_many_refusal_stores_nothing_of_the_batch(
    store: ContentStore, db: Database, tmp_path: Path, quota: str
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * MiB))
    if quota == "blob":
        store.max_blob_size = 2 * MiB
    else:
        store.max_total_bytes = 2 * MiB
    items: list[tuple[Any, str | None]] = [(os.urandom(1000), "ok.bin"), (TEXT, "t.txt")]
    with pytest.raises(QuotaExceeded):
        store.store_many([*items, (big, None)])
    _nothing_written(store, db)
    with pytest.raises(QuotaExceeded):
        store.store_many([*items, (os.urandom(3 * MiB), "mem.bin")])
    _nothing_written(store, db)
    with pytest.raises(QuotaExceeded):
        store.store_many([*items, (io.BytesIO(big.read_bytes()), "stream.bin")])
    _nothing_written(store, db)
    assert len(store.store_many(items)) == 2


def test_store_many_unreadable_file_stores_nothing(
    store: ContentStore, db: Database, tmp_path: Path
) -> None:
    with pytest.raises(SourceUnreadable):
        store.store_many([(TEXT, "t.txt"), (tmp_path / "absent.txt", None)])
    _nothing_written(store, db)


def test_store_many_fsyncs_each_file_and_each_touched_folder_before_the_commit(
    store: ContentStore, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without syncfs (not Linux, or too old a kernel); with it, see
    test_content_batch_durability.py."""
    assert isinstance(store.backend, LocalBackend)
    store.backend.syncfs = None
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        rows_now = db.conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
        committed = rows_now and not db.conn.in_transaction
        assert not committed, "a row became visible before its blob was durable"
        synced.append(target)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    blobs = [os.urandom(2000) for _ in range(40)]
    refs = store.store_many((b, None) for b in blobs)
    assert isinstance(store.backend, LocalBackend)
    root = store.backend.root
    files = [s for s in synced if s.startswith(str(root / STAGING / "put-"))]
    folders = {str(root / r.hash[:2]) for r in refs}
    assert len(files) == len(blobs)
    assert sorted(s for s in synced if s in folders) == sorted(folders)
    assert len(synced) == len(files) + len(folders) + 1  # and the root, once


def test_fast_mime_detection_answers_as_puremagic() -> None:
    import random

    import puremagic

    from isometry.content.codec import _identify

    rng = random.Random(7)
    samples = [TEXT, PNG, JPEG, PDF, b"PK\x03\x04" + bytes(300), b"GIF89a" + bytes(40)]
    samples += [rng.randbytes(rng.randint(1, 12_000)) for _ in range(200)]
    for data in samples:
        try:
            expected = puremagic.from_string(data, mime=True)
        except puremagic.PureError:
            with pytest.raises(puremagic.PureError):
                _identify(data)
            continue
        assert _identify(data) == expected


def test_gc_removes_staged_files_a_crash_left_once_past_the_grace(
    tmp_path: Path, db: Database
) -> None:
    """A process killed while staging a blob leaves a ``put-*.tmp`` file behind: GC removes it
    once it is older than the grace period, and leaves a younger one (a store may be writing
    it right now)."""
    now = datetime.now(UTC)
    store = ContentStore.open(tmp_path, db, FixedStepClock(now, timedelta(0)))
    staging = tmp_path / "blobs" / STAGING
    old, young = staging / "put-old.tmp", staging / "put-young.tmp"
    old.write_bytes(b"half a blob")
    young.write_bytes(b"a blob being written")
    two_days_ago = (now - timedelta(days=2)).timestamp()
    os.utime(old, (two_days_ago, two_days_ago))
    report = store.gc(timedelta(hours=24))
    assert report.staged_leftovers_removed == 1
    assert not old.exists()
    assert young.exists()
    assert MemoryBackend().remove_leftovers(now.timestamp()) == 0


def test_mime_detection_without_the_index_gives_the_same_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The index reads puremagic's tables, which are not its public API: when a release
    changes them, detection goes through ``puremagic.from_string`` and answers the same."""
    import random

    from isometry.content import codec

    assert codec.INDEXED, "puremagic's tables changed: detection runs on the slow path"
    rng = random.Random(11)
    samples = [TEXT, PNG, JPEG, PDF, b"PK\x03\x04" + bytes(300), b"GIF89a" + bytes(40)]
    samples += [rng.randbytes(rng.randint(1, 12_000)) for _ in range(100)]
    names = ["notes.md", "photo.jpg", "", "report.docx", "data.bin"]
    fast = [codec.detect_mime(data, name) for data in samples for name in names]
    monkeypatch.setattr(codec, "INDEXED", False)
    assert [codec.detect_mime(data, name) for data in samples for name in names] == fast
