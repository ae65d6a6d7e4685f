"""Laws of the Markdown importer's parts: links are found exactly where Obsidian reads them,
resolution never depends on the order files were listed in, front matter values always become
JSON, and the vault index notices files added and removed."""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from isometry.sources.vault.frontmatter import plain
from isometry.sources.vault.index import Vault, VaultIndex, index_for, key_of
from isometry.sources.vault.syntax import parse_body

NAMES = st.text(alphabet="abcdeé XYZ-_019", min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and s.strip()
)
PROSE = st.text(alphabet="abc xyz.,;\n", max_size=20).map(lambda s: s.replace("\n\n", "\n"))
WRAPPERS = {
    "plain": "{}",
    "code": "`{}`",
    "double code": "`` x {} ``",
    "comment": "%% {} %%",
    "html comment": "<!-- {} -->",
    "math": "${}$",
    "display math": "$$ {} $$",
    "fence": "\n```\n{}\n```\n",
    "tilde fence": "\n~~~~ md\n{}\n~~~~\n",
}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(WRAPPERS)), NAMES, PROSE), max_size=8))
def test_links_are_found_outside_code_comments_and_math_only(
    parts: list[tuple[str, str, str]],
) -> None:
    text = "".join(
        WRAPPERS[kind].format(f"[[{name}]]") + " " + prose for kind, name, prose in parts
    )
    body = parse_body(text)
    assert [link.target for link in body.links] == [
        name for kind, name, _ in parts if kind == "plain"
    ]
    for link in body.links:
        assert text[link.start : link.end] == f"[[{link.target}]]"


PATHS = st.lists(
    st.tuples(
        st.lists(st.sampled_from(["a", "b", "A", "deep"]), max_size=3),
        st.sampled_from(["Note", "note", "Other", "pic"]),
        st.sampled_from([".md", ".md", ".png"]),
    ).map(lambda t: "/".join([*t[0], t[1] + t[2]])),
    min_size=1,
    max_size=12,
    unique=True,
)


@settings(max_examples=150, deadline=None)
@given(PATHS, st.sampled_from(["Note", "note.md", "a/Note", "pic.png", "deep/other", "../Note"]),
       st.randoms(use_true_random=False))  # fmt: skip
def test_resolution_does_not_depend_on_listing_order(
    files: list[str], target: str, shuffle: random.Random
) -> None:
    ordered = VaultIndex.of(Path("/v"), tuple(sorted(files)))
    mixed = list(files)
    shuffle.shuffle(mixed)
    shuffled = VaultIndex.of(Path("/v"), tuple(mixed))
    for source in files:
        found = ordered.resolve(target, source)
        assert shuffled.resolve(target, source) == found
        if found is None or "/" in target:
            continue
        name = key_of(found.rsplit("/", 1)[-1])
        assert name in (key_of(target), key_of(target) + ".md")
        local = [
            f for f in files
            if parent(f) == parent(source) and key_of(f.rsplit("/", 1)[-1]) in (
                key_of(target), key_of(target) + ".md")
        ]  # fmt: skip
        if local:  # a file of that name in the note's own folder wins
            assert found in local


def parent(relative: str) -> str:
    return relative.rsplit("/", 1)[0] if "/" in relative else ""


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=5)
    | st.dates()
    | st.datetimes(timezones=st.just(UTC))
    | st.binary(max_size=5)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(SCALARS.filter(lambda v: not isinstance(v, float)), inner, max_size=3)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_every_front_matter_value_becomes_json(value: object) -> None:
    converted = plain(value)
    assert orjson.loads(orjson.dumps(converted)) == converted
    if isinstance(value, datetime | date):
        assert converted == value.isoformat()


class _Opener:
    """Stands for one operation's opener: the index is kept per opener."""

    def open_binary(self, path: Path) -> BinaryIO:
        return path.open("rb")


def test_the_index_sees_files_added_and_removed(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.md").write_text("")
    opener = _Opener()
    first = index_for(Vault(root), opener)
    assert first.files == ("sub/a.md",)
    assert index_for(Vault(root), opener) is first  # nothing changed: the same index
    time.sleep(0.01)
    (root / "sub" / "b.md").write_text("")
    assert index_for(Vault(root), opener).files == ("sub/a.md", "sub/b.md")
    time.sleep(0.01)
    (root / "sub" / "a.md").unlink()
    (root / "new").mkdir()
    assert index_for(Vault(root), opener).files == ("sub/b.md",)
    time.sleep(0.01)
    (root / "new" / "c.md").write_text("")
    assert index_for(Vault(root), opener).files == ("new/c.md", "sub/b.md")


def test_each_operation_lists_the_vault_afresh(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    root.mkdir()
    (root / "a.md").write_text("")
    first = index_for(Vault(root), _Opener())
    (root / "b.md").write_text("")  # perhaps within the same clock tick: time cannot tell
    assert index_for(Vault(root), _Opener()).files == ("a.md", "b.md")
    assert first.files == ("a.md",)
