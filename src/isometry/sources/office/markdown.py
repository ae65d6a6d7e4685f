"""Markdown both office formats write: escaped text, emphasis that nests, tables.

Text from a document or a cell is text, never Markdown: every character that Markdown would
read as syntax is escaped, so ``*`` or ``[1]`` in a sentence stay what they were. An
underscore inside a word (``user_id``) is left alone, since CommonMark reads no emphasis there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_INLINE = re.compile(r"[\\`*\[\]<>~]|(?<!\w)_|_(?!\w)")
# What makes a line something else than a paragraph when it starts it: a heading, a quote,
# a list item, a thematic break or setext underline, a fenced block.
_LINE_START = re.compile(r"^(\s*)(#|>|[-+=]|\d+(?=[.)]))")
_TRAILING_HASHES = re.compile(r"(\s)(#+)$")

BOLD, ITALIC, UNDERLINE, STRIKE = "bold", "italic", "underline", "strike"
# Outermost first: a change of the inner marks never has to close the outer ones.
MARK_ORDER = (STRIKE, BOLD, ITALIC, UNDERLINE)
OPEN = {STRIKE: "~~", BOLD: "**", ITALIC: "*", UNDERLINE: "<u>"}
CLOSE = {STRIKE: "~~", BOLD: "**", ITALIC: "*", UNDERLINE: "</u>"}


def escape(text: str) -> str:
    """Text with Markdown's inline syntax characters escaped."""
    return _INLINE.sub(lambda m: "\\" + m.group(0), text)


def escape_line_starts(text: str) -> str:
    """Escape what would turn a line of a paragraph into another block (``# ``, ``- ``,
    ``1.``), on every line of ``text``; an ATX heading's closing hashes are kept too."""
    lines = text.split("\n")
    return "\n".join(_LINE_START.sub(_escape_start, line) for line in lines)


def _escape_start(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    if marker[0].isdigit():
        return indent + marker + "\\"  # "1\." : the escape goes before the dot
    return indent + "\\" + marker


def heading(level: int, text: str) -> str:
    """An ATX heading; hashes that end the text are escaped so they are kept."""
    body = _TRAILING_HASHES.sub(lambda m: m.group(1) + "\\" + m.group(2), text.strip())
    return "#" * max(1, min(level, 6)) + " " + body


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of inline text: ``text`` is plain unless ``markdown`` says it is already
    Markdown (an image). ``marks`` are the emphasis it carries, ``link`` its target."""

    text: str
    marks: frozenset[str] = frozenset()
    link: str | None = None
    markdown: bool = False


def render_spans(spans: Iterable[Span], newline: str = "\\\n") -> str:
    """Inline Markdown for a paragraph's spans; ``newline`` is what a line break becomes."""
    out: list[str] = []
    group: list[Span] = []
    for span in spans:
        if group and span.link != group[0].link:
            out.append(_render_group(group, newline))
            group = []
        group.append(span)
    if group:
        out.append(_render_group(group, newline))
    return "".join(out)


def _render_group(spans: list[Span], newline: str) -> str:
    inner = _render_marked(spans, newline)
    link = spans[0].link
    if link is None or not inner.strip():
        return inner
    return f"[{inner}]({link_target(link)})"


def link_target(url: str) -> str:
    """A link destination as Markdown reads it (in angle brackets when it needs them)."""
    if re.search(r"[\s()<>]", url):
        return "<" + url.replace("<", "%3C").replace(">", "%3E") + ">"
    return url


def _render_marked(spans: list[Span], newline: str) -> str:
    """Emphasis opened and closed at the edges of formatted words: whitespace at the edge of a
    span is written outside its marks (``** a **`` is no emphasis in Markdown)."""
    pieces: list[tuple[str, tuple[str, ...], bool]] = []
    for span in spans:
        marks = tuple(m for m in MARK_ORDER if m in span.marks)
        if span.markdown or not marks:
            pieces.append((span.text, marks if span.markdown else (), span.markdown))
            continue
        core = span.text.strip()
        if not core:
            pieces.append((span.text, (), False))
            continue
        start = span.text.index(core[0])
        end = start + len(core)
        pieces.append((span.text[:start], (), False))
        pieces.append((core, marks, False))
        pieces.append((span.text[end:], (), False))
    out: list[str] = []
    stack: list[str] = []
    for text, marks, is_markdown in pieces:
        if not text:
            continue
        keep = 0
        while keep < min(len(stack), len(marks)) and stack[keep] == marks[keep]:
            keep += 1
        out.extend(CLOSE[m] for m in reversed(stack[keep:]))
        out.extend(OPEN[m] for m in marks[keep:])
        stack = list(marks)
        out.append(text if is_markdown else escape(text).replace("\n", newline))
    out.extend(CLOSE[m] for m in reversed(stack))
    return "".join(out)


def cell_text(text: str) -> str:
    """Escaped text for a table cell: a pipe would end the cell, a newline the row."""
    return escape(text).replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table of already escaped cells; short rows are padded."""
    body = [list(row) for row in rows]
    width = max([len(header), *(len(row) for row in body)], default=0)
    if width == 0:
        return ""

    def line(cells: Sequence[str]) -> str:
        padded = [*cells, *([""] * (width - len(cells)))]
        return "| " + " | ".join(c.strip() or " " for c in padded) + " |"

    lines = [line(header), "|" + "|".join(["---"] * width) + "|"]
    lines.extend(line(row) for row in body)
    return "\n".join(lines)
