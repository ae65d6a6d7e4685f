"""Resource limits, checked between batches so an operation stops cleanly at a boundary."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from isometry.errors import LimitExceeded

MB = 1024 * 1024


def rss_bytes() -> int:
    """This process's resident memory now (Linux), else its peak so far."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if os.uname().sysname == "Darwin" else peak * 1024


def peak_rss_bytes() -> int:
    """This process's peak resident memory. On Linux from ``VmHWM``: ``ru_maxrss`` carries
    the parent's peak over fork and exec, so a child started by a large process reads it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if os.uname().sysname == "Darwin" else peak * 1024


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float | None = None
    max_memory_mb: float | None = None
    max_database_mb: float | None = None

    def check(self, *, started: datetime, now: datetime, database: Path) -> None:
        """Raise ``LimitExceeded`` naming the limit that was passed."""
        if self.timeout_seconds is not None:
            elapsed = (now - started).total_seconds()
            if elapsed > self.timeout_seconds:
                raise LimitExceeded(
                    f"operation timeout: ran {elapsed:.1f} s, limit {self.timeout_seconds:g} s"
                )
        if self.max_memory_mb is not None:
            used = rss_bytes() / MB
            if used > self.max_memory_mb:
                raise LimitExceeded(
                    f"memory limit: {used:.0f} MB resident, limit {self.max_memory_mb:g} MB"
                )
        if self.max_database_mb is not None:
            size = (
                sum(
                    p.stat().st_size
                    for p in (database, database.with_name(database.name + "-wal"))
                    if p.exists()
                )
                / MB
            )
            if size > self.max_database_mb:
                raise LimitExceeded(
                    f"database size limit: {size:.1f} MB, limit {self.max_database_mb:g} MB"
                )
