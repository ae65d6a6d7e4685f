"""JSON Lines are read by orjson where it reads a line as ``json`` does, by ``json`` elsewhere:
the nodes and the reasons for refusing a line are ``json``'s either way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isometry.model import JSON
from isometry.sources.base import Draft, Options, Rejected
from isometry.sources.jsonrecords import JsonImporter, _by_orjson
from isometry.sources.records import _ROLES, _ROLES_LIMIT, attachments_of, map_record, row_key
from openers import DirectOpener


def _constant(name: str) -> JSON:
    raise ValueError(f"{name} is not JSON")


STDLIB = json.JSONDecoder(parse_constant=_constant)


def decode(text: str) -> JSON:
    """As the importer reads a line: by orjson when it agrees, else by ``json``."""
    value = _by_orjson(text)
    return STDLIB.decode(text) if value is None else value


def outcome(decode: object, text: str) -> tuple[str, str]:
    """What decoding gives, written so that equal means the same (-0.0, int or float...)."""
    assert callable(decode)
    try:
        return "value", repr(decode(text))
    except (ValueError, RecursionError) as error:
        return "error", f"{type(error).__name__}: {error}"


EDGE_LINES = [
    '{"a": 1, "b": -0, "c": -0.0, "d": 0.1, "e": 1E2, "f": 5e-324, "g": 1e-400}',
    '{"a": 18446744073709551615, "b": -9223372036854775808}',  # the 64-bit ends
    '{"a": 18446744073709551616}',  # past 64 bits: orjson would give a float
    '{"a": -9223372036854775809}',
    '{"a": [1, {"b": 100000000000000000000000000000}]}',
    '{"a": 1.7976931348623157e308, "b": -1e300}',
    '{"a": 1e400}',
    '{"a": -1e400}',
    '{"a": ' + "9" * 5000 + "}",  # more digits than int() takes
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": -Infinity}',
    '{"a": "\\ud800"}',  # lone surrogates: json takes them, orjson does not
    '{"\\udc00": 1}',
    '{"a": "\\ud83d\\ude00 \\u0000 \\u00e9 a\\/b"}',
    '{"a": 1, "b": 2, "a": 3}',  # a repeated key: the last value, the first place
    '{"a": "\x01"}',
    '{"a": 1,}',
    '{"a": 01}',
    '{"a": 1} x',
    "\ufeff{}",
    " \t{}\t ",
    "[1, 2]",
    '"text"',
    "12",
    "null",
    "",
    "{",
]


@pytest.mark.parametrize("text", EDGE_LINES)
def test_a_line_decodes_as_json_decodes_it(text: str) -> None:
    assert outcome(decode, text) == outcome(STDLIB.decode, text)


@pytest.mark.parametrize("depth", [1, 30, 60, 61, 62, 63, 64, 65, 66, 200, 1000, 1023, 1025, 3000])
def test_deep_nesting_is_left_to_json(depth: int) -> None:
    """Where ``json`` stops depends on the stack, so orjson takes shallow lines only."""
    for text in (
        '{"a": ' + "[" * depth + "]" * depth + "}",
        '{"a": ' + '{"b": ' * depth + "1" + "}" * depth + "}",
        '{"a": [' + '{"b": [' * depth + "]}" * depth + "]}",
    ):
        value = _by_orjson(text)
        if depth >= 64:
            assert value is None
        elif depth <= 30:
            assert value is not None
        if value is not None:
            assert repr(value) == repr(STDLIB.decode(text))


_NUMBER = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
)
_SCALAR = st.one_of(
    _NUMBER.map(lambda n: n if isinstance(n, str) else json.dumps(n)),
    st.text(max_size=8).map(json.dumps),
    st.sampled_from(["true", "false", "null", '"\\ud800"', "NaN"]),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda parts: "[" + ",".join(parts) + "]"),
        st.lists(st.tuples(st.sampled_from("abc"), inner), max_size=4).map(
            lambda pairs: "{" + ",".join(f'"{k}":{v}' for k, v in pairs) + "}"
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["id", "title", "a", "tags"]), _VALUE), max_size=6))
def test_generated_lines_decode_as_json_decodes_them(fields: list[tuple[str, str]]) -> None:
    text = "{" + ",".join(f'"{name}":{value}' for name, value in fields) + "}"
    assert outcome(decode, text) == outcome(STDLIB.decode, text)


def test_lines_orjson_would_read_otherwise_give_json_s_nodes_and_reasons(tmp_path: Path) -> None:
    lines = [
        '{"id": "big", "priority": 100000000000000000000, "extra": 18446744073709551616}',
        '{"id": "inf", "priority": 1e400}',
        '{"id": "nan", "priority": NaN}',
        '{"id": "lone", "extra": "\\udc00"}',
        '{"id": "ok", "title": " T ", "lat": 45.5, "priority": 2.0}',
    ]
    path = tmp_path / "edges.jsonl"
    path.write_text("\n".join(lines) + "\n")
    found = [item for item, _ in JsonImporter().read(path, DirectOpener(), Options(), None)]
    big, inf, nan, lone, ok = found
    assert isinstance(big, Draft)
    assert big.node["priority"] == 10**20
    assert big.node["properties"] == {"id": "big", "extra": 18446744073709551616}
    assert isinstance(inf, Rejected)  # json reads 1e400 as infinity, which is no JSON
    assert inf.reason == (
        "line 2: the number 1e400 is too large for a 64-bit float (at most about 1.8e308)"
    )
    assert isinstance(nan, Rejected)
    assert nan.reason == "line 3 is not valid JSON: NaN is not JSON"
    assert isinstance(lone, Draft)
    assert lone.node["properties"] == {"id": "lone", "extra": "\udc00"}
    assert isinstance(ok, Draft)
    assert (ok.node["name"], ok.node["latitude"], ok.node["priority"]) == ("T", 45.5, 2)


# -- field names ------------------------------------------------------------------------------


def test_names_map_the_same_however_often_they_come() -> None:
    record: dict[str, JSON] = {
        " Due-Date ": "2024-01-02",
        "TITLE": "a",
        "Title": "b",
        "Files": ["x.png"],
        "UUID": " u-1 ",
    }
    first = map_record(record, source="json", source_id="f#1")
    assert map_record(record, source="json", source_id="f#1") == first
    assert first == {
        "source": "json",
        "source_id": "f#1",
        "node_type": "note",
        "due_at": "2024-01-02T00:00:00Z",
        "name": "a",
        "properties": {"Title": "b", "Files": ["x.png"], "UUID": " u-1 "},
    }
    assert row_key(record, 7) == "u-1"
    (attachment,) = attachments_of(record, Path("/data"))
    assert attachment.path == Path("/data/x.png")


def test_the_name_cache_stays_small_and_right_when_names_never_repeat() -> None:
    for i in range(_ROLES_LIMIT + 10):
        node = map_record({f"field {i}": i, "Title": f"t{i}"}, source="s", source_id=str(i))
        assert node["name"] == f"t{i}"
        assert node["properties"] == {f"field {i}": i}
    assert len(_ROLES) <= _ROLES_LIMIT


def test_tags_of_text_and_of_other_values_map_as_before() -> None:
    def tags(value: JSON) -> JSON:
        return map_record({"tags": value}, source="s", source_id="1").get("tags")

    assert tags([" a ", "", "b", "  "]) == ["a", "b"]
    assert tags([]) == []
    assert tags(["a", 1, True, 2.5]) == ["a", "1", "true", "2.5"]
    assert tags(["a", None]) == ["a", None]  # not text: validation refuses it
    assert tags(["a", ["b"]]) == ["a", ["b"]]
    assert tags("a; b,c") == ["a", "b", "c"]
