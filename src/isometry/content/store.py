"""The content store: blobs by SHA-256 in a backend, their metadata and references in the
database. One copy per content, streamed in constant memory, compressed when it pays.

A blob file is placed under its name only inside a database write transaction, so GC (which
holds the write lock too) never mistakes a store in flight for an orphan.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import math
import os
import random
import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import zstandard

from isometry.clock import Clock, stamp
from isometry.content import codec
from isometry.content.backends import CHUNK, Backend, LocalBackend, Staging, check_hash
from isometry.content.reports import (
    BlobGcReport,
    BlobInfo,
    BlobRef,
    BlobStats,
    Damage,
    MimeStats,
    Reference,
    VerifyReport,
)
from isometry.errors import (
    BlobCorrupt,
    BlobNotFound,
    InvalidContentRequest,
    InvalidHash,
    QuotaExceeded,
    SourceUnreadable,
)
from isometry.model import JSON
from isometry.store.connection import Database

BLOBS_FOLDER = "blobs"
KINDS = frozenset({"node", "artifact"})
ROLES = frozenset({"attachment", "inline-image", "log", "report"})
Source = bytes | bytearray | memoryview | Path | BinaryIO
_BLOB_COLUMNS = "hash, size, stored_size, mime_type, compression"
# A batch's staging files are written by a worker thread, WRITE_CHUNK blobs per task, while
# the caller hashes, encodes and records the next ones (at most MAX_PENDING_BYTES of encoded
# bytes wait for it). Every SEAL_BURST files, a second thread seals them together
# (``Backend.seal_many``: one syncfs on Linux) while the next ones are written.
WRITE_CHUNK = 32
SEAL_BURST = 256
MAX_PENDING_BYTES = 64 << 20
MAX_BURSTS_WAITING = 1
Row = tuple[Any, ...]


def _read_up_to(stream: BinaryIO, limit: int) -> bytes:
    """Up to ``limit`` bytes: a pipe or socket may hand over less per read."""
    parts: list[bytes] = []
    wanted = limit
    while wanted > 0:
        data = stream.read(wanted)
        if not data:
            break
        parts.append(data)
        wanted -= len(data)
    return b"".join(parts)


def _encode(
    data: bytes, blob_hash: str, filename: str, mime_type: str | None
) -> tuple[bytes, BlobRef]:
    """A blob held in memory, encoded as ``ContentStore._stage`` writes it."""
    head = data[:CHUNK]
    mime = mime_type or codec.detect_mime(head, filename)
    probe = codec.compressed_probe(head, mime)
    if probe is None:
        encoded, compression = codec.RAW + data, "raw"
    else:
        packed = probe if len(data) <= codec.PROBE else codec.compressor().compress(data)
        encoded, compression = codec.ZSTD + packed, "zstd"
    return encoded, BlobRef(blob_hash, len(data), len(encoded), mime, False, compression)


@dataclasses.dataclass(frozen=True)
class Staged:
    """Bytes already encoded, written and sealed in a staging file by ``stage_bytes``, with
    no database work, ahead of the transaction whose ``store_many`` stores them; a caller
    that ends up not storing them aborts them (``abort``, harmless once stored)."""

    staging: Staging
    ref: BlobRef
    filename: str
    backend: Backend

    def abort(self) -> None:
        self.staging.abort()


class _Writer:
    """Writes a batch's staging files in one worker thread and seals them in bursts in
    another."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="isometry-staging")
        self._sealer = ThreadPoolExecutor(1, thread_name_prefix="isometry-sealing")
        self._jobs: deque[tuple[Future[None], int]] = deque()  # writes, with their bytes
        self._bursts: deque[Future[None]] = deque()  # the writer's until it is done
        self._waiting = 0  # encoded bytes handed over and not yet written
        self._chunk: list[tuple[bytes, str]] = []
        self._chunk_bytes = 0
        self._started = False  # a job was handed to the writer thread
        self.error: BaseException | None = None  # the first, from either thread
        self.staged: list[tuple[Staging, str]] = []  # every staging (appended by the writer)
        self.unsealed: list[tuple[Staging, str]] = []  # the writer's
        self.sealed: list[tuple[Staging, str]] = []  # the sealer's

    def add(self, encoded: bytes, blob_hash: str) -> None:
        self._chunk.append((encoded, blob_hash))
        self._chunk_bytes += len(encoded)
        if len(self._chunk) >= WRITE_CHUNK or self._chunk_bytes >= MAX_PENDING_BYTES // 4:
            self._submit()

    def _submit(self) -> None:
        if self.error is not None:
            raise self.error
        if self._chunk:
            self._started = True
            self._jobs.append((self._writer.submit(self._write, self._chunk), self._chunk_bytes))
            self._waiting += self._chunk_bytes
            self._chunk, self._chunk_bytes = [], 0
        while self._jobs and (self._jobs[0][0].done() or self._waiting > MAX_PENDING_BYTES):
            job, size = self._jobs.popleft()
            self._waiting -= size
            job.result()

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error

    def _write(self, chunk: list[tuple[bytes, str]]) -> None:
        if self.error is not None:
            return
        try:
            for encoded, blob_hash in chunk:
                staging = self._backend.stage()
                self.staged.append((staging, blob_hash))
                self.unsealed.append((staging, blob_hash))
                staging.write(encoded)
            if len(self.unsealed) >= SEAL_BURST:
                while len(self._bursts) >= MAX_BURSTS_WAITING:
                    wait([self._bursts.popleft()])  # its error, if any, is self.error
                burst, self.unsealed = self.unsealed, []
                self._bursts.append(self._sealer.submit(self._seal, burst))
        except BaseException as error:
            self._fail(error)
            raise

    def _seal(self, burst: list[tuple[Staging, str]]) -> None:
        if self.error is not None:
            return
        try:
            self._backend.seal_many([staging for staging, _ in burst])
            self.sealed.extend(burst)
        except BaseException as error:
            self._fail(error)
            raise

    def finish(self) -> None:
        """Wait for every write and every burst; the first error is raised."""
        if not self._started and self._chunk:
            # A small batch: written here, rather than by a thread started for it.
            chunk, self._chunk, self._chunk_bytes = self._chunk, [], 0
            self._write(chunk)
        self._submit()
        while self._jobs:
            job, size = self._jobs.popleft()
            self._waiting -= size
            job.result()
        while self._bursts:  # the writer is done: no more are added
            self._bursts.popleft().result()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop both threads once their current jobs are done (the others are dropped)."""
        for job, _ in self._jobs:
            job.cancel()
        self._writer.shutdown(wait=True)
        for burst in self._bursts:
            burst.cancel()
        self._sealer.shutdown(wait=True)


def _name_of(source: Source | Staged) -> str:
    if isinstance(source, Staged):
        return source.filename
    return source.name if isinstance(source, Path) else ""


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    scaled = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        scaled /= 1024
        if scaled < 1024 or unit == "GiB":
            break
    return f"{scaled:.1f} {unit} ({size} bytes)"


@dataclasses.dataclass
class _Batch:
    """What a ``store_many`` has done so far."""

    room: int | None = None  # stored bytes still allowed (None: no total quota)
    results: list[BlobRef] = dataclasses.field(default_factory=list)
    refs: dict[str, BlobRef] = dataclasses.field(default_factory=dict)  # by hash, this batch
    # In staging files before the batch: streamed here (larger than a chunk) or staged ahead
    # (``Staged``); sealed and placed with the others.
    in_files: list[tuple[Staging, str]] = dataclasses.field(default_factory=list)
    placed: list[str] = dataclasses.field(default_factory=list)


class ContentStore:
    def __init__(
        self,
        db: Database,
        backend: Backend,
        clock: Clock,
        *,
        max_blob_size: int | None = None,
        max_total_bytes: int | None = None,
    ) -> None:
        self.db = db
        self.backend = backend
        self.clock = clock
        # Quotas, settable: the largest original size of one blob, and the most stored bytes.
        self.max_blob_size = max_blob_size
        self.max_total_bytes = max_total_bytes

    @classmethod
    def open(
        cls,
        repo_path: Path,
        db: Database,
        clock: Clock,
        *,
        max_blob_size: int | None = None,
        max_total_bytes: int | None = None,
    ) -> ContentStore:
        """The store of the repository at ``repo_path``: blobs in ``<repo>/blobs/``."""
        backend = LocalBackend(repo_path / BLOBS_FOLDER)
        return cls(db, backend, clock, max_blob_size=max_blob_size, max_total_bytes=max_total_bytes)

    # -- storing ---------------------------------------------------------------------------

    def store(
        self,
        source: Source,
        filename: str | None = None,
        mime_type: str | None = None,
        metadata: Mapping[str, JSON] | None = None,
    ) -> BlobRef:
        """Store bytes, a file or a stream; the same content twice costs one copy."""
        if filename is None:
            filename = source.name if isinstance(source, Path) else ""
        extra = dict(metadata or {})
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            known = self._known(hashlib.sha256(data).hexdigest(), filename, extra)
            if known is not None:
                return known  # nothing to copy: a duplicate of bytes in memory
            self._check_size(len(data), filename)
            return self._store_stream(io.BytesIO(data), filename, mime_type, extra)
        if isinstance(source, Path):
            try:
                stream = source.open("rb")
            except OSError as error:
                raise SourceUnreadable(f"{source}: cannot read: {error.strerror}") from None
            with stream:
                self._check_size(source.stat().st_size, filename)
                return self._store_stream(stream, filename, mime_type, extra)
        return self._store_stream(source, filename, mime_type, extra)

    def stage_bytes(self, items: Iterable[tuple[bytes, str, str | None]]) -> list[Staged]:
        """Each ``(data, filename, MIME type or None)`` encoded, written to a staging file and
        made durable, outside any transaction: ``store_many`` then only places and records
        them, so a transaction that stores them is not held open across those writes and
        fsyncs. On error nothing is left."""
        staged: list[Staged] = []
        try:
            for data, filename, mime_type in items:
                self._check_size(len(data), filename)
                blob_hash = hashlib.sha256(data).hexdigest()
                encoded, ref = _encode(data, blob_hash, filename, mime_type)
                staging = self.backend.stage()
                staged.append(Staged(staging, ref, filename, self.backend))
                staging.write(encoded)
            self.backend.seal_many([entry.staging for entry in staged])
        except BaseException:
            for entry in staged:
                entry.abort()
            raise
        return staged

    def store_many(
        self,
        items: Iterable[
            tuple[Source | Staged, str | None] | tuple[Source | Staged, str | None, str | None]
        ],
        *,
        mime_type: str | None = None,
        metadata: Mapping[str, JSON] | None = None,
    ) -> list[BlobRef]:
        """Store many blobs (each with its file name, None: a path's or a staged item's own,
        and optionally its own MIME type over ``mime_type``) in one database transaction, one
        ``BlobRef`` per item in order.

        Same guarantees as ``store``, paid once per batch: each blob goes through a staging
        file (written in a worker thread while the next ones are hashed and encoded); the
        staging files are made durable in bursts (``Backend.seal_many``), then, once every
        item has passed its quotas, renamed into place and their names made durable
        together (``Backend.sync``), then the commit: no row ever names a blob that is not
        durable. A refusal or an error stores nothing: no row, no file.

        An item may be ``Staged`` (by ``stage_bytes`` of this store): its bytes are durable
        already, and its MIME type is the one it was staged with. One that an error came
        before is left for the caller to abort.
        """
        extra = dict(metadata or {})
        batch = _Batch()
        writer = _Writer(self.backend)
        try:
            with self.db.transaction() as conn:
                try:
                    if self.max_total_bytes is not None:
                        used = conn.execute(
                            "SELECT COALESCE(SUM(stored_size), 0) FROM blobs"
                        ).fetchone()[0]
                        batch.room = self.max_total_bytes - int(used)
                    for source, given, *own in items:
                        filename = given if given is not None else _name_of(source)
                        mime = own[0] if own and own[0] is not None else mime_type
                        self._batch_one(conn, writer, batch, source, filename, mime, extra)
                    writer.finish()
                    rest = [*writer.unsealed, *batch.in_files]
                    self.backend.seal_many([staging for staging, _ in rest])
                    # Every item has passed its quotas: place them all, then their names.
                    for staging, blob_hash in writer.sealed + rest:
                        if staging.commit(blob_hash, sync=False):
                            batch.placed.append(blob_hash)
                    self.backend.sync(batch.placed)
                except BaseException:
                    writer.close()
                    for staging, _ in [*writer.staged, *batch.in_files]:
                        staging.abort()
                    for blob_hash in batch.placed:
                        with contextlib.suppress(OSError):
                            self.backend.delete(blob_hash)
                    raise
        finally:
            writer.close()
        return batch.results

    def _batch_one(
        self,
        conn: sqlite3.Connection,
        writer: _Writer,
        batch: _Batch,
        source: Source | Staged,
        filename: str,
        mime_type: str | None,
        extra: dict[str, JSON],
    ) -> None:
        if isinstance(source, Staged):
            staging, found = self._staged(source, filename, batch.room)
            known, row = self._staged_known(conn, batch, staging, found)
        elif (data := self._small(source, filename)) is not None:
            blob_hash = hashlib.sha256(data).hexdigest()
            known, row = self._batch_known(conn, blob_hash, batch.refs)
            if known is None:
                encoded, found = _encode(data, blob_hash, filename, mime_type)
                if batch.room is not None and len(encoded) > batch.room:
                    raise self._refuse_total(filename, len(encoded), batch.room)
                writer.add(encoded, blob_hash)
        else:
            staging, found = self._stage_large(source, filename, mime_type, batch.room)
            known, row = self._staged_known(conn, batch, staging, found)
        if known is not None:
            self._record_duplicate(conn, known.hash, filename, extra)
            batch.results.append(known)
            return  # nothing to copy
        ref = self._record_new(conn, found, filename, extra, row)
        if batch.room is not None and not ref.duplicate:
            batch.room -= found.stored_size
        batch.refs[found.hash] = ref
        batch.results.append(ref)

    def _staged_known(
        self, conn: sqlite3.Connection, batch: _Batch, staging: Staging, found: BlobRef
    ) -> tuple[BlobRef | None, Row | None]:
        """``_batch_known`` for a blob already in a staging file: kept to be placed with the
        others, or dropped when the blob is held already."""
        batch.in_files.append((staging, found.hash))
        known, row = self._batch_known(conn, found.hash, batch.refs)
        if known is not None:
            batch.in_files.pop()
            staging.abort()
        return known, row

    def _staged(self, source: Staged, filename: str, room: int | None) -> tuple[Staging, BlobRef]:
        """A staged item, checked against the quotas as if its bytes were written now."""
        if source.backend is not self.backend:
            raise InvalidContentRequest("a staged blob is stored by the store that staged it")
        found = source.ref
        try:
            self._check_size(found.size, filename)
            if room is not None and found.stored_size > room:
                raise self._refuse_total(filename, found.stored_size, room)
        except BaseException:
            source.abort()
            raise
        return source.staging, found

    def _small(self, source: Source, filename: str) -> bytes | None:
        """The bytes of a source held in memory or of a file of at most one chunk (checked
        against the blob size quota before reading); None for anything larger or a stream."""
        if isinstance(source, bytes | bytearray | memoryview):
            self._check_size(len(source), filename)
            return bytes(source)
        if not isinstance(source, Path):
            return None
        try:
            with source.open("rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                self._check_size(size, filename)
                if size > CHUNK:
                    return None
                data = _read_up_to(stream, CHUNK + 1)
        except OSError as error:
            raise SourceUnreadable(f"{source}: cannot read: {error.strerror}") from None
        self._check_size(len(data), filename)
        return data if len(data) <= CHUNK else None

    def _stage_large(
        self, source: Source, filename: str, mime_type: str | None, room: int | None
    ) -> tuple[Staging, BlobRef]:
        if not isinstance(source, Path):
            assert not isinstance(source, bytes | bytearray | memoryview)
            return self._stage(source, filename, mime_type, room)
        try:
            stream = source.open("rb")
        except OSError as error:
            raise SourceUnreadable(f"{source}: cannot read: {error.strerror}") from None
        with stream:
            self._check_size(os.fstat(stream.fileno()).st_size, filename)
            return self._stage(stream, filename, mime_type, room)

    def _batch_known(
        self, conn: sqlite3.Connection, blob_hash: str, batch: dict[str, BlobRef]
    ) -> tuple[BlobRef | None, Row | None]:
        """Inside a batch: the ref of a blob stored earlier in it or held with its file
        present (a duplicate: its store is the caller's to record), else None; and its row."""
        ref = batch.get(blob_hash)
        if ref is not None:
            return (ref if ref.duplicate else dataclasses.replace(ref, duplicate=True)), None
        row = conn.execute(
            f"SELECT {_BLOB_COLUMNS} FROM blobs WHERE hash = ?", (blob_hash,)
        ).fetchone()
        if row is None or not self.backend.has(blob_hash):
            return None, row
        ref = BlobRef(row[0], row[1], row[2], row[3], True, row[4])
        batch[blob_hash] = ref
        return ref, row

    def _record_new(
        self,
        conn: sqlite3.Connection,
        found: BlobRef,
        filename: str,
        extra: dict[str, JSON],
        row: Row | None,
    ) -> BlobRef:
        """The row of a blob whose file is to be placed: a new one (``row`` None), or a lost
        file put back."""
        if row is not None:
            conn.execute(
                "UPDATE blobs SET stored_size = ?, compression = ? WHERE hash = ?",
                (found.stored_size, found.compression, found.hash),
            )
            self._record_duplicate(conn, found.hash, filename, extra)
            return BlobRef(row[0], row[1], found.stored_size, row[3], True, found.compression)
        return self._insert(conn, found, filename, extra)

    def _check_size(self, size: int, filename: str) -> None:
        if self.max_blob_size is not None and size > self.max_blob_size:
            raise QuotaExceeded(
                f"{filename or 'blob'}: {_human(size)} is larger than the maximum blob size "
                f"of {_human(self.max_blob_size)}; nothing was stored"
            )

    def _room(self) -> int | None:
        """Stored bytes still allowed under the total quota (None: no quota)."""
        if self.max_total_bytes is None:
            return None
        with self.db.snapshot() as conn:
            used = conn.execute("SELECT COALESCE(SUM(stored_size), 0) FROM blobs").fetchone()[0]
        return self.max_total_bytes - int(used)

    def _refuse_total(self, filename: str, needed: int, room: int) -> QuotaExceeded:
        assert self.max_total_bytes is not None
        return QuotaExceeded(
            f"{filename or 'blob'}: storing it needs at least {_human(needed)} but only "
            f"{_human(max(room, 0))} of the {_human(self.max_total_bytes)} storage quota is "
            f"left; nothing was stored"
        )

    def _store_stream(
        self, stream: BinaryIO, filename: str, mime_type: str | None, extra: dict[str, JSON]
    ) -> BlobRef:
        staging, found = self._stage(stream, filename, mime_type, self._room())
        try:
            return self._place(staging, found, filename, extra)
        except BaseException:
            staging.abort()
            raise

    def _stage(
        self, stream: BinaryIO, filename: str, mime_type: str | None, room: int | None
    ) -> tuple[Staging, BlobRef]:
        """Write the encoded bytes to a staging file, hashing as they go; refused (and the
        staging file removed) as soon as a quota is passed."""
        head = _read_up_to(stream, CHUNK)
        mime = mime_type or codec.detect_mime(head, filename)
        compress = codec.worth_compressing(head, mime)
        staging = self.backend.stage()
        try:
            staging.write(codec.ZSTD if compress else codec.RAW)
            packer = (
                zstandard.ZstdCompressor(level=codec.ZSTD_LEVEL).compressobj() if compress else None
            )
            digest = hashlib.sha256()
            size = 0
            chunk = head
            while chunk:
                digest.update(chunk)
                size += len(chunk)
                self._check_size(size, filename)
                out = packer.compress(chunk) if packer is not None else chunk
                if out:
                    staging.write(out)
                if room is not None and staging.written > room:
                    raise self._refuse_total(filename, staging.written, room)
                chunk = stream.read(CHUNK)
            if packer is not None:
                staging.write(packer.flush())
            if room is not None and staging.written > room:
                raise self._refuse_total(filename, staging.written, room)
            found = BlobRef(
                digest.hexdigest(), size, staging.written, mime, False,
                "zstd" if compress else "raw",
            )  # fmt: skip
            return staging, found
        except BaseException:
            staging.abort()
            raise

    def _known(self, blob_hash: str, filename: str, extra: dict[str, JSON]) -> BlobRef | None:
        """Record another store of a blob already held (its file present); else None."""
        with self.db.snapshot() as conn:
            seen = conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (blob_hash,)).fetchone()
        if seen is None:
            return None
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {_BLOB_COLUMNS} FROM blobs WHERE hash = ?", (blob_hash,)
            ).fetchone()
            if row is None or not self.backend.has(blob_hash):
                return None
            self._record_duplicate(conn, blob_hash, filename, extra)
            return BlobRef(row[0], row[1], row[2], row[3], True, row[4])

    def _record_duplicate(
        self, conn: sqlite3.Connection, blob_hash: str, filename: str, extra: dict[str, JSON]
    ) -> None:
        conn.execute(
            "UPDATE blobs SET stores = stores + 1, last_stored_at = ?,"
            " metadata = json_patch(metadata, ?) WHERE hash = ?",
            (self._now(), orjson.dumps(extra).decode(), blob_hash),
        )
        self._name(conn, blob_hash, filename)

    def _place(
        self, staging: Staging, found: BlobRef, filename: str, extra: dict[str, JSON]
    ) -> BlobRef:
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {_BLOB_COLUMNS} FROM blobs WHERE hash = ?", (found.hash,)
            ).fetchone()
            if row is not None:
                # Re-storing lost content puts its file back; otherwise the copy is dropped.
                if self.backend.has(found.hash):
                    staging.abort()
                else:
                    staging.commit(found.hash)
                    conn.execute(
                        "UPDATE blobs SET stored_size = ?, compression = ? WHERE hash = ?",
                        (found.stored_size, found.compression, found.hash),
                    )
                    row = (*row[:2], found.stored_size, row[3], found.compression)
                self._record_duplicate(conn, found.hash, filename, extra)
                return BlobRef(row[0], row[1], row[2], row[3], True, row[4])
            if self.max_total_bytes is not None:
                used = conn.execute("SELECT COALESCE(SUM(stored_size), 0) FROM blobs").fetchone()
                room = self.max_total_bytes - int(used[0])
                if found.stored_size > room:
                    raise self._refuse_total(filename, found.stored_size, room)
            staging.commit(found.hash)
            return self._insert(conn, found, filename, extra)

    def _insert(
        self, conn: sqlite3.Connection, found: BlobRef, filename: str, extra: dict[str, JSON]
    ) -> BlobRef:
        """The row of a blob stored for the first time (its file is in place already)."""
        now = self._now()
        conn.execute(
            "INSERT INTO blobs (hash, size, stored_size, compression, mime_type, created_at,"
            " last_stored_at, stores, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
            (found.hash, found.size, found.stored_size, found.compression, found.mime_type,
             now, now, orjson.dumps(extra).decode()),
        )  # fmt: skip
        self._name(conn, found.hash, filename)
        return found

    def _name(self, conn: sqlite3.Connection, blob_hash: str, filename: str) -> None:
        if filename:
            conn.execute(
                "INSERT OR IGNORE INTO blob_names (hash, filename) VALUES (?, ?)",
                (blob_hash, filename),
            )

    def _now(self) -> str:
        return stamp(self.clock.now())

    # -- reading ---------------------------------------------------------------------------

    def resolve(self, prefix: str) -> str:
        """The full hash of the one blob whose hash starts with ``prefix`` (at least 4 hex)."""
        wanted = prefix.strip().lower()
        if len(wanted) < 4 or any(c not in "0123456789abcdef" for c in wanted):
            raise InvalidHash(f"{prefix!r} is not a blob hash (give at least 4 hex digits)")
        with self.db.snapshot() as conn:
            found = [
                r[0]
                for r in conn.execute(
                    "SELECT hash FROM blobs WHERE hash >= ? AND hash < ? ORDER BY hash LIMIT 2",
                    (wanted, wanted + "g"),
                )
            ]
        if not found:
            raise BlobNotFound(f"no blob has a hash starting with {wanted}")
        if len(found) > 1:
            raise InvalidHash(f"{wanted} names several blobs; give more of the hash")
        return str(found[0])

    def open_chunks(self, blob_hash: str) -> Iterator[bytes]:
        """The original bytes in chunks, checked against the hash as they stream.

        BlobCorrupt (naming the hash) comes after the last chunk when the bytes are wrong:
        write to a temporary file and keep it only when the iteration ends cleanly.
        """
        check_hash(blob_hash)
        stored = self.backend.get(blob_hash)
        with stored:
            yield from codec.decode(blob_hash, stored, CHUNK)

    def read(self, blob_hash: str) -> bytes:
        return b"".join(self.open_chunks(blob_hash))

    def copy_to(self, blob_hash: str, out: BinaryIO) -> int:
        written = 0
        for chunk in self.open_chunks(blob_hash):
            out.write(chunk)
            written += len(chunk)
        return written

    def info(self, blob_hash: str) -> BlobInfo:
        check_hash(blob_hash)
        with self.db.snapshot() as conn:
            row = conn.execute(
                f"SELECT {_BLOB_COLUMNS}, created_at, last_stored_at, stores, metadata"
                " FROM blobs WHERE hash = ?",
                (blob_hash,),
            ).fetchone()
            if row is None:
                raise BlobNotFound(f"blob {blob_hash} is not stored")
            names = self._names(conn, blob_hash)
            refs = self._references(conn, blob_hash)
        ref = BlobRef(row[0], row[1], row[2], row[3], False, row[4])
        return BlobInfo(ref, row[5], row[6], row[7], orjson.loads(row[8]), names, refs)

    def _names(self, conn: sqlite3.Connection, blob_hash: str) -> list[str]:
        return [
            r[0]
            for r in conn.execute(
                "SELECT filename FROM blob_names WHERE hash = ? ORDER BY filename", (blob_hash,)
            )
        ]

    def _references(self, conn: sqlite3.Connection, blob_hash: str) -> list[Reference]:
        rows = conn.execute(
            "SELECT hash, kind, owner, role, commit_seq FROM blob_refs WHERE hash = ?"
            " ORDER BY kind, owner, IFNULL(commit_seq, -1), role",
            (blob_hash,),
        )
        return [Reference(*r) for r in rows]

    # -- references ------------------------------------------------------------------------

    def reference(
        self, blob_hash: str, kind: str, owner: str, role: str, commit_seq: int | None = None
    ) -> bool:
        """Record that a node version (or every version: commit_seq None) or an operation
        artifact points at a blob; False when that reference was there already."""
        check_hash(blob_hash)
        if kind not in KINDS:
            raise InvalidContentRequest(f"reference kind {kind!r}: use one of {sorted(KINDS)}")
        if role not in ROLES:
            raise InvalidContentRequest(f"reference role {role!r}: use one of {sorted(ROLES)}")
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (blob_hash,)).fetchone() is None:
                raise BlobNotFound(f"blob {blob_hash} is not stored; store it before linking it")
            added = conn.execute(
                "INSERT OR IGNORE INTO blob_refs (hash, kind, owner, commit_seq, role, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (blob_hash, kind, owner, commit_seq, role, self._now()),
            )
            return added.rowcount > 0

    def unreference(self, blob_hash: str, kind: str, owner: str, role: str | None = None) -> int:
        """Drop an owner's references to a blob (every version; one role, or all)."""
        check_hash(blob_hash)
        with self.db.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM blob_refs WHERE hash = ? AND kind = ? AND owner = ?"
                " AND (? IS NULL OR role = ?)",
                (blob_hash, kind, owner, role, role),
            )
            return removed.rowcount

    def drop_owner(self, kind: str, owner: str) -> int:
        """Drop every reference an owner holds (a deleted operation's artifacts)."""
        with self.db.transaction() as conn:
            return conn.execute(
                "DELETE FROM blob_refs WHERE kind = ? AND owner = ?", (kind, owner)
            ).rowcount

    def references(self, blob_hash: str) -> list[Reference]:
        with self.db.snapshot() as conn:
            return self._references(conn, check_hash(blob_hash))

    def references_of(self, kind: str, owner: str) -> list[Reference]:
        with self.db.snapshot() as conn:
            rows = conn.execute(
                "SELECT hash, kind, owner, role, commit_seq FROM blob_refs"
                " WHERE kind = ? AND owner = ? ORDER BY IFNULL(commit_seq, -1), role, hash",
                (kind, owner),
            )
            return [Reference(*r) for r in rows]

    def references_by_kind(self, kind: str) -> Iterator[Reference]:
        """Every reference of one kind (all nodes' attachments, say), in owner order: one
        query for a whole export instead of one per owner."""
        with self.db.snapshot() as conn:
            yield from (
                Reference(*r)
                for r in conn.execute(
                    "SELECT hash, kind, owner, role, commit_seq FROM blob_refs WHERE kind = ?"
                    " ORDER BY owner, IFNULL(commit_seq, -1), role, hash",
                    (kind,),
                )
            )

    # -- maintenance -----------------------------------------------------------------------

    def gc(
        self,
        grace: timedelta = timedelta(hours=24),
        reachable_commits: set[int] | None = None,
    ) -> BlobGcReport:
        """Remove every blob nothing keeps.

        Kept: a blob with an artifact reference, a node reference for every version
        (commit_seq None) or for a commit in ``reachable_commits`` (None: every node reference
        keeps), or one stored again within ``grace``. Files without a row (left by a crash
        between placing a file and committing its row) are removed too, and so are staged
        files a crash left before they were placed, once older than ``grace``.
        """
        cutoff = stamp(self.clock.now() - grace)
        leftovers = self.backend.remove_leftovers((self.clock.now() - grace).timestamp())
        with self.db.transaction() as conn:
            examined = conn.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
            candidates = conn.execute(
                "SELECT hash, size, stored_size, last_stored_at FROM blobs b WHERE NOT EXISTS ("
                " SELECT 1 FROM blob_refs r WHERE r.hash = b.hash AND (r.kind = 'artifact'"
                " OR r.commit_seq IS NULL OR ? IS NULL))",
                (None if reachable_commits is None else 1,),
            ).fetchall()
            versions: dict[str, set[int]] = {}
            for blob_hash, seq in conn.execute(
                "SELECT hash, commit_seq FROM blob_refs WHERE kind = 'node'"
                " AND commit_seq IS NOT NULL"
            ):
                versions.setdefault(blob_hash, set()).add(seq)
            retained = reachable_commits or set()
            removed = freed = logical = young = 0
            doomed: list[str] = []
            for blob_hash, size, stored_size, last_stored in candidates:
                if versions.get(blob_hash, set()) & retained:
                    continue
                if last_stored >= cutoff:
                    young += 1
                    continue
                doomed.append(blob_hash)
                removed += 1
                freed += stored_size
                logical += size
            for table in ("blobs", "blob_names", "blob_refs"):
                conn.executemany(f"DELETE FROM {table} WHERE hash = ?", [(h,) for h in doomed])
            for blob_hash in doomed:
                self.backend.delete(blob_hash)
            orphans = self._remove_orphans(conn)
        return BlobGcReport(
            examined=examined,
            removed=removed,
            bytes_freed=freed,
            logical_bytes_freed=logical,
            kept_referenced=examined - removed - young,
            kept_young=young,
            orphan_files_removed=orphans,
            staged_leftovers_removed=leftovers,
        )

    def _remove_orphans(self, conn: sqlite3.Connection) -> int:
        orphans = [
            h
            for h in self.backend.list()
            if conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (h,)).fetchone() is None
        ]
        for blob_hash in orphans:
            self.backend.delete(blob_hash)
        return len(orphans)

    def verify(self, sample_percent: float | None = None, seed: int = 0) -> VerifyReport:
        """Re-hash every blob (or a seeded random sample) and report the damaged ones with
        their names and references. Never raises for damage."""
        with self.db.snapshot() as conn:
            hashes = [r[0] for r in conn.execute("SELECT hash FROM blobs ORDER BY hash")]
        report = VerifyReport(total=len(hashes))
        if sample_percent is not None:
            if not 0 < sample_percent <= 100:
                raise InvalidContentRequest(
                    f"sample {sample_percent}%: give a percentage above 0 and at most 100"
                )
            count = min(len(hashes), math.ceil(len(hashes) * sample_percent / 100))
            hashes = sorted(random.Random(seed).sample(hashes, count))
        for blob_hash in hashes:
            problem = self._check(blob_hash)
            if problem is not None and self._still_stored(blob_hash):
                with self.db.snapshot() as conn:
                    report.damaged.append(
                        Damage(
                            blob_hash,
                            problem[0],
                            problem[1],
                            self._names(conn, blob_hash),
                            self._references(conn, blob_hash),
                        )
                    )
            report.checked += 1
        return report

    def _check(self, blob_hash: str) -> tuple[str, str] | None:
        try:
            for _ in self.open_chunks(blob_hash):
                pass
        except BlobNotFound:
            return "missing", f"blob {blob_hash} is missing from the blob store"
        except BlobCorrupt as error:
            return "corrupt", str(error)
        except OSError as error:
            return "corrupt", f"blob {blob_hash} cannot be read: {error}"
        return None

    def _still_stored(self, blob_hash: str) -> bool:
        """GC may have removed it while we looked: that is not damage."""
        with self.db.snapshot() as conn:
            found = conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (blob_hash,)).fetchone()
        return found is not None

    def stats(self) -> BlobStats:
        with self.db.snapshot() as conn:
            total = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(stored_size), 0),"
                " COALESCE(SUM(size * (stores - 1)), 0),"
                " COALESCE(SUM(CASE WHEN compression = 'zstd' THEN size - stored_size END), 0),"
                " COALESCE(SUM(stores), 0) FROM blobs"
            ).fetchone()
            references = conn.execute("SELECT COUNT(*) FROM blob_refs").fetchone()[0]
            by_mime = {
                mime: MimeStats(n, logical, stored)
                for mime, n, logical, stored in conn.execute(
                    "SELECT mime_type, COUNT(*), SUM(size), SUM(stored_size) FROM blobs"
                    " GROUP BY mime_type ORDER BY mime_type"
                )
            }
        blobs, logical, stored, dedup, compression, stores = (int(v) for v in total)
        return BlobStats(
            blobs=blobs,
            logical_bytes=logical,
            stored_bytes=stored,
            dedup_saved_bytes=dedup,
            compression_saved_bytes=compression,
            stores=stores,
            references=int(references),
            by_mime=by_mime,
        )
