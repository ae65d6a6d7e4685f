"""A Notes body (text plus attribute runs) written as Markdown (CommonMark with the GitHub
extensions for strikethrough, task items and tables).

How the body maps:
- Run lengths count UTF-16 code units, as ``NSString`` does, so the text is cut in UTF-16 and
  an emoji never shifts the formatting after it.
- Each line of the note is a paragraph whose style comes from its first run: title, heading
  and subheading become ``#``, ``##`` and ``###``; monospaced lines become one fenced code
  block; dotted, dashed, numbered and checklist lines become list items (``- [x]`` when
  checked), nested by their indent; block-quoted lines get ``>``. Consecutive plain lines stay
  one line each (joined by hard breaks), and an empty line separates blocks.
- Bold, italic and strikethrough become ``**``, ``*`` and ``~~``; underline, superscript,
  subscript and highlight, which Markdown cannot say, become ``<u>``, ``<sup>``, ``<sub>`` and
  ``<mark>``. Those are the only HTML the output holds: every character of the note's own text
  that Markdown or HTML would interpret is escaped, so text that looks like HTML stays text.
- Attachments (the U+FFFC characters) are replaced by what an ``Embeds`` gives for them;
  a table is a block of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from isometry.sources.applenotes.proto import ProtoMessage

OBJECT_REPLACEMENT = "\ufffc"
LINE_SEPARATOR = "\u2028"

# Paragraph style types the Notes app writes (ParagraphStyle.style_type).
TITLE, HEADING, SUBHEADING, MONOSPACED = 0, 1, 2, 4
DOTTED, DASHED, NUMBERED, CHECKLIST = 100, 101, 102, 103
LIST_STYLES = frozenset({DOTTED, DASHED, NUMBERED, CHECKLIST})
HEADING_LEVELS = {TITLE: 1, HEADING: 2, SUBHEADING: 3}

# Font weights the Notes app writes (AttributeRun.font_weight).
BOLD, ITALIC, BOLD_ITALIC = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Embed:
    """What stands in the Markdown for one attachment; ``block`` ones (tables) get a block of
    their own instead of sitting inside a line."""

    markdown: str
    block: bool = False


class Embeds(Protocol):
    """Turns the attachment a U+FFFC stands for into Markdown."""

    def embed(self, identifier: str, type_uti: str) -> Embed: ...


# -- escaping ------------------------------------------------------------------------------

_INLINE = re.compile(r"[\\`*_\[\]<>~]|&(?=#?[0-9A-Za-z]+;)")
_LIST_LIKE = re.compile(r"(\d{1,9})([.)])(?=\s|$)")
_LEADING_SPACE = re.compile(r"^[ \t]+")
_NBSP = "\u00a0"


def escape_inline(text: str) -> str:
    """``text`` with every character that would start Markdown or HTML syntax escaped."""
    return _INLINE.sub(lambda m: "\\" + m.group(0), text)


def escape_line_start(text: str) -> str:
    """An already inline-escaped line made safe at the start of a Markdown line: no heading,
    list, rule or indented code can start from the note's own text. Leading blanks become
    no-break spaces, which Markdown keeps (plain ones it would drop or read as code)."""
    match = _LEADING_SPACE.match(text)
    if match:
        blanks = match.group(0)
        return blanks.replace("\t", _NBSP * 4).replace(" ", _NBSP) + text[len(blanks) :]
    if not text:
        return text
    first = text[0]
    if first in "#=+-":
        return "\\" + text
    listed = _LIST_LIKE.match(text)
    if listed:
        end = listed.end(1)
        return text[:end] + "\\" + text[end:]
    return text


def _link_target(url: str) -> str:
    """A URL as a Markdown link destination: the characters that would end it encoded."""
    for char, code in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(char, code)
    return url.replace("\n", "%0A")


# -- runs, segments and paragraphs ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Style:
    """The inline formatting of a piece of text, in the order markers nest (outermost first)."""

    link: str = ""
    bold: bool = False
    italic: bool = False
    strike: bool = False
    underline: bool = False
    sup: bool = False
    sub: bool = False
    mark: bool = False

    def plain_emphasis(self) -> Style:
        """The same style without the markers Markdown refuses next to blanks."""
        return Style(self.link, False, False, False, self.underline, self.sup, self.sub, self.mark)

    @property
    def emphasised(self) -> bool:
        return self.bold or self.italic or self.strike

    def markers(self) -> list[tuple[str, str]]:
        """(opening, closing) markers, outermost first."""
        out: list[tuple[str, str]] = []
        if self.link:
            out.append(("[", f"]({_link_target(self.link)})"))
        if self.bold:
            out.append(("**", "**"))
        if self.italic:
            out.append(("*", "*"))
        if self.strike:
            out.append(("~~", "~~"))
        for on, tag in ((self.underline, "u"), (self.sup, "sup"), (self.sub, "sub"),
                        (self.mark, "mark")):  # fmt: skip
            if on:
                out.append((f"<{tag}>", f"</{tag}>"))
        return out


PLAIN = Style()


_STYLES: dict[tuple[str, int, int, int, int, int], Style] = {}


def style_of(run: ProtoMessage) -> Style:
    """The inline style of a run. Unset fields read as their zero default, which is what an
    absent attribute means, so no presence checks are needed; styles are shared, as a note
    repeats a handful of them over thousands of runs."""
    key = (run.link, run.font_weight, run.superscript, run.strikethrough, run.underlined,
           run.emphasis_style)  # fmt: skip
    style = _STYLES.get(key)
    if style is None:
        link, weight, superscript, strike, underline, mark = key
        style = Style(
            link=link,
            bold=weight in (BOLD, BOLD_ITALIC),
            italic=weight in (ITALIC, BOLD_ITALIC),
            strike=bool(strike),
            underline=bool(underline),
            sup=superscript > 0,
            sub=superscript < 0,
            mark=bool(mark),
        )
        if len(_STYLES) < 4096:
            _STYLES[key] = style
    return style


@dataclass(slots=True)
class Piece:
    """Text with one style, or one attachment (``identifier`` set, text a U+FFFC)."""

    text: str
    style: Style = PLAIN
    identifier: str | None = None
    type_uti: str = ""


@dataclass(slots=True)
class Paragraph:
    style_type: int = -1
    indent: int = 0
    quote: bool = False
    checked: bool = False
    pieces: list[Piece] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return all(not p.text.strip() and p.identifier is None for p in self.pieces)


def _paragraph_attributes(run: ProtoMessage | None) -> Paragraph:
    if run is None:
        return Paragraph()
    style = run.paragraph_style  # an absent style reads as the defaults: a plain paragraph
    return Paragraph(
        style_type=style.style_type,
        indent=max(0, style.indent_amount),
        quote=bool(style.block_quote),
        checked=bool(style.checklist.done),
    )


def runs(note: ProtoMessage) -> Iterator[tuple[str, ProtoMessage | None]]:
    """(text, run) for each attribute run, the text cut by UTF-16 code units; text the runs
    do not cover comes last with no run."""
    text = str(note.note_text)
    data = text.encode("utf-16-le")
    if len(data) == 2 * len(text):
        # No character outside the BMP: code units and characters coincide, slice the text.
        start = 0
        for run in note.attribute_run:
            if start >= len(text):
                return
            end = start + max(0, run.length)
            yield text[start:end], run
            start = end
        if start < len(text):
            yield text[start:], None
        return
    position = 0
    for run in note.attribute_run:
        if position >= len(data):
            return
        end = position + 2 * max(0, run.length)
        yield data[position:end].decode("utf-16-le", "replace"), run
        position = end
    if position < len(data):
        yield data[position:].decode("utf-16-le", "replace"), None


def paragraphs(note: ProtoMessage) -> list[Paragraph]:
    """The note's lines, each with its paragraph style and styled pieces."""
    out: list[Paragraph] = []
    current: Paragraph | None = None
    for text, run in runs(note):
        style = style_of(run) if run is not None else PLAIN
        info = run.attachment_info if run is not None and run.HasField("attachment_info") else None
        parts = text.split("\n")
        for index, part in enumerate(parts):
            ends_line = index < len(parts) - 1
            if not (part or ends_line):
                break  # the run ended with a newline: the next line starts in the next run
            if current is None:
                current = _paragraph_attributes(run)
            if part:
                if info is not None and OBJECT_REPLACEMENT in part:
                    _add_attachment_text(current, part, style, info)
                else:
                    current.pieces.append(Piece(part, style))
            if ends_line:
                out.append(_merged(current))
                current = None
    if current is not None and current.pieces:
        out.append(_merged(current))
    return out


def _merged(paragraph: Paragraph) -> Paragraph:
    """Neighbouring pieces of one style joined: Notes splits runs for reasons Markdown does
    not show (a colour, a font), and each split would close and reopen the markers."""
    pieces: list[Piece] = []
    for piece in paragraph.pieces:
        last = pieces[-1] if pieces else None
        if (
            last is not None
            and piece.identifier is None
            and last.identifier is None
            and last.style == piece.style
        ):
            last.text += piece.text
        else:
            pieces.append(piece)
    paragraph.pieces = pieces
    return paragraph


def _add_attachment_text(paragraph: Paragraph, text: str, style: Style, info: ProtoMessage) -> None:
    for index, chunk in enumerate(text.split(OBJECT_REPLACEMENT)):
        if index:
            paragraph.pieces.append(
                Piece(OBJECT_REPLACEMENT, style, info.attachment_identifier, info.type_uti)
            )
        if chunk:
            paragraph.pieces.append(Piece(chunk, style))


# -- inline rendering ----------------------------------------------------------------------


def _split_blanks(pieces: list[Piece]) -> list[Piece]:
    """Move blanks at the edges of emphasised text outside the emphasis: ``** bold**`` is no
    emphasis in Markdown."""
    out: list[Piece] = []
    for piece in pieces:
        if piece.identifier is not None or not piece.style.emphasised:
            out.append(piece)
            continue
        core = piece.text.strip()
        if not core:
            out.append(Piece(piece.text, piece.style.plain_emphasis()))
            continue
        start = piece.text.index(core[0])
        end = start + len(core)
        if start:
            out.append(Piece(piece.text[:start], piece.style.plain_emphasis()))
        out.append(Piece(core, piece.style))
        if end < len(piece.text):
            out.append(Piece(piece.text[end:], piece.style.plain_emphasis()))
    return out


class Renderer:
    """Renders notes (and table cells) to Markdown, collecting the links it meets."""

    def __init__(self, embeds: Embeds) -> None:
        self.embeds = embeds
        self.links: list[str] = []

    def inline(self, pieces: list[Piece], line_break: str) -> str:
        """Pieces as Markdown inline content; U+2028 line separators become ``line_break``."""
        out: list[str] = []
        stack: list[tuple[str, str]] = []  # the markers open, outermost first
        for piece in _split_blanks(pieces):
            if piece.identifier is not None:
                text = self.embeds.embed(piece.identifier, piece.type_uti).markdown
            else:
                first, *rest = piece.text.split(LINE_SEPARATOR)
                # What follows a line break starts a Markdown line: escape it as one.
                text = line_break.join(
                    [escape_inline(first), *(escape_line_start(escape_inline(r)) for r in rest)]
                )
            if piece.style.link:
                self.links.append(piece.style.link)
            wanted = piece.style.markers() if piece.text.strip() or piece.identifier else []
            # Markers are opened in one fixed order, so keeping the common prefix open and
            # closing the rest innermost first always nests them properly.
            keep = 0
            while keep < min(len(stack), len(wanted)) and stack[keep] == wanted[keep]:
                keep += 1
            while len(stack) > keep:
                out.append(stack.pop()[1])
            for marker in wanted[keep:]:
                out.append(marker[0])
                stack.append(marker)
            out.append(text)
        while stack:
            out.append(stack.pop()[1])
        return "".join(out)

    def cell(self, note: ProtoMessage) -> str:
        """A table cell: its lines joined by ``<br>``, pipes escaped."""
        lines = [self.inline(p.pieces, "<br>") for p in paragraphs(note)]
        return "<br>".join(line.strip() for line in lines).replace("|", "\\|")

    def note(self, note: ProtoMessage) -> str:
        """The whole note as Markdown."""
        return _Blocks(self).render(paragraphs(note))


# -- blocks --------------------------------------------------------------------------------


def _fence(lines: list[str]) -> str:
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


@dataclass(slots=True)
class _Group:
    kind: str  # body, code, list, heading, block
    quote: bool
    lines: list[str] = field(default_factory=list)


class _Blocks:
    """Groups paragraphs into Markdown blocks."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.groups: list[_Group] = []
        self.list_state = _ListState()

    def render(self, items: list[Paragraph]) -> str:
        for paragraph in items:
            for part in self._split_at_blocks(paragraph):
                self._add(part)
        blocks = [self._block(group) for group in self.groups]
        return "\n\n".join(block for block in blocks if block.strip()).rstrip()

    def _split_at_blocks(self, paragraph: Paragraph) -> Iterator[Paragraph | Embed]:
        """The paragraph, cut where a block attachment (a table) stands."""
        current = Paragraph(paragraph.style_type, paragraph.indent, paragraph.quote,
                            paragraph.checked)  # fmt: skip
        after_block = False
        for piece in paragraph.pieces:
            if piece.identifier is not None:
                embed = self.renderer.embeds.embed(piece.identifier, piece.type_uti)
                if embed.block:
                    if not current.empty:
                        yield current
                    yield embed
                    current = Paragraph(paragraph.style_type, paragraph.indent,
                                        paragraph.quote, paragraph.checked)  # fmt: skip
                    after_block = True
                    continue
            current.pieces.append(piece)
        if not (after_block and current.empty):
            yield current

    def _group(self, kind: str, quote: bool) -> _Group:
        last = self.groups[-1] if self.groups else None
        if last is not None and last.kind == kind and last.quote == quote and kind != "heading":
            return last
        if kind == "list":
            # Two lists with only a blank line between them are one list in Markdown unless
            # their markers differ: alternate them.
            before = [g for g in self.groups if g.kind != "break"]
            alternate = bool(before) and before[-1].kind == "list" and self.list_state.first
            self.list_state = _ListState(alternate)
        group = _Group(kind, quote)
        self.groups.append(group)
        return group

    def _end_group(self) -> None:
        self.groups.append(_Group("break", False))

    def _add(self, part: Paragraph | Embed) -> None:
        if isinstance(part, Embed):
            self._group("block", False).lines.append(part.markdown)
            self._end_group()
            return
        kind = self._kind(part)
        if kind == "code":
            text = "".join(p.text if p.identifier is None else self._embed_text(p)
                           for p in part.pieces)  # fmt: skip
            self._group("code", part.quote).lines.append(text.replace(LINE_SEPARATOR, "\n"))
            return
        if part.empty:
            self._end_group()
            return
        if kind == "heading":
            level = HEADING_LEVELS[part.style_type]
            text = self.renderer.inline(part.pieces, " ").strip()
            self._group("heading", part.quote).lines.append(f"{'#' * level} {_close(text)}")
        elif kind == "list":
            group = self._group("list", part.quote)
            group.lines.append(self.list_state.item(part, self.renderer))
        else:
            text = escape_line_start(self.renderer.inline(part.pieces, "\\\n").rstrip())
            self._group("body", part.quote).lines.append(text)

    def _embed_text(self, piece: Piece) -> str:
        assert piece.identifier is not None
        return self.renderer.embeds.embed(piece.identifier, piece.type_uti).markdown

    @staticmethod
    def _kind(paragraph: Paragraph) -> str:
        if paragraph.style_type in HEADING_LEVELS:
            return "heading"
        if paragraph.style_type == MONOSPACED:
            return "code"
        if paragraph.style_type in LIST_STYLES:
            return "list"
        return "body"

    @staticmethod
    def _block(group: _Group) -> str:
        if group.kind == "code":
            lines = list(group.lines)
            while lines and not lines[-1].strip():
                lines.pop()  # empty monospaced lines left at the end show nothing
            fence = _fence(lines)
            body = "\n".join([fence, *lines, fence])
        elif group.kind == "body":
            body = "\\\n".join(group.lines)
        else:
            body = "\n".join(group.lines)
        if group.quote:
            body = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
        return body


def _close(heading: str) -> str:
    """A heading's text with a trailing ``#`` escaped (Markdown would drop it as a closer)."""
    return heading[:-1] + "\\#" if heading.endswith("#") else heading


class _ListState:
    """Numbering and nesting of consecutive list items."""

    def __init__(self, alternate: bool = False) -> None:
        self.columns: list[int] = []  # content column of the open item at each level
        self.kinds: list[int] = []
        self.numbers: list[int] = []
        self.bullet = "*" if alternate else "-"
        self.delimiter = ")" if alternate else "."
        # Whether the next list after this one must use the other markers.
        self.first = not alternate

    def item(self, paragraph: Paragraph, renderer: Renderer) -> str:
        # An item can only be one level deeper than the one before it, or Markdown would
        # read the extra indent as code.
        level = min(paragraph.indent, len(self.columns))
        kind = paragraph.style_type
        same_list = len(self.kinds) > level and self.kinds[level] == kind
        previous = self.numbers[level] if same_list else 0
        del self.columns[level:], self.kinds[level:], self.numbers[level:]
        indent = self.columns[level - 1] if level else 0
        if kind == NUMBERED:
            number = previous + 1
            marker = f"{number}{self.delimiter} "
        else:
            number = 0
            box = ("[x] " if paragraph.checked else "[ ] ") if kind == CHECKLIST else ""
            marker = f"{self.bullet} {box}"
        base = indent + (len(marker) if kind != CHECKLIST else 2)
        continuation = "\\\n" + " " * base
        text = renderer.inline(paragraph.pieces, continuation).strip()
        self.columns.append(base)
        self.kinds.append(kind)
        self.numbers.append(number)
        return " " * indent + marker + escape_line_start(text)


def render_note(note: ProtoMessage, embeds: Embeds) -> tuple[str, list[str]]:
    """The note as Markdown, and every link URL its text carries (in order, repeats kept)."""
    renderer = Renderer(embeds)
    return renderer.note(note), renderer.links
