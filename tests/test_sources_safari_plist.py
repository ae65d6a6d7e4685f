"""The ``safari`` importer on Bookmarks.plist: Safari's tree, binary and XML, written here in
the structure Safari gives it (folders, the Favorites bar, the menu, the Reading List)."""

from __future__ import annotations

import base64
import copy
import hashlib
import plistlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isometry.errors import SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Draft, Item, Options, Rejected
from isometry.sources.safari import SafariImporter
from openers import DirectOpener

IMPORTER = SafariImporter()
SYNC_DATA = bytes(range(40))


def read_all(path: Path, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, DirectOpener(), Options(), cursor))


def leaf(uuid: str, url: str, title: str | None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "WebBookmarkType": "WebBookmarkTypeLeaf",
        "WebBookmarkUUID": uuid,
        "URLString": url,
        "ReadingListNonSync": {"neverFetchMetadata": False},
    }
    if title is not None:
        entry["URIDictionary"] = {"title": title}
    entry.update(extra)
    return entry


def folder(title: str, uuid: str, children: list[Any], **extra: Any) -> dict[str, Any]:
    return {"WebBookmarkType": "WebBookmarkTypeList", "Title": title, "WebBookmarkUUID": uuid,
            "Children": children, **extra}  # fmt: skip


def safari_tree() -> dict[str, Any]:
    """A Bookmarks.plist as Safari writes it (keys as in a real one)."""
    article = leaf(
        "RL-1",
        "https://webkit.org/blog/",
        "WebKit Blog",
        ReadingList={
            "DateAdded": datetime(2024, 3, 1, 12, 30),
            "DateLastViewed": datetime(2024, 3, 2, 8, 0),
            "PreviewText": "News from the WebKit team.",
            "SourceBundleID": "com.apple.mobilesafari",
        },
        ReadingListNonSync={
            "neverFetchMetadata": False,
            "siteName": "WebKit",
            "DateLastFetched": datetime(2024, 3, 1, 12, 31),
            "FetchResult": 1,
            "ArchiveOnDisk": True,
        },
        imageURL="https://webkit.org/og.png",
        Sync={"ServerID": "server-1", "Data": SYNC_DATA},
    )
    untitled = leaf(
        "RL-2",
        "https://swift.org/blog/",
        None,
        ReadingList={"DateAdded": datetime(2024, 4, 1), "PreviewText": "Swift news"},
        ReadingListNonSync={"Title": "Swift.org Blog", "neverFetchMetadata": False},
    )
    return {
        "Children": [
            {"Title": "History", "WebBookmarkIdentifier": "History",
             "WebBookmarkType": "WebBookmarkTypeProxy", "WebBookmarkUUID": "HIST"},
            folder("BookmarksBar", "BAR", [
                leaf("B-1", "https://www.apple.com/", "Apple"),
                folder("Work", "F-WORK", [
                    leaf("B-2", "https://developer.apple.com/", "Developer"),
                    folder("Docs", "F-DOCS", [leaf("B-3", "https://docs.python.org/3/", "Python")]),
                ]),
                leaf("B-4", "javascript:alert(1)", "Bookmarklet"),
            ]),
            folder("BookmarksMenu", "MENU", [leaf("B-5", "https://www.apple.com/", "Apple again")]),
            folder("com.apple.ReadingList", "RL", [article, untitled], ShouldOmitFromUI=True),
            folder("Trips", "F-TRIPS", []),
        ],
        "Title": "",
        "WebBookmarkFileVersion": 1,
        "WebBookmarkType": "WebBookmarkTypeList",
        "WebBookmarkUUID": "ROOT",
    }  # fmt: skip


def write(path: Path, tree: dict[str, Any], fmt: plistlib.PlistFormat) -> Path:
    path.write_bytes(plistlib.dumps(tree, fmt=fmt))
    return path


@pytest.fixture(params=[plistlib.FMT_BINARY, plistlib.FMT_XML], ids=["binary", "xml"])
def bookmarks(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write(tmp_path / "Bookmarks.plist", safari_tree(), request.param)


def nodes_of(path: Path) -> dict[str, dict[str, JSON]]:
    return {
        str(d.node["source_id"]): dict(d.node) for d, _ in read_all(path) if isinstance(d, Draft)
    }


def test_bookmarks_keep_their_folder_path_as_safari_shows_it(bookmarks: Path) -> None:
    nodes = nodes_of(bookmarks)
    assert set(nodes) == {"B-1", "B-2", "B-3", "B-4", "B-5", "RL-1", "RL-2"}
    assert {k: (n["node_type"], n.get("folder"), n["name"], n["source_url"])
            for k, n in nodes.items() if n["node_type"] == "bookmark"} == {
        "B-1": ("bookmark", "Favorites", "Apple", "https://www.apple.com/"),
        "B-2": ("bookmark", "Favorites/Work", "Developer", "https://developer.apple.com/"),
        "B-3": ("bookmark", "Favorites/Work/Docs", "Python", "https://docs.python.org/3/"),
        "B-4": ("bookmark", "Favorites", "Bookmarklet", "javascript:alert(1)"),
        "B-5": ("bookmark", "Bookmarks Menu", "Apple again", "https://www.apple.com/"),
    }  # fmt: skip
    assert nodes["B-1"]["properties"] == {"ReadingListNonSync": {"neverFetchMetadata": False}}


def test_reading_list_entries_are_articles_with_preview_and_dates(bookmarks: Path) -> None:
    nodes = nodes_of(bookmarks)
    article = nodes["RL-1"]
    assert article["node_type"] == "article"
    assert article["folder"] == "Reading List"
    assert article["name"] == "WebKit Blog"
    assert article["summary"] == "News from the WebKit team."
    assert article["created_at"] == "2024-03-01T12:30:00Z"
    assert article["properties"] == {
        "date_last_viewed": "2024-03-02T08:00:00Z",
        "image_url": "https://webkit.org/og.png",
        "site_name": "WebKit",
        "ReadingList": {"SourceBundleID": "com.apple.mobilesafari"},
        "ReadingListNonSync": {
            "neverFetchMetadata": False,
            "DateLastFetched": "2024-03-01T12:31:00Z",
            "FetchResult": 1,
            "ArchiveOnDisk": True,
        },
        "Sync": {"ServerID": "server-1", "Data": base64.b64encode(SYNC_DATA).decode()},
    }
    untitled = nodes["RL-2"]
    assert untitled["name"] == "Swift.org Blog"  # the title Safari fetched
    assert untitled["summary"] == "Swift news"
    assert untitled["properties"] == {"ReadingListNonSync": {"neverFetchMetadata": False}}


def test_binary_and_xml_give_the_same_nodes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    binary = write(tmp_path / "a" / "Bookmarks.plist", safari_tree(), plistlib.FMT_BINARY)
    xml = write(tmp_path / "b" / "Bookmarks.plist", safari_tree(), plistlib.FMT_XML)
    from_binary, from_xml = read_all(binary), read_all(xml)
    assert [(i.node, i.source_hash, c) for i, c in from_binary if isinstance(i, Draft)] == [
        (i.node, i.source_hash, c) for i, c in from_xml if isinstance(i, Draft)
    ]


def test_locators_name_the_bookmarks_uuid_and_cursors_count_entries(bookmarks: Path) -> None:
    items = read_all(bookmarks)
    assert [c for _, c in items] == [{"index": n} for n in range(1, 8)]
    assert [i.locator.record for i, _ in items] == [
        "B-1",
        "B-2",
        "B-3",
        "B-4",
        "B-5",
        "RL-1",
        "RL-2",
    ]
    assert all(i.locator.file == str(bookmarks) for i, _ in items)


def test_scan_counts_bookmarks_and_fingerprints_the_file(bookmarks: Path) -> None:
    scan = IMPORTER.scan(bookmarks, DirectOpener(), Options())
    data = bookmarks.read_bytes()
    assert (scan.records, scan.size) == (7, len(data))
    assert scan.fingerprint == hashlib.sha256(data).hexdigest()


def test_entries_safari_could_not_have_written_are_rejected_one_by_one(tmp_path: Path) -> None:
    tree = safari_tree()
    bar = tree["Children"][1]["Children"]
    bar.insert(1, {"WebBookmarkType": "WebBookmarkTypeLeaf", "WebBookmarkUUID": "NO-URL"})
    bar.insert(2, "a string where a bookmark belongs")
    bar.insert(3, {"WebBookmarkType": "WebBookmarkTypeSomethingNew", "WebBookmarkUUID": "X"})
    tree["Children"].append(folder("Broken", "F-BROKEN", []))
    tree["Children"][-1]["Children"] = "not a list"
    path = write(tmp_path / "Bookmarks.plist", tree, plistlib.FMT_BINARY)
    items = [item for item, _ in read_all(path)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(items) == 7 + 4
    assert [(r.locator.record, r.reason) for r in rejected] == [
        ("Children[1]/Children[1]", "Children[1]/Children[1]: a bookmark without URLString"),
        ("Children[1]/Children[2]", "Children[1]/Children[2]: not a dictionary"),
        ("Children[1]/Children[3]",
         "Children[1]/Children[3]: unknown WebBookmarkType 'WebBookmarkTypeSomethingNew'"),
        ("Children[5]", "Children[5]: Children is not a list"),
    ]  # fmt: skip
    assert "NO-URL" in rejected[0].raw
    assert IMPORTER.scan(path, DirectOpener(), Options()).records == 11


def test_a_bookmark_without_uuid_is_kept_under_its_place(tmp_path: Path) -> None:
    tree = safari_tree()
    del tree["Children"][1]["Children"][0]["WebBookmarkUUID"]
    path = write(tmp_path / "Bookmarks.plist", tree, plistlib.FMT_XML)
    (first, _) = read_all(path)[0]
    assert isinstance(first, Draft)
    assert first.node["source_id"] == f"{path}#Children[1]/Children[0]"
    assert first.locator.record == "Children[1]/Children[0]"


def test_an_edit_or_a_move_changes_only_that_bookmark(tmp_path: Path) -> None:
    path = write(tmp_path / "Bookmarks.plist", safari_tree(), plistlib.FMT_BINARY)
    before = {d.node["source_id"]: d.source_hash for d, _ in read_all(path) if isinstance(d, Draft)}
    tree = safari_tree()
    bar = tree["Children"][1]["Children"]
    bar[0]["URIDictionary"]["title"] = "Apple Inc."
    moved = bar[1]["Children"].pop(0)  # Developer: from Work to the menu
    tree["Children"][2]["Children"].append(moved)
    write(path, tree, plistlib.FMT_BINARY)
    after = {d.node["source_id"]: d for d, _ in read_all(path) if isinstance(d, Draft)}
    changed = {k for k, h in before.items() if after[k].source_hash != h}
    assert changed == {"B-1", "B-2"}
    assert after["B-2"].node["folder"] == "Bookmarks Menu"
    assert after["B-1"].node["name"] == "Apple Inc."


def test_files_that_are_no_bookmark_list_are_unreadable(tmp_path: Path) -> None:
    broken = tmp_path / "Bookmarks.plist"
    broken.write_bytes(b"bplist00" + b"\x00" * 40)
    with pytest.raises(SourceUnreadable, match=r"Bookmarks\.plist is not a property list"):
        IMPORTER.scan(broken, DirectOpener(), Options())
    other = write(tmp_path / "Other.plist", {"Children": []}, plistlib.FMT_XML)
    with pytest.raises(SourceUnreadable, match=r"Other\.plist is not a Safari Bookmarks\.plist"):
        list(IMPORTER.read(other, DirectOpener(), Options(), None))
    assert not IMPORTER.accepts(broken)
    assert not IMPORTER.accepts(other)


def test_a_damaged_binary_list_that_loops_is_rejected_where_it_loops(tmp_path: Path) -> None:
    # Binary property lists refer to objects by number: a damaged one can point back up.
    loop = folder("Loop", "F-LOOP", [])
    looping = leaf("L-1", "https://loop.example/", "Loop")
    looping["Extra"] = [looping]
    loop["Children"] += [loop, leaf("OK-1", "https://ok.example/", "Fine"), looping]
    tree = safari_tree()
    tree["Children"].append(loop)
    path = write(tmp_path / "Bookmarks.plist", tree, plistlib.FMT_BINARY)
    items = [item for item, _ in read_all(path)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [r.locator.record for r in rejected] == [
        "Children[5]/Children[0]",
        "Children[5]/Children[2]",
    ]
    assert all("the file is damaged" in r.reason for r in rejected)
    fine = [i for i in items if isinstance(i, Draft) and i.node["source_id"] == "OK-1"]
    assert fine[0].node["folder"] == "Loop"


@pytest.mark.parametrize(
    "damage",
    [
        ("<date>2024-03-01T12:30:00Z</date>", "<date>2024-03</date>"),
        ("<date>2024-03-01T12:30:00Z</date>", "<date>soon</date>"),
        ('encoding="UTF-8"', 'encoding="UTF-9"'),
        ("<key>Title</key>", "</dict><key>Title</key>"),
        ("</plist>", ""),
    ],
)
def test_a_damaged_xml_list_is_unreadable_and_named(
    tmp_path: Path, damage: tuple[str, str]
) -> None:
    path = write(tmp_path / "Bookmarks.plist", safari_tree(), plistlib.FMT_XML)
    text = path.read_text()
    assert damage[0] in text
    path.write_text(text.replace(damage[0], damage[1], 1))
    assert not IMPORTER.accepts(path)
    with pytest.raises(SourceUnreadable, match=r"Bookmarks\.plist"):
        IMPORTER.scan(path, DirectOpener(), Options())


def test_a_binary_list_claiming_billions_of_objects_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path / "Bookmarks.plist", safari_tree(), plistlib.FMT_BINARY)
    data = bytearray(path.read_bytes())
    data[-24:-16] = (2**40).to_bytes(8, "big")  # the trailer's object count
    path.write_bytes(bytes(data))
    assert not IMPORTER.accepts(path)
    with pytest.raises(SourceUnreadable, match="not a property list"):
        IMPORTER.scan(path, DirectOpener(), Options())


def test_accepts_a_bookmarks_plist_whatever_its_format(bookmarks: Path) -> None:
    assert IMPORTER.accepts(bookmarks)


# -- resume --------------------------------------------------------------------------------

_titles = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)


@st.composite
def trees(draw: st.DrawFn) -> dict[str, Any]:
    counter = iter(range(10_000))

    def children(depth: int) -> list[Any]:
        out: list[Any] = []
        for _ in range(draw(st.integers(0, 4))):
            n = next(counter)
            if depth < 3 and draw(st.booleans()):
                out.append(folder(draw(_titles), f"F-{n}", children(depth + 1)))
            elif draw(st.integers(0, 9)) == 0:
                out.append({"WebBookmarkType": "WebBookmarkTypeLeaf"})  # rejected
            else:
                out.append(leaf(f"B-{n}", f"https://example.org/{n}", draw(_titles)))
        return out

    tree = safari_tree()
    tree["Children"][1]["Children"] = children(0)
    tree["Children"][3]["Children"] += children(2)
    return tree


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=trees(), binary=st.booleans())
def test_resuming_from_any_cursor_gives_what_an_uninterrupted_read_gave(
    tmp_path: Path, tree: dict[str, Any], binary: bool
) -> None:
    fmt = plistlib.FMT_BINARY if binary else plistlib.FMT_XML
    path = write(tmp_path / "Bookmarks.plist", copy.deepcopy(tree), fmt)
    whole = read_all(path)
    assert IMPORTER.scan(path, DirectOpener(), Options()).records == len(whole)
    for position in range(1, len(whole) + 1):
        assert read_all(path, whole[position - 1][1]) == whole[position:]
