"""The ``apple-contacts`` importer: ``.vcf`` and ``.vcard`` files, one card or many.

Each card is one item: a ``person`` Draft, or ``Rejected`` when it cannot be read (a line that
is no vCard property, a card without ``END:VCARD``), as is text outside any card. Reading goes
on after either. ``source_id`` is the card's UID (the same across exports and apps), else the
file's absolute path and the card's number in it (``/path/contacts.vcf#3``); ``source_hash``
is the SHA-256 of the card's bytes, so an unchanged card is never written again.

Cursor ``{"offset": byte offset after the item, "line": its last line, "card": cards read}``:
resume seeks there. The locator gives the card's record (UID, else number), first line, byte
offset and length.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from isometry.errors import SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Draft, Item, Locator, Opener, Options, Rejected, Scan
from isometry.sources.options import OptionSpec
from isometry.sources.records import cursor_position, open_source, sha256_hex, source_id_for
from isometry.sources.vcard.blocks import Block, Kind, blocks, line_separator, lines
from isometry.sources.vcard.contentlines import CardError, parse_card
from isometry.sources.vcard.person import SOURCE, person, uid_of

SUFFIXES = frozenset({".vcf", ".vcard"})


class ContactsImporter:
    """Reads vCard 2.1, 3.0 and 4.0 files into person nodes (see the module docstring)."""

    name: ClassVar[str] = SOURCE
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"contacts", "file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = ()

    def accepts(self, path: Path) -> bool:
        return path.suffix.lower() in SUFFIXES

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        with open_source(path, opener) as stream:
            separator = line_separator(path, stream)
            digest = _CountingDigest()
            records = cards = 0
            for block in blocks(lines(stream, separator, digest=digest)):
                records += 1
                cards = block.card
        if records and not cards:
            raise SourceUnreadable(f"{path} is not a vCard file: it has no BEGIN:VCARD line")
        return Scan(records=records, size=digest.size, fingerprint=digest.hexdigest())

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        file = str(path.resolve())
        with open_source(path, opener) as stream:
            separator = line_separator(path, stream)
            offset, line, card = cursor_position(cursor, ("offset", "line", "card"), path)
            stream.seek(offset)
            for block in blocks(lines(stream, separator, offset, line), card):
                after = {"offset": block.end, "line": block.last_line, "card": block.card}
                yield _item(file, block), after


def _item(file: str, block: Block) -> Item:
    data = block.raw()
    raw = data.decode("utf-8", "replace")
    name = Path(file).name
    first, last = block.first_line, block.last_line
    if block.kind is Kind.STRAY:
        record = f"line {first}" if first == last else f"lines {first}-{last}"
        locator = Locator(file, record, first, block.start, len(data))
        where = f"line {first} lies" if first == last else f"lines {first}-{last} lie"
        return Rejected(locator, raw, f"{name}: {where} outside any BEGIN:VCARD..END:VCARD")
    locator = Locator(file, str(block.card), first, block.start, len(data))
    if block.kind is Kind.UNTERMINATED:
        return Rejected(locator, raw, f"{name}: the card on line {first} has no END:VCARD")
    try:
        card = parse_card(block.lines)
    except CardError as error:
        return Rejected(locator, raw, f"{name}: card {block.card} (line {first}): {error.reason}")
    if not card.properties and not card.agents:
        return Rejected(locator, raw, f"{name}: the card on line {first} holds no properties")
    uid = uid_of(card)
    contact = person(card, uid or source_id_for(file, str(block.card)))
    return Draft(
        node=contact.node,
        locator=Locator(file, uid or str(block.card), first, block.start, len(data)),
        source_hash=sha256_hex(data),
        raw=raw,
        edges=contact.edges,
        attachments=contact.attachments,
    )


class _CountingDigest:
    """SHA-256 of the bytes read, and how many there were."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes, /) -> None:
        self._hash.update(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
