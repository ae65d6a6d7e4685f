"""ENML, the XHTML Evernote keeps a note's text in, turned into Markdown.

ENML is read with BeautifulSoup's ``html.parser``: real exports hold HTML entities (``&nbsp;``)
that only the ENML DTD defines, stray end tags and other slips a strict XML parser refuses, and
``html.parser`` never expands a declared entity nor fetches anything, so it is also safe.

The tree is first reshaped where Evernote's HTML and Markdown disagree (lists nested directly in
lists, check boxes that sit inside bold text, code blocks made of one ``div`` per line, tables
Markdown cannot hold), then markdownify writes it, with converters of ours for Evernote's own
elements: ``en-todo`` and checklists (``- [ ]`` / ``- [x]``), ``en-media`` (a link to the stored
attachment), ``en-crypt`` (a fenced block marked ``evernote-encrypted``: cipher text, cipher and
hint kept, never decrypted), highlights (``==text==``), underline (``<u>``) and tasks.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bs4 import BeautifulSoup, Tag
from bs4.element import Comment, NavigableString
from markdownify import ATX, MarkdownConverter

from isometry.model import JSON

# Elements whose text starts on a line of its own.
BLOCKS = frozenset(
    {"div", "p", "li", "ul", "ol", "table", "tr", "pre", "blockquote", "hr", "en-note",
     "h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd", "center", "section", "article"}
)  # fmt: skip
# Inline wrappers a check box is taken out of when it is their first content.
INLINE = frozenset(
    {"b", "strong", "i", "em", "u", "s", "strike", "del", "span", "font", "sup", "sub", "a"}
)
# A table holding any of these cannot be written as a Markdown table: it stays HTML.
_NOT_IN_CELLS = frozenset(
    {"table", "ul", "ol", "pre", "blockquote", "hr", "en-crypt", "dl"}
)  # fmt: skip
# HTML attributes worth keeping when a table stays HTML (the rest is presentation).
_KEPT_ATTRIBUTES = frozenset({"colspan", "rowspan", "href", "src", "alt", "title", "start"})
_LINE_BREAKING = BLOCKS | {"br"}
_VOID = frozenset({"br", "hr", "img", "col", "input"})
# Elements never unwrapped however deep they are: they are what the text shows.
_LEAVES = frozenset({"en-media", "en-todo", "en-crypt", "img", "br"})
# Nesting deeper than this is flattened: web clips can nest spans past Python's recursion limit,
# and the levels past it carry only presentation.
MAX_DEPTH = 64

_STYLE_TRUE = r"\s*:\s*true"
_CODE_BLOCK = re.compile(r"-en-codeblock" + _STYLE_TRUE)
_TASK_GROUP = re.compile(r"--en-task-group" + _STYLE_TRUE)
_TASK_GROUP_ID = re.compile(r"--en-id\s*:\s*([^;\s]+)")
_CHECKED = re.compile(r"--en-checked\s*:\s*(true|false)")
_HIGHLIGHT = re.compile(
    r"--en-highlight\s*:|-evernote-highlight" + _STYLE_TRUE + r"|background(?:-color)?\s*:"
)
_NO_BACKGROUND = re.compile(
    r"background(?:-color)?\s*:\s*(?:transparent|inherit|initial|none|white|#fff(?:fff)?\b"
    r"|rgba?\(\s*255\s*,\s*255\s*,\s*255\s*(?:,\s*1(?:\.0*)?\s*)?\))"
)
_ESCAPED = re.compile(r"([\\`*\[\]])")
_LONE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_TAG_OPENING = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_LINE_MARK = re.compile(r"^(\s*)(#{1,6}|>|[-+]|\d{1,9}(?=[.)]))(?=[.)]?(?:\s|$))", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+(?=\n\n|\n?$)")
_BACKTICKS = re.compile(r"`+")
_MAY_NEED_ESCAPE = re.compile(r"[\\`*\[\]_<&=|#>+-]|^\s*\d", re.MULTILINE)
_NEEDS_BRACKETS = re.compile(r"[\s()<>]")
_AUTOLINKABLE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*")
_BLANK_LINE = re.compile(r"^[ \t]+$", re.MULTILINE)
_PROLOG = re.compile(r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!DOCTYPE[^>\[]*(?:\[[^\]]*\])?\s*>)?", re.I)


@dataclass(frozen=True, slots=True)
class Link:
    """A file the text points at: its name, where it is (``attachment:<sha256>``), and
    whether it is shown as an image."""

    name: str
    target: str
    image: bool

    def markdown(self) -> str:
        label = _ESCAPED.sub(r"\\\1", self.name)
        return f"{'!' if self.image else ''}[{label}]({self.target})"

    def html(self) -> str:
        name, target = html.escape(self.name), html.escape(self.target)
        if self.image:
            return f'<img src="{target}" alt="{name}">'
        return f'<a href="{target}">{name}</a>'


class Media(Protocol):
    """Resolves what the text shows of a note's files."""

    def media(self, md5: str, mime: str | None) -> Link | str:
        """The link for ``<en-media hash=md5>``, or the text said in its place when the file
        is missing or damaged."""
        ...

    def data_image(self, src: str, alt: str) -> Link | None:
        """The link for an image given inline as a ``data:`` URL (None: it cannot be read)."""
        ...


@dataclass(frozen=True, slots=True)
class TaskLine:
    """A task as a note's task group shows it."""

    title: str
    done: bool
    order: str  # Evernote's sort weight within the group


@dataclass
class Rendered:
    """A note's text in Markdown, and what the text holds that has no column of its own."""

    markdown: str
    encrypted: list[dict[str, JSON]] = field(default_factory=list)


@dataclass
class Body:
    """A note's parsed text, with the elements the reshaping works on, found in one walk
    (BeautifulSoup's searches cost more than the whole walk, once per search)."""

    root: Tag
    lists: list[Tag] = field(default_factory=list)
    task_groups: list[Tag] = field(default_factory=list)
    checked: list[Tag] = field(default_factory=list)
    todos: list[Tag] = field(default_factory=list)
    code_blocks: list[Tag] = field(default_factory=list)
    tables: list[Tag] = field(default_factory=list)
    media: list[Tag] = field(default_factory=list)


def parse(enml: str) -> Body:
    """The ``<en-note>`` element of a note's ENML (the whole text when it has none). What
    comes before it (the XML declaration, the doctype) is no part of the text."""
    start = enml.find("<en-note")
    soup = BeautifulSoup(enml[start:] if start >= 0 else _PROLOG.sub("", enml), "html.parser")
    found = soup.find("en-note")
    return _indexed(found if isinstance(found, Tag) else soup)


def _indexed(root: Tag) -> Body:
    """Walk the tree once, in document order: flatten what is nested past ``MAX_DEPTH`` and
    note the elements of interest."""
    body = Body(root)
    deep: list[Tag] = []
    stack: list[tuple[Tag, int]] = [(root, 0)]
    while stack:
        element, depth = stack.pop()
        children = [child for child in element.children if isinstance(child, Tag)]
        for child in reversed(children):
            stack.append((child, depth + 1))
        if depth > MAX_DEPTH and element.name not in _LEAVES:
            deep.append(element)
            continue
        name = element.name
        if name in ("ul", "ol"):
            body.lists.append(element)
        elif name == "div":
            style = _style(element)
            if "-en-codeblock" in style and _CODE_BLOCK.search(style):
                body.code_blocks.append(element)
            elif "--en-task-group" in style and _TASK_GROUP.search(style):
                body.task_groups.append(element)
        elif name == "li":
            if "--en-checked" in _style(element):
                body.checked.append(element)
        elif name == "en-todo":
            body.todos.append(element)
        elif name == "en-media":
            body.media.append(element)
        elif name == "table":
            body.tables.append(element)
    for element in reversed(deep):  # innermost first, so every unwrap finds its parent
        element.unwrap()
    return body


def media_references(body: Body) -> list[tuple[str, str | None]]:
    """(MD5, type) of every ``en-media`` in the text, in order."""
    found: list[tuple[str, str | None]] = []
    for element in body.media:
        digest = _attribute(element, "hash").strip().lower()
        if digest:
            found.append((digest, _attribute(element, "type").strip() or None))
    return found


def render(body: Body, media: Media, task_groups: Mapping[str, Sequence[TaskLine]]) -> Rendered:
    """Markdown for the text of ``body`` (which is reshaped on the way)."""
    rendered = Rendered("")
    _nest_stray_lists(body)
    _fill_task_groups(body, task_groups)
    _mark_checklists(body)
    _place_todos(body)
    _code_blocks(body)
    _keep_complex_tables(body, media, rendered.encrypted)
    converter = _converter()
    converter.media, converter.encrypted = media, rendered.encrypted
    text = converter.convert_soup(body.root)
    rendered.markdown = _tidy(text)
    return rendered


# -- reshaping -----------------------------------------------------------------------------


def _attribute(element: Tag, name: str) -> str:
    value = element.get(name)
    if isinstance(value, list):
        return " ".join(value)
    return value or ""


def _style(element: Tag) -> str:
    return _attribute(element, "style")


def _content_children(element: Tag) -> Iterator[Tag | NavigableString]:
    """Children that show something: tags, and text that is not only whitespace."""
    for child in element.children:
        if isinstance(child, Tag) or (
            isinstance(child, NavigableString) and not isinstance(child, Comment) and child.strip()
        ):
            yield child


def _first_content(element: Tag) -> Tag | NavigableString | None:
    return next(_content_children(element), None)


def _previous_content(element: Tag) -> Tag | NavigableString | None:
    sibling = element.previous_sibling
    while sibling is not None:
        if isinstance(sibling, Tag):
            return sibling
        if isinstance(sibling, NavigableString) and sibling.strip():
            return sibling
        sibling = sibling.previous_sibling
    return None


def _nest_stray_lists(body: Body) -> None:
    """Evernote nests a sub-list directly in its list (``<ul><li/><ul/></ul>``), or in an item
    of its own (``<li><ul/></li>``); Markdown wants it inside the item before it."""
    for element in body.lists:
        parent = element.parent
        if parent is None:
            continue
        if parent.name == "li" and _first_content(parent) is element:
            previous = _previous_content(parent)
            if isinstance(previous, Tag) and previous.name == "li":
                for child in list(parent.children):
                    previous.append(child.extract())
                parent.decompose()
            continue
        if parent.name not in ("ul", "ol"):
            continue
        previous = _previous_content(element)
        if isinstance(previous, Tag) and previous.name == "li":
            previous.append(element.extract())
        else:
            element.wrap(_soup_of(body.root).new_tag("li"))


def _soup_of(element: Tag) -> BeautifulSoup:
    """The document an element belongs to (to make new elements in it)."""
    top: Tag = element
    while top.parent is not None:
        top = top.parent
    if not isinstance(top, BeautifulSoup):
        return BeautifulSoup("", "html.parser")
    return top


def _fill_task_groups(body: Body, task_groups: Mapping[str, Sequence[TaskLine]]) -> None:
    """Evernote 10 keeps a note's tasks apart and leaves a placeholder ``div`` in the text:
    it becomes the group's checklist, in Evernote's order."""
    soup = _soup_of(body.root)
    for element in body.task_groups:
        found = _TASK_GROUP_ID.search(_style(element))
        tasks = task_groups.get(found.group(1), ()) if found else ()
        if not tasks:
            continue
        checklist = soup.new_tag("ul")
        for task in sorted(tasks, key=lambda t: t.order):
            item = soup.new_tag("li")
            item["data-todo"] = "x" if task.done else " "
            item.string = task.title
            checklist.append(item)
        element.replace_with(checklist)


def _mark_checklists(body: Body) -> None:
    """Evernote 10 checklists: ``<li style="--en-checked:true">``."""
    for item in body.checked:
        found = _CHECKED.search(_style(item))
        if found:
            item["data-todo"] = "x" if found.group(1) == "true" else " "


def _place_todos(body: Body) -> None:
    """Put each legacy ``<en-todo>`` where Markdown wants its check box: a list item it opens
    gets the box, one that opens a line becomes ``- [ ]``; it is first taken out of the bold or
    italic it opens, so the box is not formatted."""
    for todo in body.todos:
        mark = "x" if _attribute(todo, "checked").strip().lower() == "true" else " "
        todo["data-mark"] = mark
        parent = todo.parent
        while parent is not None and parent.name in INLINE and _first_content(parent) is todo:
            parent.insert_before(todo.extract())
            parent = todo.parent
        if parent is None:
            continue
        if parent.name == "li" and _first_content(parent) is todo:
            parent["data-todo"] = mark
            todo.decompose()
            continue
        previous = _previous_content(todo)
        if previous is None or (isinstance(previous, Tag) and previous.name in _LINE_BREAKING):
            todo["data-line"] = "start"
            if previous is None and parent.name in ("div", "p"):
                parent["data-todo-block"] = "1"


def _code_blocks(body: Body) -> None:
    """A ``div`` styled ``-en-codeblock:true`` (one ``div`` per line) becomes a ``pre``."""
    soup = _soup_of(body.root)
    for element in body.code_blocks:
        if element.parent is None or any(p.name == "pre" for p in element.parents):
            continue  # inside a code block already made
        block = soup.new_tag("pre")
        block.string = code_text(element)
        element.replace_with(block)


def code_text(element: Tag) -> str:
    """The text of a block as lines: one per block element or ``<br>``."""
    parts: list[str] = []

    def line_break() -> None:
        if parts and not parts[-1].endswith("\n"):
            parts.append("\n")

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, Tag):
                if child.name == "br":
                    parts.append("\n")
                elif child.name in BLOCKS:
                    line_break()
                    walk(child)
                    line_break()
                else:
                    walk(child)
            elif isinstance(child, NavigableString) and not isinstance(child, Comment):
                text = str(child)
                if text.strip() or "\n" not in text:  # indentation of the ENML itself is not
                    parts.append(text)

    walk(element)
    return "".join(parts).replace("\xa0", " ").strip("\n")


def _complex(table: Tag) -> bool:
    """Whether a table needs more than a Markdown table can say."""
    for element in table.descendants:
        if not isinstance(element, Tag):
            continue
        if element.name in _NOT_IN_CELLS:
            return True
        if element.name in ("td", "th"):
            for span in ("colspan", "rowspan"):
                value = _attribute(element, span).strip()
                if value and value != "1":
                    return True
    return False


def _keep_complex_tables(body: Body, media: Media, encrypted: list[dict[str, JSON]]) -> None:
    """A table Markdown cannot hold stays HTML, with Evernote's elements made plain HTML."""
    soup = _soup_of(body.root)
    for table in body.tables:
        if table.parent is None or any(p.name == "table" for p in table.parents):
            continue  # inside a table kept whole
        if not _complex(table):
            continue
        kept = soup.new_tag("isometry-html")
        kept["data-html"] = _html(table, media, encrypted)
        table.replace_with(kept)


def _html(element: Tag, media: Media, encrypted: list[dict[str, JSON]]) -> str:
    """Plain HTML for a kept table: presentation dropped, files linked, secrets marked."""
    name = element.name
    if name == "en-media":
        digest = _attribute(element, "hash").strip().lower()
        found = media.media(digest, _attribute(element, "type"))
        return found.html() if isinstance(found, Link) else html.escape(found)
    if name == "en-todo":
        checked = " checked" if _attribute(element, "checked").lower() == "true" else ""
        return f'<input type="checkbox" disabled{checked}>'
    if name == "en-crypt":
        block = _encrypted_block(element)
        encrypted.append(block)
        marks = "".join(
            f' data-{name}="{html.escape(str(block[name]))}"'
            for name in ("cipher", "length", "hint")
            if name in block
        )
        cipher_text = html.escape(str(block["cipher_text"]))
        return f'<pre class="evernote-encrypted"{marks}>{cipher_text}</pre>'
    if name == "img" and _attribute(element, "src").startswith("data:"):
        link = media.data_image(_attribute(element, "src"), _attribute(element, "alt"))
        return link.html() if link is not None else html.escape(_attribute(element, "alt"))
    attributes = "".join(
        f' {key}="{html.escape(_attribute(element, key))}"'
        for key in element.attrs
        if key in _KEPT_ATTRIBUTES
    )
    if name in _VOID:
        return f"<{name}{attributes}>"
    inner: list[str] = []
    mark = element.get("data-todo")
    if name == "li" and mark is not None:
        inner.append("[x] " if mark == "x" else "[ ] ")
    for child in element.children:
        if isinstance(child, Tag):
            inner.append(_html(child, media, encrypted))
        elif isinstance(child, NavigableString) and not isinstance(child, Comment):
            inner.append(html.escape(str(child), quote=False))
    return f"<{name}{attributes}>{''.join(inner)}</{name}>"


def _encrypted_block(element: Tag) -> dict[str, JSON]:
    block: dict[str, JSON] = {"cipher_text": element.get_text().strip()}
    for name in ("cipher", "length", "hint"):
        value = element.get(name)
        if value is not None:
            text = _attribute(element, name)
            block[name] = int(text) if name == "length" and text.isdigit() else text
    return block


# -- writing -------------------------------------------------------------------------------


# markdownify's stub declares only ``convert`` and ``convert_soup``; its per-element writers,
# which the converter below builds on, are reached through this untyped name.
_BASE: Any = MarkdownConverter


def _chomp(text: str) -> tuple[str, str, str]:
    """(leading space, text stripped, trailing space): marks go inside the spaces."""
    prefix = " " if text[:1] == " " else ""
    suffix = " " if text[-1:] == " " else ""
    return prefix, text.strip(), suffix


class _Converter(MarkdownConverter):
    """markdownify with Evernote's elements and this project's escaping."""

    media: Media  # the note being written's files and secrets, set before each note
    encrypted: list[dict[str, JSON]]

    def __init__(self) -> None:
        super().__init__(
            heading_style=ATX,
            bullets="-",
            escape_asterisks=False,  # escaping is ours: see ``escape``
            escape_underscores=False,
            keep_inline_images_in=["td", "th"],
        )

    def escape(self, text: str, parent_tags: set[str]) -> str:
        """Text stays text: what Markdown would read as syntax is escaped, and no more."""
        if not _MAY_NEED_ESCAPE.search(text):
            return text
        text = _ESCAPED.sub(r"\\\1", text)
        text = _LONE_UNDERSCORE.sub(r"\\_", text)
        text = _TAG_OPENING.sub(r"\\<", text)
        text = _ENTITY.sub(r"\\&", text)
        text = text.replace("==", r"\=\=")
        if "td" in parent_tags or "th" in parent_tags:
            text = text.replace("|", r"\|")
        return _LINE_MARK.sub(_escape_line_mark, text)

    def convert_a(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        href = _attribute(el, "href").strip()
        if "_noformat" in parent_tags or not href:
            return text
        prefix, inner, suffix = _chomp(text)
        autolink = _AUTOLINKABLE.fullmatch(href) is not None
        if autolink and (not inner or inner.replace("\\", "") == href):
            return f"{prefix}<{href}>{suffix}"  # the link is its own text (or has none)
        # A target with spaces or brackets is written in <...>, where Markdown takes it whole.
        target = f"<{href}>" if _NEEDS_BRACKETS.search(href) else href
        title = _attribute(el, "title")
        title_part = ' "' + title.replace('"', '\\"') + '"' if title else ""
        return f"{prefix}[{inner}]({target}{title_part}){suffix}"

    def convert_en_todo(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        box = "[x] " if el.get("data-mark") == "x" else "[ ] "
        if "_inline" in parent_tags or el.get("data-line") != "start":
            return box
        return "\n- " + box

    def convert_br(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "td" in parent_tags or "th" in parent_tags:
            return "\n"
        following = el.next_sibling
        while isinstance(following, NavigableString) and not following.strip():
            following = following.next_sibling
        if isinstance(following, Tag) and following.get("data-line") == "start":
            return ""  # the check box after it starts a list item, on a line of its own
        result: str = _BASE.convert_br(self, el, text, parent_tags)
        return result

    def convert_div(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "td" in parent_tags or "th" in parent_tags:
            return text.strip() + "\n"
        if el.get("data-todo-block") or (el.parent is not None and el.parent.name == "li"):
            return "\n" + text.strip() + "\n"  # no blank lines inside a list
        result: str = _BASE.convert_div(self, el, text, parent_tags)
        return result

    convert_p = convert_div

    def convert_hN(self, n: int, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "td" in parent_tags or "th" in parent_tags:
            return text.strip() + "\n"
        result: str = _BASE.convert_hN(self, n, el, text, parent_tags)
        return result

    def convert_td(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        return " " + "<br>".join(lines) + " |"

    convert_th = convert_td

    def convert_li(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        mark = el.get("data-todo")
        if mark is not None:
            text = ("[x] " if mark == "x" else "[ ] ") + (text or "").strip()
        result: str = _BASE.convert_li(self, el, text, parent_tags)
        return result

    def convert_en_media(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        found = self.media.media(_attribute(el, "hash").strip().lower(), _attribute(el, "type"))
        return found.markdown() if isinstance(found, Link) else self.escape(found, parent_tags)

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        src = _attribute(el, "src")
        if src.startswith("data:"):
            link = self.media.data_image(src, _attribute(el, "alt"))
            return link.markdown() if link is not None else ""
        result: str = _BASE.convert_img(self, el, text, parent_tags)
        return result

    def convert_en_crypt(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        block = _encrypted_block(el)
        self.encrypted.append(block)
        info = "evernote-encrypted"
        for name in ("cipher", "length", "hint"):
            if name in block:
                value = json.dumps(block[name], ensure_ascii=False).replace("`", "\\u0060")
                info += f" {name}={value}"
        body = str(block["cipher_text"])
        if "_inline" in parent_tags:
            return f"`{info} {body}`"
        return f"\n\n```{info}\n{body}\n```\n\n"

    def convert_span(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        style = _style(el)
        if "_noformat" in parent_tags or not _HIGHLIGHT.search(style):
            return text
        if _NO_BACKGROUND.search(style) and "highlight" not in style:
            return text
        prefix, inner, suffix = _chomp(text)
        return f"{prefix}=={inner}=={suffix}" if inner else text

    def convert_u(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_noformat" in parent_tags:
            return text
        prefix, inner, suffix = _chomp(text)
        return f"{prefix}<u>{inner}</u>{suffix}" if inner else text

    def convert_strike(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        result: str = _BASE.convert_del(self, el, text, parent_tags)
        return result

    def convert_pre(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if not text:
            return ""
        longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"\n\n{fence}\n{text.strip(chr(10))}\n{fence}\n\n"

    def convert_isometry_html(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return "\n\n" + _attribute(el, "data-html") + "\n\n"


def _escape_line_mark(found: re.Match[str]) -> str:
    """A line start Markdown would read as a heading, quote or list item, made text: a
    backslash before the mark (``\\#``), or before the dot of a number (``1\\.``)."""
    indent, mark = found.group(1), found.group(2)
    return f"{indent}{mark}\\" if mark[0].isdigit() else f"{indent}\\{mark}"


_local = threading.local()


def _converter() -> _Converter:
    """This thread's converter: making one costs more than writing a short note with it."""
    converter: _Converter | None = getattr(_local, "converter", None)
    if converter is None:
        converter = _local.converter = _Converter()
    return converter


def _tidy(text: str) -> str:
    text = _BLANK_LINE.sub("", text.replace("\r\n", "\n"))
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip() + ("\n" if text.strip() else "")
