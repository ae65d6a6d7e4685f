"""The parts of a note's Markdown body the importer acts on: wikilinks, Markdown links and
images, inline tags and the first level-one heading, each with its place in the text.

Obsidian reads none of these inside code (fenced blocks, inline code spans), comments
(``%% ... %%`` and ``<!-- ... -->``) or math (``$$ ... $$``, ``$ ... $``). A first pass blanks
those regions out in a copy of the text, keeping every offset, so the later searches find only
live syntax and their offsets still point into the original text (embeds are rewritten there).
No declared library parses wikilinks or gives source offsets for inline Markdown, hence this
small scanner rather than a full Markdown parser. Indented code blocks are not blanked: in
notes, indentation mostly means a nested list item, whose links Obsidian does read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from urllib.parse import unquote

from isometry.model import JSON

# A fence opens a code block: three or more backticks or tildes at the start of a line (after
# indentation or blockquote markers); only a fence of the same character, at least as long,
# closes it. An unclosed fence runs to the end of the note, as in CommonMark.
_FENCE = re.compile(r"^[ \t]*(?:>[ \t]?)*[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$", re.M)
_OPENERS = re.compile(r"<!--|%%|`+|\$\$|\$")
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")
_NOT_NEWLINE = re.compile(r"[^\n]")

_WIKILINK = re.compile(r"(?P<embed>!?)\[\[(?P<inner>[^\[\]\n]+)\]\]")
# [text](destination "title"): text may hold one level of brackets; the destination is either
# <anything but angle brackets> or a run without spaces holding balanced parentheses.
_MD_LINK = re.compile(
    r"(?P<embed>!?)\[(?P<text>(?:\\.|[^\[\]\\\n]|\[(?:\\.|[^\[\]\\\n])*\])*)\]"
    r"\([ \t]*(?P<dest><[^<>\n]*>|(?:\\.|[^\s()\\]|\((?:\\.|[^\s()\\])*\))+)"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*\)"
)
# A tag starts after whitespace (or at the start of the text), so URL fragments (``page#x``),
# headings (``# Title``: a space follows) and HTML entities (``&#38;``) are not tags.
_TAG = re.compile(r"(?<!\S)#(?P<tag>[^\s#!\"$%&'()*+,.:;<=>?@\[\\\]^`{|}~]+)")
_ATX_H1 = re.compile(r"^ {0,3}#(?:[ \t]+(?P<text>[^\n]*?))?(?:[ \t]+#+)?[ \t\r]*$", re.M)
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}=+[ \t\r]*$", re.M)
_NOT_PARAGRAPH = re.compile(r"^ {0,3}(?:[#>\-*+|]|\d+[.)]|`{3}|~{3})")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


@dataclass(frozen=True, slots=True)
class Link:
    """One link or embed as written in the body.

    ``target`` is the file part (trimmed, ``""`` for a link inside the same note), ``subpath``
    the heading (``Heading``) or block reference (``^id``) after ``#``, ``alias`` the display
    text. ``start``/``end`` span the whole link; ``dest_start``/``dest_end`` span what a
    rewrite replaces: the whole link for a wikilink, the destination for a Markdown link. A
    link written in a front-matter value names its key in ``key`` and spans nothing (-1).
    """

    syntax: str  # "wikilink", "markdown" or "front matter"
    embed: bool
    target: str
    subpath: str
    alias: str
    start: int
    end: int
    dest_start: int
    dest_end: int
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Body:
    """What the importer takes from a note's body."""

    links: tuple[Link, ...]
    tags: tuple[str, ...]
    title: str | None


def parse_body(text: str) -> Body:
    masked = _mask(text)
    links: list[Link] = []
    for match in _WIKILINK.finditer(masked):
        link = _wikilink(match)
        if link is not None:
            links.append(link)
    without_wikilinks = _blank(masked, [(link.start, link.end) for link in links])
    markdown: list[Link] = []
    for match in _MD_LINK.finditer(without_wikilinks):
        # A linked image (``[![alt](pic.png)](target)``) holds a second link in its text.
        start, end = match.span("text")
        for inner in _MD_LINK.finditer(without_wikilinks, start, end):
            if link := _md_link(text, inner):
                markdown.append(link)
        if link := _md_link(text, match):
            markdown.append(link)
    links.extend(markdown)
    links.sort(key=lambda link: link.start)
    # Link destinations and texts are not searched for tags: ``[x](#anchor)`` is no tag.
    bare = _blank(without_wikilinks, [(link.start, link.end) for link in markdown])
    return Body(tuple(links), _tags(bare), _title(text, masked))


def front_matter_links(values: Mapping[str, JSON]) -> tuple[Link, ...]:
    """Wikilinks written in front-matter values (``related: "[[Other note]]"``), which
    Obsidian links as it links the body's, in the order of the keys."""
    found: list[Link] = []
    for key, value in values.items():
        for text in _strings(value):
            for match in _WIKILINK.finditer(text):
                link = _wikilink(match)
                if link is not None:
                    found.append(replace(link, syntax="front matter", start=-1, end=-1,
                                         dest_start=-1, dest_end=-1, key=key))  # fmt: skip
    return tuple(found)


def _strings(value: JSON) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _is_external(destination: str) -> bool:
    """A destination with a URL scheme (``https:``, ``mailto:``, ``obsidian:``...)."""
    return bool(_SCHEME.match(destination))


# -- masking -------------------------------------------------------------------------------


def _mask(text: str) -> str:
    """``text`` with code, comments and math blanked (newlines kept, so offsets hold)."""
    spans = _fenced_blocks(text)
    inline: list[tuple[int, int]] = []
    previous = 0
    for start, end in [*spans, (len(text), len(text))]:
        inline.extend(_inline_spans(text, previous, start))
        previous = end
    return _blank(text, sorted(spans + inline))


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    parts: list[str] = []
    previous = 0
    for span_start, end in sorted(spans):
        start = max(span_start, previous)
        if end <= start:
            continue
        parts.append(text[previous:start])
        parts.append(_NOT_NEWLINE.sub(" ", text[start:end]))
        previous = end
    parts.append(text[previous:])
    return "".join(parts)


def _fenced_blocks(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        opening = _FENCE.search(text, position)
        if opening is None:
            return spans
        fence = opening.group("fence")
        if fence[0] == "`" and "`" in opening.group("info"):
            position = opening.end() + 1  # not a fence: an inline code span on one line
            continue
        closer = re.compile(
            rf"^[ \t]*(?:>[ \t]?)*[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t\r]*$", re.M
        )
        closing = closer.search(text, opening.end() + 1)
        end = len(text) if closing is None else closing.end()
        spans.append((opening.start(), end))
        position = end + 1


def _inline_spans(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    """Inline code, comments and math between ``start`` and ``stop``."""
    spans: list[tuple[int, int]] = []
    position = start
    while position < stop:
        opener = _OPENERS.search(text, position, stop)
        if opener is None:
            break
        begin, token = opener.start(), opener.group()
        if _escaped(text, begin):
            position = begin + 1
            continue
        end = _closing(text, begin, token, stop)
        if end is None:
            position = opener.end()  # no closer: the opener is literal text
            continue
        spans.append((begin, end))
        position = end
    return spans


def _closing(text: str, begin: int, token: str, stop: int) -> int | None:
    """Where the construct opened by ``token`` at ``begin`` ends (exclusive), or None."""
    after = begin + len(token)
    if token == "<!--":
        found = text.find("-->", after, stop)
        return None if found < 0 else found + 3
    if token in ("%%", "$$"):
        found = text.find(token, after, stop)
        return None if found < 0 else found + 2
    paragraph = _BLANK_LINE.search(text, after, stop)
    limit = stop if paragraph is None else paragraph.start()
    if token.startswith("`"):
        closer = re.compile(rf"(?<!`){re.escape(token)}(?!`)")
        found_code = closer.search(text, after, limit)
        return None if found_code is None else found_code.end()
    # Inline math: ``$`` then no space; the closing ``$`` has no space before it and no digit
    # after it, so "$5 and $10" stays text.
    if after >= limit or text[after].isspace():
        return None
    position = after
    while True:
        found = text.find("$", position, limit)
        if found < 0:
            return None
        if text[found - 1] == "\\":
            position = found + 1
            continue
        if not text[found - 1].isspace() and not text[found + 1 : found + 2].isdigit():
            return found + 1
        position = found + 1


def _escaped(text: str, index: int) -> bool:
    slashes = 0
    while index - slashes > 0 and text[index - slashes - 1] == "\\":
        slashes += 1
    return slashes % 2 == 1


# -- links ---------------------------------------------------------------------------------


def _wikilink(match: re.Match[str]) -> Link | None:
    """``[[target#subpath|alias]]``: Obsidian trims around the target; ``\\|`` (written in
    tables) separates the alias too."""
    inner = match.group("inner").replace("\\|", "|")
    target_part, _, alias = inner.partition("|")
    target, _, subpath = target_part.partition("#")
    target, subpath, alias = target.strip(), subpath.strip(), alias.strip()
    if not target and not subpath:
        return None
    start, end = match.span()
    return Link("wikilink", bool(match.group("embed")), target, subpath, alias,
                start, end, start, end)  # fmt: skip


def _md_link(text: str, match: re.Match[str]) -> Link | None:
    dest = match.group("dest")
    dest_start, dest_end = match.span("dest")
    if dest.startswith("<"):
        dest = dest[1:-1]
    dest = unquote(dest.replace("\\", "")).strip()
    if not dest or _is_external(dest):
        return None
    target, _, subpath = dest.partition("#")
    if not target and not subpath:
        return None
    start, end = match.span()
    return Link("markdown", bool(match.group("embed")), target.strip(), subpath.strip(),
                match.group("text").strip(), start, end, dest_start, dest_end)  # fmt: skip


# -- tags and title --------------------------------------------------------------------------


def _tags(masked: str) -> tuple[str, ...]:
    found: list[str] = []
    for match in _TAG.finditer(masked):
        tag = match.group("tag").strip("/")
        # A tag needs one character that is not a digit: "#2024" is not a tag.
        if tag and not tag.replace("/", "").isdigit():
            found.append(tag)
    return tuple(found)


def _title(text: str, masked: str) -> str | None:
    """The text of the first level-one heading (``# Title``, or a line underlined ``===``)."""
    atx = next((m for m in _ATX_H1.finditer(masked) if m.group("text")), None)
    found = None if atx is None else atx.span("text")
    limit = len(masked) if atx is None else atx.start()
    for underline in _SETEXT_UNDERLINE.finditer(masked, 0, limit):
        span = _setext_text(masked, underline.start())
        if span is not None:
            found = span
            break
    if found is None:
        return None
    title = text[found[0] : found[1]].strip()
    return title or None


def _setext_text(masked: str, underline: int) -> tuple[int, int] | None:
    """The span of the line above an ``===`` underline when it is a one-line paragraph (the
    underline makes it a heading); None otherwise."""
    if underline == 0:
        return None
    end = underline - 1
    start = masked.rfind("\n", 0, end) + 1
    line = masked[start:end]
    if not line.strip() or _NOT_PARAGRAPH.match(line):
        return None
    if start > 0:
        before = masked.rfind("\n", 0, start - 1) + 1
        if masked[before : start - 1].strip():
            return None  # the paragraph has more lines: left alone
    return start, end
