"""A note's links and embeds turned into what the node carries: edges to the notes they name,
attachments for the files they name, and the content rewritten to point at those files.

- A link or embed that finds a note: a ``LINK`` edge to that note's node (the note's front
  matter id when it has one, else its path). The label says how it links, in one form:
  ``[[n]]`` none; ``[[n|Alias]]`` ``Alias``; ``[[n#Heading]]`` ``#Heading``; ``[[n#^block]]``
  ``#^block``; ``[[n#Heading|Alias]]`` ``#Heading|Alias``; an embed puts ``embed`` first:
  ``![[n]]`` ``embed``, ``![[n#Heading]]`` ``embed#Heading``. A Markdown link's text is its
  alias. The edge's properties hold the same parts by name (syntax, target, heading, block,
  alias, embed, and the key of a link written in the front matter), so nothing has to be
  parsed back out of the label. Links in the body come first: one written in both places is
  one edge, described by the body's.
- One that finds another file (an image, a PDF...): the file is an attachment
  (``inline-image`` for an embedded image, else ``attachment``) and the link in the content
  points at it: ``![name](attachment:<sha256>)`` for an embed, ``[name](attachment:<sha256>)``
  for a link.
- One that finds nothing: a link, or an embed of what would be a note, is kept as a dangling
  edge to the node the target as written would name, and listed under ``unresolved_links``;
  an embed of a missing file (by its extension) stays as written and is listed under
  ``missing_embeds``. A file that exists but cannot be read (outside the grants, say) stays
  as written too, listed with the reason under ``unreadable_embeds``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from isometry.errors import IsometryError
from isometry.model import JSON, node_id_for
from isometry.sources.base import Attachment, Opener, attachment_link
from isometry.sources.vault.files import file_digest, note_id
from isometry.sources.vault.index import NOTE_SUFFIXES, VaultIndex
from isometry.sources.vault.syntax import Link

SOURCE = "markdown"
IMAGE_SUFFIXES = frozenset(
    {".avif", ".bmp", ".gif", ".heic", ".heif", ".ico", ".jpeg", ".jpg", ".png", ".svg",
     ".tif", ".tiff", ".webp"}
)  # fmt: skip
# What Obsidian embeds as a file rather than as a note: a missing target with one of these
# suffixes is a missing file, not a note still to be written.
FILE_SUFFIXES = IMAGE_SUFFIXES | {
    ".3gp", ".aac", ".avi", ".base", ".canvas", ".flac", ".m4a", ".mkv", ".mov", ".mp3", ".mp4",
    ".ogg", ".ogv", ".opus", ".pdf", ".wav", ".webm",
}  # fmt: skip
# ``![[pic.png|300]]`` and ``![[pic.png|300x200]]`` give a size, not a name.
_SIZE = re.compile(r"\d+(?:x\d+)?")
_BRACKETS = re.compile(r"([\[\]\\])")


@dataclass
class Links:
    """What a note's links come to."""

    edges: list[dict[str, JSON]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    rewrites: list[tuple[int, int, str]] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def rewritten(self, body: str) -> str:
        """``body`` with every link to a stored file pointing at it."""
        parts: list[str] = []
        previous = 0
        for start, end, replacement in sorted(self.rewrites):
            parts += [body[previous:start], replacement]
            previous = end
        parts.append(body[previous:])
        return "".join(parts)


def source_id_of(relative: str) -> str:
    """A note's source id when its front matter gives none: its path in the vault (NFC, so
    the same vault gives the same ids on macOS and elsewhere)."""
    return unicodedata.normalize("NFC", relative)


def resolve_links(
    links: Iterable[Link],
    *,
    index: VaultIndex,
    relative: str,
    own_id: str,
    opener: Opener,
) -> Links:
    """Resolve every link of the note at ``relative`` (whose node id is ``own_id``)."""
    out = Links()
    seen_edges: set[tuple[str, str | None]] = set()
    seen_files: set[str] = set()
    target_ids: dict[str, str] = {relative: own_id}

    def target_node(found: str) -> str:
        if found not in target_ids:
            given = note_id(index.root / found, opener)
            target_ids[found] = node_id_for(SOURCE, given or source_id_of(found))
        return target_ids[found]

    for link in links:
        found = index.resolve(link.target, relative)
        if found is None:
            _unresolved(link, own_id, out, seen_edges)
        elif found.lower().endswith(NOTE_SUFFIXES) or found == relative:
            _edge(link, own_id, target_node(found), out, seen_edges)
        else:
            _file(link, index.root / found, opener, out, seen_files)
    return out


def _unresolved(link: Link, own_id: str, out: Links, seen: set[tuple[str, str | None]]) -> None:
    if link.embed and Path(link.target).suffix.lower() in FILE_SUFFIXES:
        _once(out.missing, link.target)
        return
    _once(out.unresolved, link.target)
    _edge(link, own_id, node_id_for(SOURCE, link.target), out, seen)


def _edge(
    link: Link, own_id: str, target: str, out: Links, seen: set[tuple[str, str | None]]
) -> None:
    label = edge_label(link)
    if (target, label) in seen:
        return
    seen.add((target, label))
    properties: dict[str, JSON] = {"syntax": link.syntax, "target": link.target}
    if link.subpath.startswith("^"):
        properties["block"] = link.subpath[1:]
    elif link.subpath:
        properties["heading"] = link.subpath
    if link.alias:
        properties["alias"] = link.alias
    if link.embed:
        properties["embed"] = True
    if link.key is not None:
        properties["key"] = link.key
    edge: dict[str, JSON] = {
        "edge_type": "LINK",
        "source_id": own_id,
        "target_id": target,
        "properties": properties,
    }
    if label is not None:
        edge["label"] = label
    out.edges.append(edge)


def edge_label(link: Link) -> str | None:
    core = ("embed" if link.embed else "") + (f"#{link.subpath}" if link.subpath else "")
    if link.alias:
        return f"{core}|{link.alias}" if core else link.alias
    return core or None


def _file(link: Link, path: Path, opener: Opener, out: Links, seen: set[str]) -> None:
    try:
        digest = file_digest(path, opener)
    except (OSError, IsometryError) as error:
        _once(out.unreadable, f"{link.target}: {error}")
        return
    role = "inline-image" if link.embed and path.suffix.lower() in IMAGE_SUFFIXES else "attachment"
    if str(path) not in seen:
        seen.add(str(path))
        out.attachments.append(Attachment(path.name, path=path, role=role))
    if link.start < 0:
        return  # written in the front matter: the value stays as written
    if link.syntax == "markdown":
        out.rewrites.append((link.dest_start, link.dest_end, attachment_link(digest)))
        return
    if link.alias and not _SIZE.fullmatch(link.alias):
        shown = link.alias
    else:
        shown = f"{link.target}#{link.subpath}" if link.subpath else link.target
    text = _BRACKETS.sub(r"\\\1", shown)
    bang = "!" if link.embed else ""
    out.rewrites.append((link.start, link.end, f"{bang}[{text}]({attachment_link(digest)})"))


def _once(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)
