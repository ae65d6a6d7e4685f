"""The short cuts of node validation give what the general checks give, and refuse what they
refuse."""

from __future__ import annotations

import re
import uuid

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isometry.errors import ModelError
from isometry.model import (
    _CHECKED_LIMIT,
    _CHECKED_TIMES,
    ID_NAMESPACE,
    JSON,
    Node,
    _properties,
    node_id_for,
    node_row,
    utc_timestamp,
)


@settings(max_examples=300)
@given(st.text(max_size=40), st.text(max_size=80))
def test_node_ids_are_uuid5(source: str, source_id: str) -> None:
    try:
        expected = str(uuid.uuid5(ID_NAMESPACE, f"{source}:{source_id}"))
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            node_id_for(source, source_id)
        return
    assert node_id_for(source, source_id) == expected


class Text(str):
    """Text of a subclass: taken as text, never remembered."""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00.123456Z", "2024-01-01T00:00:00.123456Z"),
        ("2024-01-01T00:00:00.000000Z", "2024-01-01T00:00:00Z"),
        (" 2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00Z"),
        (Text("2024-01-01T00:00:00Z"), "2024-01-01T00:00:00Z"),
    ],
)
def test_a_time_checked_twice_gives_the_same_both_times(value: str, expected: str) -> None:
    assert utc_timestamp(value) == expected
    assert utc_timestamp(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-02-30T00:00:00Z", "is not a valid date or time"),
        ("2024-01-01T24:00:00Z", "is not a valid date or time"),
        ("\u0662\u0660\u0662\u0664-01-01T00:00:00Z", "is not a valid date or time"),
        ("yesterday", "is not an ISO-8601 date or time"),
        ("", "is not an ISO-8601 date or time"),
    ],
)
def test_a_bad_time_is_refused_every_time(value: str, message: str) -> None:
    for _ in range(2):
        with pytest.raises(ModelError, match=message):
            utc_timestamp(value, "due_at")
        with pytest.raises(ModelError, match=message):
            node_row({"id": "n", "due_at": value})


def test_remembered_times_stay_few() -> None:
    for second in range(_CHECKED_LIMIT + 100):
        minutes, seconds = divmod(second, 60)
        hours, minutes = divmod(minutes, 60)
        utc_timestamp(f"2024-01-01T{hours % 24:02d}:{minutes:02d}:{seconds:02d}Z")
    assert 0 < len(_CHECKED_TIMES) <= _CHECKED_LIMIT
    assert not any(type(value) is not str for value in _CHECKED_TIMES)


def _round_trip(value: dict[str, JSON]) -> dict[str, JSON]:
    loaded: dict[str, JSON] = orjson.loads(orjson.dumps(value))
    return loaded


_PROPERTY = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=10),
    st.integers(),
    st.floats(),
    st.lists(st.text(max_size=3), max_size=3),
    st.tuples(st.integers(min_value=0, max_value=9)),
)


@settings(max_examples=400)
@given(st.dictionaries(st.text(max_size=6), _PROPERTY, max_size=5))
def test_properties_are_what_a_json_round_trip_gives(value: dict[str, JSON]) -> None:
    try:
        expected = _round_trip(value)
    except TypeError:
        with pytest.raises(ModelError, match=r"properties: (not JSON|the number .* 64 bits)"):
            _properties(value)
        return
    got = _properties(value)
    assert repr(got) == repr(expected)
    assert got is not value


@pytest.mark.parametrize(
    "value", [{"a": "\ud800"}, {"\udc00": "x"}, {1: "x"}, {"a": {"b": object()}}]
)
def test_properties_that_are_not_json_are_refused(value: dict[object, object]) -> None:
    with pytest.raises(ModelError, match="properties: not JSON"):
        _properties(value)


@pytest.mark.parametrize("value", [{"a": 2**64}, {"a": [1, {"b": -(2**63) - 1}]}])
def test_a_number_past_64_bits_is_refused_by_name(value: dict[str, JSON]) -> None:
    with pytest.raises(ModelError, match=r"properties: the number -?\d+ does not fit in 64 bits"):
        _properties(value)
    assert _properties({"a": 2**64 - 1, "b": -(2**63)}) == {"a": 2**64 - 1, "b": -(2**63)}


_NODE = st.fixed_dictionaries(
    {"id": st.just("n-1")},
    optional={
        "name": st.text(max_size=5),
        "node_type": st.sampled_from(["note", "task"]),
        "content": st.one_of(st.none(), st.text(max_size=5)),
        "tags": st.one_of(
            st.lists(st.sampled_from(["a", " a", "b ", "", " "]), max_size=4),
            st.tuples(st.sampled_from(["x", "y "])),
            st.sampled_from(["a;b", "", " , "]),
        ),
        "properties": st.dictionaries(st.sampled_from(["p", "q"]), _PROPERTY, max_size=2),
        "priority": st.integers(min_value=-5, max_value=5),
        "created_at": st.sampled_from(["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.500000Z"]),
        "latitude": st.floats(min_value=-90, max_value=90),
    },
)


@settings(max_examples=300)
@given(_NODE)
def test_a_node_row_is_the_row_of_the_node(data: dict[str, JSON]) -> None:
    try:
        expected = Node.from_dict(data).row()
    except ModelError as error:
        reason = str(error)
        with pytest.raises(ModelError, match=re.escape(reason)):
            node_row(data)
        return
    row = node_row(data)
    assert row == expected
    assert list(row)[:2] == ["node_type", "name"]


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["a", None], "tags: expected text, got NoneType"),
        ([["a"]], "tags: expected text, got list"),
    ],
)
def test_tags_that_are_not_text_are_refused(tags: JSON, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        node_row({"id": "n", "tags": tags})


def test_text_fields_are_still_checked() -> None:
    with pytest.raises(ModelError, match="name: expected text, got int"):
        node_row({"id": "n", "name": 5})
    with pytest.raises(ModelError, match="unknown field"):
        node_row({"id": "n", "title": "x"})
    assert node_row({"id": "n", "name": Text(" x ")})["name"] == " x "


@settings(max_examples=300)
@given(st.lists(st.text(max_size=4), max_size=6))
def test_a_list_of_tags_is_read_as_the_same_tuple_is(tags: list[str]) -> None:
    as_list = node_row({"id": "n", "tags": tags}).get("tags")
    as_tuple = node_row({"id": "n", "tags": tuple(tags)}).get("tags")  # the general path
    assert as_list == as_tuple
