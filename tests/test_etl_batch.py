"""A batch: items turned into validated rows, origins, quarantine entries and counts."""

from __future__ import annotations

from isometry.etl.batch import build
from isometry.model import JSON, RowKind, node_id_for
from isometry.sources.base import Attachment, Draft, Item, Locator, Rejected, Skipped


def draft(key: str, **fields: JSON) -> Draft:
    node: dict[str, JSON] = {"source": "s", "source_id": f"f#{key}", "node_type": "note", **fields}
    edges = ({"source_id": node_id_for("s", f"f#{key}"), "target_id": "t"},) if key == "e" else ()
    attachments = (Attachment("a.png", data=b"x"),) if key == "a" else ()
    return Draft(node, Locator("f", key, 1, 0, 3), f"hash-{key}", f"raw-{key}", edges, attachments)


ITEMS: list[Item] = [
    draft("1", name="one", modified_at="2024-01-02T00:00:00Z"),
    Rejected(Locator("f", "2"), "{", "line 2 is not valid JSON"),
    Skipped(Locator("f", "3"), "x", "locked"),
    draft("4", created_at="2024-02-30T00:00:00Z"),
    draft("5", name="old", created_at="2020-01-01T00:00:00Z"),
    draft("1", name="one again", modified_at="2024-01-03T00:00:00Z"),
    draft("e", name="with an edge", modified_at="2024-01-04T00:00:00Z"),
    draft("a", name="with a file", modified_at="2024-01-05T00:00:00Z"),
]


def test_a_batch_sorts_its_items() -> None:
    batch = build(ITEMS, date_from=None, date_to=None)
    assert (batch.read, batch.filtered, batch.skipped) == (8, 0, 1)
    assert [entry.reason for entry in batch.quarantined] == [
        "line 2 is not valid JSON",
        "created_at: '2024-02-30T00:00:00Z' is not a valid date or time",
    ]
    assert [entry.raw for entry in batch.quarantined] == ["{", "raw-4"]
    assert [entry.reason for entry in batch.left_out] == ["locked"]
    ids = {key: node_id_for("s", f"f#{key}") for key in ("1", "4", "5", "e", "a")}
    # Record 4, refused for a field, is still in its source (a sync must not delete it);
    # which record the line that is not JSON was cannot be known: its file is unkeyed.
    assert batch.seen == [ids["1"], ids["4"], ids["5"], ids["1"], ids["e"], ids["a"]]
    assert batch.unkeyed == {"f"}
    assert [(op.kind, op.row.get("name")) for op in batch.ops] == [
        (RowKind.NODE, "old"),
        (RowKind.NODE, "one again"),
        (RowKind.NODE, "with an edge"),
        (RowKind.EDGE, None),
        (RowKind.NODE, "with a file"),
    ]
    assert batch.hashes[(RowKind.NODE, ids["1"])] == "hash-1"
    assert batch.origins[(RowKind.NODE, ids["1"])].source_hash == "hash-1"
    edge = batch.ops[3]
    assert batch.origins[(RowKind.EDGE, edge.key)].record == "e"
    assert batch.origin_of[id(edge)] is batch.origins[(RowKind.NODE, ids["e"])]
    assert list(batch.attachments) == [ids["a"]]
    assert batch.node_keys == [ids["1"], ids["5"], ids["e"], ids["a"]]


def test_a_date_range_filters_but_still_sees() -> None:
    batch = build(ITEMS, date_from="2024-01-01T00:00:00Z", date_to="2024-01-04T00:00:00Z")
    assert (batch.read, batch.filtered, batch.skipped) == (8, 2, 1)
    assert [op.row.get("name") for op in batch.ops if op.kind is RowKind.NODE] == [
        "one again",
        "with an edge",
    ]
    assert len(batch.seen) == 6
