"""Row versions as stored: deflated against the frozen dictionary, or raw, and read back."""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isometry.model import encode, node_row
from isometry.vcs.rows import _DICTIONARY_V1, DEFLATE_V1, RAW, pack, unpack

ROW = encode(
    node_row(
        {
            "source": "json",
            "source_id": "/data/notes.jsonl#b62e82f1-31dc-5ab6-a735-f883781ed841",
            "name": "Ankaix ta k0000000",
            "content": "ankaix ta an ixtritridra tatri elmo bra qutadra umqutrium vemineve " * 4,
            "tags": ["moumpo", "gelzu"],
            "folder": "Projects/Area 0",
            "created_at": "2020-01-01T00:00:00Z",
            "modified_at": "2020-03-02T21:53:12Z",
            "priority": 2,
            "source_url": "https://example.org/n/b62e82f1",
            "properties": {"id": "b62e82f1-31dc-5ab6-a735-f883781ed841"},
        }
    )
)


def test_a_row_is_deflated_and_read_back() -> None:
    stored = pack(ROW)
    assert stored[0] == DEFLATE_V1
    assert len(stored) < len(ROW) * 0.7
    assert unpack(stored) == ROW


@pytest.mark.parametrize("level", [1, 2, 9])
def test_rows_deflated_at_any_level_read_back(level: int) -> None:
    """The level is the writer's choice; the format byte and the dictionary are what a reader
    needs."""
    packer = zlib.compressobj(level, zlib.DEFLATED, -11, 6, zlib.Z_DEFAULT_STRATEGY, _DICTIONARY_V1)
    stored = bytes((DEFLATE_V1,)) + packer.compress(ROW) + packer.flush()
    assert unpack(stored) == ROW


def test_what_deflate_cannot_shrink_is_stored_raw() -> None:
    data = os.urandom(300)
    assert pack(data) == bytes((RAW,)) + data
    assert unpack(pack(data)) == data
    assert unpack(pack(b"")) == b""


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format 7"):
        unpack(b"\x07abc")


@settings(max_examples=200)
@given(st.binary(max_size=3000))
def test_every_row_reads_back(data: bytes) -> None:
    assert unpack(pack(data)) == data
