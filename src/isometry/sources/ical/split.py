"""An iCalendar file cut into its top-level components by lines, never parsed whole.

iCalendar is line based: a logical line may be folded over several physical lines (each
continuation starts with a space or a tab; blank lines before a continuation are folded away
too, as the ``icalendar`` library does), and components nest between ``BEGIN:X`` and ``END:X``
lines. Reading one logical line at a time and counting the nesting is enough to find where each
component of a calendar starts and ends, with its line number and byte range, so each one can be
handed to ``icalendar`` on its own and a cursor can seek straight back to it.

A *position* is where reading can start again: a byte offset at the start of a physical line,
the number of physical lines before it, how many calendars began before it and whether it lies
inside one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

BOM = b"\xef\xbb\xbf"
CALENDAR = "VCALENDAR"
_FOLD = (b" ", b"\t")


class LineSource(Protocol):
    """A binary stream read line by line (a file, or a wrapper that hashes what it reads)."""

    def __iter__(self) -> Iterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class Line:
    """One logical (unfolded) line: where it starts and ends, its bytes as written (folds and
    line breaks included, a leading byte order mark left out) and its text, unfolded, with
    bytes that are not UTF-8 replaced (only the structure is read from it)."""

    number: int
    offset: int
    last: int  # the number of its last physical line
    end: int  # byte offset after its last physical line
    data: bytes
    text: str


@dataclass(frozen=True, slots=True)
class Position:
    offset: int = 0
    line: int = 0
    calendar: int = 0  # calendars begun before this point
    inside: bool = False  # inside a VCALENDAR


@dataclass(slots=True)
class Block:
    """A top-level component: inside a VCALENDAR, or standing alone in the file."""

    name: str
    calendar: int  # 1-based index of its VCALENDAR; 0 for a component outside any
    before: Position
    lines: list[Line] = field(default_factory=list)
    own: list[Line] = field(default_factory=list)  # its own properties, not its children's
    problem: str | None = None
    after: Position = field(default_factory=Position)

    @property
    def start(self) -> Line:
        return self.lines[0]

    @property
    def data(self) -> bytes:
        return b"".join(line.data for line in self.lines)

    @property
    def length(self) -> int:
        """Bytes from its BEGIN line to the end of its END line, as they lie in the file."""
        return self.lines[-1].end - self.start.offset


@dataclass(frozen=True, slots=True)
class CalendarLine:
    """A property of the VCALENDAR itself (its name, its producer...)."""

    calendar: int
    line: Line


def logical_lines(stream: LineSource, position: Position) -> Iterator[Line]:
    """The logical lines from ``position`` on (the stream is already there)."""
    offset, number = position.offset, position.line
    parts: list[bytes] = []
    first = first_offset = last = end = 0
    for raw in stream:
        start, offset, number = offset, offset + len(raw), number + 1
        body = raw.removesuffix(b"\n").removesuffix(b"\r") if raw.endswith(b"\n") else raw
        data = raw
        if start == 0 and body.startswith(BOM):
            body, data = body[len(BOM) :], data[len(BOM) :]
            start = len(BOM)
        if parts and body.startswith(_FOLD):
            parts.append(data)
            last, end = number, offset
            continue
        if not body:
            continue  # a blank line: dropped, or folded away if a continuation follows
        if parts:
            yield _line(first, first_offset, last, end, parts)
        parts = [data]
        first, first_offset, last, end = number, start, number, offset
    if parts:
        yield _line(first, first_offset, last, end, parts)


def _line(number: int, offset: int, last: int, end: int, parts: list[bytes]) -> Line:
    data = b"".join(parts)
    pieces = [p.removesuffix(b"\n").removesuffix(b"\r") for p in parts]
    text = b"".join([pieces[0], *(p[1:] for p in pieces[1:])]).decode("utf-8", "replace")
    return Line(number, offset, last, end, data, text)


def begin_or_end(text: str) -> tuple[str, str] | None:
    """``("BEGIN", "VEVENT")`` for a ``BEGIN:VEVENT`` line (any case), the same for END;
    None for any other line."""
    head, colon, value = text.partition(":")
    if not colon:
        return None
    keyword = head.strip().upper()
    if keyword not in ("BEGIN", "END"):
        return None
    return keyword, value.strip().upper()


def blocks(lines: Iterable[Line], position: Position) -> Iterator[Block | CalendarLine]:
    """The top-level components (and the calendars' own property lines), from ``position``.

    A component whose nesting is broken (an END that closes something else, a calendar or a
    file that ends inside it) is still yielded, with ``problem`` saying what is wrong.
    """
    walker = _Walker(position)
    for line in lines:
        yield from walker.step(line)
    yield from walker.finish()


class _Walker:
    """Where the walk through a file is: which calendar, which component, how deep."""

    def __init__(self, position: Position) -> None:
        self.calendar, self.inside = position.calendar, position.inside
        self.block: Block | None = None
        self.stack: list[str] = []  # names of the components open in ``block``

    def step(self, line: Line) -> Iterator[Block | CalendarLine]:
        marker = begin_or_end(line.text)
        if self.block is None:
            yield from self._outside(line, marker)
        elif marker is None:
            self.block.lines.append(line)
            if len(self.stack) == 1:
                self.block.own.append(line)
        elif marker[0] == "BEGIN":
            self.block.lines.append(line)
            self.stack.append(marker[1])
        else:
            yield from self._end(self.block, line, marker[1])

    def finish(self) -> Iterator[Block]:
        if self.block is not None:
            self.block.problem = self.block.problem or f"the file ends before END:{self.block.name}"
            yield self._close(self.block, self.block.lines[-1])

    def _outside(self, line: Line, marker: tuple[str, str] | None) -> Iterator[CalendarLine]:
        if marker == ("BEGIN", CALENDAR) and not self.inside:
            self.calendar, self.inside = self.calendar + 1, True
        elif marker is not None and marker[0] == "BEGIN":
            before = Position(line.offset, line.number - 1, self.calendar, self.inside)
            self.block = Block(marker[1], self.calendar if self.inside else 0, before, [line])
            self.stack = [marker[1]]
        elif marker == ("END", CALENDAR):
            self.inside = False
        elif self.inside and marker is None:
            yield CalendarLine(self.calendar, line)

    def _end(self, block: Block, line: Line, name: str) -> Iterator[Block]:
        if name == CALENDAR and CALENDAR not in self.stack and self.inside:
            block.problem = block.problem or (
                f"the calendar ends (line {line.number}) before END:{block.name}"
            )
            self.inside = False
            yield self._close(block, line)
            return
        block.lines.append(line)
        if name not in self.stack:
            block.problem = block.problem or f"line {line.number}: END:{name} closes nothing open"
            return
        if name != self.stack[-1]:
            block.problem = block.problem or (
                f"line {line.number}: END:{name} comes before END:{self.stack[-1]}"
            )
        # Close it, and whatever it left open inside (already noted as a problem).
        del self.stack[len(self.stack) - 1 - self.stack[::-1].index(name) :]
        if not self.stack:
            yield self._close(block, line)

    def _close(self, block: Block, last: Line) -> Block:
        block.after = Position(last.end, last.last, self.calendar, self.inside)
        self.block = None
        return block
