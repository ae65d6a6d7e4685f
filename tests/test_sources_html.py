"""The ``html`` importer: saved web pages written here (articles, small pages, encodings, odd
input), the fixtures it must leave alone, and a folder through the engine."""

from __future__ import annotations

import codecs
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isometry import api
from isometry.errors import PermissionRefused, SourceError, SourceUnreadable
from isometry.etl import templates
from isometry.etl.states import State
from isometry.model import JSON, node_id_for, node_row
from isometry.sources import registry
from isometry.sources.base import Draft, Item, Options, Rejected
from isometry.sources.htmlpages import HtmlImporter
from isometry.vcs.repository import Repository
from openers import DirectOpener, RefusingOpener
from paths import FIXTURES as SHARED_FIXTURES

BOOKMARKS = SHARED_FIXTURES / "bookmarks" / "bookmarks_chrome.html"
IMPORTER = HtmlImporter()
NO_OPTIONS = Options()
AUTHOR = "alice"

PARAGRAPHS = (
    "The first river runs cold and fast through the valley, and the walk along it takes most "
    "of a day. We started at dawn and reached the bridge by noon, tired but happy.",
    "The second river is slow and wide. Fishermen sit along it all summer and talk about the "
    "weather and the fish that got away, and nobody hurries anywhere.",
    "The third river is the shortest of the three but the most beautiful, with waterfalls "
    "every few hundred metres and a lake at its end where the walk finishes.",
)

ARTICLE = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>Rivers of the North | Example News</title>
<meta property="og:title" content="Rivers of the North">
<meta property="og:url" content="https://news.example.com/share/rivers">
<meta property="og:site_name" content="Example News">
<meta property="og:type" content="article">
<meta property="article:tag" content="hiking">
<meta property="article:tag" content="rivers">
<meta name="description" content="A long walk along three rivers.">
<meta name="keywords" content="rivers, hiking, north">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2024-03-05T10:30:00+02:00">
<meta property="article:modified_time" content="2024-03-06T08:00:00Z">
<meta name="viewport" content="width=device-width">
<link rel="canonical" href="https://news.example.com/2024/03/rivers">
<style>body {{ color: red }} .tracker {{ display: none }}</style>
<script>window.tracking = "SECRET-TRACKER"; document.write("injected");</script>
</head>
<body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article>
<h1>Rivers of the North</h1>
<p>{PARAGRAPHS[0]}</p>
<p>Typing &lt;script&gt;alert("pwned")&lt;/script&gt; in a comment box should do nothing, and
here it is only text to read.</p>
<script>steal(document.cookie)</script>
<h2>The second river</h2>
<p>{PARAGRAPHS[1]} See <a href="https://example.org/map">the map</a>.</p>
<ul><li>Bring water</li><li>Bring a hat</li></ul>
<p>{PARAGRAPHS[2]}</p>
</article>
<footer>Copyright 2019 Example News</footer>
</body>
</html>
"""

SMALL = """<html><head><title>Shopping</title>
<style>h1 { font-size: 3em }</style><script>track()</script></head>
<body><h1>Saturday</h1><p>Eggs &amp; <b>bread</b> &lt;b&gt;not bold&lt;/b&gt;</p>
<noscript>Turn JavaScript on</noscript><template><p>Hidden template</p></template>
<pre><code>if a &lt; b: pass</code></pre></body></html>"""


OPENER = DirectOpener()


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read_all(path: Path, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, OPENER, NO_OPTIONS, cursor))


def only(path: Path) -> Item:
    (pair,) = read_all(path)
    return pair[0]


def node(path: Path) -> dict[str, JSON]:
    item = only(path)
    assert isinstance(item, Draft), item
    return dict(item.node)


def properties(found: dict[str, JSON]) -> dict[str, JSON]:
    value = found["properties"]
    assert isinstance(value, dict)
    return value


def reason_of(item: Item) -> str:
    assert isinstance(item, Rejected), item
    return item.reason


def page(title: str, body: str, head: str = "") -> str:
    return f"<html><head><title>{title}</title>{head}</head><body>{body}</body></html>"


# -- registration and acceptance ------------------------------------------------------------


def test_registered_with_the_permissions_of_its_template() -> None:
    loaded = registry.load("html")
    assert isinstance(loaded, HtmlImporter)
    assert (loaded.name, loaded.version) == ("html", "1")
    assert loaded.permissions == frozenset({"file-system"})
    assert templates.get("html-import").permissions == loaded.permissions


def test_accepts_pages_but_not_bookmark_exports(tmp_path: Path) -> None:
    for name in ("a.html", "b.htm", "c.xhtml", "D.HTML"):
        assert IMPORTER.accepts(write(tmp_path / name, SMALL)), name
    assert not IMPORTER.accepts(write(tmp_path / "page.txt", SMALL))
    assert not IMPORTER.accepts(BOOKMARKS)  # the fixture: the bookmarks importer reads it
    netscape = "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<TITLE>Bookmarks</TITLE><DL><p></DL>"
    assert not IMPORTER.accepts(write(tmp_path / "bookmarks.htm", netscape))
    assert IMPORTER.accepts(tmp_path / "missing.html")  # reading it will say what is wrong


# -- articles ---------------------------------------------------------------------------------


def test_an_article_page(tmp_path: Path) -> None:
    path = write(tmp_path / "rivers.html", ARTICLE)
    found = node(path)
    node_row(found)  # valid for the model as it is
    assert found["source"] == "html"
    assert found["source_id"] == str(path.resolve())
    assert found["node_type"] == "article"
    assert found["name"] == "Rivers of the North"  # og:title over <title>
    assert found["source_url"] == "https://news.example.com/2024/03/rivers"  # canonical
    assert found["created_at"] == "2024-03-05T08:30:00Z"  # published, in UTC
    assert found["modified_at"] == "2024-03-06T08:00:00Z"
    assert found["summary"] == "A long walk along three rivers."
    content = str(found["content"])
    assert content.startswith("# Rivers of the North\n\n" + PARAGRAPHS[0])
    assert "## The second river" in content
    assert "[the map](https://example.org/map)" in content
    assert "- Bring water\n- Bring a hat" in content
    assert PARAGRAPHS[2] in content
    for gone in ("SECRET-TRACKER", "injected", "steal", "color: red", "Home", "Copyright"):
        assert gone not in content, gone
    # The script the page shows as text stays text; none is left a renderer would run.
    assert '\\<script>alert("pwned")\\</script>' in content
    assert "<" not in content.replace("\\<", "")
    props = properties(found)
    assert props["author"] == "Jane Doe"
    assert props["site_name"] == "Example News"
    assert props["language"] == "en-GB"
    assert props["keywords"] == ["rivers", "hiking", "north"]
    assert props["title"] == "Rivers of the North | Example News"
    assert props["url"] == "https://news.example.com/share/rivers"
    assert props["extraction"] == "trafilatura"
    assert props["encoding"] == "utf-8"
    meta = props["meta"]
    assert isinstance(meta, dict)
    assert meta["viewport"] == "width=device-width"  # every meta is kept
    assert meta["article:tag"] == ["hiking", "rivers"]
    assert meta["og:type"] == "article"


def test_dates_and_authors_from_json_ld(tmp_path: Path) -> None:
    linked = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "A blog"},
            {"@type": "BlogPosting", "headline": "Only JSON-LD",
             "datePublished": "2021-11-02T09:15:00-05:00", "dateModified": "2021-11-03T00:00:00Z",
             "author": {"@type": "Person", "name": "Sam Writer"}},
        ],
    }  # fmt: skip
    head = f'<script type="application/ld+json">{json.dumps(linked)}</script>'
    body = "<main><h1>Only JSON-LD</h1>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</main>"
    found = node(write(tmp_path / "ld.html", page("Only JSON-LD", body, head)))
    assert found["node_type"] == "article"
    assert found["created_at"] == "2021-11-02T14:15:00Z"
    assert found["modified_at"] == "2021-11-03T00:00:00Z"
    assert properties(found)["author"] == "Sam Writer"
    assert properties(found)["json_ld"] == [linked]


def test_a_date_in_a_time_element(tmp_path: Path) -> None:
    body = (
        '<article><h1>Notes</h1><time datetime="2020-02-03T04:05:06Z" pubdate>3 Feb</time>'
        + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
        + "</article>"
    )
    found = node(write(tmp_path / "t.html", page("Notes", body)))
    assert (found["node_type"], found["created_at"]) == ("article", "2020-02-03T04:05:06Z")


def test_dates_the_prose_mentions_are_no_publication_date(tmp_path: Path) -> None:
    body = "".join(f"<p>{p} On 12 May 2022 we went back.</p>" for p in PARAGRAPHS)
    found = node(write(tmp_path / "p.html", page("Trip", body)))
    assert found["node_type"] == "document"
    assert "created_at" not in found


def test_relative_canonical_urls_are_made_absolute(tmp_path: Path) -> None:
    with_base = page("A", "<p>x</p>", '<base href="https://a.example/dir/">'
                     '<link rel="canonical" href="page.html">')  # fmt: skip
    assert node(write(tmp_path / "a.html", with_base))["source_url"] == (
        "https://a.example/dir/page.html"
    )
    with_og = page("B", "<p>x</p>", '<meta property="og:url" content="https://b.example/x/y">'
                   '<link rel="Canonical Alternate" href="/z">')  # fmt: skip
    assert node(write(tmp_path / "b.html", with_og))["source_url"] == "https://b.example/z"
    only_og = page("C", "<p>x</p>", '<meta property="og:url" content="https://c.example/">')
    assert node(write(tmp_path / "c.html", only_og))["source_url"] == "https://c.example/"


# -- small pages --------------------------------------------------------------------------------


def test_a_small_page_is_converted_whole_without_scripts_or_styles(tmp_path: Path) -> None:
    found = node(write(tmp_path / "shopping.html", SMALL))
    assert found["node_type"] == "document"
    assert found["name"] == "Shopping"
    assert found["content"] == (
        "# Saturday\n\nEggs & **bread** \\<b>not bold\\</b>\n\n```\nif a < b: pass\n```"
    )
    assert properties(found)["extraction"] == "whole-body"


def test_names_fall_back_to_the_first_heading_then_the_file(tmp_path: Path) -> None:
    heading = write(
        tmp_path / "h.html", "<html><body><h1> Big  <i>news</i> </h1><p>x</p></body></html>"
    )
    assert node(heading)["name"] == "Big news"
    fragment = write(tmp_path / "saved fragment.htm", "<p>Just a <b>fragment</b></p><p>two</p>")
    found = node(fragment)
    assert found["name"] == "saved fragment"
    assert found["content"] == "Just a **fragment**\n\ntwo"


def test_a_keep_html_twin_is_just_a_page(tmp_path: Path) -> None:
    keep = tmp_path / "Takeout" / "Keep"
    write(keep / "Pinned text note.json", json.dumps({"title": "Pinned text note"}))
    twin = write(
        keep / "Pinned text note.html",
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 '
        'Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://'
        'www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" content="text/html; '
        'charset=utf-8"/><title>Pinned text note</title><style type="text/css">body{margin:0}'
        '</style></head><body><div class="note DEFAULT"><div class="heading">Aug 1, 2023, '
        '2:42:07 PM</div><div class="title">Pinned text note</div><div class="content">This '
        "note is just a plain simple text note that is pinned.</div></div></body></html>",
    )
    assert IMPORTER.accepts(twin)
    found = node(twin)
    assert found["name"] == "Pinned text note"
    assert "This note is just a plain simple text note that is pinned." in str(found["content"])
    assert "margin" not in str(found["content"])


# -- encodings and bad input --------------------------------------------------------------------

TEXT = "Caf\u00e9 \u201cna\u00efve\u201d \u2014 cr\u00e8me br\u00fbl\u00e9e"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF8 + page(TEXT, f"<p>{TEXT}</p>").encode(), "utf-8"),
        (codecs.BOM_UTF16_LE + page(TEXT, f"<p>{TEXT}</p>").encode("utf-16-le"), "utf-16-le"),
        (page(TEXT, f"<p>{TEXT}</p>", '<meta charset="windows-1252">').encode("cp1252"), "cp1252"),
        (
            page(
                TEXT,
                f"<p>{TEXT}</p>",
                '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">',
            ).encode("cp1252"),
            "cp1252",
        ),
        (page(TEXT, f"<p>{TEXT}</p>", '<meta charset="utf-8">').encode("utf-8"), "utf-8"),
        (page(TEXT, f"<p>{TEXT}</p>").encode("utf-8"), "utf-8"),
    ],
)
def test_encodings_from_marks_and_declarations(tmp_path: Path, data: bytes, encoding: str) -> None:
    found = node(write(tmp_path / "p.html", data))
    assert found["name"] == TEXT
    assert TEXT in str(found["content"])
    assert properties(found)["encoding"] == encoding


def test_an_undeclared_legacy_encoding_is_detected(tmp_path: Path) -> None:
    text = "D\u00e9j\u00e0 vu: l'\u00e9t\u00e9 \u00e0 la campagne, tr\u00e8s agr\u00e9able. " * 8
    found = node(
        write(tmp_path / "p.html", page("\u00c9t\u00e9", f"<p>{text}</p>").encode("cp1252"))
    )
    assert found["name"] == "\u00c9t\u00e9"
    assert "D\u00e9j\u00e0 vu" in str(found["content"])


def test_a_wrong_declaration_gives_way_to_the_bytes(tmp_path: Path) -> None:
    data = page(TEXT, f"<p>{TEXT}</p>", '<meta charset="utf-8">').encode("cp1252")
    found = node(write(tmp_path / "p.html", data))
    assert found["name"] == TEXT


def test_an_xml_declaration_names_the_encoding(tmp_path: Path) -> None:
    data = (
        '<?xml version="1.0" encoding="ISO-8859-15"?>\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{TEXT[:4]} \u20ac</title></head>'
        f"<body><p>{TEXT[:4]} \u20ac</p></body></html>"
    ).encode("iso-8859-15")
    found = node(write(tmp_path / "p.xhtml", data))
    assert found["name"] == f"{TEXT[:4]} \u20ac"
    assert properties(found)["encoding"] == "iso8859-15"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "e.html holds no HTML"),
        (b"  \n\t ", "e.html holds no HTML"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 4,
            "not text a web page could hold: it holds NUL",
        ),
        (codecs.BOM_UTF8 + b"<p>caf\xe9</p>", "its byte order mark says utf-8, but invalid"),
    ],
)
def test_pages_that_cannot_be_read_are_rejected(tmp_path: Path, data: bytes, expected: str) -> None:
    path = write(tmp_path / "e.html", data)
    item = only(path)
    assert expected in reason_of(item)
    assert isinstance(item, Rejected)
    assert item.locator.file == str(path.resolve())
    assert (item.locator.line, item.locator.length) == (1, len(data))


def test_scan_lineage_and_hash(tmp_path: Path) -> None:
    path = write(tmp_path / "rivers.html", ARTICLE)
    data = path.read_bytes()
    scan = IMPORTER.scan(path, OPENER, NO_OPTIONS)
    assert (scan.records, scan.size) == (1, len(data))
    assert scan.fingerprint == hashlib.sha256(data).hexdigest()
    item = only(path)
    assert isinstance(item, Draft)
    assert item.source_hash == hashlib.sha256(data).hexdigest()
    assert item.raw == ARTICLE
    assert item.locator.to_json() == {
        "file": str(path.resolve()), "record": "page", "line": 1, "offset": 0, "length": len(data)
    }  # fmt: skip


def test_a_huge_page_keeps_only_a_prefix_for_quarantine(tmp_path: Path) -> None:
    paragraph = f"<p>{PARAGRAPHS[0]}</p>\n"
    path = write(tmp_path / "long.html", page("Long", paragraph * 800))
    item = only(path)
    assert isinstance(item, Draft)
    assert len(item.raw) < 70_000
    assert item.raw.endswith("more characters in the file -->")


def test_unopenable_files_and_foreign_cursors(tmp_path: Path) -> None:
    with pytest.raises(SourceUnreadable, match=r"missing\.html"):
        read_all(tmp_path / "missing.html")
    with pytest.raises(SourceUnreadable, match=r"missing\.html"):
        IMPORTER.scan(tmp_path / "missing.html", OPENER, NO_OPTIONS)
    path = write(tmp_path / "p.html", SMALL)
    with pytest.raises(PermissionRefused):
        list(IMPORTER.read(path, RefusingOpener(), NO_OPTIONS, None))
    for cursor in ({"done": False}, {"index": 1}, [True], "done"):
        with pytest.raises(SourceError, match="not a cursor"):
            read_all(path, cursor)


# -- resume -------------------------------------------------------------------------------------

_words = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), max_size=30)


@given(title=_words, paragraphs=st.lists(_words, max_size=4), tricky=st.booleans())
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_page_reads_the_same_twice_and_resumes_to_nothing(
    tmp_path: Path, title: str, paragraphs: list[str], tricky: bool
) -> None:
    from html import escape

    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if tricky:
        body += "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p><script>bad()</script>"
    path = write(tmp_path / "page.html", page(escape(title), body))
    first = read_all(path)
    assert first == read_all(path)  # deterministic
    ((item, cursor),) = first
    assert cursor == {"done": True}
    assert read_all(path, cursor) == []
    assert isinstance(item, Draft)
    row = node_row(item.node)
    assert str(row["name"]).strip()
    content = str(row["content"])
    assert "bad()" not in content
    assert "<script" not in content.replace("\\<script", "")


# -- through the engine -------------------------------------------------------------------------


def test_a_folder_of_pages_through_the_engine(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "saved"
    write(src / "rivers.html", ARTICLE)
    write(src / "lists" / "shopping.htm", SMALL)
    write(src / "bookmarks.html", "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p></DL>")
    write(src / "broken.html", b"\x00\x01\x02\x03 binary")
    write(src / "notes.txt", "not a page")
    grants = [f"file-system={src}"]
    config = {"max_error_rate": 0.5}  # one of the three pages is bad on purpose
    op = api.import_(repo, "html-import", [src], author=AUTHOR, grants=grants, config=config,
                     base=tmp_path)  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert (op.counts["read"], op.counts["inserted"], op.counts["quarantined"]) == (3, 2, 1)
    nodes = {str(n["name"]): n for n in api.nodes(repo)}
    assert set(nodes) == {"Rivers of the North", "Shopping"}
    rivers = nodes["Rivers of the North"]
    assert rivers["id"] == node_id_for("html", str((src / "rivers.html").resolve()))
    assert rivers["source_url"] == "https://news.example.com/2024/03/rivers"
    assert rivers["node_type"] == "article"
    (entry,) = api.quarantine(repo, op.id)
    assert "broken.html is not text a web page could hold" in str(entry["reason"])
    assert api.lineage(repo, node=str(rivers["id"]))
    again = api.import_(repo, "html-import", [src], author=AUTHOR, grants=grants, config=config,
                        base=tmp_path)  # fmt: skip
    assert (again.counts["inserted"], again.counts["updated"], again.counts["unchanged"]) == (
        0, 0, 2
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Privet: \u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u042d\u0442\u043e "
         "\u0441\u0442\u0440\u0430\u043d\u0438\u0446\u0430 \u043d\u0430 \u0440\u0443\u0441\u0441"
         "\u043a\u043e\u043c \u044f\u0437\u044b\u043a\u0435. " * 3, "cp1251"),
        ("\u3053\u308c\u306f\u65e5\u672c\u8a9e\u306e\u30da\u30fc\u30b8\u3067\u3059\u3002" * 4,
         "shift_jis"),
        ("Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144, polski tekst. " * 3,
         "cp1250"),
    ],
)  # fmt: skip
def test_other_undeclared_encodings_are_detected(tmp_path: Path, text: str, encoding: str) -> None:
    found = node(write(tmp_path / "p.html", page("x", f"<p>{text}</p>").encode(encoding)))
    assert text.strip() in str(found["content"])


def test_an_articles_pictures_stay_in_its_text_as_links(tmp_path: Path) -> None:
    text = "The first river runs cold and fast through the valley, and the walk takes a day. "
    body = (
        "<article><h1>Rivers</h1>"
        + "".join(f"<p>{text}Part {n}.</p>" for n in range(6))
        + '<figure><img src="page_files/river.jpg" alt="The river"></figure>'
        + "".join(f"<p>{text}More {n}.</p>" for n in range(3))
        + "</article>"
    )
    found = node(write(tmp_path / "rivers.html", page("Rivers", body)))
    assert "![The river](page_files/river.jpg)" in str(found["content"])
