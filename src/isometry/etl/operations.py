"""Operations as rows: create, read, list and update, with their leases.

A running operation holds a lease it renews at every batch; one whose lease has run out has
lost its process and is shown as interrupted, never as running forever.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from isometry.errors import OperationNotFound
from isometry.etl.config import OperationConfig
from isometry.etl.states import State
from isometry.model import JSON

LEASE = timedelta(seconds=30)
_JSON_FIELDS = ("config", "sources", "grants", "progress", "counts", "commits", "result")
_COLUMNS = (
    "id", "seq", "template", "state", "config", "sources", "grants", "branch", "target", "phase",
    "progress", "counts", "commits", "result", "error", "cancel_requested", "lease_owner",
    "lease_until", "peak_rss", "recovery_seconds", "created_at", "queued_at", "started_at",
    "finished_at",
)  # fmt: skip
# Every record read is one of inserted, updated, unchanged, quarantined, filtered or skipped;
# ``deleted`` counts nodes a sync found gone, ``attachments_quarantined`` the files of kept
# records that could not be stored.
COUNTERS = (
    "read", "inserted", "updated", "unchanged", "deleted", "quarantined", "filtered", "skipped",
    "attachments_quarantined",
)  # fmt: skip
_HEX = re.compile(r"[0-9a-fA-F]+")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM operations"
# Counts are kept in total (``read``) and per source importer (``safari/read``), in one flat
# mapping, so a checkpoint carries both and a resume continues both exactly.
SOURCE_SEP = "/"


def add_counts(counts: Mapping[str, int], source: str | None, **more: int) -> dict[str, int]:
    """``counts`` with ``more`` added to the totals and, when given, to ``source``'s own."""
    out = dict(counts)
    for name, value in more.items():
        out[name] = out.get(name, 0) + value
        if source is not None:
            key = f"{source}{SOURCE_SEP}{name}"
            out[key] = out.get(key, 0) + value
    return out


def counts_by_source(counts: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """The per-source counts of a flat mapping, every counter present."""
    out: dict[str, dict[str, int]] = {}
    for key, value in counts.items():
        source, sep, name = key.rpartition(SOURCE_SEP)
        if sep and name in COUNTERS:
            out.setdefault(source, dict.fromkeys(COUNTERS, 0))[name] = value
    return dict(sorted(out.items()))


@dataclass
class Operation:
    id: str
    seq: int
    template: str
    state: State
    config: OperationConfig
    sources: list[str]
    grants: dict[str, list[str]]
    branch: str | None
    target: str
    phase: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cancel_requested: bool = False
    lease_owner: str | None = None
    lease_until: str | None = None
    peak_rss: int | None = None
    recovery_seconds: float | None = None
    created_at: str = ""
    queued_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    def shown_state(self, now: datetime) -> State:
        """The state as a user should see it: a running one whose process is gone is
        interrupted. On this machine the process id in the lease tells at once; for an owner
        on another machine, the lease running out does."""
        if self.state is not State.RUNNING:
            return self.state
        return (
            State.RUNNING if _alive(self.lease_owner, self.lease_until, now) else State.INTERRUPTED
        )

    def fraction(self) -> float:
        """Overall progress 0..1: records handled out of the records scanning found."""
        total = int(self.progress.get("total") or 0)
        if self.state in (State.SUCCEEDED, State.PARTIALLY_SUCCEEDED):
            return 1.0
        if not total:
            return 0.0
        return min(1.0, int(self.progress.get("done") or 0) / total)

    def to_json(self, now: datetime) -> dict[str, JSON]:
        return {
            "id": self.id,
            "template": self.template,
            "state": str(self.shown_state(now)),
            "phase": self.phase,
            "progress": round(self.fraction(), 4),
            "done": self.progress.get("done", 0),
            "total": self.progress.get("total", 0),
            "counts": {name: self.counts.get(name, 0) for name in COUNTERS},
            "counts_by_source": counts_by_source(self.counts),
            "branch": self.branch,
            "target": self.target,
            "sources": self.sources,
            "config": self.config.to_json(),
            "commits": self.commits,
            "result": self.result,
            "error": self.error,
            "peak_rss_mb": round(self.peak_rss / 2**20, 1) if self.peak_rss else None,
            "recovery_seconds": self.recovery_seconds,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def owner_name() -> str:
    """A lease owner: this machine, this process, and a token for this executor."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_process_alive(owner: str | None) -> bool | None:
    """Whether the process named in a lease runs; None when it is on another machine."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(owner: str | None, until: str | None, now: datetime) -> bool:
    """Whether the process holding a lease still runs (see ``Operation.shown_state``)."""
    local = owner_process_alive(owner)
    return local if local is not None else lease_alive(until, now)


def running(conn: sqlite3.Connection, now: datetime) -> list[str]:
    """The ids of the operations shown as running, in order, without reading the rest."""
    return [
        op_id
        for op_id, owner, until in conn.execute(
            "SELECT id, lease_owner, lease_until FROM operations WHERE state = ? ORDER BY seq",
            (State.RUNNING,),
        )
        if _alive(owner, until, now)
    ]


def lease_alive(until: str | None, now: datetime) -> bool:
    return until is not None and _parse(until) > now


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _row_to_operation(row: tuple[Any, ...]) -> Operation:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _JSON_FIELDS:
        values[name] = orjson.loads(values[name])
    values["config"] = OperationConfig.from_json(values["config"])
    values["state"] = State(values["state"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    return Operation(**values)


def create(
    conn: sqlite3.Connection,
    *,
    template: str,
    config: OperationConfig,
    sources: list[str],
    grants: Mapping[str, list[str]],
    now: str,
) -> Operation:
    seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM operations").fetchone()[0])
    op_id = uuid.uuid4().hex[:12]
    conn.execute(
        "INSERT INTO operations (id, seq, template, state, config, sources, grants, target,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            op_id, seq, template, State.CREATED, _dump(config.to_json()), _dump(sources),
            _dump(dict(grants)), config.target, now,
        ),
    )  # fmt: skip
    return load(conn, op_id)


def _dump(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def load(conn: sqlite3.Connection, op_id: str) -> Operation:
    """An operation by id or unique id prefix (hex digits, in any case)."""
    if not _HEX.fullmatch(op_id):
        raise OperationNotFound(f"no operation {op_id!r} (an operation id is hex digits)")
    # The whole id first: found through the primary key, where the prefix search (a LIKE,
    # which no index serves) reads every operation.
    row = conn.execute(f"{_SELECT} WHERE id = ?", (op_id,)).fetchone()
    if row is not None:
        return _row_to_operation(row)
    # substr, not LIKE, which would take a character for a wildcard. Ids are lower-case hex.
    rows = conn.execute(
        f"{_SELECT} WHERE substr(id, 1, ?) = ? LIMIT 2", (len(op_id), op_id.lower())
    ).fetchall()
    if len(rows) == 1 and len(op_id) >= 4:
        return _row_to_operation(rows[0])
    if len(rows) > 1:
        raise OperationNotFound(f"{op_id!r} matches several operations; give more of the id")
    raise OperationNotFound(f"no operation {op_id!r}")


def state_of(conn: sqlite3.Connection, op_id: str) -> State:
    """The stored state of one operation (by its whole id), without reading the rest."""
    row = conn.execute("SELECT state FROM operations WHERE id = ?", (op_id,)).fetchone()
    if row is None:
        raise OperationNotFound(f"no operation {op_id!r}")
    return State(row[0])


def stored(value: Any) -> Any:
    """A JSON column's value as ``load`` gives it back (keys sorted, as stored)."""
    return orjson.loads(_dump(value))


def updated(op: Operation, **values: Any) -> Operation:
    """``op`` as ``load`` gives it after ``update(conn, op.id, **values)``."""
    return replace(
        op,
        **{
            name: stored(v) if name in _JSON_FIELDS and not isinstance(v, str) else v
            for name, v in values.items()
        },
    )


def list_all(conn: sqlite3.Connection, states: tuple[State, ...] = ()) -> list[Operation]:
    where = f" WHERE state IN ({','.join('?' * len(states))})" if states else ""
    return [
        _row_to_operation(row) for row in conn.execute(f"{_SELECT}{where} ORDER BY seq", states)
    ]


def update(conn: sqlite3.Connection, op_id: str, **values: Any) -> None:
    """Set columns of one operation; dicts and lists are stored as JSON."""
    if not values:
        return
    names = list(values)
    encoded = [
        _dump(v) if name in _JSON_FIELDS and not isinstance(v, str) else v
        for name, v in values.items()
    ]
    conn.execute(
        f"UPDATE operations SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
        (*encoded, op_id),
    )


def log(
    conn: sqlite3.Connection, op_id: str, now: str, level: str, event: str, **data: JSON
) -> None:
    """One event in the operation's structured log."""
    conn.execute(
        "INSERT INTO op_log (op_id, seq, time, level, event, data) VALUES (?,"
        " (SELECT COALESCE(MAX(seq), 0) + 1 FROM op_log WHERE op_id = ?), ?, ?, ?, ?)",
        (op_id, op_id, now, level, event, _dump(data)),
    )


def read_log(conn: sqlite3.Connection, op_id: str) -> list[dict[str, JSON]]:
    return [
        _entry(seq, time, level, event, orjson.loads(data))
        for seq, time, level, event, data in conn.execute(
            "SELECT seq, time, level, event, data FROM op_log WHERE op_id = ? ORDER BY seq",
            (op_id,),
        )
    ]


def logged(
    log: list[dict[str, JSON]], now: str, level: str, event: str, **data: JSON
) -> list[dict[str, JSON]]:
    """``log`` (as ``read_log`` gave it) as ``read_log`` gives it after this ``log`` call."""
    last = log[-1]["seq"] if log else 0
    assert isinstance(last, int)
    return [*log, _entry(last + 1, now, level, event, stored(data))]


def _entry(seq: int, time: str, level: str, event: str, data: dict[str, JSON]) -> dict[str, JSON]:
    return {"seq": seq, "time": time, "level": level, "event": event, **data}
