"""How a blob is encoded: a one-byte header (raw or zstd), MIME detection, and the choice to
compress, made by trying a prefix."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterator
from typing import BinaryIO

import puremagic
import zstandard

from isometry.errors import BlobCorrupt

RAW = b"\x00"
ZSTD = b"\x01"
COMPRESSION_NAMES = {RAW: "raw", ZSTD: "zstd"}
ZSTD_LEVEL = 3
PROBE = 64 * 1024
# Compression is kept only when the probe shrinks by at least this fraction.
MIN_SAVING = 0.10
OCTET_STREAM = "application/octet-stream"

# Formats that are compressed already: zstd would spend time to save nothing.
_PACKED_PREFIXES = ("audio/", "video/")
_PACKED = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/avif",
        "image/jp2",
        "application/pdf",
        "application/zip",
        "application/x-zip-compressed",
        "application/gzip",
        "application/x-gzip",
        "application/zstd",
        "application/x-zstd",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-7z-compressed",
        "application/vnd.rar",
        "application/x-rar-compressed",
        "application/java-archive",
        "application/epub+zip",
    }
)
_ZIP_BASED = frozenset({"application/java-archive", "application/epub+zip"})
_PACKED_APPLICATION_PREFIXES = (
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
)


def detect_mime(head: bytes, filename: str) -> str:
    """From the bytes first (puremagic), the filename's extension second.

    The extension only refines a generic answer from the bytes: a ZIP that is a .docx, plain
    text that is Markdown.
    """
    guessed, _ = mimetypes.guess_type(filename, strict=False) if filename else (None, None)
    found = ""
    if head:
        try:
            found = puremagic.from_string(head, mime=True)
        except (puremagic.PureError, ValueError, OSError):
            found = ""
    if not found:
        return guessed or OCTET_STREAM
    if guessed and _refines(found, guessed):
        return guessed
    return found


def _refines(found: str, guessed: str) -> bool:
    if found == "text/plain":
        return guessed.startswith("text/")
    if found in ("application/zip", "application/x-zip-compressed"):
        return guessed in _ZIP_BASED or guessed.startswith(_PACKED_APPLICATION_PREFIXES)
    return False


def is_packed(mime_type: str) -> bool:
    return (
        mime_type in _PACKED
        or mime_type.startswith(_PACKED_PREFIXES)
        or mime_type.startswith(_PACKED_APPLICATION_PREFIXES)
    )


def worth_compressing(head: bytes, mime_type: str) -> bool:
    if is_packed(mime_type) or not head:
        return False
    probe = head[:PROBE]
    packed = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(probe)
    return len(packed) <= len(probe) * (1 - MIN_SAVING)


def decode(blob_hash: str, stored: BinaryIO, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The original bytes of a stored blob, checked against ``blob_hash`` as they stream.

    BlobCorrupt is raised after the last chunk when the bytes do not hash to the name (and at
    once when the header or the zstd frame is damaged).
    """
    header = stored.read(1)
    digest = hashlib.sha256()
    if header == RAW:
        while data := stored.read(chunk):
            digest.update(data)
            yield data
    elif header == ZSTD:
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(stored, read_across_frames=True)
            while data := reader.read(chunk):
                digest.update(data)
                yield data
        except zstandard.ZstdError as error:
            raise BlobCorrupt(f"blob {blob_hash} is corrupt: {error}") from None
    else:
        raise BlobCorrupt(f"blob {blob_hash} is corrupt: unknown header {header!r}")
    if digest.hexdigest() != blob_hash:
        raise BlobCorrupt(
            f"blob {blob_hash} is corrupt: its content hashes to {digest.hexdigest()}"
        )
