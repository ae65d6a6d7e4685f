"""Shared fixtures: a deterministic clock and a real repository in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from isometry import api
from isometry.clock import FixedStepClock, stamp
from isometry.content import ContentStore
from isometry.store.connection import Database
from isometry.store.migrations import migrate
from isometry.vcs.repository import Repository

START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedStepClock:
    """Every reading is one second after the previous one, starting at ``START``."""
    return FixedStepClock(START, timedelta(seconds=1))


@pytest.fixture
def repo_path(tmp_path: Path) -> Path:
    return tmp_path / "repo"


@pytest.fixture
def repo(repo_path: Path, clock: FixedStepClock) -> Iterator[Repository]:
    """A fresh repository on a real SQLite file, closed afterwards."""
    repository = api.init(repo_path, clock=clock, author="alice")
    try:
        yield repository
    finally:
        repository.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated database on a real SQLite file, with no repository around it."""
    database = Database(tmp_path / "isometry.db")
    migrate(database, stamp(START))
    yield database
    database.close()


@pytest.fixture
def store(tmp_path: Path, db: Database) -> ContentStore:
    """A content store over ``db`` with its blob folder in ``tmp_path``."""
    return ContentStore.open(tmp_path, db, FixedStepClock(START, timedelta(seconds=1)))
