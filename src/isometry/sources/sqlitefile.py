"""Reading a SQLite file that belongs to someone else (Apple's stores, Safari's history, any
database a user hands us) without ever writing, locking or changing it.

The file and its write-ahead log are copied, through the operation's opener (so grants apply),
into a private temporary folder and opened there: a store the app is still using is read as
one consistent snapshot, a read-only folder is no obstacle, and nothing is left beside the
source. The copy is hashed on the way, which gives the source's fingerprint for free.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from isometry.errors import SourceUnreadable
from isometry.sources.base import Opener
from isometry.sources.records import open_source

SQLITE_MAGIC = b"SQLite format 3\x00"
_CHUNK = 1 << 20


def quoted(name: str) -> str:
    """A table or column name as an SQL identifier, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def is_sqlite(path: Path) -> bool:
    """Whether the file at ``path`` starts like a SQLite database (a quick look, no grants:
    used only to choose an importer)."""
    try:
        with path.open("rb") as stream:
            return stream.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


@dataclass(frozen=True)
class Snapshot:
    """An open, read-only copy of a SQLite source."""

    connection: sqlite3.Connection
    size: int
    """Bytes of the database and its write-ahead log."""
    fingerprint: str
    """SHA-256 (hex) of the database followed by its write-ahead log."""

    def columns(self, table: str) -> list[str]:
        """The columns of ``table`` (empty when there is no such table), for reading a store
        by what it has rather than by a version number."""
        rows = self.connection.execute("SELECT name FROM pragma_table_info(?)", (table,)).fetchall()
        return [str(row[0]) for row in rows]

    def tables(self) -> list[str]:
        rows = self.connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"
        ).fetchall()
        return [str(row[0]) for row in rows]


def _copy(source: Path, target: Path, opener: Opener, digest: hashlib._Hash) -> int:
    size = 0
    with open_source(source, opener) as stream, target.open("wb") as out:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size


@contextmanager
def snapshot(path: Path, opener: Opener) -> Iterator[Snapshot]:
    """The SQLite database at ``path`` (with its ``-wal`` when there is one), copied and opened
    read-only. A file that is not a readable SQLite database raises ``SourceUnreadable``."""
    folder = Path(tempfile.mkdtemp(prefix="isometry-source-"))
    try:
        digest = hashlib.sha256()
        copy = folder / "source.sqlite"
        size = _copy(path, copy, opener, digest)
        wal = path.with_name(path.name + "-wal")
        if wal.is_file():
            size += _copy(wal, folder / "source.sqlite-wal", opener, digest)
        try:
            connection = sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as error:
            raise SourceUnreadable(f"{path}: cannot open as SQLite: {error}") from None
        try:
            try:
                # Names in a damaged schema may not even be text: read them all once here.
                connection.execute("SELECT name, sql FROM sqlite_schema").fetchall()
            except (sqlite3.DatabaseError, UnicodeDecodeError) as error:
                raise SourceUnreadable(f"{path}: not a readable SQLite database: {error}") from None
            yield Snapshot(connection, size, digest.hexdigest())
        finally:
            connection.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
