"""Metrics per operation and overall, computed from the kept run history."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from isometry.etl import operations
from isometry.etl.operations import Operation
from isometry.etl.states import FINAL
from isometry.model import JSON


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    a = datetime.fromisoformat(start.replace("Z", "+00:00"))
    b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return max(0.0, (b - a).total_seconds())


def of_operation(op: Operation) -> dict[str, JSON]:
    seconds = _seconds(op.started_at, op.finished_at)
    read = op.counts.get("read", 0)
    return {
        "id": op.id,
        "template": op.template,
        "state": str(op.state),
        "seconds": seconds,
        "items": read,
        "items_per_second": round(read / seconds, 1) if seconds else None,
        "error_rate": round(op.counts.get("quarantined", 0) / read, 4) if read else None,
        "attachments_quarantined": op.counts.get("attachments_quarantined", 0),
        "peak_rss_mb": round(op.peak_rss / 2**20, 1) if op.peak_rss else None,
        "recovery_seconds": op.recovery_seconds,
    }


def overall(conn: sqlite3.Connection) -> dict[str, JSON]:
    ops = operations.list_all(conn)
    ended = [op for op in ops if op.state in FINAL and op.started_at and op.finished_at]
    per_op = [of_operation(op) for op in ended]
    durations = [m["seconds"] for m in per_op if isinstance(m["seconds"], float)]
    read = sum(op.counts.get("read", 0) for op in ended)
    quarantined = sum(op.counts.get("quarantined", 0) for op in ended)
    starts = [op.started_at for op in ended if op.started_at]
    ends = [op.finished_at for op in ended if op.finished_at]
    span = _seconds(min(starts, default=None), max(ends, default=None))
    peaks = [float(m["peak_rss_mb"]) for m in per_op if isinstance(m["peak_rss_mb"], float)]
    recoveries = [op.recovery_seconds for op in ops if op.recovery_seconds is not None]
    by_state: dict[str, int] = {}
    for op in ops:
        by_state[str(op.state)] = by_state.get(str(op.state), 0) + 1
    return {
        "operations": len(ops),
        "by_state": by_state,
        "items": read,
        "items_per_second": round(read / sum(durations), 1) if sum(durations) else None,
        "operations_per_hour": round(len(ended) / span * 3600, 1) if span else None,
        "average_seconds": round(sum(durations) / len(durations), 3) if durations else None,
        "peak_rss_mb": max(peaks, default=None),
        "error_rate": round(quarantined / read, 4) if read else None,
        "attachments_quarantined": sum(op.counts.get("attachments_quarantined", 0) for op in ended),
        "average_recovery_seconds": round(sum(recoveries) / len(recoveries), 3)
        if recoveries
        else None,
        "history": per_op,
    }
