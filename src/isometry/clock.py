"""Time as a dependency: code below the faces asks a ``Clock`` and never reads the system clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedStepClock:
    """A clock that starts at ``start`` and moves ``step`` forward at every reading."""

    def __init__(self, start: datetime, step: timedelta = timedelta(seconds=1)) -> None:
        self._next = start
        self._step = step

    def now(self) -> datetime:
        moment = self._next
        self._next += self._step
        return moment


def stamp(moment: datetime) -> str:
    """A commit time: UTC, always with microseconds, so the strings sort as the times do."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
