"""The ``html`` importer: saved web pages (``.html``, ``.htm``, ``.xhtml``), one node each.

A page's bytes are decoded by its byte order mark, else the charset it declares (``<meta
charset>``, ``http-equiv``, an XML declaration) when that decodes it, else UTF-8, else
charset-normalizer's guess; a file that none of them reads as text is ``Rejected``.

trafilatura finds the article in the page and writes it as Markdown (scripts, styles,
navigation and boilerplate left out) and reads its metadata: author, date (through htmldate,
from the markup only, never guessed from the prose), site name, description. A page where it
finds no main text (a small page) is converted whole instead: BeautifulSoup drops
``script``, ``style``, ``noscript`` and ``template`` and markdownify converts the body. In both
a ``<`` of the page's text is escaped, so text that looks like HTML stays text.

The node: ``article`` when the page has a date or an author, else ``document``; its name from
``og:title``, else ``<title>``, else the first ``<h1>``, else the file's name; ``source_url``
the canonical URL (else ``og:url``); ``created_at`` the publication date; ``modified_at`` the
date the page says it was changed; ``summary`` the meta description. ``properties`` keep the
rest: author, site name, language, keywords, every ``<meta>`` of the page, its JSON-LD.

Netscape bookmark exports are HTML too, but the bookmarks importer reads them: not accepted.
One file is one record: cursor ``{"done": true}`` once it is read.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import markdownify
import trafilatura
from bs4 import BeautifulSoup
from charset_normalizer import from_bytes
from trafilatura.metadata import extract_metadata
from trafilatura.settings import DEFAULT_CONFIG

from isometry.model import JSON
from isometry.sources.base import Draft, Item, Locator, Opener, Options, Rejected, Scan
from isometry.sources.options import OptionSpec
from isometry.sources.records import (
    BOMS,
    DONE,
    one_record_scan,
    open_source,
    parse_time,
    record_read,
)

SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
RECORD = "page"
_NETSCAPE = re.compile(rb"<!doctype\s+netscape-bookmark-file-1", re.IGNORECASE)
_PEEK = 1024
# A saved page is rarely over a few MB; past this it is not a page a person reads.
_MAX_PAGE = 64 * 1024 * 1024
# How much of a page a quarantine entry keeps: the locator finds the rest.
_RAW_MAX = 64 * 1024
# Where a page must declare its charset (the HTML standard looks at the first 1024 bytes;
# pages in the wild put it later, after long comments).
_DECLARATION_WINDOW = 4096
_META_CHARSET = re.compile(rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"<\?xml[^>]+encoding\s*=\s*[\"']([\w.:-]+)", re.IGNORECASE)
# Browsers read a page labelled Latin-1 or ASCII as windows-1252 (the HTML standard says so).
_WEB_DEFAULT = "cp1252"
_READ_AS = {"latin-1": _WEB_DEFAULT, "iso8859-1": _WEB_DEFAULT, "ascii": _WEB_DEFAULT}
# htmldate discards dates after its maximum, which defaults to today: a fixed bound keeps the
# same page giving the same node whenever it is imported. No extensive search: a date must be
# in the markup (meta, JSON-LD, <time>, the URL), not any date the text happens to mention.
DATE_SEARCH: dict[str, object] = {
    "original_date": True,
    "extensive_search": False,
    "max_date": "2199-12-31",
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}
_DROPPED_TAGS = ("script", "style", "noscript", "template")
_MODIFIED_META = ("article:modified_time", "og:updated_time", "last-modified", "dcterms.modified")
_DESCRIPTION_META = ("description", "og:description", "twitter:description", "dc.description")
_KEYWORDS_META = ("keywords", "news_keywords")

_MAIN_TEXT_MIN = DEFAULT_CONFIG.getint("DEFAULT", "MIN_EXTRACTED_SIZE")

# A page parsed by lxml, as trafilatura parses it (lxml itself carries no type information).
Tree = Any


class HtmlImporter:
    """Reads saved web pages (see the module docstring)."""

    name: ClassVar[str] = "html"
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = ()

    def accepts(self, path: Path) -> bool:
        if path.suffix.lower() not in SUFFIXES:
            return False
        try:
            with path.open("rb") as stream:
                head = stream.read(_PEEK)
        except OSError:
            return True  # reading it will say what is wrong
        return _NETSCAPE.search(head) is None

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        return one_record_scan(path, opener)

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        if record_read(cursor, path):
            return
        with open_source(path, opener) as stream:
            data = stream.read(_MAX_PAGE + 1)
        yield _page_item(path, data), dict(DONE)


def _page_item(path: Path, data: bytes) -> Item:
    """The node of the page whose bytes are ``data``, or why there is none."""
    file = str(path.resolve())
    locator = Locator(file, RECORD, 1, 0, len(data))
    if len(data) > _MAX_PAGE:
        return Rejected(locator, "", f"{path.name} is larger than {_MAX_PAGE} bytes")
    decoded = _decode(data)
    if isinstance(decoded, _Undecodable):
        raw = data[:_RAW_MAX].decode("utf-8", "replace")
        return Rejected(locator, raw, decoded.reason(path))
    text, encoding = decoded
    tree = _tree(text)
    if tree is None:
        return Rejected(locator, _raw(text), f"{path.name} holds no HTML")
    page = _Page.of(tree)
    found = _metadata(tree)
    content, extractor = _article(tree), "trafilatura"
    if not content:
        content, extractor = _whole_body(text), "whole-body"
    how: dict[str, JSON] = {"encoding": encoding, "extraction": extractor}
    return Draft(
        node=_node(path, file, page, found, content, how),
        locator=locator,
        source_hash=hashlib.sha256(data).hexdigest(),
        raw=_raw(text),
    )


def _raw(text: str) -> str:
    if len(text) <= _RAW_MAX:
        return text
    return text[:_RAW_MAX] + f"\n<!-- {len(text) - _RAW_MAX} more characters in the file -->"


# -- decoding ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Undecodable:
    why: str

    def reason(self, path: Path) -> str:
        return f"{path.name} is not text a web page could hold: {self.why}"


def _decode(data: bytes) -> tuple[str, str] | _Undecodable:
    """The page's text and the encoding it was read in (see the module docstring)."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), encoding
            except UnicodeDecodeError as error:
                return _Undecodable(f"its byte order mark says {encoding}, but {error.reason}")
    declared = _declared_encoding(data[:_DECLARATION_WINDOW])
    if declared is not None:
        try:
            return data.decode(declared), declared
        except UnicodeDecodeError:
            pass  # the declaration is wrong: tell from the bytes, as browsers do
    if b"\x00" in data:
        return _Undecodable("it holds NUL bytes")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    matches = list(from_bytes(data))
    if not matches:
        return _Undecodable("no encoding reads it as text")
    # charset-normalizer tells Western European code pages apart poorly (French comes out as
    # Baltic); browsers read an undeclared legacy page as windows-1252, so it wins whenever it
    # is among the candidates, and Cyrillic, Greek, CJK... pages still get theirs.
    if any(_WEB_DEFAULT in match.could_be_from_charset for match in matches):
        try:
            return data.decode(_WEB_DEFAULT), _WEB_DEFAULT
        except UnicodeDecodeError:
            pass
    return str(matches[0]), str(matches[0].encoding)


def _declared_encoding(head: bytes) -> str | None:
    for pattern in (_META_CHARSET, _XML_ENCODING):
        match = pattern.search(head)
        if match is None:
            continue
        try:
            name = codecs.lookup(match.group(1).decode("ascii")).name
        except (LookupError, UnicodeDecodeError):
            continue
        if name.startswith(("utf-16", "utf-32")):
            return None  # a page without a byte order mark in these does not declare itself
        return _READ_AS.get(name, name)
    return None


# -- what the page's markup says -------------------------------------------------------------


def _tree(text: str) -> Tree | None:
    """The page parsed as trafilatura parses it (the same tree serves both), or None when it
    holds no markup. trafilatura takes a text with no ``<html>`` near its start for something
    other than HTML: a saved fragment is parsed inside one."""
    if not text.strip():
        return None
    tree = trafilatura.load_html(text)
    if tree is None and "<" in text:
        tree = trafilatura.load_html(f"<html><body>{text}</body></html>")
    return tree


def _squeeze(text: str | None) -> str | None:
    squeezed = " ".join((text or "").split())
    return squeezed or None


@dataclass(frozen=True, slots=True)
class _Page:
    """What the page's own markup says about it, read before any extraction."""

    metas: dict[str, JSON]
    title: str | None
    h1: str | None
    canonical: str | None
    base: str | None
    language: str | None
    json_ld: list[JSON]

    @classmethod
    def of(cls, tree: Tree) -> _Page:
        titles = tree.xpath("//head/title") or tree.xpath("//title[not(ancestor::svg)]")
        h1s = tree.xpath("//h1")
        canonical = next(
            (
                str(link.get("href")).strip()
                for link in tree.xpath("//link[@rel and @href]")
                if "canonical" in str(link.get("rel")).lower().split()
            ),
            None,
        )
        bases = [str(b).strip() for b in tree.xpath("//base/@href") if str(b).strip()]
        language = next(
            (str(v).strip() for v in tree.xpath("/html/@lang | /html/@xml:lang") if str(v).strip()),
            None,
        )
        return cls(
            metas=_metas(tree),
            title=_squeeze(titles[0].text_content()) if titles else None,
            h1=_squeeze(h1s[0].text_content()) if h1s else None,
            canonical=canonical or None,
            base=bases[0] if bases else None,
            language=language,
            json_ld=_json_ld(tree),
        )

    def meta(self, *names: str) -> str | None:
        """The first of the named metas the page has (the first value of a repeated one)."""
        for name in names:
            value = self.metas.get(name)
            if isinstance(value, list):
                value = value[0] if value else None
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None

    def linked_data(self, key: str) -> str | None:
        """The first text value of ``key`` in the page's JSON-LD (``@graph`` entries too)."""
        for block in self.json_ld:
            entries = block if isinstance(block, list) else [block]
            for entry in entries:
                if not isinstance(entry, dict):
                    continue
                graph = entry.get("@graph")
                for thing in [entry, *(graph if isinstance(graph, list) else [])]:
                    value = thing.get(key) if isinstance(thing, dict) else None
                    if isinstance(value, str) and value.strip():
                        return value.strip()
        return None

    def url(self) -> str | None:
        """The canonical URL (else ``og:url``), made absolute against the page's base."""
        og_url = self.meta("og:url")
        for candidate in (self.canonical, og_url):
            if not candidate:
                continue
            if urlsplit(candidate).scheme:
                return candidate
            base = self.base or (og_url if og_url and urlsplit(og_url).scheme else None)
            return urljoin(base, candidate) if base else candidate
        return None


def _metas(tree: Tree) -> dict[str, JSON]:
    """Every ``<meta>`` with a name (``name``, ``property``, ``itemprop`` or ``http-equiv``,
    names lower case) and its content; a name given several times keeps every value."""
    found: dict[str, JSON] = {}
    for meta in tree.xpath("//meta[@content]"):
        key = next(
            (meta.get(a) for a in ("name", "property", "itemprop", "http-equiv") if meta.get(a)),
            None,
        )
        if key is None:
            continue
        name, value = str(key).strip().lower(), str(meta.get("content"))
        if not name:
            continue
        if name not in found:
            found[name] = value
            continue
        earlier = found[name]
        found[name] = [*earlier, value] if isinstance(earlier, list) else [earlier, value]
    return found


def _json_ld(tree: Tree) -> list[JSON]:
    """The page's JSON-LD blocks, parsed (as text when they are not JSON)."""
    blocks: list[JSON] = []
    for script in tree.xpath("//script[@type]"):
        if str(script.get("type")).strip().lower() != "application/ld+json":
            continue
        text = (script.text or "").strip()
        if not text:
            continue
        try:
            blocks.append(json.loads(text))
        except (ValueError, RecursionError):
            blocks.append(text)
    return blocks


# -- extraction -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Found:
    """What trafilatura reads in the page's metadata."""

    date: str | None = None
    author: str | None = None
    sitename: str | None = None
    description: str | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    image: str | None = None
    license: str | None = None
    pagetype: str | None = None
    hostname: str | None = None


def _metadata(tree: Tree) -> _Found:
    try:
        document = extract_metadata(tree, date_config=DATE_SEARCH)
    # trafilatura and htmldate parse whatever the page holds; a page that trips them still
    # has its own markup and its text, so only their metadata is given up.
    except Exception:
        return _Found()
    return _Found(
        date=_text(document.date),
        author=_text(document.author),
        sitename=_text(document.sitename),
        description=_text(document.description),
        categories=tuple(str(c) for c in document.categories or () if c),
        tags=tuple(str(t) for t in document.tags or () if t),
        image=_text(document.image),
        license=_text(document.license),
        pagetype=_text(document.pagetype),
        hostname=_text(document.hostname),
    )


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _article(tree: Tree) -> str:
    """The page's main text as Markdown by trafilatura, or "" when it finds none: less text
    than its own bar for a main text (``MIN_EXTRACTED_SIZE``) is what it scrapes together
    from a small page, where the whole body says more (headings kept, ``<noscript>`` out)."""
    try:
        markdown = trafilatura.extract(
            tree,
            output_format="markdown",
            include_comments=False,
            include_tables=True,
            include_links=True,
            include_formatting=True,
            include_images=True,  # kept as links to where they are: nothing dropped
            with_metadata=False,
            deduplicate=False,
        )
    # As for the metadata: a page trafilatura cannot take apart is converted whole instead.
    except Exception:
        return ""
    text = _tidy(markdown or "")
    return text if len(text) >= _MAIN_TEXT_MIN else ""


class _Converter(markdownify.MarkdownConverter):
    """markdownify, with a ``<`` in the page's text escaped (never in code, which shows it as
    it is), so that text that reads like a tag cannot become one."""

    def escape(self, text: str, parent_tags: set[str]) -> str:
        escaped: str = super().escape(text, parent_tags)  # type: ignore[misc]  # not in its stub
        return escaped.replace("<", "\\<")


_CONVERTER = _Converter(heading_style="ATX", bullets="-", escape_misc=False)


def _whole_body(text: str) -> str:
    """The whole page as Markdown, for pages with no article to find."""
    soup = BeautifulSoup(text, "html.parser")
    for element in soup.find_all(_DROPPED_TAGS):
        element.decompose()
    body = soup.body or soup
    return _tidy(str(_CONVERTER.convert_soup(body)))


_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")


def _tidy(markdown: str) -> str:
    return _BLANK_LINES.sub("\n\n", markdown).strip()


# -- the node --------------------------------------------------------------------------------


def _node(
    path: Path, file: str, page: _Page, found: _Found, content: str, how: dict[str, JSON]
) -> dict[str, JSON]:
    published = _utc(found.date)
    node: dict[str, JSON] = {
        "source": HtmlImporter.name,
        "source_id": file,
        "node_type": "article" if found.date or found.author else "document",
        "name": _squeeze(page.meta("og:title")) or page.title or page.h1 or path.stem,
        "content": content,
    }
    optional: dict[str, JSON] = {
        "source_url": page.url(),
        "created_at": published,
        "modified_at": _utc(page.meta(*_MODIFIED_META) or page.linked_data("dateModified")),
        "summary": page.meta(*_DESCRIPTION_META) or found.description,
    }
    node.update({k: v for k, v in optional.items() if v is not None})
    node["properties"] = {**_properties(page, found, node), **how}
    return node


def _utc(value: str | None) -> str | None:
    if value is None:
        return None
    moment = parse_time(value)
    return moment if isinstance(moment, str) and moment.endswith("Z") else None


def _properties(page: _Page, found: _Found, node: Mapping[str, JSON]) -> dict[str, JSON]:
    keywords = page.meta(*_KEYWORDS_META)
    values: dict[str, JSON] = {
        "author": found.author or page.meta("author", "article:author"),
        "site_name": page.meta("og:site_name") or found.sitename,
        "language": page.language or page.meta("content-language", "og:locale", "dc.language"),
        "keywords": [k.strip() for k in keywords.split(",") if k.strip()] if keywords else None,
        "published": found.date,
        "categories": list(found.categories) or None,
        # trafilatura reads the keywords meta as tags too: kept once, as keywords.
        "tags": list(found.tags) if found.tags and found.tags != (keywords,) else None,
        "image": found.image,
        "license": found.license,
        "page_type": found.pagetype,
        "hostname": found.hostname,
        "title": page.title if page.title != node.get("name") else None,
        "url": page.meta("og:url") if page.meta("og:url") != node.get("source_url") else None,
        "meta": page.metas or None,
        "json_ld": page.json_ld or None,
    }
    return {k: v for k, v in values.items() if v is not None}
