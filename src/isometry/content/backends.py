"""Where blob bytes live: a local folder, or memory (the twin the contract tests also run on).

A backend is dumb storage of already-encoded blobs under their names; it knows nothing of
compression, metadata or references. Blobs are written once and never changed in place.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import itertools
import os
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Protocol

from isometry.errors import BlobFormatUnknown, BlobNotFound, ContentError, InvalidHash

FORMAT_FILE = "format"
FORMAT_VERSION = "isometry-blobs 1"
STAGING = "tmp"
CHUNK = 1 << 20
_HASH = re.compile(r"[0-9a-f]{64}")
_FANOUT = re.compile(r"[0-9a-f]{2}")
# Files sealed one by one are fsynced by this many threads at once: the disk commits
# concurrent fsyncs together. Up to SERIAL_SEALS files are fsynced one after the other: for so
# few, starting the threads costs more than overlapping their fsyncs saves.
SYNC_WORKERS = 8
SERIAL_SEALS = 4
# From this many files (or folders) on, one syncfs replaces one fsync each. It pays from 2
# files on an idle disk, but it also writes what other programs left dirty on the same file
# system; see bench/README.md, "Content suite".
SYNCFS_MIN = 64


def check_hash(blob_hash: str) -> str:
    """A blob name: exactly 64 lowercase hex digits (never a path)."""
    if not isinstance(blob_hash, str) or not _HASH.fullmatch(blob_hash):
        raise InvalidHash(f"{blob_hash!r} is not a SHA-256 hex digest")
    return blob_hash


class Staging(Protocol):
    """A blob being written whose name is known only at the end (it is hashed as it goes)."""

    @property
    def written(self) -> int: ...

    def write(self, data: bytes) -> None: ...

    def seal(self) -> None:
        """Make the bytes written durable (fsync) and close them for writing; safe to call
        from another thread, once nothing more is written. ``commit`` seals if need be."""
        ...

    def commit(self, blob_hash: str, *, sync: bool = True) -> bool:
        """Place the blob under its name; False when that name already held one (kept).

        ``sync=False`` leaves the folder entry to a later ``Backend.sync`` (a batch makes one
        fsync per touched folder); the blob's bytes are durable either way."""
        ...

    def abort(self) -> None:
        """Forget what was written; nothing is left behind."""
        ...


class Backend(Protocol):
    def stage(self) -> Staging: ...

    def seal_many(self, stagings: Sequence[Staging]) -> None:
        """Seal these stagings (their bytes durable, closed for writing) together: one sync
        of the file system where the backend can, else each ``seal``. On error some may be
        left unsealed: ``abort`` them."""
        ...

    def sync(self, blob_hashes: Iterable[str]) -> None:
        """Make the names of blobs committed with ``sync=False`` durable: one fsync per
        folder they are in (and of the root), or one sync of the file system for many."""
        ...

    def put(self, blob_hash: str, data: bytes | BinaryIO) -> bool:
        """Store ``data`` under ``blob_hash``; False when it was there already (kept as is)."""
        ...

    def get(self, blob_hash: str) -> BinaryIO:
        """The stored bytes, as a file to read and close; BlobNotFound when absent."""
        ...

    def has(self, blob_hash: str) -> bool: ...

    def list(self) -> Iterator[str]: ...

    def delete(self, blob_hash: str) -> bool:
        """Remove a blob; False when there was none."""
        ...

    def size(self, blob_hash: str) -> int: ...

    def remove_leftovers(self, before: float) -> int:
        """Remove staged files a crash left behind, last written before ``before`` (seconds
        since the epoch; a younger one may belong to a store still running); return how
        many."""
        ...


def put_via_staging(backend: Backend, blob_hash: str, data: bytes | BinaryIO) -> bool:
    check_hash(blob_hash)
    staging = backend.stage()
    try:
        if isinstance(data, bytes | bytearray | memoryview):
            staging.write(bytes(data))
        else:
            while chunk := data.read(CHUNK):
                staging.write(chunk)
        return staging.commit(blob_hash)
    except BaseException:
        staging.abort()
        raise


# -- memory ------------------------------------------------------------------------------------


class _MemoryStaging:
    def __init__(self, backend: MemoryBackend) -> None:
        self._backend = backend
        self._buffer: io.BytesIO | None = io.BytesIO()
        self._sealed = False

    @property
    def written(self) -> int:
        return self._buffer.tell() if self._buffer else 0

    def write(self, data: bytes) -> None:
        if self._buffer is None or self._sealed:
            raise ContentError("write to a staged blob already sealed, committed or aborted")
        self._buffer.write(data)

    def seal(self) -> None:
        self._sealed = True

    def commit(self, blob_hash: str, *, sync: bool = True) -> bool:
        check_hash(blob_hash)
        if self._buffer is None:
            raise ContentError("commit of a staged blob already committed or aborted")
        data, self._buffer = self._buffer.getvalue(), None
        with self._backend.lock:
            if blob_hash in self._backend.blobs:
                return False
            self._backend.blobs[blob_hash] = data
            return True

    def abort(self) -> None:
        self._buffer = None


class MemoryBackend:
    """Blobs in a dict: for tests, and the twin every backend must behave like."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def stage(self) -> Staging:
        return _MemoryStaging(self)

    def seal_many(self, stagings: Sequence[Staging]) -> None:
        for staging in stagings:
            staging.seal()

    def sync(self, blob_hashes: Iterable[str]) -> None:
        for blob_hash in blob_hashes:
            check_hash(blob_hash)

    def put(self, blob_hash: str, data: bytes | BinaryIO) -> bool:
        return put_via_staging(self, blob_hash, data)

    def get(self, blob_hash: str) -> BinaryIO:
        try:
            return io.BytesIO(self.blobs[check_hash(blob_hash)])
        except KeyError:
            raise BlobNotFound(f"blob {blob_hash} is not stored") from None

    def has(self, blob_hash: str) -> bool:
        return check_hash(blob_hash) in self.blobs

    def list(self) -> Iterator[str]:
        return iter(sorted(self.blobs))

    def delete(self, blob_hash: str) -> bool:
        with self.lock:
            return self.blobs.pop(check_hash(blob_hash), None) is not None

    def size(self, blob_hash: str) -> int:
        try:
            return len(self.blobs[check_hash(blob_hash)])
        except KeyError:
            raise BlobNotFound(f"blob {blob_hash} is not stored") from None

    def remove_leftovers(self, before: float) -> int:
        return 0  # staged bytes live in the staging object: a crash takes them with it


# -- local folder ------------------------------------------------------------------------------


def _load_syncfs() -> Callable[[int], None] | None:
    """Linux's syncfs(2): every file and folder entry of a file system durable in one call;
    None where it is missing or, before Linux 5.8, does not report writeback errors."""
    release = re.match(r"(\d+)\.(\d+)", os.uname().release if hasattr(os, "uname") else "")
    if not sys.platform.startswith("linux") or not release:
        return None
    if (int(release[1]), int(release[2])) < (5, 8):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int

    def syncfs(fd: int) -> None:
        if function(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"syncfs: {os.strerror(code)}")

    return syncfs


SYNCFS = _load_syncfs()


def _sync_all(syncfs: Callable[[int], None], fd: int) -> None:
    """syncfs, then an fsync of the same descriptor: without a journal, ext4's syncfs writes
    some metadata after its cache flush, and the fsync flushes the cache again."""
    syncfs(fd)
    os.fsync(fd)


def _sync_through(syncfs: Callable[[int], None], path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        _sync_all(syncfs, fd)
    finally:
        os.close(fd)


def _fsync_path(path: Path | str) -> None:
    """fsync a file or a folder by its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _seal_each(stagings: Sequence[Staging]) -> None:
    """Seal each staging, several at once; the first error is raised once all were tried."""
    if len(stagings) <= SERIAL_SEALS:
        failures: list[BaseException] = []
        for staging in stagings:
            try:
                staging.seal()
            except BaseException as failure:
                failures.append(failure)
        if failures:
            raise failures[0]
        return
    with ThreadPoolExecutor(min(SYNC_WORKERS, len(stagings))) as pool:
        futures = [pool.submit(staging.seal) for staging in stagings]
    for future in futures:
        if (error := future.exception()) is not None:
            raise error


_OPEN, _CLOSED, _SEALED, _DONE = range(4)  # _CLOSED: closed, bytes not known durable


class _LocalStaging:
    """A file in the staging folder (same file system), renamed into place. It is created
    read-only (it is opened for writing before the mode applies), and its descriptor stays
    open until it is sealed."""

    def __init__(self, backend: LocalBackend) -> None:
        self._backend = backend
        self._fd, self._path, self.opened = backend.create_staging_file()
        self._written = 0
        self._state = _OPEN

    @property
    def written(self) -> int:
        return self._written

    def write(self, data: bytes) -> None:
        if self._state != _OPEN:
            raise ContentError("write to a staged blob already sealed, committed or aborted")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._written += len(data)

    def open_in(self, backend: LocalBackend) -> bool:
        return self._backend is backend and self._state == _OPEN

    def close(self) -> None:
        """Close for writing without making the bytes durable (``LocalBackend.seal_many``
        syncs them all at once)."""
        if self._state == _OPEN:
            self._state = _CLOSED
            os.close(self._fd)

    def seal(self) -> None:
        if self._state == _OPEN:
            try:
                os.fsync(self._fd)
            finally:
                self.close()
        elif self._state == _CLOSED:
            _fsync_path(self._path)
        else:
            return
        self._state = _SEALED

    def sealed(self) -> None:
        """Called by ``LocalBackend.seal_many`` once a sync covered the closed file."""
        if self._state == _CLOSED:
            self._state = _SEALED

    def commit(self, blob_hash: str, *, sync: bool = True) -> bool:
        if self._state == _DONE:
            raise ContentError("commit of a staged blob already committed or aborted")
        try:
            check_hash(blob_hash)
            self.seal()
            placed = self._backend.place_file(self._path, blob_hash, sync)
        except BaseException:
            self.abort()
            raise
        self._state = _DONE
        return placed

    def abort(self) -> None:
        if self._state == _DONE:
            return
        if self._state == _OPEN:
            os.close(self._fd)
        self._state = _DONE
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)


class LocalBackend:
    """Blobs as files ``<root>/ab/abcdef...`` with a format-version file at the root."""

    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = root
        marker = root / FORMAT_FILE
        if marker.is_file():
            found = marker.read_text().strip()
            if found != FORMAT_VERSION:
                raise BlobFormatUnknown(
                    f"{root}: blob folder format {found!r}, but this version of isometry "
                    f"knows only {FORMAT_VERSION!r}; upgrade isometry to read it"
                )
        elif create:
            (root / STAGING).mkdir(parents=True, exist_ok=True)
            self._write_marker(marker)
        else:
            raise BlobNotFound(f"{root} is not a blob folder (no {FORMAT_FILE} file)")
        (root / STAGING).mkdir(exist_ok=True)
        # Plain strings on the hot paths: pathlib costs more than the system calls here.
        self._prefix = os.path.join(root, "")
        self._staging = os.path.join(root, STAGING, "")
        self._folders: set[str] = set()  # fan-out folders known to exist
        # ... and those whose entry in the root was durable when this backend last fsynced
        # it: a batch placing blobs only in these needs no fsync of the root.
        self._durable_folders: set[str] = set()
        self._names_prefix = f"{self._staging}put-{secrets.token_hex(8)}-"
        self._names = itertools.count()
        self._opened = itertools.count()
        # None: one fsync per file and per folder, never syncfs.
        self.syncfs: Callable[[int], None] | None = SYNCFS

    def _write_marker(self, marker: Path) -> None:
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".format-")
        with os.fdopen(fd, "w") as out:
            out.write(FORMAT_VERSION + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, marker)
        _fsync_path(self.root)

    def path_of(self, blob_hash: str) -> Path:
        check_hash(blob_hash)
        return self.root / blob_hash[:2] / blob_hash

    def _file_of(self, blob_hash: str) -> str:
        check_hash(blob_hash)
        return f"{self._prefix}{blob_hash[:2]}{os.sep}{blob_hash}"

    def create_staging_file(self) -> tuple[int, str, int]:
        """A new read-only file in the staging folder, open for writing: its descriptor, its
        path, and its rank among the files this backend opened (taken once it is open)."""
        for _ in range(100):
            path = f"{self._names_prefix}{next(self._names)}.tmp"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            except FileExistsError:  # another process (or a fork of this one) had the prefix
                self._names_prefix = f"{self._staging}put-{secrets.token_hex(8)}-"
                continue
            return fd, path, next(self._opened)
        raise ContentError(f"{self._staging}: cannot create a staging file with a new name")

    def place_file(self, path: str, blob_hash: str, sync: bool) -> bool:
        """Rename a sealed staging file to the blob's name; False (and the file removed) when
        that name already held one."""
        target = self._file_of(blob_hash)
        if os.path.exists(target):
            # Same name, same content: the blob already there is kept, never replaced.
            os.unlink(path)
            return False
        folder = target[: -len(blob_hash) - 1]
        if folder not in self._folders:
            self._make_folder(folder, sync=sync)
        try:
            os.replace(path, target)
        except FileNotFoundError:
            if not os.path.exists(path):
                raise
            self._make_folder(folder, sync=sync)  # removed since we last looked
            os.replace(path, target)
        if sync:
            _fsync_path(folder)
        return True

    def _make_folder(self, folder: str, *, sync: bool) -> None:
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        else:
            self._durable_folders.discard(folder)  # made again: its new entry is not durable
            if sync:
                _fsync_path(self.root)
        self._folders.add(folder)

    def stage(self) -> Staging:
        return _LocalStaging(self)

    def seal_many(self, stagings: Sequence[Staging]) -> None:
        open_: list[_LocalStaging] = []
        rest: list[Staging] = []
        for staging in stagings:
            if isinstance(staging, _LocalStaging) and staging.open_in(self):
                open_.append(staging)
            else:
                rest.append(staging)
        if self.syncfs is None or len(open_) < SYNCFS_MIN:
            _seal_each([*rest, *open_])
            return
        _seal_each(rest)
        # syncfs reports a writeback error that came after its descriptor was opened: the
        # oldest file's was opened before any of the others was written.
        oldest = min(open_, key=lambda staging: staging.opened)
        for staging in open_:
            if staging is not oldest:
                staging.close()
        try:
            _sync_all(self.syncfs, oldest._fd)
        finally:
            oldest.close()
        for staging in open_:
            staging.sealed()

    def sync(self, blob_hashes: Iterable[str]) -> None:
        folders = sorted({self._file_of(h)[: -len(h) - 1] for h in blob_hashes})
        if self.syncfs is not None and len(folders) >= SYNCFS_MIN:
            # A new descriptor: syncfs still reports a writeback error nobody has seen.
            _sync_through(self.syncfs, str(self.root))
            self._durable_folders.update(folders)
            return
        if not self._durable_folders.issuperset(folders):
            _fsync_path(self.root)  # a fan-out folder may be new
            self._durable_folders.update(folders)
        for folder in folders:
            _fsync_path(folder)

    def put(self, blob_hash: str, data: bytes | BinaryIO) -> bool:
        if self.has(blob_hash):
            return False
        return put_via_staging(self, blob_hash, data)

    def get(self, blob_hash: str) -> BinaryIO:
        try:
            return open(self._file_of(blob_hash), "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"blob {blob_hash} is not stored") from None

    def has(self, blob_hash: str) -> bool:
        return os.path.isfile(self._file_of(blob_hash))

    def remove_leftovers(self, before: float) -> int:
        removed = 0
        for path in (self.root / STAGING).glob("put-*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < before:
                    path.unlink()
                    removed += 1
        return removed

    def list(self) -> Iterator[str]:
        for folder in sorted(self.root.iterdir()):
            if not (_FANOUT.fullmatch(folder.name) and folder.is_dir()):
                continue
            for entry in sorted(folder.iterdir()):
                if _HASH.fullmatch(entry.name) and entry.name.startswith(folder.name):
                    yield entry.name

    def delete(self, blob_hash: str) -> bool:
        path = self._file_of(blob_hash)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        _fsync_path(path[: -len(blob_hash) - 1])
        return True

    def size(self, blob_hash: str) -> int:
        try:
            return os.stat(self._file_of(blob_hash)).st_size
        except FileNotFoundError:
            raise BlobNotFound(f"blob {blob_hash} is not stored") from None
