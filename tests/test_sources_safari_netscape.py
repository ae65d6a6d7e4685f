"""The ``safari`` importer on Netscape bookmark HTML: the real Chrome export checked against its
JSON twin, and Safari's and Firefox's ways of writing the format."""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isometry.model import JSON
from isometry.sources.base import Draft, Item, Options, Rejected
from isometry.sources.safari import SafariImporter
from isometry.sources.safari.netscape import epoch_time
from openers import DirectOpener
from paths import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "bookmarks"
CHROME_HTML = FIXTURES / "bookmarks_chrome.html"
CHROME_JSON = FIXTURES / "bookmarks_chrome.json"
IMPORTER = SafariImporter()
HEAD = """<!DOCTYPE NETSCAPE-Bookmark-file-1>
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks</H1>
"""


def read_all(path: Path, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, DirectOpener(), Options(), cursor))


def nodes(path: Path) -> list[dict[str, JSON]]:
    return [dict(item.node) for item, _ in read_all(path) if isinstance(item, Draft)]


def write(path: Path, body: str, head: str = HEAD) -> Path:
    path.write_text(head + body, encoding="utf-8")
    return path


# -- the Chrome export and its JSON twin ---------------------------------------------------

# Chrome counts microseconds from 1601-01-01 in its JSON.
_CHROME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
# The roots Chrome writes without a heading in its HTML export: their entries sit at the top.
_UNNAMED_ROOTS = ("other", "synced")


def _twin() -> tuple[set[tuple[str, str, str, str]], set[str]]:
    """(folder, name, url, added) of every bookmark the JSON lists, and every folder path."""
    roots = json.loads(CHROME_JSON.read_text(encoding="utf-8"))["roots"]
    found: set[tuple[str, str, str, str]] = set()
    folders: set[str] = set()

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        for child in node["children"]:
            if child["type"] == "folder":
                inner = (*path, child["name"])
                folders.add("/".join(inner))
                walk(child, inner)
            else:
                added = _CHROME_EPOCH + timedelta(microseconds=int(child["date_added"]))
                stamp = added.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
                found.add(("/".join(path), child["name"], child["url"], stamp))

    bar = roots["bookmark_bar"]
    folders.add(bar["name"])
    walk(bar, (bar["name"],))
    for name in _UNNAMED_ROOTS:
        walk(roots[name], ())
    return found, folders


def test_the_chrome_export_gives_exactly_the_bookmarks_and_folders_of_its_json_twin() -> None:
    expected, expected_folders = _twin()
    got = nodes(CHROME_HTML)
    assert len(got) == len(expected) == 27
    assert {(str(n.get("folder", "")), n["name"], n["source_url"], n["created_at"])
            for n in got} == expected  # fmt: skip
    folders = set()
    for node in got:
        parts = str(node.get("folder", "")).split("/")
        folders |= {"/".join(parts[:i]) for i in range(1, len(parts) + 1)} - {""}
    assert folders == expected_folders
    assert all(n["node_type"] == "bookmark" for n in got)
    assert all(n["source"] == "safari" for n in got)
    assert len({n["source_id"] for n in got}) == 27


def test_the_chrome_export_keeps_icons_and_locates_each_bookmark_exactly() -> None:
    data = CHROME_HTML.read_bytes()
    lines = data.split(b"\n")
    items = read_all(CHROME_HTML)
    for item, _ in items:
        assert isinstance(item, Draft)
        loc = item.locator
        assert loc.file == str(CHROME_HTML)
        assert loc.offset is not None
        assert loc.length is not None
        assert loc.line is not None
        chunk = data[loc.offset : loc.offset + loc.length]
        assert chunk.decode() == item.raw
        assert chunk.startswith(b"<A HREF=")
        assert chunk in lines[loc.line - 1]
        assert str(item.node["source_id"]) == f"{CHROME_HTML}#{loc.record}"
    found = [item for item, _ in items if isinstance(item, Draft)]
    python = next(d for d in found if d.node["name"] == "Welcome to Python.org")
    assert python.locator.line == 25
    assert python.locator.record == "Bookmarks bar/Programming/Languages/https://www.python.org/"
    icon = python.node["properties"]["icon"]
    assert icon.startswith("data:image/png;base64,")
    assert icon.encode() in lines[24]
    assert "properties" not in found[0].node  # only HREF and ADD_DATE


def test_scanning_the_chrome_export_counts_and_fingerprints_it() -> None:
    scan = IMPORTER.scan(CHROME_HTML, DirectOpener(), Options())
    data = CHROME_HTML.read_bytes()
    assert (scan.records, scan.size) == (27, len(data))
    assert scan.fingerprint == hashlib.sha256(data).hexdigest()


def test_reading_the_chrome_export_again_from_every_cursor_gives_what_followed() -> None:
    whole = read_all(CHROME_HTML)
    assert [c for _, c in whole] == [{"index": n} for n in range(1, 28)]
    for position in (1, 2, 9, 17, 26, 27):
        assert read_all(CHROME_HTML, whole[position - 1][1]) == whole[position:]


# -- Safari's and Firefox's exports --------------------------------------------------------

SAFARI = """<HTML>
<DT><H3 FOLDED>Favorites</H3>
<DL><p>
\t<DT><A HREF="https://www.apple.com/">Apple</A>
\t<DT><H3 FOLDED>Work</H3>
\t<DL><p>
\t\t<DT><A HREF="https://docs.example.org/guide?a=1&amp;b=2">Guide &#8212; part 1</A>
\t</DL><p>
</DL><p>
<DT><H3 FOLDED>Bookmarks Menu</H3>
<DL><p>
</DL><p>
<DT><H3 FOLDED id="com.apple.ReadingList">Reading List</H3>
<DL><p>
\t<DT><A HREF="https://webkit.org/blog/">WebKit Blog</A>
\t<DD>News from the WebKit team,
\tover two lines.
\t<DT><A HREF="https://swift.org/blog/"></A>
</DL><p>
</HTML>
"""


def test_safaris_export_has_its_folders_and_reading_list_articles(tmp_path: Path) -> None:
    got = nodes(
        write(tmp_path / "Safari Bookmarks.html", SAFARI, "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n")
    )
    assert [(n["node_type"], n.get("folder"), n["name"], n["source_url"], n.get("summary"))
            for n in got] == [
        ("bookmark", "Favorites", "Apple", "https://www.apple.com/", None),
        ("bookmark", "Favorites/Work", "Guide \u2014 part 1",
         "https://docs.example.org/guide?a=1&b=2", None),
        ("article", "Reading List", "WebKit Blog", "https://webkit.org/blog/",
         "News from the WebKit team,\n\tover two lines."),
        ("article", "Reading List", "https://swift.org/blog/", "https://swift.org/blog/", None),
    ]  # fmt: skip


FIREFOX = "\n".join(
    [
        "<DL><p>",
        '    <DT><H3 ADD_DATE="1700000000" LAST_MODIFIED="1700000500"'
        ' PERSONAL_TOOLBAR_FOLDER="true">Bookmarks Toolbar</H3>',
        "    <DL><p>",
        '        <DT><A HREF="https://www.mozilla.org/" ADD_DATE="1700000100"'
        ' LAST_MODIFIED="1700000200" ICON_URI="https://www.mozilla.org/favicon.ico"'
        ' TAGS="web,mozilla" SHORTCUTURL="moz" LAST_CHARSET="UTF-8">Mozilla</A>',
        "        <DD>The Mozilla home page",
        "        <HR>",
        '        <DT><A HREF="https://www.mozilla.org/" ADD_DATE="1700000300">Mozilla (again)</A>',
        "        <DT><H3>Empty folder</H3>",
        '        <DT><A HREF="place:sort=8&amp;maxResults=10" ADD_DATE="0"'
        ' LAST_MODIFIED="soon">Recent Tags</A>',
        "    </DL><p>",
        '    <DT><A HREF="https://example.com/ms" ADD_DATE="1700000000123"'
        ' LAST_VISIT="1700000400">Milliseconds</A>',
        '    <DT><A HREF="https://example.com/us" ADD_DATE="1700000000123456">Microseconds</A>',
        "</DL>",
        "",
    ]
)


def test_firefoxs_attributes_tags_descriptions_and_repeats(tmp_path: Path) -> None:
    path = write(tmp_path / "bookmarks.html", FIREFOX)
    items = read_all(path)
    got = [dict(i.node) for i, _ in items if isinstance(i, Draft)]
    mozilla, again, recent, ms, us = got
    assert mozilla["folder"] == "Bookmarks Toolbar"
    assert mozilla["tags"] == ["web", "mozilla"]
    assert mozilla["summary"] == "The Mozilla home page"
    assert mozilla["created_at"] == "2023-11-14T22:15:00Z"
    assert mozilla["modified_at"] == "2023-11-14T22:16:40Z"
    assert mozilla["properties"] == {"icon_uri": "https://www.mozilla.org/favicon.ico",
                                     "shortcuturl": "moz", "last_charset": "UTF-8"}  # fmt: skip
    assert mozilla["source_id"] == f"{path}#Bookmarks Toolbar/https://www.mozilla.org/"
    assert again["source_id"] == f"{path}#Bookmarks Toolbar/https://www.mozilla.org/ #2"
    assert again["name"] == "Mozilla (again)"
    # The heading without a list is an empty folder: the next entry is not in it.
    assert recent["folder"] == "Bookmarks Toolbar"
    assert recent["source_url"] == "place:sort=8&maxResults=10"
    assert "created_at" not in recent  # ADD_DATE="0": never set
    assert recent["properties"] == {"last_modified": "soon"}  # kept as written
    assert "folder" not in ms
    assert ms["created_at"] == "2023-11-14T22:13:20.123000Z"
    assert ms["properties"] == {"last_visit": "2023-11-14T22:20:00Z"}
    assert us["created_at"] == "2023-11-14T22:13:20.123456Z"
    assert [i.locator.line for i, _ in items] == [8, 11, 13, 15, 16]


def test_a_bookmark_added_above_keeps_the_identity_of_the_others(tmp_path: Path) -> None:
    path = write(tmp_path / "bookmarks.html", FIREFOX)
    before = {i.node["source_id"]: i.source_hash for i, _ in read_all(path) if isinstance(i, Draft)}
    inserted = FIREFOX.replace(
        '    <DL><p>\n        <DT><A HREF="https://www.mozilla.org/" ADD_DATE="1700000100"',
        '    <DL><p>\n        <DT><A HREF="https://new.example/">New</A>\n'
        '        <DT><A HREF="https://www.mozilla.org/" ADD_DATE="1700000100"',
    )
    assert inserted != FIREFOX
    write(path, inserted)
    after = {i.node["source_id"]: i.source_hash for i, _ in read_all(path) if isinstance(i, Draft)}
    assert set(after) == set(before) | {f"{path}#Bookmarks Toolbar/https://new.example/"}
    assert all(after[key] == digest for key, digest in before.items())  # nothing else changed


def test_bad_bookmarks_are_rejected_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "bookmarks.html"
    body = (
        HEAD.encode()
        + b"<DL><p>\n"
        + b'<DT><A HREF="https://one.example/">One</A>\n'
        + b'<DT><A ADD_DATE="1700000000">No address</A>\n'
        + b'<DT><A HREF="https://caf\xe9.example/">Caf\xe9</A>\n'  # Latin-1 in a UTF-8 file
        + b'<DT><A HREF="https://two.example/">Two \xe2\x9c\x93</A>\n'
        + b"</DL>\n"
    )
    path.write_bytes(body)
    items = [i for i, _ in read_all(path)]
    assert [type(i).__name__ for i in items] == ["Draft", "Rejected", "Rejected", "Draft"]
    no_href, bad_bytes = items[1], items[2]
    assert isinstance(no_href, Rejected)
    assert isinstance(bad_bytes, Rejected)
    assert no_href.reason == "line 7: a bookmark without HREF"
    assert bad_bytes.reason == "line 8 is not valid utf-8"
    assert bad_bytes.locator.line == 8
    assert isinstance(items[3], Draft)
    assert items[3].node["name"] == "Two \u2713"


def test_the_declared_charset_is_used(tmp_path: Path) -> None:
    path = tmp_path / "bookmarks.htm"
    head = HEAD.replace("charset=UTF-8", "charset=windows-1252")
    path.write_bytes(
        (
            head + '<DL><p>\n<DT><A HREF="https://cafe.example/">Caf\u00e9 \u20ac</A>\n</DL>\n'
        ).encode("cp1252")
    )
    (item, _) = read_all(path)[0]
    assert isinstance(item, Draft)
    assert item.node["name"] == "Caf\u00e9 \u20ac"
    data = path.read_bytes()
    assert item.locator.offset is not None
    assert item.locator.length is not None
    assert (
        data[item.locator.offset : item.locator.offset + item.locator.length].decode("cp1252")
        == item.raw
    )


def test_a_byte_order_mark_and_crlf_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "bookmarks.html"
    text = (
        HEAD + '<DL><p>\n<DT><A HREF="https://one.example/" ADD_DATE="1700000000">One</A>\n</DL>\n'
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert IMPORTER.accepts(path)
    (item, _) = read_all(path)[0]
    assert isinstance(item, Draft)
    assert item.node["name"] == "One"
    assert item.locator.offset is not None
    assert item.locator.length is not None
    data = path.read_bytes()
    assert (
        data[item.locator.offset : item.locator.offset + item.locator.length].decode() == item.raw
    )


def test_epoch_times() -> None:
    assert epoch_time("1700000000") == "2023-11-14T22:13:20Z"
    assert epoch_time("-868878000") == "1942-06-20T13:00:00Z"
    assert epoch_time("0") is None
    assert epoch_time("tomorrow") is None
    assert epoch_time("9" * 30) is None


def test_only_html_with_the_netscape_doctype_is_accepted(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text(
        "<!DOCTYPE html>\n<html><body><dl><dt><a href='https://x/'>x</a></dl></body></html>"
    )
    late = tmp_path / "late.html"
    late.write_text(" " * 2000 + "<!DOCTYPE NETSCAPE-Bookmark-file-1>")
    lower = tmp_path / "export.HTM"
    lower.write_text("<!doctype netscape-bookmark-file-1>\n<dl><dt><a href='https://x/'>x</a></dl>")
    assert IMPORTER.accepts(CHROME_HTML)
    assert IMPORTER.accepts(lower)
    assert not IMPORTER.accepts(page)
    assert not IMPORTER.accepts(late)
    assert [i.node["name"] for i, _ in read_all(lower) if isinstance(i, Draft)] == ["x"]


# -- any tree, any layout ------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    folder: tuple[str, ...]
    title: str
    url: str


_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
                 min_size=1, max_size=10).map(str.strip).filter(bool)  # fmt: skip
_urls = st.sampled_from(
    ["https://a.example/", "https://b.example/x?y=1&z=2", "https://c.example/é"]
)


@st.composite
def exports(draw: st.DrawFn) -> tuple[str, list[Mark]]:
    """A bookmark file (one tag a line, or all on one line) and the bookmarks it holds."""
    marks: list[Mark] = []
    parts: list[str] = []

    def entries(path: tuple[str, ...], depth: int) -> None:
        for _ in range(draw(st.integers(0, 4))):
            if depth < 3 and draw(st.booleans()):
                name = draw(_names)
                parts.append(f"<DT><H3>{html.escape(name)}</H3>")
                parts.append("<DL><p>")
                entries((*path, name), depth + 1)
                parts.append("</DL><p>")
            else:
                title, url = draw(_names), draw(_urls)
                marks.append(Mark(path, title, url))
                parts.append(
                    f'<DT><A HREF="{html.escape(url)}" ADD_DATE="1">{html.escape(title)}</A>'
                )
                if draw(st.booleans()):
                    parts.append(f"<DD>{html.escape(draw(_names))}")

    parts.append("<DL><p>")
    entries((), 0)
    parts.append("</DL><p>")
    joiner = draw(st.sampled_from(["\n", "", "\r\n  "]))
    return "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n" + joiner.join(parts) + "\n", marks


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(export=exports())
def test_any_export_reads_back_its_bookmarks_and_resumes_from_any_cursor(
    tmp_path: Path, export: tuple[str, list[Mark]]
) -> None:
    text, marks = export
    path = tmp_path / "bookmarks.html"
    path.write_bytes(text.encode())
    whole = read_all(path)
    got = [i.node for i, _ in whole if isinstance(i, Draft)]
    # A folder name holding "/" cannot be told apart in the joined path: compare joined.
    assert [n.get("folder", "") for n in got] == ["/".join(m.folder) for m in marks]
    assert [(n["name"], n["source_url"]) for n in got] == [(m.title, m.url) for m in marks]
    assert len({i.node["source_id"] for i, _ in whole if isinstance(i, Draft)}) == len(marks)
    data = path.read_bytes()
    for item, _ in whole:
        loc = item.locator
        assert loc.offset is not None
        assert loc.length is not None
        assert data[loc.offset : loc.offset + loc.length].decode() == item.raw
    assert IMPORTER.scan(path, DirectOpener(), Options()).records == len(whole)
    for position in range(1, len(whole) + 1):
        assert read_all(path, whole[position - 1][1]) == whole[position:]


@pytest.mark.parametrize("cursor", [{"index": -1}, {"id": 3}, "start"])
def test_a_cursor_of_another_kind_is_refused(cursor: JSON) -> None:
    from isometry.errors import SourceError

    with pytest.raises(SourceError, match="not a cursor"):
        read_all(CHROME_HTML, cursor)
