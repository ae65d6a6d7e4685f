"""What the ``json`` importer makes of files at the edges of its layouts: objects that hold lists
but no records, long first lines, numbers no float holds, other encodings, broken text."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from isometry import api
from isometry.errors import SourceUnreadable
from isometry.etl.states import State
from isometry.model import JSON
from isometry.sources.base import Draft, Item, Options, Rejected
from isometry.sources.jsonrecords import JsonImporter
from isometry.vcs.repository import Repository
from openers import DirectOpener

IMPORTER = JsonImporter()
OPENER = DirectOpener()


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read(path: Path, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, OPENER, Options(), cursor))


def items(path: Path) -> list[Item]:
    """What reading gives, after checking that the scan counts as many."""
    found = [item for item, _ in read(path)]
    assert IMPORTER.scan(path, OPENER, Options()).records == len(found)
    return found


def fields(item: Item) -> dict[str, JSON]:
    """A draft's node fields, without those naming the file."""
    assert isinstance(item, Draft), item
    return {k: v for k, v in item.node.items() if k not in ("source", "source_id", "node_type")}


# -- objects that wrap records, and objects that hold other lists ----------------------------

GROCERIES = {"name": "Groceries", "properties": {"items": ["milk", "eggs"]}}


@pytest.mark.parametrize(
    "text",
    [
        '{"title":"Groceries","items":["milk","eggs"]}\n',
        '{\n  "title": "Groceries",\n  "items": ["milk", "eggs"]\n}\n',
        '{"items": ["milk", "eggs"], "title": "Groceries"}',
    ],
    ids=["one line", "pretty", "list first"],
)
def test_an_object_with_a_list_of_values_under_items_is_one_record(
    tmp_path: Path, text: str
) -> None:
    (item,) = items(write(tmp_path / "grocery.json", text))
    found = fields(item)
    assert found["name"] == "Groceries"
    assert found["properties"] == GROCERIES["properties"]


def test_json_lines_of_such_objects_are_a_record_each(tmp_path: Path) -> None:
    path = write(
        tmp_path / "lists.json",
        '{"title":"Groceries","items":["milk","eggs"]}\n{"title":"Hardware","items":["nails"]}\n',
    )
    assert [fields(item) for item in items(path)] == [
        GROCERIES,
        {"name": "Hardware", "properties": {"items": ["nails"]}},
    ]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('{"items": ["milk"], "Cards": [{"title": "a"}, {"title": "b"}]}', ["a", "b"]),
        ('{\n"title": "export", "data": [{"title": "a"}]\n}', ["a"]),
        ('{"data": [], "meta": {"count": 0}}', []),
        ('{\n"data": [],\n"version": 2\n}', []),
    ],
)
def test_an_array_of_objects_or_an_empty_one_wraps_records(
    tmp_path: Path, text: str, names: list[str]
) -> None:
    found = items(write(tmp_path / "wrapped.json", text))
    assert [fields(item)["name"] for item in found] == names


@pytest.mark.parametrize(
    "text",
    ['{"title": "Empty list", "items": []}', '{\n"items": [],\n"Title": "Empty list"\n}'],
)
def test_an_empty_list_beside_a_node_field_belongs_to_a_record(tmp_path: Path, text: str) -> None:
    (item,) = items(write(tmp_path / "empty.json", text))
    assert fields(item) == {"name": "Empty list", "properties": {"items": []}}


def test_a_grocery_list_is_imported_not_quarantined(repo: Repository, tmp_path: Path) -> None:
    path = write(tmp_path / "grocery.json", '{"title":"Groceries","items":["milk","eggs"]}')
    op = api.import_(
        repo, "json-import", [path], author="alice", grants=[f"file-system={tmp_path}"],
        base=tmp_path,
    )  # fmt: skip
    assert op.state is State.SUCCEEDED
    assert api.quarantine(repo, op.id) == []
    (node,) = api.nodes(repo)
    assert node["name"] == "Groceries"
    assert node["properties"] == {"items": ["milk", "eggs"]}


# -- a first line too long to take in at one look --------------------------------------------

LONG = "y" * 300_000  # longer than the importer's first look at a file


def test_json_lines_in_a_json_file_with_a_long_first_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "long_first.json",
        f'{{"id": 1, "title": "A", "body": "{LONG}"}}\n{{"id": 2, "title": "B"}}\n',
    )
    found = read(path)
    assert [fields(item)["name"] for item, _ in found] == ["A", "B"]
    assert fields(found[0][0])["content"] == LONG
    assert IMPORTER.scan(path, OPENER, Options()).records == 2
    assert read(path, found[0][1]) == found[1:]  # resumes after the long line


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (f'{{"data": [{{"title": "a", "body": "{LONG}"}}, {{"title": "b"}}]}}', ["a", "b"]),
        (f'{{"data": [{{"title": "a", "body": "{LONG}"}},\n{{"title": "b"}}]}}\n', ["a", "b"]),
        (f'{{"title": "one", "body": "{LONG}", "items": ["x"]}}\n', ["one"]),
        (f'{{"title": "one", "body": "{LONG}",\n"items": ["x"]}}\n', ["one"]),
    ],
    ids=["wrapper on one line", "wrapper on two", "object on one line", "object on two"],
)
def test_a_document_with_a_long_first_line(tmp_path: Path, text: str, names: list[str]) -> None:
    found = items(write(tmp_path / "doc.json", text))
    assert [fields(item)["name"] for item in found] == names


def test_a_document_all_on_one_line_is_never_held_whole(tmp_path: Path) -> None:
    record = '{"title": "a record", "body": "' + "lorem ipsum " * 20 + '"}'
    path = write(tmp_path / "minified.json", '{"data": [' + ", ".join([record] * 40_000) + "]}")
    assert path.stat().st_size > 8 * 2**20
    tracemalloc.start()
    try:
        scan = IMPORTER.scan(path, OPENER, Options())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scan.records == 40_000
    assert peak < 2 * 2**20, f"peak {peak} bytes"


# -- numbers too large for a float ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("lines.jsonl", '{"id": 1, "title": "A", "x": 1e400}\n{"id": 2, "title": "B"}\n'),
        ("lines.jsonl", '{"id": 1, "title": "A", "x": [-1e400]}\n{"id": 2, "title": "B"}\n'),
        ("array.json", '[{"id": 1, "title": "A", "x": 1e400}, {"id": 2, "title": "B"}]'),
        ("array.json", '[{"id": 1, "title": "A", "x": {"y": -1E400}}, {"id": 2, "title": "B"}]'),
    ],
)
def test_a_number_too_large_for_a_float_quarantines_its_record(
    tmp_path: Path, name: str, text: str
) -> None:
    first, second = items(write(tmp_path / name, text))
    assert isinstance(first, Rejected)
    assert "too large for a 64-bit float" in first.reason
    assert "1e400" in first.reason.lower() or "1e+400" in first.reason.lower()
    assert "400" in first.raw
    assert fields(second)["name"] == "B"


def test_large_and_tiny_floats_that_fit_are_kept(tmp_path: Path) -> None:
    text = '{"id": 1, "title": "A", "big": 1.7e308, "tiny": 1e-400, "n": 123456789012345678901}'
    for name in ("one.jsonl", "one.json"):
        (item,) = items(write(tmp_path / name, f"[{text}]" if name.endswith(".json") else text))
        assert fields(item)["properties"] == {
            "id": 1,
            "big": 1.7e308,
            "tiny": 0.0,
            "n": 123456789012345678901,
        }


# -- encodings other than UTF-8 ----------------------------------------------------------------

RECORDS = '{"id": 1, "title": "A"}\r\n{"id": 2, "title": "B"}\r\n'


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
@pytest.mark.parametrize(("name", "text"), [("u.jsonl", RECORDS), ("u.json", '[{"title": "A"}]')])
@pytest.mark.parametrize("layout", [None, "lines", "document"])
def test_utf_16_and_32_are_refused_naming_the_encoding(
    tmp_path: Path, encoding: str, name: str, text: str, layout: str | None
) -> None:
    # "utf-16" and "utf-32" write a byte order mark, the others none.
    path = write(tmp_path / name, text.encode(encoding))
    options = Options({"layout": layout} if layout else {})
    expected = f"{path} is {encoding.upper().replace('-BE', '')}"
    for run in (
        lambda: IMPORTER.scan(path, OPENER, options),
        lambda: list(IMPORTER.read(path, OPENER, options, None)),
    ):
        with pytest.raises(SourceUnreadable) as raised:
            run()
        message = str(raised.value)
        assert message.startswith(expected), message
        assert "byte order mark" in message
        assert "to UTF-8" in message or "-t UTF-8" in message


def test_utf_16_json_lines_fail_the_import_saying_why(repo: Repository, tmp_path: Path) -> None:
    path = write(tmp_path / "u16.jsonl", RECORDS.encode("utf-16"))
    op = api.import_(
        repo, "json-import", [path], author="alice", grants=[f"file-system={tmp_path}"],
        base=tmp_path,
    )  # fmt: skip
    assert op.state is State.FAILED
    assert op.error is not None
    assert f"{path} is UTF-16LE text" in op.error
    assert api.quarantine(repo, op.id) == []
    assert api.nodes(repo) == []


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfd\xfe not json", b'[{"title": "caf\xe9"}]', b'{\n"a": \xff}', bytes(range(1, 256))],
)
def test_a_document_of_bad_bytes_is_refused_in_words(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "bad.json", data)
    with pytest.raises(SourceUnreadable) as raised:
        read(path)
    message = str(raised.value)
    assert message.startswith(f"{path} is not a JSON document: ")
    assert "b'" not in message
    assert "\\x" not in message


# -- half a character --------------------------------------------------------------------------


def _names_and_reasons(path: Path) -> tuple[list[JSON], list[str]]:
    found = items(path)
    names = [fields(item).get("name") for item in found if isinstance(item, Draft)]
    reasons = [item.reason for item in found if isinstance(item, Rejected)]
    return names, reasons


@pytest.mark.parametrize(
    "title",
    ["a\\ud800", "a\\udc00\\ud800", "a\\\\\\ud800"],
    ids=["high", "low before high", "after an escaped backslash"],
)
def test_half_a_character_in_a_document_is_not_read_as_a_question_mark(
    tmp_path: Path, title: str
) -> None:
    text = f'[{{"id": 1, "title": "ok"}}, {{"id": 2, "title": "{title}"}}, {{"id": 3}}]'
    path = write(tmp_path / "doc.json", text)
    found = items(path)
    assert [type(item) for item in found] == [Draft, Draft, Draft]
    name = fields(found[1])["name"]
    assert isinstance(name, str)
    assert "?" not in name
    with pytest.raises(UnicodeEncodeError):  # validation refuses it, as for a line
        name.encode("utf-8")
    assert "\\u" in found[1].raw
    found[1].raw.encode("utf-8")  # the quarantine can hold it


def test_half_a_character_is_quarantined_at_import(repo: Repository, tmp_path: Path) -> None:
    path = write(
        tmp_path / "doc.json", '[{"id": 1, "title": "ok"}, {"id": 2, "title": "a\\ud800"}]'
    )
    op = api.import_(
        repo, "json-import", [path], author="alice", grants=[f"file-system={tmp_path}"],
        base=tmp_path, config={"max_error_rate": 0.5},
    )  # fmt: skip
    assert [node["name"] for node in api.nodes(repo)] == ["ok"]
    (entry,) = api.quarantine(repo, op.id)
    assert "unpaired surrogate" in str(entry["reason"])
    assert "\\ud800" in str(entry["raw"])


@pytest.mark.parametrize("shift", range(22))
def test_half_a_character_is_found_across_the_pieces_a_file_is_read_in(
    tmp_path: Path, shift: int
) -> None:
    # The importer looks at a document 64 KiB at a time: each escape falls across that edge.
    head = '[{"id": 1, "title": "'
    pad = "x" * ((1 << 16) - len(head) - shift)
    text = f'{head}{pad}\\ud83d\\ude00 \\\\\\ud800"}}, {{"id": 2, "title": "b"}}]'
    first, second = items(write(tmp_path / "doc.json", text))
    name = fields(first)["name"]
    assert isinstance(name, str)
    assert name.endswith("\U0001f600 \\\ud800")
    assert fields(second)["name"] == "b"


@pytest.mark.parametrize(
    "text",
    [
        '[{"title": "smile \\ud83d\\ude00"}]',
        '[{"title": "smile \\uD83D\\uDE00"}]',
        '[{"title": "a path C:\\\\ud800"}]',
    ],
)
def test_whole_characters_in_escapes_are_read_as_written(tmp_path: Path, text: str) -> None:
    (item,) = items(write(tmp_path / "doc.json", text))
    assert fields(item)["name"] in ("smile \U0001f600", "a path C:\\ud800")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("lines.jsonl", '{"id": "a\\ud800", "title": "x"}\n{"id": 2, "title": "y"}\n'),
        ("doc.json", '[{"id": "a\\ud800", "title": "x"}, {"id": 2, "title": "y"}]'),
    ],
)
def test_an_id_with_half_a_character_is_refused(
    repo: Repository, tmp_path: Path, name: str, text: str
) -> None:
    path = write(tmp_path / name, text)
    op = api.import_(
        repo, "json-import", [path], author="alice", grants=[f"file-system={tmp_path}"],
        base=tmp_path, config={"max_error_rate": 0.5},
    )  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert [node["name"] for node in api.nodes(repo)] == ["y"]
    (entry,) = api.quarantine(repo, op.id)
    assert "its id holds half a character" in str(entry["reason"])
