"""A vCard file as a stream of blocks: each ``BEGIN:VCARD`` .. ``END:VCARD`` card with its line
numbers and byte range, and the text that lies outside the cards.

Files are read as bytes in chunks and split into lines here, so every block knows exactly where
it starts and ends (for the locator, the source hash and the cursor) and nothing is held but
the block being read. Lines end in LF, CRLF, or (as iPhone exports write them) CR CR LF; a file
whose first chunk holds carriage returns and no line feed is read with CR as the line end.

A ``BEGIN:VCARD`` inside a card starts a nested card only right after an empty ``AGENT:``
property (vCard 2.1 embeds an agent's card that way); anywhere else it means the card before it
was never closed, so one missing ``END:VCARD`` costs one card, not the rest of the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import BinaryIO, Protocol

from isometry.errors import SourceUnreadable

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_CHUNK = 1 << 16
_BEGIN = b"BEGIN:VCARD"
_END = b"END:VCARD"
_AGENT = re.compile(rb"(?:[A-Za-z0-9_-]+\.)?AGENT(?:;[^:]*)?:\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Line:
    """One physical line: its number (from 1), the byte offset where it starts, its bytes
    without the line end, and the line end itself."""

    number: int
    offset: int
    data: bytes
    ending: bytes

    @property
    def end(self) -> int:
        return self.offset + len(self.data) + len(self.ending)


class Kind(Enum):
    CARD = "card"
    UNTERMINATED = "unterminated"  # a card the file never closes
    STRAY = "stray"  # lines outside any card that are not blank


@dataclass(frozen=True, slots=True)
class Block:
    """A card, or stray text, and where it lies. ``card`` numbers the cards of the file from 1;
    stray text carries the number of the last card before it."""

    kind: Kind
    card: int
    lines: tuple[Line, ...]

    @property
    def first_line(self) -> int:
        return self.lines[0].number

    @property
    def last_line(self) -> int:
        return self.lines[-1].number

    @property
    def start(self) -> int:
        return self.lines[0].offset

    @property
    def end(self) -> int:
        return self.lines[-1].end

    def raw(self) -> bytes:
        """The block's bytes as the file holds them, line ends included."""
        return b"".join(part for line in self.lines for part in (line.data, line.ending))


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def line_separator(path: Path, stream: BinaryIO) -> bytes:
    """The byte that ends lines in this file, told from its first chunk; leaves the stream at
    its start. UTF-16 files are refused (vCard exports are UTF-8 or a legacy 8-bit charset)."""
    stream.seek(0)
    head = stream.read(_CHUNK)
    stream.seek(0)
    if head.startswith(UTF16_BOMS):
        raise SourceUnreadable(f"{path} is UTF-16 text; export the contacts as UTF-8")
    return b"\r" if b"\r" in head and b"\n" not in head else b"\n"


def lines(
    stream: BinaryIO, separator: bytes, offset: int = 0, number: int = 0,
    digest: Digest | None = None,
) -> Iterator[Line]:  # fmt: skip
    """Every line from ``offset`` (where line ``number`` ended) to the end of the stream."""
    pending: list[bytes] = []
    while chunk := stream.read(_CHUNK):
        if digest is not None:
            digest.update(chunk)
        start = 0
        while (index := chunk.find(separator, start)) >= 0:
            pending.append(chunk[start : index + 1])
            raw = b"".join(pending)
            pending.clear()
            line = _line(number + 1, offset, raw)
            yield line
            number, offset, start = line.number, line.end, index + 1
        if start < len(chunk):
            pending.append(chunk[start:])
    if pending:
        yield _line(number + 1, offset, b"".join(pending))


def _line(number: int, offset: int, raw: bytes) -> Line:
    data = raw.rstrip(b"\r\n")
    ending = raw[len(data) :]
    if offset == 0 and data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
        offset = len(UTF8_BOM)
    return Line(number, offset, data, ending)


def blocks(source: Iterator[Line], card: int = 0) -> Iterator[Block]:
    """The cards and stray text of a stream of lines; ``card`` cards came before it."""
    current: list[Line] = []
    stray: list[Line] = []
    depth = 0
    for line in source:
        # Only short lines can be BEGIN or END; photo lines are long and many.
        word = line.data.strip().upper() if len(line.data) < 32 else b""
        if not current:
            if word == _BEGIN:
                if any(s.data.strip() for s in stray):
                    yield Block(Kind.STRAY, card, _trimmed(stray))
                stray = []
                card += 1
                current, depth = [line], 1
            else:
                stray.append(line)
            continue
        if word == _BEGIN:
            if _AGENT.fullmatch(current[-1].data):
                depth += 1
            else:
                yield Block(Kind.UNTERMINATED, card, tuple(current))
                card += 1
                current, depth = [line], 1
                continue
        current.append(line)
        if word == _END:
            depth -= 1
            if depth == 0:
                yield Block(Kind.CARD, card, tuple(current))
                current = []
    if current:
        yield Block(Kind.UNTERMINATED, card, tuple(current))
    elif any(s.data.strip() for s in stray):
        yield Block(Kind.STRAY, card, _trimmed(stray))


def _trimmed(stray: list[Line]) -> tuple[Line, ...]:
    """Stray lines without the blank lines around them."""
    filled = [i for i, line in enumerate(stray) if line.data.strip()]
    return tuple(stray[filled[0] : filled[-1] + 1])
