"""The ``markdown`` importer on the Obsidian test vaults of the fixtures and on vaults written
here: links resolved as Obsidian resolves them, front matter, titles, tags, embeds, errors."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pytest

from isometry.errors import PermissionRefused, SourceError
from isometry.model import JSON, node_id_for, node_row
from isometry.sources import registry
from isometry.sources.base import Draft, Item, Options, Rejected, attachment_link
from isometry.sources.vault import MarkdownImporter
from openers import DirectOpener
from paths import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "obsidian-vault" / "zoni-obsidian-export"
IMPORTER = MarkdownImporter()
DONE: JSON = {"done": True}


class FencedOpener:
    """Opens only paths under ``root``, as a grant on ``root`` would."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def open_binary(self, path: Path) -> BinaryIO:
        if not path.resolve().is_relative_to(self.root):
            raise PermissionRefused(f"{path} is outside this operation's grants")
        return path.open("rb")


OPENER = DirectOpener()


def note_files(root: Path) -> list[Path]:
    """The notes under ``root`` as the engine finds them (sorted, hidden ones left out)."""
    return [
        p
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and IMPORTER.accepts(p)
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]


def read_vault(root: Path, opener: object = OPENER) -> dict[str, Item]:
    """Every note of the vault at ``root`` (named as a folder), by path in the vault."""
    out: dict[str, Item] = {}
    for path in note_files(root):
        pairs = list(IMPORTER.read(path.resolve(), opener, Options(root=root.resolve()), None))  # type: ignore[arg-type]
        assert [cursor for _, cursor in pairs] == [DONE]
        out[path.relative_to(root).as_posix()] = pairs[0][0]
    return out


def drafts_of(root: Path, opener: object = OPENER) -> dict[str, Draft]:
    items = read_vault(root, opener)
    assert all(isinstance(item, Draft) for item in items.values())
    return {k: v for k, v in items.items() if isinstance(v, Draft)}


def nid(source_id: str) -> str:
    return node_id_for("markdown", source_id)


def links_of(drafts: dict[str, Draft]) -> dict[str, set[tuple[str, str | None]]]:
    """Each note's edges as (target, label): a target is a note's path in the vault when the
    edge points at a note imported here, else ``dangling:<the target as written>``."""
    by_id = {nid(str(d.node["source_id"])): path for path, d in drafts.items()}
    out: dict[str, set[tuple[str, str | None]]] = {}
    for path, draft in drafts.items():
        found: set[tuple[str, str | None]] = set()
        for edge in draft.edges:
            assert edge["edge_type"] == "LINK"
            assert edge["source_id"] == nid(str(draft.node["source_id"]))
            target = by_id.get(str(edge["target_id"]))
            if target is None:
                written = edge["properties"]["target"]
                assert edge["target_id"] == nid(written)
                target = f"dangling:{written}"
            found.add((target, edge.get("label")))
        if found:
            out[path] = found
    return out


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for relative, body in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")
    return root


def one(root: Path, relative: str, opener: object = OPENER, named: Path | None = None) -> Item:
    path = (root / relative).resolve()
    options = Options(root=(named or root).resolve())
    pairs = list(IMPORTER.read(path, opener, options, None))  # type: ignore[arg-type]
    assert len(pairs) == 1
    return pairs[0][0]


def draft(root: Path, relative: str, **kwargs: object) -> Draft:
    item = one(root, relative, **kwargs)  # type: ignore[arg-type]
    assert isinstance(item, Draft), item
    return item


# -- the fixture vaults: every link as Obsidian resolves it ----------------------------------

MAIN_SAMPLES_LINKS = {
    "embeds-note-in-subdir.md": {("subdir/note-in-subdir.md", "embed")},
    "embeds-partial-note.md": {("note-with-headings.md", "embed#heading")},
    "embeds.md": {("note-with-frontmatter.md", "embed"), ("dangling:non-existing note", "embed")},
    "issue-188-wikilinks-need-trimming.md": {
        ("foo.md", None),
        ("foo.md", "foo"),
        ("foo.md", "#^abc"),
        ("foo.md", "#^abc|foo > ^abc"),
    },
    "obsidian-wikilinks.md": {
        ("pure-markdown-examples.md", None),
        ("pure-markdown-examples.md", "pure markdown examples"),
        ("pure-markdown-examples.md", "#Heading 1"),
        ("pure-markdown-examples.md", "#Heading 1|pure markdown examples"),
        ("Uppercased-note.md", None),
        ("_underscored-note.md", None),
    },
    "pure-markdown-examples.md": {("dangling:link-location.md", "link text")},
    "section-ref-a.md": {("section-ref-a.md", "#This is a header"),
                         ("section-ref-a.md", "#^dda637")},
    "section-ref-b.md": {("section-ref-a.md", "#This is a header"),
                         ("section-ref-a.md", "#^dda637")},
    "subdir/note-in-subdir.md": {("pure-markdown-examples.md", None)},
    "wikilinks-with-formatting-symbols.md": {
        ("foo.md", "Example **bold**, *italic*, or ~~strikethrough~~ text")
    },
}  # fmt: skip

OTHER_VAULTS_LINKS = {
    "single-file": {"note.md": {("other-note.md", None), ("other-note.md", "another note")}},
    "infinite-recursion": {
        "Note A.md": {("Note B.md", "embed")},
        "Note B.md": {("Note C.md", "embed")},
        "Note C.md": {("Note A.md", "embed")},
    },
    "postprocessors": {"Note.md": {("_embed.md", "embed")}},
    "non-ascii": {
        "Embed.md": {("Nöte with 'quotes'.md", None), ("Nöte with 'quotes'.md", "embed")},
        "Link.md": {("Nöte with 'quotes'.md", None)},
    },
    "start-at": {"subdir/Note B.md": {("Note A.md", None), ("subdir/Note C.md", None)}},
    "same-filename-different-directories": {
        "Note.md": {
            ("dir1/Note.md", "note from dir1"),
            ("dir1/Note.md", "embed"),
            ("dir2/Note.md", "note from dir2"),
            ("dir2/Note.md", "embed"),
        }
    },
    "filter-by-tags": {},
}


def test_main_samples_links_resolve_as_obsidian_resolves_them() -> None:
    drafts = drafts_of(FIXTURES / "main-samples")
    assert len(drafts) == 20
    assert links_of(drafts) == MAIN_SAMPLES_LINKS
    # Unresolved links are dangling edges and reported on the note that has them.
    unresolved = {
        path: d.node["properties"]["unresolved_links"]
        for path, d in drafts.items()
        if "unresolved_links" in d.node["properties"]
    }
    assert unresolved == {
        "embeds.md": ["non-existing note"],
        "pure-markdown-examples.md": ["link-location.md"],
    }


@pytest.mark.parametrize("vault", sorted(OTHER_VAULTS_LINKS))
def test_every_fixture_vault_links_as_obsidian_does(vault: str) -> None:
    drafts = drafts_of(FIXTURES / vault)
    assert links_of(drafts) == OTHER_VAULTS_LINKS[vault]
    assert not any("unresolved_links" in d.node["properties"] for d in drafts.values())


def test_every_fixture_note_makes_a_valid_node_with_edges_naming_it() -> None:
    count = 0
    for vault in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for path, item in drafts_of(vault).items():
            row = node_row(item.node)
            assert row["node_type"] == "note"
            assert row["source"] == "markdown"
            assert row["source_id"] == unicodedata.normalize("NFC", path)
            assert item.locator.record == path
            assert item.locator.line == 1
            assert item.locator.file == str((vault / path).resolve())
            count += 1
    assert count == 44  # every .md file of the fixtures: none rejected, none skipped


def test_embeds_become_attachments_and_the_content_points_at_them() -> None:
    root = FIXTURES / "main-samples"
    embeds = drafts_of(root)["embeds.md"]
    assert [(a.filename, a.role, a.path) for a in embeds.attachments] == [
        ("white.png", "inline-image", (root / "white.png").resolve()),
        ("bulb.svg", "inline-image", (root / "bulb.svg").resolve()),
        ("note.pdf", "attachment", (root / "note.pdf").resolve()),
    ]
    content = str(embeds.node["content"])
    white = attachment_link(sha(root / "white.png"))
    assert f"![white.png]({white})" in content
    assert f"![bulb.svg]({attachment_link(sha(root / 'bulb.svg'))})" in content
    assert f"![note.pdf]({attachment_link(sha(root / 'note.pdf'))})" in content
    assert f"![image, not embed]({white})" in content  # a Markdown image too
    # Note embeds, links in code, and what is no embed stay as written.
    assert "![[note-with-frontmatter]]" in content
    assert "`![[note-with-frontmatter]]`" in content
    assert "```\nAnd within a code block:\n![[note-with-frontmatter]]\n```" in content
    assert "![[Not a valid embed.]" in content
    assert "![[non-existing note]]" in content


def test_titles_tags_folders_and_front_matter_of_the_fixtures() -> None:
    main = drafts_of(FIXTURES / "main-samples")
    assert main["note-with-headings.md"].node["name"] == "Title"  # the first heading
    assert main["pure-markdown-examples.md"].node["name"] == "Heading 1"
    assert main["foo.md"].node["name"] == "foo"  # no heading: the file name
    assert main["subdir/note-in-subdir.md"].node["folder"] == "subdir"
    assert "folder" not in main["foo.md"].node
    assert main["note-with-frontmatter.md"].node["properties"] == {
        "Foo": "bar",
        "path": "note-with-frontmatter.md",
    }
    assert main["note-with-frontmatter.md"].node["content"] == "\nNote with frontmatter.\n"
    tags = drafts_of(FIXTURES / "filter-by-tags")
    assert tags["no-tags.md"].node["name"] == "foo"  # front matter title
    assert tags["export-no-export.md"].node["tags"] == ["export", "no-export", "private"]
    # YAML 1.2, as Obsidian reads it: "no" is a tag, not false.
    assert tags["no-no-export.md"].node["tags"] == ["no", "no-export"]
    post = drafts_of(FIXTURES / "postprocessors")
    assert post["Note.md"].node["properties"] == {
        "foo": "bar",
        "is_root_note": True,
        "path": "Note.md",
    }
    assert post["Note.md"].node["name"] == "Title"


def test_reading_is_deterministic_and_a_done_cursor_yields_nothing() -> None:
    root = FIXTURES / "main-samples"
    first, second = read_vault(root), read_vault(root)
    assert first == second
    for path in note_files(root):
        after = list(IMPORTER.read(path.resolve(), OPENER, Options(root=root.resolve()), DONE))
        assert after == []


def test_a_cursor_this_importer_never_wrote_is_refused() -> None:
    path = (FIXTURES / "single-file" / "note.md").resolve()
    with pytest.raises(SourceError, match="not a cursor"):
        list(IMPORTER.read(path, OPENER, Options(), {"offset": 3}))


def test_scan_counts_one_record_and_fingerprints_the_bytes() -> None:
    path = (FIXTURES / "single-file" / "note.md").resolve()
    scan = IMPORTER.scan(path, OPENER, Options())
    assert (scan.records, scan.size, scan.fingerprint) == (
        1,
        path.stat().st_size,
        sha(path),
    )


def test_registered_under_its_name_with_the_templates_permissions() -> None:
    from isometry.etl.templates import get

    importer = registry.load("markdown")
    assert isinstance(importer, MarkdownImporter)
    assert importer.permissions == get("markdown-import").permissions == {"file-system"}
    assert importer.accepts(Path("a/Note.MD"))
    assert importer.accepts(Path("b.markdown"))
    assert not importer.accepts(Path("c.txt"))


# -- resolution on vaults written here -------------------------------------------------------


def test_same_named_notes_resolve_to_the_closest_one(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {
        "Note.md": "root",
        "a/Note.md": "in a",
        "a/deeper/Note.md": "deeper",
        "b/deep/er/Note.md": "far",
        "a/from-a.md": "[[Note]] [[deeper/Note]] [[./Note]] [[../Note]]",
        "b/from-b.md": "[[Note]] [[er/Note]] [[a/Note]] [[NOTE]] [[/a/Note]]",
        "c/x/from-c.md": "[[deep/er/Note]] [[../../Note]] [[../Note]]",
    })  # fmt: skip
    links = links_of(drafts_of(root))
    assert links["a/from-a.md"] == {
        ("a/Note.md", None),  # same folder first
        ("a/deeper/Note.md", None),  # a path: from the note's folder
        ("Note.md", None),  # ../
    }
    assert links["b/from-b.md"] == {
        ("Note.md", None),  # no same-folder one: the shortest path
        ("b/deep/er/Note.md", None),  # a path: its end
        ("a/Note.md", None),  # a path from the root; a leading slash too
    }
    assert links["c/x/from-c.md"] == {
        ("b/deep/er/Note.md", None),
        ("Note.md", None),
        ("dangling:../Note", None),  # c/Note.md does not exist
    }


def test_links_are_case_insensitive_and_unicode_normalised(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Café")
    root = write(tmp_path / "v", {
        f"{decomposed}.md": "decomposed on disk",
        "Mixed Case.md": "x",
        "links.md": "[[café]] [[mixed case]] [[MIXED CASE.md]] [Md](Mixed%20Case.md)",
    })  # fmt: skip
    drafts = drafts_of(root)
    assert links_of(drafts)["links.md"] == {
        (f"{decomposed}.md", None),
        ("Mixed Case.md", None),
        ("Mixed Case.md", "Md"),
    }
    # The node's id comes from the NFC name, whatever the file system wrote.
    assert drafts[f"{decomposed}.md"].node["source_id"] == "Café.md"


def test_a_note_with_an_id_keeps_it_and_links_to_it_follow(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {
        "dir/Named.md": "---\nid: note-42\n---\nbody",
        "uid.md": "---\nuid: 7\nid:\n---\n",
        "linker.md": "[[Named]] and [[uid]]",
    })  # fmt: skip
    drafts = drafts_of(root)
    named = drafts["dir/Named.md"]
    assert named.node["source_id"] == "note-42"
    assert named.node["properties"]["path"] == "dir/Named.md"
    assert drafts["uid.md"].node["source_id"] == "7"
    targets = {e["target_id"] for e in drafts["linker.md"].edges}
    assert targets == {nid("note-42"), nid("7")}


def test_the_vault_root_is_the_folder_holding_dot_obsidian(tmp_path: Path) -> None:
    root = write(tmp_path / "vault", {
        ".obsidian/app.json": "{}",
        "top.md": "top",
        "sub/inner.md": "[[top]] [[sibling]]",
        "sub/sibling.md": "",
    })  # fmt: skip
    inner = draft(root, "sub/inner.md", named=root / "sub")  # the user named the sub-folder
    assert inner.node["source_id"] == "sub/inner.md"
    assert inner.node["folder"] == "sub"
    assert {e["target_id"] for e in inner.edges} == {nid("top.md"), nid("sub/sibling.md")}
    # Without a .obsidian folder the named folder is the root; a file named alone, its folder
    # (and only the files beside it: that folder may be a home folder).
    plain = write(tmp_path / "plain", {
        "sub/inner.md": "[[other]] [[far]]", "sub/other.md": "", "sub/deeper/far.md": "",
    })  # fmt: skip
    named = draft(plain, "sub/inner.md")
    assert named.node["source_id"] == "sub/inner.md"
    assert {e["target_id"] for e in named.edges} == {nid("sub/other.md"), nid("sub/deeper/far.md")}
    [(alone, _)] = IMPORTER.read((plain / "sub/inner.md").resolve(), OPENER, Options(), None)
    assert isinstance(alone, Draft)
    assert alone.node["source_id"] == "inner.md"
    assert [e["target_id"] for e in alone.edges] == [nid("other.md"), nid("far")]
    assert alone.node["properties"]["unresolved_links"] == ["far"]


def test_links_to_other_files_are_attachments_and_missing_embeds_are_reported(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "v", {
        "files/report.pdf": b"%PDF-1.4 report",
        "files/pic.png": b"\x89PNG\r\n\x1a\nfake",
        "note.md": (
            "See [[report.pdf]] and [the report](files/report.pdf \"title\").\n"
            "![[pic.png|300]] ![[pic.png|A picture]] ![[report.pdf#page=2]]\n"
            "![[gone.png]] ![missing](nowhere.jpg) ![[ghost]]\n"
        ),
    })  # fmt: skip
    note = draft(root, "note.md")
    pdf = attachment_link(sha(root / "files/report.pdf"))
    png = attachment_link(sha(root / "files/pic.png"))
    assert note.node["content"] == (
        f'See [report.pdf]({pdf}) and [the report]({pdf} "title").\n'
        f"![pic.png]({png}) ![A picture]({png}) ![report.pdf#page=2]({pdf})\n"
        "![[gone.png]] ![missing](nowhere.jpg) ![[ghost]]\n"
    )
    assert [(a.filename, a.role) for a in note.attachments] == [
        ("report.pdf", "attachment"),
        ("pic.png", "inline-image"),
    ]
    properties = note.node["properties"]
    assert properties["missing_embeds"] == ["gone.png", "nowhere.jpg"]
    assert properties["unresolved_links"] == ["ghost"]
    assert [e["target_id"] for e in note.edges] == [nid("ghost")]


def test_links_in_front_matter_values_are_edges_too(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {
        "Other.md": "", "cover.png": b"\x89PNG cover",
        "n.md": (
            '---\nrelated: "[[Other|see also]]"\nup: ["[[Other]]", "[[Nowhere]]"]\n'
            'cover: "[[cover.png]]"\n---\nBody links [[Other]].\n'
        ),
    })  # fmt: skip
    note = draft(root, "n.md")
    assert [(e["target_id"], e.get("label"), e["properties"]) for e in note.edges] == [
        (nid("Other.md"), None, {"syntax": "wikilink", "target": "Other"}),
        (nid("Other.md"), "see also",
         {"syntax": "front matter", "target": "Other", "alias": "see also", "key": "related"}),
        (nid("Nowhere"), None, {"syntax": "front matter", "target": "Nowhere", "key": "up"}),
    ]  # fmt: skip
    assert note.node["properties"]["unresolved_links"] == ["Nowhere"]
    assert note.node["properties"]["cover"] == "[[cover.png]]"  # the value stays as written
    assert [(a.filename, a.role) for a in note.attachments] == [("cover.png", "attachment")]


def test_an_image_inside_a_link_is_stored_too(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {
        "b.png": b"\x89PNG badge", "other.md": "",
        "n.md": "[![badge](b.png)](https://example.com) [![again](b.png)](other.md)",
    })  # fmt: skip
    note = draft(root, "n.md")
    png = attachment_link(sha(root / "b.png"))
    assert note.node["content"] == (
        f"[![badge]({png})](https://example.com) [![again]({png})](other.md)"
    )
    assert [(a.filename, a.role) for a in note.attachments] == [("b.png", "inline-image")]
    assert [(e["target_id"], e["label"]) for e in note.edges] == [
        (nid("other.md"), "![again](b.png)")
    ]


def test_an_embed_outside_the_grants_stays_as_written_and_is_reported(tmp_path: Path) -> None:
    root = write(tmp_path / "vault", {
        ".obsidian/app.json": "{}",
        "outside.png": b"\x89PNG outside",
        "granted/note.md": "![[outside.png]]",
    })  # fmt: skip
    note = draft(root, "granted/note.md", opener=FencedOpener(root / "granted"))
    assert note.node["content"] == "![[outside.png]]"
    assert note.attachments == ()
    [reported] = note.node["properties"]["unreadable_embeds"]
    assert reported.startswith("outside.png: ")
    assert "outside this operation's grants" in reported


def test_a_note_outside_the_grants_is_refused(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {"note.md": "x"})
    with pytest.raises(PermissionRefused):
        one(root, "note.md", opener=FencedOpener(tmp_path / "elsewhere"))


def test_links_in_code_comments_and_math_are_not_links(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {
        "t.md": "",
        "note.md": (
            "`[[a]]` ``x [[b]] ` y`` %% [[c]] %% <!-- [[d]] -->\n"
            "$[[e]]$ and $$\n[[f]]\n$$\n"
            "~~~python\n[[g]]\n~~~\n"
            "> ```\n> [[h]]\n> ```\n"
            "[[t]] costs $5 and [[t|$10]]\n"
        ),
    })  # fmt: skip
    assert links_of(drafts_of(root))["note.md"] == {("t.md", None), ("t.md", "$10")}


# -- tags, titles, dates, properties -------------------------------------------------------


def test_tags_from_front_matter_and_text(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {
        "note.md": (
            "---\ntags: \"#alpha, beta gamma\"\ntag: [2024, delta]\n---\n"
            "# Heading #inline\n#project/sub-task and #Alpha again, #2024 no, #y2024 yes\n"
            "`#code` [x](#anchor) https://example.com/page#fragment &#38; [[n#head]]\n"
            "```\n#fenced\n```\n#last"
        ),
    })  # fmt: skip
    assert draft(root, "note.md").node["tags"] == [
        "alpha", "beta", "gamma", "2024", "delta", "inline", "project/sub-task", "y2024", "last",
    ]  # fmt: skip


def test_title_comes_from_front_matter_else_heading_else_file_name(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {
        "a.md": "---\ntitle: From front matter\n---\n# Heading",
        "b.md": "intro\n\n## Second level\n\n#not-a-heading\n# First level #tag\n",
        "c.md": "```\n# in code\n```\nSetext title\n============\n",
        "d.markdown": "no heading",
    })  # fmt: skip
    names = {k: d.node["name"] for k, d in drafts_of(root).items()}
    assert names == {
        "a.md": "From front matter",
        "b.md": "First level #tag",
        "c.md": "Setext title",
        "d.markdown": "d",
    }


def test_dates_and_properties_from_front_matter(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {
        "dated.md": (
            "---\ncreated: 2024-01-05\nupdated: 2024-02-01T10:30:00+02:00\n"
            "aliases: Other name\nstatus: draft\nwhen: 12:30\nseen: [2023-03-04, yes]\n"
            "nested: {a: 1, 2: b}\n---\nbody"
        ),
        "undated.md": "---\ndate: sometime\nmodified: 1712345678\n---\n",
        "plain.md": "no front matter",
    })  # fmt: skip
    drafts = drafts_of(root)
    dated = drafts["dated.md"].node
    assert dated["created_at"] == "2024-01-05T00:00:00Z"
    assert dated["modified_at"] == "2024-02-01T08:30:00Z"
    assert dated["properties"] == {
        "aliases": ["Other name"],
        "status": "draft",
        "when": "12:30",
        "seen": ["2023-03-04", "yes"],
        "nested": {"a": 1, "2": "b"},
        "path": "dated.md",
    }
    undated = drafts["undated.md"].node
    assert "created_at" not in undated
    assert undated["properties"]["date"] == "sometime"  # no date: kept as written
    assert undated["modified_at"] == "2024-04-05T19:34:38Z"
    plain = drafts["plain.md"].node
    assert "created_at" not in plain  # birth time is not portable: left empty
    mtime = datetime.fromtimestamp((root / "plain.md").stat().st_mtime, UTC)
    assert str(plain["modified_at"]).startswith(mtime.strftime("%Y-%m-%dT%H:%M:%S"))


def test_front_matter_keys_clashing_with_the_importers_own_are_kept_aside(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {"n.md": "---\npath: mine\n---\n[[nowhere]]"})
    properties = draft(root, "n.md").node["properties"]
    assert properties["path (front matter)"] == "mine"
    assert properties["path"] == "n.md"
    assert properties["unresolved_links"] == ["nowhere"]


# -- bad input: one clear error per file -----------------------------------------------------


def test_invalid_yaml_rejects_the_note_naming_the_line(tmp_path: Path) -> None:
    text = "---\ntitle: ok\ntags: [unclosed\nother: x\n---\n[[target]]\n"
    root = write(tmp_path / "v", {"bad.md": text, "list.md": "---\n- a\n- b\n---\nx"})
    bad = one(root, "bad.md")
    assert isinstance(bad, Rejected)
    assert bad.locator.record == "bad.md"
    assert bad.locator.line == 4  # where YAML noticed that the bracket was never closed
    assert bad.reason == (
        "bad.md, line 4: front matter is not valid YAML: did not find expected ',' or ']'; "
        "the note is not imported until its front matter is fixed"
    )
    assert bad.raw == text
    listed = one(root, "list.md")
    assert isinstance(listed, Rejected)
    assert listed.reason == (
        "list.md, line 2: front matter is a list, not a mapping of keys to values; "
        "the note is not imported until its front matter is fixed"
    )


def test_a_file_that_is_not_utf8_is_rejected_with_its_line(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {"latin.md": b"first\nsecond caf\xe9\n"})
    item = one(root, "latin.md")
    assert isinstance(item, Rejected)
    assert item.locator.line == 2
    assert item.reason.startswith("latin.md, line 2: not UTF-8 text (byte 16")


def test_unclosed_front_matter_is_body(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {"n.md": "---\ntitle: x\n\n# Real title\n"})
    node = draft(root, "n.md").node
    assert node["name"] == "Real title"
    assert node["content"] == "---\ntitle: x\n\n# Real title\n"


# -- incremental: what the source hash covers ------------------------------------------------


def test_the_source_hash_follows_what_the_note_links_to(tmp_path: Path) -> None:
    root = write(tmp_path / "v", {"a.md": "[[b]]", "pic.md": "![[p.png]]", "p.png": b"one"})
    before, pic_before = draft(root, "a.md"), draft(root, "pic.md")
    assert draft(root, "a.md").source_hash == before.source_hash  # deterministic
    write(root, {"b.md": "now it exists", "p.png": b"two!"})
    after, pic_after = draft(root, "a.md"), draft(root, "pic.md")
    assert after.edges[0]["target_id"] == nid("b.md")
    assert before.edges[0]["target_id"] == nid("b")  # was dangling
    assert after.source_hash != before.source_hash  # the same bytes, a new edge
    assert pic_after.source_hash != pic_before.source_hash  # the embedded file changed
    os.utime(root / "a.md", ns=(10**18, 10**18))
    assert draft(root, "a.md").source_hash != after.source_hash  # modified_at moved
