"""The ``evernote`` importer: Evernote .enex exports, one node per note.

Records are the file's notes in order, each preceded by its tasks (Evernote 10 keeps them in
the note), and any part of the file that is not well-formed XML as a ``Rejected`` (see
``stream``). A note in Evernote's trash (``<deleted>``) is read only with the option
``include_deleted``.

``source_id``: the note's ``<guid>`` when the export has one; else a hash of its notebook (the
file's name), title and creation time, with a count of the notes before it in the file that
share them, so the same note gets the same node when the notebook is exported again with notes
added or removed (see ``note.Identity``). Tasks keep Evernote's own id.

Cursor ``{"note": n}`` (the file's first n notes and damaged parts are done) or
``{"note": n, "part": k}`` (and the first k items of the next one): resuming parses the file
again up to there; the notes it skips are neither decoded nor converted.

The option ``tag_separator`` (e.g. ``"_"``) reads nested tags written flat (``work_projects``
as ``work/projects``); ``notebook`` names the folder of every note (by default the file's path
under the folder imported, without ``.enex``: Evernote names an export after its notebook).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar

from isometry.errors import SourceError
from isometry.model import JSON
from isometry.sources.base import Item, Locator, Opener, Options, Rejected, Scan
from isometry.sources.evernote.note import FileContext, Identity, is_deleted, note_items
from isometry.sources.evernote.stream import Broken, EnexReader
from isometry.sources.options import OptionSpec, text
from isometry.sources.records import cursor_position, open_source

SUFFIX = ".enex"
TAG_SEPARATOR = text(
    "tag_separator",
    "Read nested tags written flat: with _, work_projects as work/projects.",
    takes="a separator, e.g. _",
    blank=True,
)
NOTEBOOK = text(
    "notebook",
    "The folder of every note (by default the file's path under the folder, without .enex).",
    takes="a folder name",
)


class EvernoteImporter:
    """Reads Evernote .enex exports (see the module docstring)."""

    name: ClassVar[str] = "evernote"
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = (TAG_SEPARATOR, NOTEBOOK)

    def accepts(self, path: Path) -> bool:
        return path.suffix.lower() == SUFFIX

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        digest = hashlib.sha256()
        size = 0

        def seen(chunk: bytes) -> None:
            nonlocal size
            size += len(chunk)
            digest.update(chunk)

        records = 0
        deleted_too = options.flag("include_deleted")
        with open_source(path, opener) as stream:
            for part in EnexReader(path, stream).parts(seen):
                if isinstance(part, Broken):
                    records += 1
                elif deleted_too or not is_deleted(part.element):
                    records += 1 + len(part.task_lines)
        return Scan(records=records, size=size, fingerprint=digest.hexdigest())

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        start, done = _position(cursor, path)
        deleted_too = options.flag("include_deleted")
        file = str(path.resolve())
        seen: Counter[str] = Counter()
        context: FileContext | None = None
        with open_source(path, opener) as stream:
            reader = EnexReader(path, stream)
            for part in reader.parts():
                if isinstance(part, Broken):
                    if part.index >= start:
                        yield _rejected(file, part), {"note": part.index + 1}
                    continue
                identity = Identity.of(part.element, path.stem)
                seen[identity.key] += 1
                if part.index < start or (not deleted_too and is_deleted(part.element)):
                    continue
                if context is None:  # the export's header is known once a note is out
                    context = _context(self.name, path, file, reader.header, options)
                source_id = identity.source_id(seen[identity.key])
                items = note_items(context, part, source_id)
                skip = done if part.index == start else 0
                for k, item in enumerate(items):
                    if k < skip:
                        continue
                    last = k == len(items) - 1
                    after: JSON = (
                        {"note": part.index + 1} if last else {"note": part.index, "part": k + 1}
                    )
                    yield item, after


def _position(cursor: JSON, path: Path) -> tuple[int, int]:
    """(note, items of it done) of a cursor this importer wrote (0, 0 for None)."""
    if cursor is None:
        return 0, 0
    (note,) = cursor_position(cursor, ("note",), path)
    done = cursor.get("part", 0) if isinstance(cursor, Mapping) else 0
    if isinstance(done, bool) or not isinstance(done, int) or done < 0:
        raise SourceError(f"{path}: {cursor!r} is not a cursor for this kind of file")
    return note, done


def _context(
    source: str, path: Path, file: str, header: Mapping[str, str], options: Options
) -> FileContext:
    separator = options.text(TAG_SEPARATOR.name)
    return FileContext(
        source=source,
        file=file,
        folder=_notebook(path, options),
        header=header,
        tag_separator=separator or None,
    )


def _notebook(path: Path, options: Options) -> str | None:
    chosen = options.text(NOTEBOOK.name)
    if chosen is not None and chosen.strip():
        return chosen.strip()
    if options.root is not None:
        try:
            relative = path.resolve().relative_to(options.root.resolve())
        except ValueError:
            relative = Path(path.name)
        return relative.with_suffix("").as_posix()
    return path.stem


def _rejected(file: str, part: Broken) -> Rejected:
    number = part.index + 1
    record = f"note {number}" + (f": {part.title}" if part.title else "")
    locator = Locator(file, record, part.line, part.offset, part.length)
    return Rejected(locator, part.raw, f"{record}: {part.reason}")
