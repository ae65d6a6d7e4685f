"""The ``office`` importer: Excel workbooks and Word documents (Office Open XML).

- ``.xlsx`` / ``.xlsm``: a ``spreadsheet`` node per worksheet, its table as Markdown; with the
  option ``rows_as_nodes`` (true), also a node per row when the header row names node fields
  (see ``sheet`` and ``workbook``).
- ``.docx``: a ``document`` node, its text as Markdown with headings, lists, emphasis, links,
  tables, and pictures as attachments (see ``document``).

The old binary formats (``.xls``, ``.doc``) are not read: they are not accepted, and a file
in one of them under a new name is refused with a message that says so, as is a
password-protected file (an encrypted container, not a zip). Office's lock files (``~$name``)
are not documents and are not accepted either.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from isometry.model import JSON
from isometry.sources.base import Item, Opener, Options, Scan
from isometry.sources.office.document import read_document, scan_document
from isometry.sources.office.workbook import ROWS_AS_NODES, read_workbook, scan_workbook
from isometry.sources.options import OptionSpec
from isometry.sources.records import DAYFIRST, Origin

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm"})
DOCUMENT_SUFFIXES = frozenset({".docx"})
LOCK_FILE_PREFIX = "~$"

__all__ = ["DOCUMENT_SUFFIXES", "WORKBOOK_SUFFIXES", "OfficeImporter"]


class OfficeImporter:
    """Reads Excel workbooks and Word documents (see the module docstring)."""

    name: ClassVar[str] = "office"
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = (ROWS_AS_NODES, DAYFIRST)

    def accepts(self, path: Path) -> bool:
        suffix = path.suffix.lower()
        if path.name.startswith(LOCK_FILE_PREFIX):
            return False
        return suffix in WORKBOOK_SUFFIXES or suffix in DOCUMENT_SUFFIXES

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        if path.suffix.lower() in WORKBOOK_SUFFIXES:
            return scan_workbook(path, opener, options)
        return scan_document(path, opener, options)

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        origin = Origin.of(self.name, path, options)
        if path.suffix.lower() in WORKBOOK_SUFFIXES:
            return read_workbook(path, opener, options, cursor, origin)
        return read_document(path, opener, options, cursor, origin)
