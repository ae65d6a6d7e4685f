"""Schema migrations: registered in code, applied in order, recorded in ``schema_migrations``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from isometry.errors import SchemaTooNew
from isometry.store.connection import Database


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS: list[Migration] = []


def migration(version: int, name: str) -> Callable[[Callable[[sqlite3.Connection], None]], None]:
    """Register ``fn`` as the step that brings the schema to ``version``."""

    def register(fn: Callable[[sqlite3.Connection], None]) -> None:
        if any(m.version == version for m in MIGRATIONS):
            raise RuntimeError(f"migration {version} registered twice")
        MIGRATIONS.append(Migration(version, name, fn))
        MIGRATIONS.sort(key=lambda m: m.version)

    return register


def latest_version() -> int:
    from isometry.store import schema  # noqa: F401  (registers the migrations)

    return MIGRATIONS[-1].version if MIGRATIONS else 0


def current_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def check_not_newer(db: Database) -> int:
    """Refuse a repository written by a newer version: we would misread or damage it."""
    version = current_version(db.conn)
    if version > latest_version():
        raise SchemaTooNew(
            f"{db.path}: this repository has schema version {version}, but this version of "
            f"isometry knows only up to {latest_version()}; upgrade isometry to open it"
        )
    return version


def migrate(db: Database, now: str) -> list[int]:
    """Apply every registered migration the database lacks; return the versions applied."""
    applied: list[int] = []
    if current_version(db.conn) == latest_version():
        return applied  # the common case: no write lock taken just to open a repository
    with db.transaction() as conn:
        version = check_not_newer(db)
        if version == 0:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        for step in MIGRATIONS:
            if step.version <= version:
                continue
            step.apply(conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, now),
            )
            applied.append(step.version)
    return applied
