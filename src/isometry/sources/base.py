"""The importer interface: what a source plugin implements and what it yields."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, ClassVar, Protocol

from isometry.model import JSON
from isometry.sources.options import OptionSpec


@dataclass(frozen=True, slots=True)
class Locator:
    """Where in its source a record was found, precisely enough to find it again."""

    file: str
    record: str
    line: int | None = None
    offset: int | None = None
    length: int | None = None

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"file": self.file, "record": self.record}
        for name in ("line", "offset", "length"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


ATTACHMENT_SCHEME = "attachment:"


def attachment_link(digest: str) -> str:
    """The stable way node content points at a stored file: ``attachment:<sha256 hex>``
    (in Markdown: ``![name](attachment:...)`` or ``[name](attachment:...)``)."""
    return ATTACHMENT_SCHEME + digest


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that belongs to a record: bytes the importer holds, or a path it found (opened
    through the ``Opener``, so grants apply). ``role``: attachment or inline-image."""

    filename: str
    data: bytes | None = None
    path: Path | None = None
    role: str = "attachment"
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """One source record turned into a node (and its edges), not yet validated.

    ``node`` holds node fields by name (``source`` and ``source_id`` set, so the node's id is
    derived from them); every source field without a column goes under ``properties``.
    ``raw`` is the record as the source holds it, kept for quarantine; ``source_hash`` is the
    SHA-256 (hex) of those bytes.
    """

    node: Mapping[str, JSON]
    locator: Locator
    source_hash: str
    raw: str
    edges: tuple[Mapping[str, JSON], ...] = ()
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record the importer could not read at all (a line that is not JSON, say), or refuses
    (one that repeats another record's id). ``node``: the identifying fields (``source``,
    ``source_id``) of the node it stands for, when the importer knows them, so a sync does not
    take that node for gone from the source."""

    locator: Locator
    raw: str
    reason: str
    node: Mapping[str, JSON] | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record the importer leaves out on purpose and says why (a password-protected note it
    must not read): counted and named in the operation's log, not an error."""

    locator: Locator
    raw: str
    reason: str


Item = Draft | Rejected | Skipped


@dataclass(frozen=True, slots=True)
class Scan:
    """What scanning a source found: how many records (so progress has a total), how many
    bytes, and a fingerprint of the content (SHA-256 hex) that changes when the source does."""

    records: int
    size: int
    fingerprint: str
    # Keys that a record without an id (keyed by its row number) and another record's id
    # both name, and ids more than one record has (with the number of the first): such
    # records are refused at read (``records.KeyClashes``).
    clashing: tuple[str, ...] = ()
    repeated: Mapping[str, int] = field(default_factory=dict)


class Opener(Protocol):
    """Opens source files, refusing any path outside the operation's grants."""

    def open_binary(self, path: Path) -> BinaryIO:
        """The file at ``path`` (symlinks resolved, checked against the grants) for reading."""
        ...


@dataclass(frozen=True)
class Options:
    """Per-operation options an importer may read (from the operation's configuration), and
    what the scan found about the file: ``root``, the folder the user named that the file was
    found in (None when the file was named itself), so an importer can tell a vault's relative
    paths and resolve links in it; ``clashing`` and ``repeated``, the keys its scan found
    clashing and repeated (``Scan``)."""

    values: Mapping[str, JSON] = field(default_factory=dict)
    root: Path | None = None
    clashing: frozenset[str] = frozenset()
    repeated: Mapping[str, int] = field(default_factory=dict)

    def get(self, name: str, default: JSON = None) -> JSON:
        return self.values.get(name, default)

    def flag(self, name: str) -> bool:
        """Whether the flag ``name`` is on. Options are kept as their declarations parse them,
        so only ``True`` is on (an operation made before options were checked may hold text,
        as it was then read: off)."""
        return self.values.get(name) is True

    def text(self, name: str) -> str | None:
        """The option ``name`` when it holds text, else None."""
        value = self.values.get(name)
        return value if isinstance(value, str) else None


class Importer(Protocol):
    """A source format. One instance reads one source at a time; it holds no state between
    calls, so ``read`` can be resumed from a cursor in another process."""

    name: ClassVar[str]
    """Short, stable name, used in node ids (``source``) and lineage; never change it."""
    version: ClassVar[str]
    """Version of the transform: bumped when the same record would give a different node."""
    permissions: ClassVar[frozenset[str]]
    """The grants it needs, e.g. ``{"file-system"}`` or ``{"notes"}``."""
    declared_options: ClassVar[tuple[OptionSpec, ...]]
    """The options it reads (``options.OptionSpec``): an operation that gives any other is
    refused when it is created. An importer that declares none takes none (``options_of``)."""

    def accepts(self, path: Path) -> bool:
        """Whether this importer reads the source at ``path`` (by name or a quick look)."""
        ...

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        """Count and fingerprint the source without holding it in memory."""
        ...

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        """Yield every record after ``cursor`` (None: from the start) with the cursor that
        resumes right after it. A cursor is plain JSON; reading from it again yields exactly
        the records that followed, in the same order, as the same drafts."""
        ...


def options_of(importer: Importer) -> tuple[OptionSpec, ...]:
    """The options an importer declares; none for one that does not say (a plugin written
    before importers declared them)."""
    declared = getattr(importer, "declared_options", ())
    return tuple(spec for spec in declared if isinstance(spec, OptionSpec))


def family_of(importer: Importer) -> str | None:
    """An importer's family (an optional ``family`` class attribute): importers of one family
    read the same files for different records, so a file one of them takes goes to each of
    them (calendar events and reminders' to-dos from one ``.ics``)."""
    family = getattr(importer, "family", None)
    return family if isinstance(family, str) else None
