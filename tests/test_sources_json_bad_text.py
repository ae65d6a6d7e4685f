"""Records whose text is not text (a lone surrogate escape), items nested past what can be read,
and times before the year 1000: refused or kept record by record, never a crash."""

from __future__ import annotations

from pathlib import Path

from isometry import api
from isometry.etl.operations import Operation
from isometry.etl.states import State
from isometry.model import utc_timestamp
from isometry.vcs.repository import Repository

AUTHOR = "tester"


def _import(repo: Repository, path: Path) -> Operation:
    return api.import_(
        repo, "json-import", [path], author=AUTHOR, grants=[f"file-system={path.parent}"],
        base=path.parent, config={"max_error_rate": 0.5},
    )  # fmt: skip


def _quarantine(repo: Repository, op_id: str) -> list[str]:
    return [str(entry["reason"]) for entry in api.quarantine(repo, op_id)]


def _names(repo: Repository) -> list[str]:
    return sorted(str(node["name"]) for node in api.nodes(repo))


def test_a_line_with_a_lone_surrogate_is_quarantined_and_the_others_are_kept(
    repo: Repository, tmp_path: Path
) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text(
        '{"id": "1", "title": "fine"}\n'
        '{"id": "2", "title": "half a character \\ud800 here"}\n'
        '{"id": "3", "title": "also fine", "tags": ["ok", "bad \\udc00"]}\n'
        '{"id": "4", "title": "last"}\n'
    )
    op = _import(repo, path)
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert op.counts["inserted"] == 2
    reasons = _quarantine(repo, op.id)
    assert len(reasons) == 2
    assert all("unpaired surrogate" in reason for reason in reasons)
    assert _names(repo) == ["fine", "last"]


def test_a_lone_surrogate_in_a_document_quarantines_its_record_alone(
    repo: Repository, tmp_path: Path
) -> None:
    path = tmp_path / "notes.json"
    path.write_text(
        '[{"id": "1", "title": "fine"}, {"id": "2", "title": "bad \\ud800"},'
        ' {"id": "3", "title": "after"}]'
    )
    op = _import(repo, path)
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert _names(repo) == ["after", "fine"]
    (reason,) = _quarantine(repo, op.id)
    assert "unpaired surrogate" in reason


def test_an_item_nested_too_deeply_is_refused_alone(repo: Repository, tmp_path: Path) -> None:
    deep = "[" * 5000 + '"bottom"' + "]" * 5000
    text = (
        '[{"id": "1", "title": "before"}, {"id": "2", "title": "deep", "extra": '
        + deep
        + '}, {"id": "3", "title": "after"}]'
    )
    path = tmp_path / "notes.json"
    path.write_text(text)
    op = _import(repo, path)
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert _names(repo) == ["after", "before"]
    (reason,) = _quarantine(repo, op.id)
    assert "nested too deeply" in reason


def test_times_before_the_year_1000_keep_four_digits() -> None:
    assert utc_timestamp("0999-03-04T05:06:07+01:00") == "0999-03-04T04:06:07Z"
    assert utc_timestamp(utc_timestamp("0050-01-01")) == "0050-01-01T00:00:00Z"
