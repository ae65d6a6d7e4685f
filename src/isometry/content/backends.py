"""Where blob bytes live: a local folder, or memory (the twin the contract tests also run on).

A backend is dumb storage of already-encoded blobs under their names; it knows nothing of
compression, metadata or references. Blobs are written once and never changed in place.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from isometry.errors import BlobFormatUnknown, BlobNotFound, ContentError, InvalidHash

FORMAT_FILE = "format"
FORMAT_VERSION = "isometry-blobs 1"
STAGING = "tmp"
CHUNK = 1 << 20
_HASH = re.compile(r"[0-9a-f]{64}")
_FANOUT = re.compile(r"[0-9a-f]{2}")


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

    def sync(self, blob_hashes: Iterable[str]) -> None:
        """Make the names of blobs committed with ``sync=False`` durable: one fsync per
        folder they are in (and of the root)."""
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

    @property
    def written(self) -> int:
        return self._buffer.tell() if self._buffer else 0

    def write(self, data: bytes) -> None:
        if self._buffer is None:
            raise ContentError("write to a staged blob already committed or aborted")
        self._buffer.write(data)

    def seal(self) -> None:
        pass

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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _LocalStaging:
    """A temporary file in the staging folder (same file system), renamed into place."""

    def __init__(self, backend: LocalBackend) -> None:
        self._backend = backend
        fd, name = tempfile.mkstemp(dir=backend.root / STAGING, prefix="put-", suffix=".tmp")
        self._path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")  # None once sealed
        self._written = 0
        self._done = False  # committed or aborted

    @property
    def written(self) -> int:
        return self._written

    def write(self, data: bytes) -> None:
        if self._file is None or self._done:
            raise ContentError("write to a staged blob already sealed, committed or aborted")
        self._file.write(data)
        self._written += len(data)

    def seal(self) -> None:
        if self._file is None or self._done:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
            self._file = None

    def commit(self, blob_hash: str, *, sync: bool = True) -> bool:
        if self._done:
            raise ContentError("commit of a staged blob already committed or aborted")
        try:
            target = self._backend.path_of(blob_hash)
            self.seal()
            self._done = True
            if target.exists():
                # Same name, same content: the blob already there is kept, never replaced.
                self._path.unlink()
                return False
            created = not target.parent.exists()
            target.parent.mkdir(exist_ok=True)
            if created and sync:
                _fsync_dir(self._backend.root)
            os.chmod(self._path, 0o444)
            os.replace(self._path, target)
            if sync:
                _fsync_dir(target.parent)
            return True
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self._done = True
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


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

    def _write_marker(self, marker: Path) -> None:
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".format-")
        with os.fdopen(fd, "w") as out:
            out.write(FORMAT_VERSION + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, marker)
        _fsync_dir(self.root)

    def path_of(self, blob_hash: str) -> Path:
        check_hash(blob_hash)
        return self.root / blob_hash[:2] / blob_hash

    def stage(self) -> Staging:
        return _LocalStaging(self)

    def sync(self, blob_hashes: Iterable[str]) -> None:
        folders = sorted({self.path_of(h).parent for h in blob_hashes})
        if folders:
            _fsync_dir(self.root)  # a fan-out folder may be new
        for folder in folders:
            _fsync_dir(folder)

    def put(self, blob_hash: str, data: bytes | BinaryIO) -> bool:
        if self.has(blob_hash):
            return False
        return put_via_staging(self, blob_hash, data)

    def get(self, blob_hash: str) -> BinaryIO:
        try:
            return self.path_of(blob_hash).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"blob {blob_hash} is not stored") from None

    def has(self, blob_hash: str) -> bool:
        return self.path_of(blob_hash).is_file()

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
        path = self.path_of(blob_hash)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def size(self, blob_hash: str) -> int:
        try:
            return self.path_of(blob_hash).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"blob {blob_hash} is not stored") from None
