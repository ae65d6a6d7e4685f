"""The template registry, in the vocabulary of the Isometry design.

A template is offered only when every importer it reads with is installed: the Apple, office
and sync templates arrive with their sources. The options it takes are its importers' (each
declares its own) and the engine's (``etl.options``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from isometry.errors import UnknownTemplate
from isometry.etl import options as engine_options
from isometry.etl.config import OperationConfig
from isometry.model import JSON
from isometry.sources import registry
from isometry.sources.base import options_of
from isometry.sources.options import OptionSpec


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    description: str
    category: str  # import | export | sync | maintenance
    complexity: str  # simple | moderate | complex
    permissions: frozenset[str]
    sources: tuple[str, ...]  # importer names this template reads with
    defaults: OperationConfig = field(default_factory=OperationConfig)

    def offered(self, installed: frozenset[str]) -> bool:
        if self.category == "export":
            return True  # it reads the repository, not a source
        return bool(self.sources) and set(self.sources) <= installed

    def options(self) -> dict[str, OptionSpec]:
        """The options an operation of this template takes, by name: each importer's, in the
        order of ``sources``, then the engine's. Importers that read the same option declare
        it alike (the first declaration is the one kept)."""
        found: dict[str, OptionSpec] = {}
        for name in self.sources:
            for spec in options_of(registry.load(name)):
                found.setdefault(spec.name, spec)
        for spec in engine_options.EXPORT if self.category == "export" else engine_options.READING:
            found.setdefault(spec.name, spec)
        return found

    def check_options(self, values: Mapping[str, JSON]) -> dict[str, JSON]:
        """``values`` checked and parsed (see ``etl.options.checked``): an option this template
        does not take, or a value it cannot use, raises ``InvalidOption``."""
        return engine_options.checked(self.id, values, self.options())

    def to_json(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "complexity": self.complexity,
            "permissions": sorted(self.permissions),
            "sources": list(self.sources),
            "defaults": self.defaults.to_json(),
            "options": [spec.to_json() for spec in self.options().values()],
        }


def _t(
    id_: str,
    name: str,
    description: str,
    category: str,
    complexity: str,
    permissions: set[str],
    sources: tuple[str, ...],
    **defaults: JSON,
) -> Template:
    config = OperationConfig().with_overrides(defaults)
    return Template(
        id_, name, description, category, complexity, frozenset(permissions), sources, config
    )


FILES = {"file-system"}

TEMPLATES: tuple[Template, ...] = (
    _t(
        "apple-notes-import",
        "Apple Notes",
        "Every note of every account, with folders, "
        "formatting and attachments, from NoteStore.sqlite or a Notes container.",
        "import",
        "complex",
        {"notes", "file-system"},
        ("apple-notes",),
        batch_size=200,
    ),
    _t(
        "apple-reminders-import",
        "Apple Reminders",
        "Reminders exported as iCalendar to-dos, as tasks with due dates, priorities and lists.",
        "import",
        "simple",
        {"reminders", "file-system"},
        ("apple-reminders",),
    ),
    _t(
        "apple-calendar-import",
        "Apple Calendar",
        "Events from iCalendar files with times resolved to UTC, recurrence and attendees.",
        "import",
        "moderate",
        {"calendar", "file-system"},
        ("apple-calendar",),
    ),
    _t(
        "apple-contacts-import",
        "Apple Contacts",
        "People from vCard files, with their organisations, addresses and photos.",
        "import",
        "simple",
        {"contacts", "file-system"},
        ("apple-contacts",),
    ),
    _t(
        "safari-data-import",
        "Safari",
        "Bookmarks, reading list and history.",
        "import",
        "moderate",
        {"full-disk-access", "file-system"},
        ("safari",),
    ),
    _t(
        "bulk-office-import",
        "Office files",
        "Word documents and Excel workbooks as document and spreadsheet nodes.",
        "import",
        "moderate",
        FILES,
        ("office",),
    ),
    _t(
        "sqlite-direct-sync",
        "SQLite direct sync",
        "Re-read a SQLite database and apply only the rows that changed, deletions included.",
        "sync",
        "complex",
        FILES,
        ("sqlite",),
        post_execution="auto-merge",
        sync_deletes=True,
    ),
    _t(
        "full-system-import",
        "Full system import",
        "Every Apple source of a home folder laid out like a Mac's (Notes container, Safari, "
        "exported .ics and .vcf files) in one operation on one branch, reported per source.",
        "import",
        "complex",
        {"notes", "reminders", "calendar", "contacts", "full-disk-access", "file-system"},
        ("apple-notes", "apple-calendar", "apple-reminders", "apple-contacts", "safari"),
        include=[
            "Library/Group Containers/group.com.apple.notes/NoteStore.sqlite",
            "Library/Safari/History.db",
            "Library/Safari/Bookmarks.plist",
            "*.ics",
            "*.vcf",
        ],
    ),
    _t(
        "data-export-archive",
        "Export archive",
        "A branch, tag or commit (option at) as a portable archive: JSON Lines, attachments "
        "and a manifest; or, with the option format=markdown, a Markdown vault.",
        "export",
        "moderate",
        FILES,
        (),
    ),
    _t(
        "archive-import",
        "Isometry archive",
        "An archive written by 'isometry export': every node, edge and attachment restored "
        "exactly (an empty repository gets the exported root hash).",
        "import",
        "simple",
        FILES,
        ("archive",),
    ),
    _t(
        "cloud-sync-setup",
        "Cloud sync set-up",
        "Connect the repository to S3-compatible storage.",
        "sync",
        "complex",
        {"network"},
        ("cloud-sync",),
    ),
    _t(
        "sqlite-database-import",
        "SQLite database",
        "Rows of any SQLite table as nodes, mapped by a small TOML file; Apple Notes and Safari "
        "stores go to their own importers.",
        "import",
        "moderate",
        FILES,
        ("apple-notes", "safari", "sqlite"),
    ),
    _t(
        "file-system-import",
        "Folder",
        "Every file of a folder, each through the importer for its type; any other file as a "
        "document with the file attached. Hidden files are skipped unless include_hidden.",
        "import",
        "complex",
        FILES,
        (
            "apple-notes",
            "safari",
            "evernote",
            "google-keep",
            "markdown",
            "html",
            "office",
            "apple-calendar",
            "apple-reminders",
            "apple-contacts",
            "sqlite",
            "json",
            "csv",
            "file-system",
        ),
    ),
    _t(
        "cloud-sync-operation",
        "Cloud sync",
        "Push and pull the repository to and from S3-compatible storage.",
        "sync",
        "complex",
        {"network"},
        ("cloud-sync",),
    ),
    _t(
        "markdown-import",
        "Markdown vault",
        "Markdown files and Obsidian vaults: front matter, tags, wikilinks as edges, embeds as "
        "attachments.",
        "import",
        "moderate",
        FILES,
        ("markdown",),
    ),
    _t(
        "evernote-import",
        "Evernote",
        "Evernote .enex exports: notes as Markdown with tags, checklists, tables and resources.",
        "import",
        "moderate",
        FILES,
        ("evernote",),
    ),
    _t(
        "google-keep-import",
        "Google Keep",
        "A Google Takeout Keep folder: notes, checklists, labels and attachments.",
        "import",
        "simple",
        FILES,
        ("google-keep",),
    ),
    _t(
        "html-import",
        "Web pages",
        "Saved HTML pages: title, article text as Markdown, canonical URL and publication date.",
        "import",
        "simple",
        FILES,
        ("html",),
    ),
    _t(
        "json-import",
        "JSON records",
        "JSON Lines, or JSON arrays of records (also wrapped "
        "under data, items, records or cards), mapped by field name.",
        "import",
        "simple",
        FILES,
        ("json",),
    ),
    _t(
        "csv-import",
        "CSV records",
        "CSV or TSV with a header row, delimiter and encoding detected, mapped by column name.",
        "import",
        "simple",
        FILES,
        ("csv",),
    ),
)

_BY_ID: Mapping[str, Template] = {t.id: t for t in TEMPLATES}


def offered() -> list[Template]:
    """The templates whose importers are installed."""
    installed = frozenset(registry.available())
    return [t for t in TEMPLATES if t.offered(installed)]


def get(template_id: str) -> Template:
    """An offered template by id."""
    template = _BY_ID.get(template_id)
    if template is None or template not in offered():
        names = ", ".join(t.id for t in offered())
        raise UnknownTemplate(f"no template {template_id!r} is offered (offered: {names})")
    return template
