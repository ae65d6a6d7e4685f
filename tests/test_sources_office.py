"""The ``office`` importer as the engine sees it: which files it takes, the permissions it
declares, and what it says about files it cannot read (damaged, encrypted, old formats)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import docx
import openpyxl
import pytest

from isometry import api
from isometry.errors import PermissionRefused, SourceUnreadable
from isometry.etl import templates
from isometry.etl.states import State
from isometry.sources import registry
from isometry.sources.base import Options
from isometry.sources.office import OfficeImporter
from isometry.sources.office.package import ENCRYPTED_STREAM, OLE_MAGIC
from isometry.vcs.repository import Repository
from openers import DirectOpener, RefusingOpener

IMPORTER = OfficeImporter()


OPENER = DirectOpener()


def workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["title", "due"])
    sheet.append(["Pay rent", "2024-06-01"])
    book.save(path)
    return path


def document(path: Path, text: str = "Hello") -> Path:
    made = docx.Document()
    made.add_paragraph(text)
    made.save(str(path))
    return path


def test_it_takes_office_open_xml_files_and_not_old_formats_or_lock_files() -> None:
    for name in ("a.xlsx", "B.XLSX", "macros.xlsm", "c.docx", "D.DocX"):
        assert IMPORTER.accepts(Path(name)), name
    for name in ("old.xls", "old.doc", "table.csv", "~$c.docx", "~$a.xlsx", "deck.pptx"):
        assert not IMPORTER.accepts(Path(name)), name


def test_it_is_registered_and_declares_its_templates_permissions() -> None:
    loaded = registry.load("office")
    assert isinstance(loaded, OfficeImporter)
    assert OfficeImporter.name == "office"
    assert OfficeImporter.permissions == templates.get("bulk-office-import").permissions


@pytest.mark.parametrize("suffix", [".xlsx", ".docx"])
def test_a_truncated_file_is_unreadable_and_named(tmp_path: Path, suffix: str) -> None:
    whole = workbook(tmp_path / "w.xlsx") if suffix == ".xlsx" else document(tmp_path / "d.docx")
    broken = tmp_path / f"broken{suffix}"
    broken.write_bytes(whole.read_bytes()[:300])
    with pytest.raises(SourceUnreadable, match=r"broken\.(xlsx|docx) is damaged"):
        IMPORTER.scan(broken, OPENER, Options())
    with pytest.raises(SourceUnreadable, match="damaged"):
        list(IMPORTER.read(broken, OPENER, Options(), None))


@pytest.mark.parametrize("suffix", [".xlsx", ".docx"])
def test_a_renamed_text_file_is_not_taken_for_an_office_file(tmp_path: Path, suffix: str) -> None:
    fake = tmp_path / f"notes{suffix}"
    fake.write_text("just some text\n")
    with pytest.raises(SourceUnreadable, match=r"notes\.\w+ is not an Office Open XML .*zip"):
        IMPORTER.scan(fake, OPENER, Options())
    empty = tmp_path / f"empty{suffix}"
    empty.write_bytes(b"")
    with pytest.raises(SourceUnreadable, match="is empty"):
        IMPORTER.scan(empty, OPENER, Options())


def test_password_protected_and_old_binary_files_say_what_they_are(tmp_path: Path) -> None:
    # Both are OLE compound files; an encrypted Office file holds an EncryptedPackage stream.
    sector = bytes(512 - len(OLE_MAGIC))
    locked = tmp_path / "locked.xlsx"
    locked.write_bytes(OLE_MAGIC + sector + bytes(4000) + ENCRYPTED_STREAM + bytes(100))
    with pytest.raises(SourceUnreadable, match=r"locked\.xlsx is password-protected"):
        IMPORTER.scan(locked, OPENER, Options())
    old = tmp_path / "report.docx"
    old.write_bytes(OLE_MAGIC + sector + bytes(4000))
    with pytest.raises(SourceUnreadable, match=r"report\.docx is an old binary Office file"):
        IMPORTER.scan(old, OPENER, Options())


def test_a_zip_that_is_not_the_right_kind_of_document_is_refused(tmp_path: Path) -> None:
    swapped = tmp_path / "really-a-document.xlsx"
    shutil.copy(document(tmp_path / "d.docx"), swapped)
    with pytest.raises(SourceUnreadable, match=r"really-a-document\.xlsx .*not an Office Open XML"):
        IMPORTER.scan(swapped, OPENER, Options())
    other = tmp_path / "archive.docx"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "not a document")
    with pytest.raises(SourceUnreadable, match=r"archive\.docx is damaged or not"):
        IMPORTER.scan(other, OPENER, Options())


def test_files_are_opened_only_through_the_opener(tmp_path: Path) -> None:
    for path in (workbook(tmp_path / "w.xlsx"), document(tmp_path / "d.docx")):
        with pytest.raises(PermissionRefused):
            IMPORTER.scan(path, RefusingOpener(), Options())
        with pytest.raises(PermissionRefused):
            list(IMPORTER.read(path, RefusingOpener(), Options(), None))


def test_a_folder_import_quarantines_the_file_it_cannot_read_and_imports_the_rest(
    repo: Repository, tmp_path: Path
) -> None:
    folder = tmp_path / "office"
    folder.mkdir()
    workbook(folder / "rent.xlsx")
    document(folder / "letter.docx", "Dear Ann")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 cut short")
    (folder / "~$letter.docx").write_bytes(b"lock")  # Word's lock file: not a document
    config = {"options": {"rows_as_nodes": True}, "max_error_rate": 0.5}
    op = api.import_(repo, "bulk-office-import", [folder], author="alice",
                     grants=[f"file-system={folder}"], base=tmp_path, config=config)  # fmt: skip
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert {str(n["name"]) for n in api.nodes(repo)} == {"rent / Sheet", "Pay rent", "letter"}
    (entry,) = api.quarantine(repo, op.id)
    assert "broken.docx" in str(entry["reason"])
    assert "damaged" in str(entry["reason"])


def test_an_import_outside_the_grants_is_refused(repo: Repository, tmp_path: Path) -> None:
    inside, outside = tmp_path / "granted", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    path = workbook(outside / "rent.xlsx")
    op = api.import_(repo, "bulk-office-import", [path], author="alice",
                     grants=[f"file-system={inside}"], base=tmp_path)  # fmt: skip
    assert op.state is State.FAILED
    assert "grant" in str(op.error)
    assert api.nodes(repo) == []
