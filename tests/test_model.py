"""The node model: ids, canonical encoding and hash, normalisation, and validation."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import orjson
import pytest

from isometry.errors import IsometryError, ModelError
from isometry.model import (
    ID_NAMESPACE,
    Edge,
    Node,
    RowKind,
    decode,
    edge_id_for,
    edge_row,
    encode,
    full_row,
    node_id_for,
    node_row,
    row_hash,
    utc_timestamp,
)

# Written down once: ids must be the same on every machine and every version, forever.
NOTE_ID = "aff22a85-df79-5c20-88b7-37182a838fbf"


def _hash(row: dict[str, object]) -> bytes:
    return row_hash(encode(node_row(row)))


# -- identity -------------------------------------------------------------------------------


def test_node_id_is_uuid5_of_source_and_source_id() -> None:
    derived = node_id_for("apple-notes", "x-coredata://1")
    assert derived == NOTE_ID
    assert derived == str(uuid.uuid5(ID_NAMESPACE, "apple-notes:x-coredata://1"))
    assert uuid.UUID(derived).version == 5


def test_node_id_is_stable_across_processes() -> None:
    code = "from isometry.model import node_id_for; print(node_id_for('apple-notes', 'x-coredata://1'))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == NOTE_ID


def test_node_id_differs_per_source_and_record() -> None:
    ids = {
        node_id_for("apple-notes", "1"),
        node_id_for("apple-notes", "2"),
        node_id_for("evernote", "1"),
    }
    assert len(ids) == 3


def test_imported_node_gets_its_derived_id() -> None:
    node = Node.from_dict({"source": "apple-notes", "source_id": "x-coredata://1", "name": "n"})
    assert node.id == NOTE_ID
    again = Node.from_dict({"id": NOTE_ID, "source": "apple-notes", "source_id": "x-coredata://1"})
    assert again.id == NOTE_ID


def test_mismatching_given_id_is_rejected() -> None:
    with pytest.raises(ModelError, match=NOTE_ID) as caught:
        Node.from_dict({"id": "my-own-id", "source": "apple-notes", "source_id": "x-coredata://1"})
    assert "my-own-id" in str(caught.value)


def test_source_and_source_id_go_together() -> None:
    with pytest.raises(ModelError, match="source"):
        Node.from_dict({"id": "n", "source": "apple-notes"})
    with pytest.raises(ModelError, match="source"):
        Node.from_dict({"id": "n", "source_id": "1"})


def test_node_without_id_or_source_is_rejected() -> None:
    with pytest.raises(ModelError, match="id"):
        Node.from_dict({"name": "orphan"})


@pytest.mark.parametrize("bad", ["", "   ", "has space", "tab\there", "x" * 201])
def test_unusable_ids_are_rejected(bad: str) -> None:
    with pytest.raises(ModelError, match="id"):
        Node.from_dict({"id": bad})


def test_edge_id_is_derived_from_type_ends_and_label() -> None:
    plain = Edge.from_dict({"source_id": "a", "target_id": "b"})
    assert plain.edge_type == "LINK"
    assert plain.id == edge_id_for("LINK", "a", "b", None)
    assert plain.id == str(uuid.uuid5(ID_NAMESPACE, "edge:LINK:a:b:"))
    labelled = Edge.from_dict(
        {"edge_type": "link", "source_id": "a", "target_id": "b", "label": "x"}
    )
    assert labelled.edge_type == "LINK"
    assert labelled.id != plain.id
    given = Edge.from_dict({"id": "e1", "edge_type": "NEST", "source_id": "a", "target_id": "b"})
    assert given.id == "e1"


# -- canonical encoding and hash ---------------------------------------------------------------


def test_row_is_keyed_by_field_name_without_nulls() -> None:
    row = node_row({"id": "n1", "name": "Shopping", "content": None, "priority": 2, "tags": []})
    assert row == {"id": "n1", "node_type": "note", "name": "Shopping", "priority": 2}
    assert encode(row) == (b'{"id":"n1","name":"Shopping","node_type":"note","priority":2}')
    assert decode(encode(row)) == row


def test_adding_a_null_field_does_not_change_the_hash() -> None:
    plain = {"id": "n1", "name": "Shopping", "priority": 2}
    with_nulls = {**plain, "content": None, "due_at": None, "latitude": None, "properties": None}
    assert encode(node_row(plain)) == encode(node_row(with_nulls))
    assert _hash(plain) == _hash(with_nulls)


def test_key_order_does_not_change_the_encoding() -> None:
    one = {"id": "n1", "name": "a", "properties": {"z": 1, "a": {"y": 2, "b": 3}}}
    two = {"properties": {"a": {"b": 3, "y": 2}, "z": 1}, "name": "a", "id": "n1"}
    assert encode(node_row(one)) == encode(node_row(two))


def test_a_changed_value_changes_the_hash() -> None:
    assert _hash({"id": "n1", "name": "a"}) != _hash({"id": "n1", "name": "b"})
    assert _hash({"id": "n1", "priority": 1}) != _hash({"id": "n1", "priority": 2})
    assert _hash({"id": "n1", "properties": {"k": 1}}) != _hash(
        {"id": "n1", "properties": {"k": 2}}
    )


def test_full_row_fills_every_field_back_in() -> None:
    row = node_row({"id": "n1", "name": "a"})
    full = full_row(RowKind.NODE, row)
    assert full["content"] is None
    assert full["tags"] == []
    assert full["properties"] == {}
    assert {k: v for k, v in full.items() if v not in (None, [], {})} == row


def test_edge_row_keeps_defaults_and_drops_nulls() -> None:
    row = edge_row({"source_id": "a", "target_id": "b", "label": None})
    assert row == {
        "id": edge_id_for("LINK", "a", "b", None),
        "edge_type": "LINK",
        "source_id": "a",
        "target_id": "b",
        "weight": 1.0,
        "directed": True,
    }


# -- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tags",
    [["b", "a"], ["a", "b", "a"], ("b", "a"), "a, b", "b;a", ["a", " b ", ""], "a,,b;"],
)
def test_tags_are_a_set(tags: object) -> None:
    node = Node.from_dict({"id": "n1", "tags": tags})
    assert node.tags == ("a", "b")
    assert _hash({"id": "n1", "tags": tags}) == _hash({"id": "n1", "tags": ["a", "b"]})


def test_no_tags_is_no_field() -> None:
    assert "tags" not in node_row({"id": "n1", "tags": ["", " "]})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z"),
        ("2024-03-01T10:00:00+02:00", "2024-03-01T08:00:00Z"),
        ("2024-03-01T10:00:00-05:30", "2024-03-01T15:30:00Z"),
        ("2024-03-01T10:00:00", "2024-03-01T10:00:00Z"),
        ("2024-03-01", "2024-03-01T00:00:00Z"),
        (" 2024-03-01T10:00:00.250+00:00 ", "2024-03-01T10:00:00.250000Z"),
        (datetime(2024, 3, 1, 10, tzinfo=timezone(timedelta(hours=1))), "2024-03-01T09:00:00Z"),
        (datetime(2024, 3, 1, 10), "2024-03-01T10:00:00Z"),
        (datetime(2024, 3, 1, 10, 0, 0, 5, tzinfo=UTC), "2024-03-01T10:00:00.000005Z"),
        (date(2024, 3, 1), "2024-03-01T00:00:00Z"),
    ],
)
def test_times_are_normalised_to_utc_z(given: object, expected: str) -> None:
    assert utc_timestamp(given) == expected
    node = Node.from_dict({"id": "n1", "due_at": given, "created_at": given})
    assert node.due_at == expected
    assert node.created_at == expected


def test_same_moment_in_two_zones_hashes_the_same() -> None:
    assert _hash({"id": "n1", "modified_at": "2024-03-01T10:00:00+02:00"}) == _hash(
        {"id": "n1", "modified_at": "2024-03-01T08:00:00Z"}
    )


def test_properties_keep_every_source_field() -> None:
    props = {"folder_path": ["a", "b"], "flagged": True, "score": 1.5, "nested": {"k": None}}
    node = Node.from_dict({"id": "n1", "properties": props})
    assert dict(node.properties) == props
    assert node_row({"id": "n1", "properties": props})["properties"] == props


def test_numbers_are_normalised() -> None:
    node = Node.from_dict({"id": "n1", "latitude": 48, "longitude": -2})
    assert node.latitude == 48.0
    assert isinstance(node.latitude, float)
    assert encode(node.row()) == encode(node_row({"id": "n1", "latitude": 48.0, "longitude": -2.0}))


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", 90.5),
        ("latitude", "48.1"),
        ("latitude", float("nan")),
        ("latitude", True),
        ("longitude", -181),
        ("longitude", float("inf")),
        ("priority", "high"),
        ("priority", 1.5),
        ("priority", True),
        ("importance", "3"),
        ("sort_order", [1]),
        ("created_at", "yesterday"),
        ("due_at", "2024-13-01"),
        ("modified_at", 1700000000),
        ("name", 5),
        ("content", ["a"]),
        ("folder", {"a": 1}),
        ("node_type", ""),
        ("tags", 5),
        ("tags", [1, 2]),
        ("properties", "not an object"),
        ("properties", {"bad": {1, 2}}),
    ],
)
def test_bad_node_values_are_rejected_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ModelError, match=field) as caught:
        Node.from_dict({"id": "n1", field: value})
    assert isinstance(caught.value, IsometryError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("field", ["priority", "importance", "sort_order"])
def test_integers_that_cannot_be_stored_are_rejected_naming_the_field(field: str) -> None:
    """SQLite and the canonical encoding hold 64-bit signed integers; a larger one must be
    refused by validation, not fail later, half-way through a write, with a bare TypeError or
    OverflowError."""
    for value in (2**63, 2**64, -(2**63) - 1):
        with pytest.raises(ModelError, match=field):
            encode(node_row({"id": "n1", field: value}))


def test_largest_storable_integers_are_accepted() -> None:
    for value in (2**63 - 1, -(2**63)):
        assert node_row({"id": "n1", "priority": value})["priority"] == value


def test_unknown_fields_are_named() -> None:
    with pytest.raises(ModelError, match="colour") as caught:
        Node.from_dict({"id": "n1", "colour": "red", "name": "x"})
    assert "properties" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"edge_type": "FRIEND", "source_id": "a", "target_id": "b"}, "edge_type"),
        ({"source_id": "a"}, "target_id"),
        ({"target_id": "b"}, "source_id"),
        ({"source_id": "a b", "target_id": "b"}, "source_id"),
        ({"source_id": "a", "target_id": "b", "weight": float("nan")}, "weight"),
        ({"source_id": "a", "target_id": "b", "weight": "heavy"}, "weight"),
        ({"source_id": "a", "target_id": "b", "directed": "yes"}, "directed"),
        ({"source_id": "a", "target_id": "b", "sequence_order": "1"}, "sequence_order"),
        ({"source_id": "a", "target_id": "b", "label": 3}, "label"),
        ({"source_id": "a", "target_id": "b", "colour": "red"}, "colour"),
    ],
)
def test_bad_edges_are_rejected_naming_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ModelError, match=field):
        Edge.from_dict(data)


def test_encoding_is_plain_json() -> None:
    row = node_row({"id": "n1", "name": "é ü", "properties": {"list": [1, "two"]}})
    assert orjson.loads(encode(row)) == row
    assert b" " not in encode({"a": 1, "b": [1, 2]})


def test_a_time_before_the_first_representable_one_is_refused_clearly() -> None:
    with pytest.raises(ModelError, match="out of the range of times"):
        utc_timestamp("0001-01-01T00:00:00+01:00")
