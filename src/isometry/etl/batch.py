"""One batch: source items turned into validated rows, lineage origins and quarantine entries.

Pure work on the items (no writes): the executor writes the result in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from isometry.errors import ModelError
from isometry.lineage.records import Origin
from isometry.model import JSON, RowKind, edge_row, node_row, normalize_node
from isometry.sources.base import Attachment, Draft, Item, Locator, Skipped
from isometry.vcs.ops import Upsert
from isometry.vcs.rows import Key

# What a full import keeps in ``op_seen`` for a sync: the node ids its sources still have,
# and the files it cannot tell that of (``Batch.unkeyed``).
SEEN_NODE = int(RowKind.NODE)
SEEN_UNKEYED_FILE = 2


@dataclass(frozen=True, slots=True)
class Quarantined:
    locator: Locator
    raw: str
    reason: str


@dataclass
class Batch:
    """What a batch will write, and what it counted on the way."""

    ops: list[Upsert] = field(default_factory=list)
    origins: dict[Key, Origin] = field(default_factory=dict)
    # Each op's own record (a node id may come twice in one batch: each occurrence counts).
    origin_of: dict[int, Origin] = field(default_factory=dict)
    hashes: dict[Key, str] = field(default_factory=dict)
    quarantined: list[Quarantined] = field(default_factory=list)
    left_out: list[Skipped] = field(default_factory=list)  # on purpose, by the importer
    read: int = 0
    filtered: int = 0
    skipped: int = 0  # unchanged at the source since it was last imported
    # Every node id the source still has, written or not: valid records' and those of
    # records refused by validation (a record in quarantine is not gone from its source).
    seen: list[str] = field(default_factory=list)
    # Files with a quarantined record whose node cannot be known (a line that is not JSON):
    # it may be any of their records, so a sync deletes nothing of theirs.
    unkeyed: set[str] = field(default_factory=set)
    attachments: dict[str, tuple[Attachment, ...]] = field(default_factory=dict)
    packed: dict[bytes, bytes] = field(default_factory=dict)  # stored forms made ahead, by hash

    @property
    def node_keys(self) -> list[str]:
        return [key for (kind, key) in self.origins if kind is RowKind.NODE]

    def skip_unchanged(self, last_imported: Mapping[str, frozenset[str]]) -> None:
        """Drop the records whose source hash is one their node was last imported from (with
        their edges): they are counted, not written."""
        kept: list[Upsert] = []
        for op in self.ops:
            origin = self.origin_of.get(id(op))
            if origin is not None and origin.source_hash in last_imported.get(op.key, ()):
                if op.kind is RowKind.NODE:
                    self.skipped += 1
                continue
            kept.append(op)
        self.ops = kept


_NODE, _EDGE = RowKind.NODE, RowKind.EDGE


def _origin(draft: Draft) -> Origin:
    loc = draft.locator
    return Origin(loc.file, loc.record, loc.line, loc.offset, loc.length, draft.source_hash)


def _in_range(row: Mapping[str, JSON], date_from: str | None, date_to: str | None) -> bool:
    """Whether the record's time (modified, else created) falls in the date range."""
    if date_from is None and date_to is None:
        return True
    when = row.get("modified_at") or row.get("created_at")
    if not isinstance(when, str):
        return False
    return (date_from is None or when >= date_from) and (date_to is None or when <= date_to)


def _node_id(node: Mapping[str, JSON]) -> str | None:
    """The id of the node a record refused by validation stands for, from its identifying
    fields alone (another field of it is what was wrong); None when those are wrong too."""
    try:
        found = normalize_node({k: node[k] for k in ("id", "source", "source_id") if k in node})
    except ModelError:
        return None
    return str(found["id"])


def build(
    items: Sequence[Item],
    *,
    date_from: str | None,
    date_to: str | None,
) -> Batch:
    """Transform and validate each item."""
    batch = Batch(read=len(items))
    ranged = date_from is not None or date_to is not None
    # Bound once: this loop runs for every record of an import.
    ops, origins, origin_of, seen = batch.ops, batch.origins, batch.origin_of, batch.seen
    for item in items:
        if not isinstance(item, Draft):
            if isinstance(item, Skipped):
                batch.left_out.append(item)
            else:
                batch.quarantined.append(Quarantined(item.locator, item.raw, item.reason))
                known = _node_id(item.node) if item.node is not None else None
                if known is None:
                    batch.unkeyed.add(item.locator.file)
                else:
                    seen.append(known)
            continue
        try:
            row = node_row(item.node)
            edges = [edge_row(edge) for edge in item.edges] if item.edges else []
        except ModelError as error:
            batch.quarantined.append(Quarantined(item.locator, item.raw, str(error)))
            known = _node_id(item.node)
            if known is None:
                batch.unkeyed.add(item.locator.file)
            else:
                seen.append(known)
            continue
        key = (_NODE, str(row["id"]))
        # Seen even when the date range leaves it out: a sync must not delete it.
        seen.append(key[1])
        if ranged and not _in_range(row, date_from, date_to):
            batch.filtered += 1
            continue
        origin = _origin(item)
        if key in origins:
            # The same record twice in one batch: the later one wins and the earlier one
            # never reaches the store, so it is counted as superseded (with the unchanged).
            ops[:] = [op for op in ops if (op.kind, op.key) != key]
            batch.skipped += 1
        node_op = Upsert(_NODE, row)
        ops.append(node_op)
        origin_of[id(node_op)] = origin
        origins[key] = origin
        batch.hashes[key] = item.source_hash
        if item.attachments:
            batch.attachments[key[1]] = item.attachments
        for edge in edges:
            edge_key = (_EDGE, str(edge["id"]))
            edge_op = Upsert(_EDGE, edge)
            ops.append(edge_op)
            origin_of[id(edge_op)] = origin
            origins[edge_key] = origin
    return batch


def quarantine_rows(
    op_id: str, entries: Sequence[Quarantined], time: str
) -> list[tuple[str, str, str, str, str]]:
    return [
        (op_id, orjson.dumps(q.locator.to_json()).decode(), q.raw, q.reason, time) for q in entries
    ]
