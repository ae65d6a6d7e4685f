"""One Markdown file turned into one ``note`` node, its edges and its attachments.

Edges come from the body's links and from wikilinks written in front-matter values (Obsidian
links ``related: "[[Other]]"`` too); see ``links``.

Fields: name (front matter title, else the first level-one heading, else the file name
without its suffix); content (the body after the front matter, embeds of stored files
rewritten to point at them); folder (the note's folder in the vault, None at the root); tags
(front matter first, then inline ``#tags`` in order, ``#nested/tags`` kept whole, repeats left
out whatever their case); created_at and modified_at (front matter, else the file's
modification time for modified_at: a file's birth time is not kept portably, so created_at is
left empty rather than guessed); source_id (the front matter id, else the path in the vault,
so a renamed note without an id is a new node, its old one a record the source no longer
has, while a note with an id keeps its node wherever it moves); properties: the rest of
the front matter, ``path`` (the note's path in the vault), and ``unresolved_links``,
``missing_embeds`` and ``unreadable_embeds`` when there are any (a front-matter key of one of
these names is kept as ``<key> (front matter)``).

Front matter that is not valid YAML rejects the whole note, naming the line and the YAML error:
the front matter may carry the note's id, and a note imported under its path instead would
stay behind as a duplicate once the YAML is fixed; rejected, it waits in quarantine (raw text
kept) and counts toward the operation's error rate, where it is seen. A file that is not UTF-8
is rejected the same way.

``source_hash`` covers the file's bytes and everything the node was made of besides them (link
targets, attachment hashes, the modification time), so a note whose links now resolve
elsewhere is written again even though its own bytes did not change.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import orjson

from isometry.model import JSON, node_id_for, utc_timestamp
from isometry.sources.base import Draft, Item, Locator, Opener, Rejected
from isometry.sources.vault.frontmatter import (
    FrontMatterError,
    fields,
    key_text,
    load,
    plain,
    split,
)
from isometry.sources.vault.index import Vault, index_for
from isometry.sources.vault.links import SOURCE, resolve_links, source_id_of
from isometry.sources.vault.syntax import front_matter_links, parse_body

_BOM = "\ufeff"
_COMPUTED = ("path", "unresolved_links", "missing_embeds", "unreadable_embeds")


def note_item(path: Path, vault: Vault, data: bytes, mtime_ns: int | None, opener: Opener) -> Item:
    """The note in ``data`` (the bytes of ``path``, in ``vault``)."""
    root = vault.root
    relative = path.relative_to(root).as_posix()
    try:
        text = data.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return Rejected(
            Locator(str(path), relative, line),
            data.decode("utf-8", "replace"),
            f"{relative}, line {line}: not UTF-8 text (byte {error.start}: {error.reason})",
        )
    part = split(text)
    try:
        values = load(part)
    except FrontMatterError as error:
        return Rejected(
            Locator(str(path), relative, error.line),
            text,
            f"{relative}, line {error.line}: {error.message}; the note is not imported "
            "until its front matter is fixed",
        )
    front = fields(values)
    body = text[part.body_start :]
    parsed = parse_body(body)
    in_front_matter = front_matter_links({key_text(k): plain(v) for k, v in values.items()})
    source_id = front.note_id or source_id_of(relative)
    own_id = node_id_for(SOURCE, source_id)
    links = resolve_links(
        parsed.links + in_front_matter,
        index=index_for(vault, opener),
        relative=relative,
        own_id=own_id,
        opener=opener,
    )

    properties = {
        (f"{key} (front matter)" if key in _COMPUTED else key): value
        for key, value in front.properties.items()
    }
    properties["path"] = source_id_of(relative)
    for name, listed in (
        ("unresolved_links", links.unresolved),
        ("missing_embeds", links.missing),
        ("unreadable_embeds", links.unreadable),
    ):
        if listed:
            properties[name] = list(listed)

    modified = front.modified_at
    if modified is None and mtime_ns is not None:
        modified = utc_timestamp(datetime.fromtimestamp(mtime_ns / 1e9, UTC))
    parent = relative.rsplit("/", 1)[0] if "/" in relative else None
    node: dict[str, JSON] = {
        "node_type": "note",
        "name": front.title or parsed.title or _stem(relative),
        "content": links.rewritten(body),
        "folder": unicodedata.normalize("NFC", parent) if parent else None,
        "tags": _unique(front.tags + list(parsed.tags)),
        "created_at": front.created_at,
        "modified_at": modified,
        "source": SOURCE,
        "source_id": source_id,
        "properties": properties,
    }
    edges = tuple(links.edges)
    made_of = {
        "node": node,
        "edges": list(edges),
        "attachments": [
            [a.filename, a.role, a.path.relative_to(root).as_posix() if a.path else None]
            for a in links.attachments
        ],
    }
    digest = hashlib.sha256(data)
    digest.update(b"\0" + orjson.dumps(made_of, option=orjson.OPT_SORT_KEYS))
    return Draft(
        node={k: v for k, v in node.items() if v is not None},
        locator=Locator(str(path), relative, 1),
        source_hash=digest.hexdigest(),
        raw=text,
        edges=edges,
        attachments=tuple(links.attachments),
    )


def _stem(relative: str) -> str:
    name = unicodedata.normalize("NFC", relative.rsplit("/", 1)[-1])
    for suffix in (".md", ".markdown"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _unique(tags: list[str]) -> list[str]:
    """Tags in order, each once: Obsidian treats ``#Tag`` and ``#tag`` as one tag."""
    seen: set[str] = set()
    out: list[str] = []
    for tag in tags:
        key = tag.lower()
        if key not in seen:
            seen.add(key)
            out.append(tag)
    return out
