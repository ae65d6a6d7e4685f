"""Storing the files that come with records, and an operation's log and report, as blobs.

Runs inside the transaction of the batch (or of the operation's end), so a node version and
the references to its files are written together or not at all.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson

from isometry.content.reports import BlobRef
from isometry.content.store import ContentStore, Source, Staged
from isometry.errors import ContentError, PermissionRefused, SourceUnreadable
from isometry.etl.batch import Quarantined
from isometry.lineage.records import Origin
from isometry.model import JSON
from isometry.sources.base import Attachment, Locator, Opener

# Files up to this size are read whole and stored together (one fsync wave per batch, not
# one per file); larger ones are streamed one at a time, where the bytes cost more than fsync.
SMALL = 4 << 20
_PROBLEMS = (SourceUnreadable, PermissionRefused, ContentError, OSError)


@dataclass(frozen=True)
class _Ready:
    key: str
    item: Attachment
    data: bytes


def store_attachments(
    store: ContentStore,
    opener: Opener,
    commit_seq: int,
    nodes: Iterable[str],
    attachments: Mapping[str, tuple[Attachment, ...]],
    origins: Mapping[str, Origin],
) -> list[Quarantined]:
    """Store the files of the nodes this commit wrote and link them to that node version.
    A file that cannot be read or stored is quarantined (the node itself is kept)."""
    problems: list[Quarantined] = []

    def problem(key: str, item: Attachment, error: Exception) -> None:
        origin = origins.get(key)
        locator = Locator(origin.file or "", origin.record or key) if origin else Locator("", key)
        reason = f"attachment {item.filename!r} of node {key}: {error}"
        problems.append(Quarantined(locator, str(item.path or item.filename), reason))

    ready: list[_Ready] = []
    for key in nodes:
        for item in attachments.get(key, ()):
            try:
                if item.data is not None:
                    ready.append(_Ready(key, item, item.data))
                elif item.path is not None:
                    with opener.open_binary(item.path) as stream:
                        if os.fstat(stream.fileno()).st_size <= SMALL:
                            ready.append(_Ready(key, item, stream.read()))
                        else:
                            big = store.store(stream, item.filename, item.mime_type)
                            store.reference(big.hash, "node", key, item.role, commit_seq)
            except _PROBLEMS as error:
                problem(key, item, error)
    try:
        refs: list[BlobRef | Exception] = list(
            store.store_many([(r.data, r.item.filename, r.item.mime_type) for r in ready])
        )
    except _PROBLEMS:
        # One of them was refused (a quota, say) and the batch stored nothing: one at a
        # time, so only the refused ones are quarantined.
        refs = [_one(store, r) for r in ready]
    for entry, ref in zip(ready, refs, strict=True):
        if isinstance(ref, Exception):
            problem(entry.key, entry.item, ref)
        else:
            store.reference(ref.hash, "node", entry.key, entry.item.role, commit_seq)
    return problems


def _one(store: ContentStore, entry: _Ready) -> BlobRef | Exception:
    try:
        return store.store(entry.data, entry.item.filename, entry.item.mime_type)
    except _PROBLEMS as error:
        return error


def artifact_items(
    op_id: str, log: list[dict[str, JSON]], report: dict[str, JSON]
) -> list[tuple[bytes, str, str | None]]:
    """The operation's structured log (JSON Lines) and its report (JSON), as blobs to store."""
    return [
        (
            b"".join(orjson.dumps(entry) + b"\n" for entry in log),
            f"operation-{op_id}.log.jsonl",
            "application/x-ndjson",
        ),
        (
            orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS),
            f"operation-{op_id}.report.json",
            "application/json",
        ),
    ]


def store_artifacts(
    store: ContentStore,
    op_id: str,
    log: list[dict[str, JSON]],
    report: dict[str, JSON],
    ahead: Sequence[Staged] = (),
) -> dict[str, str]:
    """The operation's log and report, kept as artifacts. ``ahead``: the same two, staged
    before the transaction from what they were expected to be; used if they are exactly
    what they must be, else left for the caller to abort."""
    items = artifact_items(op_id, log, report)
    sources: list[tuple[Source | Staged, str | None, str | None]] = list(items)
    if [s.ref.hash for s in ahead] == [hashlib.sha256(data).hexdigest() for data, *_ in items]:
        sources = [
            (staged, name, mime) for staged, (_, name, mime) in zip(ahead, items, strict=True)
        ]
    # One batch: both files are made durable together, not one fsync round after the other.
    log_ref, report_ref = store.store_many(sources)
    store.reference(log_ref.hash, "artifact", op_id, "log")
    store.reference(report_ref.hash, "artifact", op_id, "report")
    return {"log": log_ref.hash, "report": report_ref.hash}
