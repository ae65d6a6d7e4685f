"""Reading an .enex file one ``<note>`` at a time, with the exact place of each.

An export can be gigabytes (resources are base64 inside the notes), so the file is fed to the
parser in chunks and each note is handed over, and dropped from the tree, as soon as it closes.

The parser is defusedxml's ``DefusedXMLParser`` driven by a tree builder of ours rather than
``iterparse``: a target's callbacks run while expat is at the event, so the line and byte offset
of every ``<note>`` are exact, which ``iterparse`` (it reports after each chunk) cannot give.
defusedxml refuses entity declarations and external references; such a file is refused whole
(``SourceUnreadable``): entities can only be declared before the first note.

A note that is not well-formed XML stops expat for good. Rather than lose the rest of the file,
the reader reports the damaged part (``Broken``), looks for the next ``<note`` after the error
and starts a fresh parser there, so one bad note costs one record, not the export.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ErrorString, XMLParserType

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped]

from isometry.errors import SourceUnreadable

ROOT = "en-export"
CHUNK = 1 << 16
# How much of a damaged part is kept as its raw form (its locator gives the whole of it).
RAW_LIMIT = 1 << 20
_NOTE_START = re.compile(rb"<note[\s>/]")
_NOTE_START_SPAN = 5  # bytes of a match that may sit at the end of one chunk
_RESYNC_PREFIX = b"<" + ROOT.encode() + b">"
# The end of an end tag is looked for in the bytes fed last and this much before them.
_TAIL = 256
_WHITESPACE = b" \t\r\n"


@dataclass(frozen=True, slots=True)
class NoteElement:
    """One whole ``<note>``: its element and where it is in the file."""

    index: int  # position among the file's records (notes and damaged parts), from 0
    element: Element
    line: int
    offset: int
    length: int
    task_lines: tuple[int, ...]  # line of each of the note's ``<task>`` elements, in order


@dataclass(frozen=True, slots=True)
class Broken:
    """A part of the file that is not well-formed XML: a note, or something between notes."""

    index: int
    line: int
    offset: int
    length: int
    reason: str
    title: str | None  # the note's title, when it was read before the damage
    raw: str


Part = NoteElement | Broken


class _NotAnExport(Exception):
    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


class _Bytes:
    """The file, read forwards and now and then again from an earlier place; ``on_new`` sees
    each byte once, in file order, however often it is read."""

    def __init__(self, stream: BinaryIO, on_new: Callable[[bytes], None] | None) -> None:
        self._stream = stream
        self._on_new = on_new
        self.position = 0
        self.seen = 0

    def seek(self, offset: int) -> None:
        if offset != self.position:
            self._stream.seek(offset)
            self.position = offset

    def read(self, size: int) -> bytes:
        data = self._stream.read(size)
        end = self.position + len(data)
        if end > self.seen:
            if self._on_new is not None:
                self._on_new(data[max(0, self.seen - self.position) :])
            self.seen = end
        self.position = end
        return data


class _Builder(ET.TreeBuilder):
    """Builds each note's tree and notes where notes (and their tasks) start and end."""

    def __init__(self, line_base: int, offset_base: int, prefix: int) -> None:
        super().__init__()
        self.expat: XMLParserType  # set as soon as the parser that drives this builder exists
        self.line_base = line_base  # the file's line of expat's line 1
        self.offset_base = offset_base  # the file's offset of expat's byte 0
        self.prefix = prefix  # bytes put before the file's own on expat's line 1
        self.depth = 0
        self.root: Element | None = None
        self.root_attributes: dict[str, str] = {}
        self.open_note: Element | None = None
        self.open_line = 0
        self.open_offset = 0
        self.task_lines: list[int] = []
        self.done: list[tuple[Element, int, int, int, tuple[int, ...]]] = []
        self.window = b""
        self.window_start = 0

    def feeding(self, start: int, chunk: bytes) -> None:
        """Called before ``chunk`` (at file offset ``start``) goes to the parser."""
        tail = self.window[-_TAIL:]
        self.window = tail + chunk
        self.window_start = start - len(tail)

    def line(self) -> int:
        return self.expat.CurrentLineNumber + self.line_base - 1

    def offset(self) -> int:
        return self.expat.CurrentByteIndex + self.offset_base

    def start(self, tag: str, attrs: dict[str, str], /) -> Element:
        element = super().start(tag, attrs)
        self.depth += 1
        if self.depth == 1:
            if tag != ROOT:
                raise _NotAnExport(tag)
            self.root = element
            self.root_attributes = dict(attrs)
        elif self.depth == 2 and tag == "note":
            self.open_note = element
            self.open_line, self.open_offset = self.line(), self.offset()
            self.task_lines = []
        elif self.depth == 3 and tag == "task" and self.open_note is not None:
            self.task_lines.append(self.line())
        return element

    def end(self, tag: str, /) -> Element:
        element = super().end(tag)
        if self.depth == 2 and self.root is not None:
            if element is self.open_note:
                length = self._tag_end(self.offset()) - self.open_offset
                found = (element, self.open_line, self.open_offset, length, tuple(self.task_lines))
                self.done.append(found)
                self.open_note = None
            self.root.remove(element)  # handed over (or not a note): the tree keeps nothing
        self.depth -= 1
        return element

    def _tag_end(self, offset: int) -> int:
        """The offset just past the ``>`` of the tag that starts at ``offset``."""
        found = self.window.find(b">", offset - self.window_start)
        return self.window_start + found + 1 if found >= 0 else offset


class EnexReader:
    """The records of one .enex file, in order (see the module docstring).

    ``header`` holds the attributes of ``<en-export>`` once the first record is out.
    """

    def __init__(self, path: Path, stream: BinaryIO) -> None:
        self.path = path
        self._stream = stream
        self.header: dict[str, str] = {}
        self._index = 0

    def parts(self, on_bytes: Callable[[bytes], None] | None = None) -> Iterator[Part]:
        """Every note and damaged part, in file order. ``on_bytes`` sees every byte of the file
        once, in order (scan hashes it that way)."""
        source = _Bytes(self._stream, on_bytes)
        start, line, prefix = 0, 1, b""
        while True:
            resume = yield from self._segment(source, start, line, prefix)
            if resume is None:
                return
            start, line = resume
            prefix = _RESYNC_PREFIX

    def _segment(
        self, source: _Bytes, start: int, line: int, prefix: bytes
    ) -> Generator[Part, None, tuple[int, int] | None]:
        """One parser's run from ``start``: its notes, then, when it meets damage, the damaged
        part and where the next run starts (None: the file is done)."""
        builder = _Builder(line, start - len(prefix), len(prefix))
        parser = DefusedXMLParser(target=builder)
        builder.expat = parser.parser
        source.seek(start)
        try:
            if prefix:
                parser.feed(prefix)
            while chunk := source.read(CHUNK):
                builder.feeding(source.position - len(chunk), chunk)
                parser.feed(chunk)
                yield from self._finished(builder)
            parser.close()
            yield from self._finished(builder)
            return None
        except _NotAnExport as error:
            raise SourceUnreadable(
                f"{self.path} is not an Evernote export: its root element is <{error.tag}>, "
                f"not <{ROOT}>"
            ) from None
        except DefusedXmlException as error:
            raise SourceUnreadable(
                f"{self.path} is refused: it declares XML entities or external references "
                f"({error}), which Evernote never writes and which can expand without bound "
                "or read other files"
            ) from None
        except ParseError:
            yield from self._finished(builder)
            if builder.root is None:
                raise SourceUnreadable(
                    f"{self.path} is not an Evernote export: {_message(builder)}"
                ) from None
            return (yield from self._damage(source, builder, start))

    def _finished(self, builder: _Builder) -> Iterator[Part]:
        if not self.header and builder.root_attributes:
            self.header = builder.root_attributes
        done, builder.done = builder.done, []
        for element, line, offset, length, task_lines in done:
            yield NoteElement(self._index, element, line, offset, length, task_lines)
            self._index += 1

    def _damage(
        self, source: _Bytes, builder: _Builder, start: int
    ) -> Generator[Part, None, tuple[int, int] | None]:
        """Report the damaged part the parser stopped in; find where reading can go on."""
        expat = builder.expat
        error_offset = max(expat.ErrorByteIndex, 0) + builder.offset_base
        error_line = expat.ErrorLineNumber + builder.line_base - 1
        note = builder.open_note
        # Look after the error, and past the start of this run so a resync makes progress.
        looked_from = max(error_offset, start + 1)
        found, newlines, end = _next_note(source, looked_from)
        region_start = builder.open_offset if note is not None else error_offset
        region_line = builder.open_line if note is not None else error_line
        region_end = found if found is not None else end
        source.seek(region_start)
        raw = source.read(min(region_end - region_start, RAW_LIMIT))
        if note is not None or _has_content(raw):
            title = note.findtext("title") if note is not None else None
            where = "this note" if note is not None else "this part of the file outside any note"
            reason = f"{where} is not well-formed XML: {_message(builder)}"
            text = raw.decode("utf-8", "replace")
            if region_end - region_start > len(raw):
                text += f"\n[... {region_end - region_start - len(raw)} more bytes]"
            length = region_end - region_start
            yield Broken(self._index, region_line, region_start, length, reason, title, text)
            self._index += 1
        if found is None:
            return None
        newlines_before = _newlines_between(source, error_offset, looked_from)
        return found, error_line + newlines_before + newlines


def _next_note(source: _Bytes, offset: int) -> tuple[int | None, int, int]:
    """Where the next ``<note`` starts at or after ``offset`` (None: nowhere), the newlines
    between ``offset`` and there, and how far the file was read (its end when not found)."""
    source.seek(offset)
    carry, carry_start, newlines = b"", offset, 0
    while chunk := source.read(CHUNK):
        data = carry + chunk
        match = _NOTE_START.search(data)
        if match is not None:
            return carry_start + match.start(), newlines + data.count(b"\n", 0, match.start()), 0
        kept = max(0, len(data) - _NOTE_START_SPAN)  # a match may begin in the last bytes
        newlines += data.count(b"\n", 0, kept)
        carry = data[kept:]
        carry_start += kept
    return None, newlines, carry_start + len(carry)


def _newlines_between(source: _Bytes, start: int, end: int) -> int:
    if end <= start:
        return 0
    source.seek(start)
    return source.read(end - start).count(b"\n")


def _has_content(raw: bytes) -> bool:
    """Whether a part outside any note holds more than whitespace and the closing root tag."""
    return bool(raw.replace(b"</" + ROOT.encode() + b">", b"").strip(_WHITESPACE))


def _message(builder: _Builder) -> str:
    """expat's reason for stopping, with the line and column in the file."""
    expat = builder.expat
    line = expat.ErrorLineNumber + builder.line_base - 1
    column = expat.ErrorColumnNumber + 1
    if expat.ErrorLineNumber == 1:
        column -= builder.prefix  # expat counts the root tag put before a resumed run
    return f"{ErrorString(expat.ErrorCode)} at line {line}, column {column}"
