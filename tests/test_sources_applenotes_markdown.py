"""Note bodies to Markdown, on every single-feature body of the apple_cloud_notes_parser
fixtures (``exported_blobs``) and on bodies built here.

Besides the feature each body shows, every body is checked for loss: its Markdown, rendered
by a CommonMark parser and read back as text, holds every line of the note's text in order.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from isometry.sources.applenotes.markdown import Embed, Renderer, escape_inline, render_note
from isometry.sources.applenotes.proto import BodyError, parse_note
from isometry.sources.applenotes.tables import table_markdown, table_rows
from notestore_factory import NOTES_FIXTURES, Body, Run, bold, italic, link, table_data

BLOBS = NOTES_FIXTURES / "apple_cloud_notes_parser" / "exported_blobs"
TABLE_BLOBS = ("table_gzipped.bin", "table_formats_gzipped.bin", "right_to_left_table_gzipped.bin")
NOT_BODIES = ("ZSERVERRECORDDATA.bin", "ZSERVERSHAREDATA.bin")
NOTE_BLOBS = sorted(p.name for p in BLOBS.glob("*.bin") if p.name not in TABLE_BLOBS + NOT_BODIES)
PARSER = MarkdownIt("commonmark").enable(["strikethrough", "table"])


class Placeholders:
    """Embeds without a store: an attachment shows as its type."""

    def embed(self, identifier: str, type_uti: str) -> Embed:
        return Embed(escape_inline(f"[{type_uti}]"))


def markdown_of(name: str) -> str:
    markdown, _ = render_note(parse_note((BLOBS / name).read_bytes()), Placeholders())
    return markdown


def as_text(markdown: str) -> str:
    """What a reader of the rendered Markdown sees, as plain text."""
    html = PARSER.render(markdown)
    return BeautifulSoup(html, "html.parser").get_text().replace("\u00a0", " ")


def test_every_fixture_blob_is_covered() -> None:
    assert len(NOTE_BLOBS) + len(TABLE_BLOBS) + len(NOT_BODIES) == len(list(BLOBS.glob("*.bin")))
    assert len(NOTE_BLOBS) == 12


@pytest.mark.parametrize("name", NOTE_BLOBS)
def test_no_line_of_a_note_is_lost(name: str) -> None:
    note = parse_note((BLOBS / name).read_bytes())
    # A CommonMark reader shows task items as "[ ] text"; a GitHub one shows a checkbox.
    shown = [line.strip().removeprefix("[ ] ").removeprefix("[x] ")
             for line in as_text(markdown_of(name)).splitlines()]  # fmt: skip
    shown = [line for line in shown if line]
    position = 0
    for line in str(note.note_text).replace("\u2028", "\n").splitlines():
        wanted = line.replace("\ufffc", "").strip().replace("\u00a0", " ")
        if not wanted:
            continue
        while position < len(shown) and shown[position] != wanted:
            position += 1
        assert position < len(shown), f"{wanted!r} is missing from the Markdown of {name}"


def test_block_quotes_and_monospaced_text() -> None:
    markdown = markdown_of("block_quotes_gzipped.bin")
    assert markdown.startswith("# Block quotes\n")
    assert "> This is a block quote" in markdown
    assert "```\nThis is monostyled\n```" in markdown
    assert "> ```\n> This is a monostyled block quote\n> ```" in markdown


def test_colours_leave_the_formatting_they_split() -> None:
    markdown = markdown_of("color_formatting_gzipped.bin")
    assert "Red **Bold** Red *italic*" in markdown
    assert "**Bold blue bold red**" in markdown  # one run of bold, though two colours
    assert "- Bulleted list red in the middle\n- Bulleted list bullet two" in markdown
    # A list right after another gets the other bullet, or Markdown would join them.
    assert "* [ ] Checklist, unchecked, red in the middle" in markdown
    assert "* [x] Checklist, checked, red at the end" in markdown
    assert "Super script <sup>red</sup>" in markdown
    assert "Subscript <sub>red</sub>" in markdown


def test_formatting_after_emoji_lands_on_the_right_characters() -> None:
    markdown = markdown_of("emoji_formatting_1_gzipped.bin")
    assert "🚀1🚀2🕹️**3💻4🖥️5🧑\u200d💻6👩\u200d💻7**" in markdown
    assert "🚀*1🚀2🕹️<u>3</u>*<u>💻4🖥️5🧑\u200d💻6👩\u200d💻7</u>" in markdown
    assert "**<u>體驗</u>**<u>看法</u>*<u>覺得很大</u>*" in markdown
    three = markdown_of("emoji_formatting_3_gzipped.bin")
    assert three.count("Bold: **bold**") == 3
    assert three.count("Italic: *italic*") == 3
    assert three.count("Underlined: <u>underlined</u>") == 3


def test_links_and_quotes_with_emoji() -> None:
    markdown = markdown_of("emoji_formatting_2_gzipped.bin")
    assert "**Graphic Designer 💻 from Stockport, UK** 📍" in markdown
    assert "> I am currently available for freelance [projects](https://ciofecaforensics.com)" in (
        markdown
    )


def test_text_that_looks_like_html_stays_text() -> None:
    markdown = markdown_of("html_gzipped.bin")
    html = PARSER.render(markdown)
    for raw in ("<HTML>", "<script", "<title>", "<body>"):
        assert raw not in html
    assert "&lt;HTML&gt;" in html
    assert "&lt;script src=\u2018evil.js\u2019&gt;&lt;/script&gt;" in html
    assert "This should never show up" in as_text(markdown)


def test_list_indents_nest() -> None:
    markdown = markdown_of("list_indents_gzipped.bin")
    assert (
        "- [ ] Checklist\n  - [ ] Indented checklist 1\n    - [ ] Indented checklist 2 checked\n"
        "  - [ ] Indented 1"
    ) in markdown
    # The next list gets other markers, or Markdown would run the two lists together.
    assert "* Dotted list\n  * Dotted list second indent\n* Dotted list" in markdown
    assert "- Dashed list indent 2\n- Dashed list" in markdown
    assert "1) Numbered list\n   1) Numbers list indent 2" in markdown
    html = PARSER.render(markdown)
    assert (html.count("<ul>"), html.count("<ol>")) == (6, 2)


def test_plain_and_compressed_bodies() -> None:
    assert markdown_of("simple_note_protobuf.bin") == "# Title"
    assert markdown_of("simple_note_protobuf_gzipped.bin") == "# Title"


def test_text_decorations() -> None:
    assert markdown_of("text_decorations_gzipped.bin") == (
        "# Title\n\n**Bold body**\\\n*Italic body*\\\n***Bold italic body***\\\n"
        "<u>Underlined body</u>\\\n~~Strikethrough body~~\\\n"
        "~~<u>Underline strikethrough body</u>~~"
    )


def test_links() -> None:
    markdown, links = render_note(
        parse_note((BLOBS / "url_gzipped.bin").read_bytes()), Placeholders()
    )
    assert "[**Jim Nettles**](https://en.m.wikipedia.org/wiki/Jim_Nettles)" in markdown
    assert "[his older brother](https://en.m.wikipedia.org/wiki/Graig_Nettles)" in markdown
    assert len(links) == 4


def test_wide_characters_and_an_attachment_in_the_text() -> None:
    markdown = markdown_of("wide_characters_gzipped.bin")
    assert markdown.startswith("# 但他還是希望\n\n體驗看法覺得很大\n")
    assert markdown.endswith("\\[com.apple.notes.inlinetextattachment.hashtag\\]")


def table_of(name: str) -> str:
    return table_markdown(table_rows((BLOBS / name).read_bytes()), Renderer(Placeholders()))


def test_tables() -> None:
    assert table_of("table_gzipped.bin") == (
        "| Row 1 Column 1 | Row 1 Column 2 |\n| --- | --- |\n| Row 2 Column 1 | Row 2 Column 2 |"
    )
    assert table_of("table_formats_gzipped.bin") == (
        "| **Bold** | *Italics* |\n| --- | --- |\n| ***Bold italics*** | <u>Underline</u> |\n"
        "| Mixed **bold** *italics* <u>underline</u> |  |"
    )
    # Right-to-left columns are reversed, so the Markdown reads as the table looks.
    assert table_of("right_to_left_table_gzipped.bin") == (
        "|  | اول |\n| --- | --- |\n| نهاية |  |"
    )
    html = PARSER.render(table_of("table_gzipped.bin"))
    assert (html.count("<td>"), html.count("<th>")) == (2, 2)


def test_cloudkit_blobs_are_not_note_bodies() -> None:
    for name in NOT_BODIES:
        with pytest.raises(BodyError, match="not a Notes protobuf"):
            parse_note((BLOBS / name).read_bytes())


def test_damaged_bodies_say_what_failed(tmp_path: Path) -> None:
    with pytest.raises(BodyError, match="gzip data is damaged"):
        parse_note(gzip.compress(b"x" * 100)[:20])
    with pytest.raises(BodyError, match="holds no document"):
        parse_note(b"")
    with pytest.raises(BodyError, match="table"):
        table_rows(Body().title("not a table").encode())


def render(body: Body) -> str:
    return render_note(parse_note(body.encode()), Placeholders())[0]


def test_the_notes_own_markup_characters_are_escaped() -> None:
    body = Body().title("Stars *not* bold").line("# not a heading").line("1. not a list")
    body.line("- not a bullet").line("<b>tag</b> & &amp; [link](x) `code` ~~no~~ _u_")
    markdown = render(body)
    html = PARSER.render(markdown)
    assert "<h1>Stars *not* bold</h1>" in html
    for markup in ("<em>", "<ol>", "<ul>", "<b>", "<a ", "<code>", "<s>"):
        assert markup not in html
    assert "&amp;amp;" in html
    assert as_text(markdown).splitlines() == [
        "Stars *not* bold", "# not a heading", "1. not a list", "- not a bullet",
        "<b>tag</b> & &amp; [link](x) `code` ~~no~~ _u_",
    ]  # fmt: skip


def test_emphasis_never_opens_on_a_blank() -> None:
    markdown = render(Body().line("a", bold(" bold "), "b", italic("it "), "c"))
    assert markdown == "a **bold** b*it* c"
    assert "<strong>bold</strong>" in PARSER.render(markdown)


def test_line_separators_stay_lines() -> None:
    markdown = render(Body().line("one\u2028# two").line("item\u2028more", style=100))
    assert markdown == "one\\\n\\# two\n\n- item\\\n  more"


def test_headings_levels_and_code_fences_longer_than_the_code() -> None:
    body = Body().title("T").line("H", style=1).line("S", style=2).line("a ``` b", style=4)
    assert render(body) == "# T\n\n## H\n\n### S\n\n````\na ``` b\n````"


def test_numbering_follows_levels() -> None:
    body = Body()
    for text, indent in (("a", 0), ("b", 1), ("c", 1), ("d", 0), ("e", 3)):
        body.line(text, style=102, indent=indent)
    assert render(body) == "1. a\n   1. b\n   2. c\n2. d\n   1. e"


def test_links_in_runs_are_collected_and_encoded() -> None:
    body = Body().line(link("see", "https://x.test/a b(c)"), " ", Run("and", {"link": ""}))
    markdown, links = render_note(parse_note(body.encode()), Placeholders())
    assert markdown == "[see](https://x.test/a%20b%28c%29) and"
    assert links == ["https://x.test/a b(c)"]


def test_a_table_cell_keeps_its_pipes_and_lines() -> None:
    rows = table_rows(table_data([["a|b", "c\nd"], ["e"]]))
    assert table_markdown(rows, Renderer(Placeholders())) == (
        "| a\\|b | c<br>d |\n| --- | --- |\n| e |  |"
    )
