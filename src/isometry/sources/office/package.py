"""What an Office file is before either library reads it: a zip (Office Open XML), an OLE
compound file (a password-protected document, or an old binary ``.xls``/``.doc`` under a new
name), or something else; and its size and fingerprint.

Both libraries answer a file they cannot read with whatever their zip or XML layer raised
(``BadZipFile``, ``KeyError`` for a missing part, ``ValueError``...). Telling the kinds apart
here first turns the common cases into one sentence a user can act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO
from zipfile import BadZipFile

from isometry.errors import SourceUnreadable
from isometry.model import JSON
from isometry.sources.base import Scan
from isometry.sources.records import digest_stream

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# An encrypted Office Open XML file is an OLE container holding this stream (its directory
# entry names are UTF-16).
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_CHUNK = 1 << 20


def check_package(path: Path, stream: BinaryIO, kind: str) -> None:
    """Raise ``SourceUnreadable`` unless ``stream`` starts like a zip archive; leaves it at 0.

    ``kind`` names what the file should be (``"workbook"``, ``"Word document"``) for messages.
    """
    head = stream.read(len(OLE_MAGIC))
    stream.seek(0)
    if head.startswith(ZIP_MAGIC):
        return
    if head == OLE_MAGIC:
        if _holds(stream, ENCRYPTED_STREAM):
            raise SourceUnreadable(
                f"{path} is password-protected (an encrypted Office file): "
                "save it without a password to import it"
            )
        raise SourceUnreadable(
            f"{path} is an old binary Office file (.xls/.doc format), not an Office Open XML "
            f"{kind}: save it as .xlsx or .docx to import it"
        )
    if not head:
        raise SourceUnreadable(f"{path} is empty, not an Office Open XML {kind}")
    raise SourceUnreadable(f"{path} is not an Office Open XML {kind} (it is not a zip archive)")


def _holds(stream: BinaryIO, needle: bytes) -> bool:
    """Whether ``needle`` occurs in the stream, read in chunks; leaves the stream at 0."""
    tail = b""
    try:
        while chunk := stream.read(_CHUNK):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle) + 1 :]
        return False
    finally:
        stream.seek(0)


def count_parts(names: Iterable[str], kinds: Iterable[tuple[str, str]]) -> dict[str, JSON]:
    """How many of the package's parts (by name) start with each prefix of ``kinds``
    (prefix, label): the parts an importer leaves out, counted so none goes unsaid."""
    listed = list(names)
    found: dict[str, JSON] = {}
    for prefix, label in kinds:
        count = sum(1 for name in listed if name.startswith(prefix))
        if count:
            found[label] = count
    return found


def measure(stream: BinaryIO) -> Scan:
    """Size and SHA-256 of the whole stream (records left at 0); leaves the stream at 0."""
    fingerprint, size, _ = digest_stream(stream)
    stream.seek(0)
    return Scan(records=0, size=size, fingerprint=fingerprint)


def damaged(path: Path, kind: str, error: BaseException) -> SourceUnreadable:
    """The error for a zip archive a library could not read as a ``kind``."""
    if isinstance(error, BadZipFile):
        reason = f"it is cut short or corrupt ({_first_line(error)})"
    elif isinstance(error, KeyError):
        reason = f"a part is missing: {_first_line(error)}"
    else:
        # python-docx names the file it was given, here an in-memory copy: say nothing of it.
        reason = _MEMORY_FILE.sub("it ", _first_line(error))
    return SourceUnreadable(f"{path} is damaged or not an Office Open XML {kind}: {reason}")


_MEMORY_FILE = re.compile(r"file '<[^>]*>' ")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
