"""Storing the files that come with records, and an operation's log and report, as blobs.

Runs inside the transaction of the batch (or of the operation's end), so a node version and
the references to its files are written together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from isometry.content.store import ContentStore
from isometry.errors import ContentError, PermissionRefused, SourceUnreadable
from isometry.etl.batch import Quarantined
from isometry.lineage.records import Origin
from isometry.model import JSON
from isometry.sources.base import Attachment, Locator, Opener


def store_attachments(
    store: ContentStore,
    opener: Opener,
    commit_seq: int,
    nodes: Iterable[str],
    attachments: Mapping[str, tuple[Attachment, ...]],
    origins: Mapping[str, Origin],
) -> list[Quarantined]:
    """Store the files of the nodes this commit wrote and link them to that node version.
    A file that cannot be read is quarantined (the node itself is kept)."""
    problems: list[Quarantined] = []
    for key in nodes:
        for item in attachments.get(key, ()):
            try:
                if item.data is not None:
                    ref = store.store(item.data, item.filename, item.mime_type)
                elif item.path is not None:
                    with opener.open_binary(item.path) as stream:
                        ref = store.store(stream, item.filename, item.mime_type)
                else:
                    continue
                store.reference(ref.hash, "node", key, item.role, commit_seq)
            except (SourceUnreadable, PermissionRefused, ContentError, OSError) as error:
                origin = origins.get(key)
                locator = (
                    Locator(origin.file or "", origin.record or key) if origin else Locator("", key)
                )
                problems.append(
                    Quarantined(
                        locator,
                        str(item.path or item.filename),
                        f"attachment {item.filename!r} of node {key}: {error}",
                    )
                )
    return problems


def store_artifacts(
    store: ContentStore, op_id: str, log: list[dict[str, JSON]], report: dict[str, JSON]
) -> dict[str, str]:
    """The operation's structured log (JSON Lines) and its report (JSON), kept as artifacts."""
    log_bytes = b"".join(orjson.dumps(entry) + b"\n" for entry in log)
    log_ref = store.store(log_bytes, f"operation-{op_id}.log.jsonl", "application/x-ndjson")
    store.reference(log_ref.hash, "artifact", op_id, "log")
    report_bytes = orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    report_ref = store.store(report_bytes, f"operation-{op_id}.report.json", "application/json")
    store.reference(report_ref.hash, "artifact", op_id, "report")
    return {"log": log_ref.hash, "report": report_ref.hash}
