"""The inside of a Word paragraph as Markdown spans: runs with their emphasis, hyperlinks,
pictures (stored as attachments and linked inline) and the text of text boxes.

python-docx reads the package, styles and relationships; the paragraph's children are walked
here because its ``Paragraph.iter_inner_content`` sees only runs and hyperlinks that sit
directly in the paragraph, and runs inside tracked insertions, content controls, smart tags and
simple fields are text a reader sees too, as is an equation's text. Tracked deletions and
field codes are not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_UNDERLINE
from docx.exceptions import InvalidXmlError
from docx.opc.part import Part
from docx.oxml.ns import qn
from docx.parts.document import DocumentPart
from docx.styles.style import CharacterStyle
from docx.text.font import Font
from docx.text.hyperlink import Hyperlink
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from isometry.sources.base import Attachment, attachment_link
from isometry.sources.office.markdown import (
    BOLD,
    ITALIC,
    STRIKE,
    UNDERLINE,
    Span,
    escape,
    link_target,
)
from isometry.sources.records import sha256_hex

MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
VML = "urn:schemas-microsoft-com:vml"
OFFICE = "urn:schemas-microsoft-com:office:office"

W_R, W_HYPERLINK, W_P = qn("w:r"), qn("w:hyperlink"), qn("w:p")
# Containers whose runs are part of the text as it reads now.
_TRANSPARENT_NAMES = ("ins", "moveTo", "smartTag", "customXml", "fldSimple", "dir", "bdo")
W_TRANSPARENT = frozenset(qn(f"w:{name}") for name in _TRANSPARENT_NAMES)
W_SDT, W_SDT_CONTENT = qn("w:sdt"), qn("w:sdtContent")
M_MATH, M_T = frozenset({qn("m:oMath"), qn("m:oMathPara")}), qn("m:t")
W_T, W_TAB, W_PTAB, W_BR, W_CR = qn("w:t"), qn("w:tab"), qn("w:ptab"), qn("w:br"), qn("w:cr")
W_NO_BREAK_HYPHEN, W_SYM = qn("w:noBreakHyphen"), qn("w:sym")
W_DRAWING, W_PICT, W_OBJECT = qn("w:drawing"), qn("w:pict"), qn("w:object")
W_TEXTBOX = qn("w:txbxContent")
W_TYPE, W_CHAR, W_VAL = qn("w:type"), qn("w:char"), qn("w:val")
W_RPR, W_RSTYLE = qn("w:rPr"), qn("w:rStyle")
MC_ALTERNATE, MC_CHOICE = f"{{{MC}}}AlternateContent", f"{{{MC}}}Choice"
A_BLIP, WP_DOC_PR = qn("a:blip"), qn("wp:docPr")
R_EMBED, R_LINK, R_ID = qn("r:embed"), qn("r:link"), qn("r:id")
V_IMAGEDATA, V_ALT, O_TITLE = f"{{{VML}}}imagedata", "alt", f"{{{OFFICE}}}title"
# What python-docx raises for an attribute value it does not know (``w:u w:val="wavy2"``).
FORMAT_ERRORS = (ValueError, TypeError, InvalidXmlError)
# Symbol fonts put their glyphs in the private use area: those code points mean nothing.
_PRIVATE_USE = range(0xE000, 0xF900)


@dataclass
class Images:
    """Pictures met so far: one attachment per distinct content, in order of appearance."""

    attachments: dict[str, Attachment] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def embedded(self, part: Part, rid: str, alt: str) -> Span:
        target = part.related_parts.get(rid)
        if target is None:
            self.missing.append(rid)
            return Span(f"[picture {alt}]" if alt else "[picture]")
        blob = target.blob
        digest = sha256_hex(blob)
        name = PurePosixPath(str(target.partname)).name
        self.attachments.setdefault(
            digest,
            Attachment(name, data=blob, role="inline-image", mime_type=target.content_type),
        )
        return Span(f"![{escape(alt or name)}]({attachment_link(digest)})", markdown=True)

    def linked(self, part: Part, rid: str, alt: str) -> Span:
        rel = part.rels.get(rid)
        if rel is None or not rel.is_external:
            self.missing.append(rid)
            return Span(f"[picture {alt}]" if alt else "[picture]")
        return Span(f"![{escape(alt)}]({link_target(rel.target_ref)})", markdown=True)


class Inline:
    """Turns paragraphs into spans (see the module docstring)."""

    def __init__(self, part: DocumentPart, images: Images) -> None:
        self.part = part
        self.images = images
        self._styles: dict[str, frozenset[str]] = {}

    def spans(self, element: Any, parent: Any) -> list[Span]:
        """The spans of the paragraph ``element`` (a ``w:p``) found in ``parent`` (the
        document, or a table cell's container)."""
        return list(self._walk(element, Paragraph(element, parent), parent, None))

    def _walk(
        self, element: Any, paragraph: Paragraph, parent: Any, link: str | None
    ) -> Iterator[Span]:
        for child in element:
            tag = child.tag
            if tag == W_R:
                yield from self._run(child, paragraph, parent, link)
            elif tag == W_HYPERLINK:
                try:
                    url = Hyperlink(child, paragraph).url or None
                except KeyError:  # its target is not in the package: the text stays
                    url = None
                yield from self._walk(child, paragraph, parent, url or link)
            elif tag in W_TRANSPARENT:
                yield from self._walk(child, paragraph, parent, link)
            elif tag == W_SDT:
                for content in child.iterchildren(W_SDT_CONTENT):
                    yield from self._walk(content, paragraph, parent, link)
            elif tag in M_MATH:  # an equation: its text, as Word shows it in a line
                text = "".join(t.text or "" for t in child.iter(M_T))
                if text:
                    yield Span(text, frozenset(), link)

    def _run(
        self, element: Any, paragraph: Paragraph, parent: Any, link: str | None
    ) -> Iterator[Span]:
        marks = self._marks(Run(element, paragraph), _run_style(element))
        text: list[str] = []
        for child in _run_children(element):
            tag = child.tag
            if tag == W_T:
                text.append(child.text or "")
            elif tag in (W_TAB, W_PTAB):
                text.append("\t")
            elif tag == W_BR:
                if child.get(W_TYPE) in (None, "textWrapping"):  # not a page or column break
                    text.append("\n")
            elif tag == W_CR:
                text.append("\n")
            elif tag == W_NO_BREAK_HYPHEN:
                text.append("-")
            elif tag == W_SYM:
                code = _hex(child.get(W_CHAR))
                if code is not None and code not in _PRIVATE_USE:
                    text.append(chr(code))
            elif tag in (W_DRAWING, W_PICT, W_OBJECT):
                if text:
                    yield Span("".join(text), marks, link)
                    text = []
                yield from self._pictures(child, parent, link)
        if text:
            yield Span("".join(text), marks, link)

    def _pictures(self, element: Any, parent: Any, link: str | None) -> Iterator[Span]:
        """The pictures of a drawing (DrawingML or VML), and the text of its text boxes."""
        for doc_pr in element.iter(WP_DOC_PR):
            alt = (doc_pr.get("descr") or doc_pr.get("title") or "").strip()
            break
        else:
            alt = ""
        for blip in element.iter(A_BLIP):
            span = self._picture(blip.get(R_EMBED), blip.get(R_LINK), alt)
            if span is not None:
                yield _linked(span, link)
        for data in element.iter(V_IMAGEDATA):
            shape = data.getparent()
            shape_alt = (shape.get(V_ALT) if shape is not None else None) or data.get(O_TITLE)
            span = self._picture(data.get(R_ID), None, (shape_alt or alt).strip())
            if span is not None:
                yield _linked(span, link)
        for box in element.iter(W_TEXTBOX):
            for p in box.iter(W_P):
                yield Span("\n")
                yield from self._walk(p, Paragraph(p, parent), parent, link)

    def _picture(self, embed: str | None, linked: str | None, alt: str) -> Span | None:
        if embed:
            return self.images.embedded(self.part, embed, alt)
        if linked:
            return self.images.linked(self.part, linked, alt)
        return None

    def _marks(self, run: Run, style_id: str | None) -> frozenset[str]:
        """Emphasis set on the run itself, else by its character style (``Strong``...)."""
        direct = _font_marks(run.font)
        if style_id is None:
            return frozenset(m for m, on in direct.items() if on)
        inherited = self._styles.get(style_id)
        if inherited is None:
            inherited = self._style_marks(style_id)
            self._styles[style_id] = inherited
        return frozenset(m for m, on in direct.items() if on or (on is None and m in inherited))

    def _style_marks(self, style_id: str) -> frozenset[str]:
        found: dict[str, bool | None] = {}
        style: Any = self.part.get_style(style_id, WD_STYLE_TYPE.CHARACTER)
        while isinstance(style, CharacterStyle):
            for mark, on in _font_marks(style.font).items():
                if found.get(mark) is None:
                    found[mark] = on
            style = style.base_style
        return frozenset(m for m, on in found.items() if on)


def _run_style(run: Any) -> str | None:
    """The id of the run's character style, if it names one."""
    properties = run.find(W_RPR)
    style = properties.find(W_RSTYLE) if properties is not None else None
    return style.get(W_VAL) if style is not None else None


def _run_children(run: Any) -> Iterator[Any]:
    """A run's children, taking the first choice of markup-compatibility blocks (the
    fallback repeats the same content in an older form)."""
    for child in run:
        if child.tag == MC_ALTERNATE:
            for choice in child.iterchildren(MC_CHOICE):
                yield from choice
                break
        elif isinstance(child.tag, str):
            yield child


def _font_marks(font: Font) -> dict[str, bool | None]:
    """Each emphasis a font sets (True), clears (False) or leaves to its style (None)."""
    try:
        underline = font.underline
    except FORMAT_ERRORS:
        underline = None
    if underline is not None and not isinstance(underline, bool):
        underline = underline != WD_UNDERLINE.NONE
    strike = _flag(lambda: font.strike)
    if not strike and _flag(lambda: font.double_strike):
        strike = True
    return {
        BOLD: _flag(lambda: font.bold),
        ITALIC: _flag(lambda: font.italic),
        UNDERLINE: underline,
        STRIKE: strike,
    }


def _flag(attribute: Callable[[], bool | None]) -> bool | None:
    """A font's on/off attribute; None (left to the style) when written with a value Word
    does not define, which python-docx refuses to parse (``w:b w:val="maybe"``)."""
    try:
        return attribute()
    except FORMAT_ERRORS:
        return None


def _linked(span: Span, link: str | None) -> Span:
    return Span(span.text, span.marks, link, span.markdown)


def _hex(text: str | None) -> int | None:
    try:
        return int(text, 16) if text else None
    except ValueError:
        return None
