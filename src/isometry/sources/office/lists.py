"""Word's lists as Markdown list items: which paragraphs are items, how deep, bullet or number.

A paragraph is a list item when it, or its style, carries numbering (``w:numPr``: a list
instance ``numId`` and a level ``ilvl``). The numbering part says per level whether the list
is bulleted or numbered and where numbering starts. Word's single-level built-in styles
("List Bullet 2", "List Number 3") nest by their name instead of by ``ilvl``, so a level 0
item in such a style takes its depth from the name.

Numbers are counted as Word shows them: per list instance and level, the deeper levels
starting again after each item above them, and a list going on after a paragraph between
its items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from docx.document import Document
from docx.oxml.ns import qn
from docx.styles.style import ParagraphStyle

W_PPR, W_NUMPR, W_NUMID, W_ILVL = qn("w:pPr"), qn("w:numPr"), qn("w:numId"), qn("w:ilvl")
W_VAL = qn("w:val")
W_NUM, W_ABSTRACT_NUM, W_ABSTRACT_NUM_ID = qn("w:num"), qn("w:abstractNum"), qn("w:abstractNumId")
W_LVL, W_NUM_FMT, W_START = qn("w:lvl"), qn("w:numFmt"), qn("w:start")
W_LVL_OVERRIDE, W_START_OVERRIDE = qn("w:lvlOverride"), qn("w:startOverride")
W_NUM_STYLE_LINK, W_STYLE, W_STYLE_ID = qn("w:numStyleLink"), qn("w:style"), qn("w:styleId")
MAX_DEPTH = 9  # Word's levels 0..8

_LIST_STYLE = re.compile(r"List (Bullet|Number)(?: ([2-9]))?")


@dataclass(frozen=True, slots=True)
class Item:
    level: int
    number: int | None
    """The item's number as Word shows it; None for a bullet."""


@dataclass(frozen=True, slots=True)
class _Level:
    ordered: bool
    start: int


class Lists:
    """Numbering definitions of one document, and the counters of its numbered lists."""

    def __init__(self, document: Document) -> None:
        self._levels: dict[tuple[str, int], _Level] = {}
        self._counters: dict[tuple[str, int], int] = {}
        self._read_definitions(document)

    def item(self, p: Any, styles: list[ParagraphStyle]) -> Item | None:
        """The list item the paragraph element ``p`` (in a paragraph of the styles
        ``styles``, its own first) is, or None when it is not one."""
        num_id, ilvl = _num_pr(p.find(W_PPR))
        for style in styles:
            if num_id is not None and ilvl is not None:
                break
            style_id, style_ilvl = _num_pr(style.element.find(W_PPR))
            num_id = num_id if num_id is not None else style_id
            ilvl = ilvl if ilvl is not None else style_ilvl
        named = _named_list(styles)
        if num_id == "0":
            return None  # numId 0 takes away the numbering a style would give
        level = min(ilvl or 0, MAX_DEPTH - 1)
        if level == 0 and named is not None:
            level = named[1]
        numbered = named is not None and named[0] == "Number"
        if num_id is not None:
            key = (num_id, level)
            definition = self._levels.get(key) or _Level(numbered, 1)
        elif named is not None:  # a list style without numbering: its name says which kind
            key, definition = ("style:" + named[0], level), _Level(numbered, 1)
        else:
            return None
        for deeper in [k for k in self._counters if k[0] == key[0] and k[1] > level]:
            del self._counters[deeper]
        if not definition.ordered:
            return Item(level, None)
        number = self._counters.get(key, definition.start - 1) + 1
        self._counters[key] = number
        return Item(level, number)

    def _read_definitions(self, document: Document) -> None:
        part: Any = document.part
        try:
            numbering = part.numbering_part.element
        except (KeyError, NotImplementedError):
            # python-docx raises NotImplementedError for a document without a numbering
            # part (it cannot make one up): no list then is numbered.
            return
        abstract: dict[str, dict[int, _Level]] = {}
        links: dict[str, str] = {}
        for element in numbering.iterchildren(W_ABSTRACT_NUM):
            key = element.get(W_ABSTRACT_NUM_ID)
            abstract[key] = {
                _int(lvl.get(W_ILVL), 0): _level(lvl) for lvl in element.iterchildren(W_LVL)
            }
            link = element.find(W_NUM_STYLE_LINK)
            if link is not None and link.get(W_VAL):
                links[key] = link.get(W_VAL)
        nums: dict[str, tuple[str | None, dict[int, int]]] = {}
        for num in numbering.iterchildren(W_NUM):
            ref = num.find(W_ABSTRACT_NUM_ID)
            overrides = {
                _int(o.get(W_ILVL), 0): _int(start.get(W_VAL), 1)
                for o in num.iterchildren(W_LVL_OVERRIDE)
                if (start := o.find(W_START_OVERRIDE)) is not None
            }
            nums[num.get(W_NUMID)] = (ref.get(W_VAL) if ref is not None else None, overrides)
        for num_id, (abstract_id, overrides) in nums.items():
            levels = abstract.get(abstract_id or "", {})
            if not levels and abstract_id in links:
                levels = self._linked_levels(document, links[abstract_id], nums, abstract)
            for ilvl, level in levels.items():
                start = overrides.get(ilvl, level.start)
                self._levels[(num_id, ilvl)] = _Level(level.ordered, start)

    @staticmethod
    def _linked_levels(
        document: Document,
        style_id: str,
        nums: dict[str, tuple[str | None, dict[int, int]]],
        abstract: dict[str, dict[int, _Level]],
    ) -> dict[int, _Level]:
        """Levels of a list defined through a numbering style (``w:numStyleLink``)."""
        styles: Any = document.styles.element
        for style in styles.iterchildren(W_STYLE):
            if style.get(W_STYLE_ID) == style_id:
                num_id, _ = _num_pr(style.find(W_PPR))
                target = nums.get(num_id or "")
                return abstract.get(target[0] or "", {}) if target else {}
        return {}


def _num_pr(ppr: Any) -> tuple[str | None, int | None]:
    """(numId, ilvl) of a ``w:pPr``, each None when not given."""
    numpr = ppr.find(W_NUMPR) if ppr is not None else None
    if numpr is None:
        return None, None
    num_id, ilvl = numpr.find(W_NUMID), numpr.find(W_ILVL)
    return (
        num_id.get(W_VAL) if num_id is not None else None,
        _int(ilvl.get(W_VAL), 0) if ilvl is not None else None,
    )


def _level(lvl: Any) -> _Level:
    fmt = lvl.find(W_NUM_FMT)
    start = lvl.find(W_START)
    kind = fmt.get(W_VAL) if fmt is not None else "decimal"
    first = _int(start.get(W_VAL), 1) if start is not None else 1
    return _Level(kind not in ("bullet", "none"), first)


def _named_list(styles: list[ParagraphStyle]) -> tuple[str, int] | None:
    """("Bullet" | "Number", depth) for Word's built-in list styles."""
    for style in styles:
        match = _LIST_STYLE.fullmatch(style.name or "")
        if match:
            return match.group(1), int(match.group(2) or 1) - 1
    return None


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
