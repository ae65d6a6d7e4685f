"""How a blob is encoded: a one-byte header (raw or zstd), MIME detection, and the choice to
compress, made by trying a prefix."""

from __future__ import annotations

import bisect
import hashlib
import itertools
import mimetypes
import operator
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

import puremagic
import puremagic.main as _pm
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
            if INDEXED:
                matches = _matches(head)
                found = _best(matches) if matches else ""  # no exception to raise and catch
            else:
                found = str(puremagic.from_string(head, mime=True))
        except (puremagic.PureError, ValueError, OSError):
            found = ""
    if not found:
        return guessed or OCTET_STREAM
    if guessed and _refines(found, guessed):
        return guessed
    return found


_Rows = list[tuple[int, Any]]  # (row number in puremagic's header array, row)
_Lengths = list[tuple[int, dict[bytes, _Rows]]]  # by length, shortest first


def _header_index() -> tuple[list[int], list[dict[int, _Lengths]]]:
    """puremagic's header signatures by offset (ascending), then by first byte, then by
    length: per offset, the byte there picks the few lengths worth slicing (47 offsets,
    1,437 signatures)."""
    by_offset: dict[int, dict[int, dict[int, dict[bytes, _Rows]]]] = {}
    for number, row in enumerate(_pm.magic_header_array):
        match = row.byte_match
        lengths = by_offset.setdefault(row.offset, {}).setdefault(match[0], {})
        lengths.setdefault(len(match), {}).setdefault(match, []).append((number, row))
    offsets = sorted(by_offset)
    firsts = [
        {first: sorted(lengths.items()) for first, lengths in by_offset[offset].items()}
        for offset in offsets
    ]
    return offsets, firsts


def _index_ready() -> bool:
    """Whether puremagic's tables look as the index expects: they are not its public API, so
    a release that changes them sends detection to ``puremagic.from_string`` instead."""
    try:
        rows = list(_pm.magic_header_array)
        return (
            bool(rows)
            and all(
                isinstance(r.byte_match, bytes) and r.byte_match and r.offset >= 0 for r in rows
            )
            and all(hasattr(_pm, name) for name in _INTERNALS)
        )
    except (AttributeError, TypeError):
        return False


_INTERNALS = ("magic_footer_array", "multi_part_dict", "max_head", "max_foot", "_confidence")
INDEXED = _index_ready()
_OFFSETS, _FIRSTS = _header_index() if INDEXED else ([], [])
# The bytes at the first k offsets, in one call (k >= 2 for a tuple).
_PICKERS = [operator.itemgetter(*_OFFSETS[:k]) if k > 1 else None for k in range(len(_OFFSETS) + 1)]
_FOOTERS = (
    [(r.offset, r.offset + len(r.byte_match) or None, r) for r in _pm.magic_footer_array]
    if INDEXED
    else []
)


def _identify(data: bytes) -> str:
    """``puremagic.from_string(data, mime=True)``, same answer, about ten times faster: the
    header signatures are looked up by offset and first byte (see ``_header_index``); the
    footer and the multi-part signatures are checked as puremagic checks them."""
    return _best(_matches(data))


def _best(matches: list[Any]) -> str:
    return str(_pm._confidence(matches, None)[0].mime_type)


def _matches(data: bytes) -> list[Any]:
    """What ``puremagic._identify_all`` matches, in its order (before its ranking)."""
    header, footer = data[: _pm.max_head], data[-_pm.max_foot :]
    if not header:
        raise ValueError("Input was empty")
    size = len(header)
    count = bisect.bisect_left(_OFFSETS, size)  # offsets inside the header
    picker = _PICKERS[count]
    firsts = picker(header) if picker is not None else (header[_OFFSETS[0]],)
    found: list[tuple[int, Any]] = []
    for index in itertools.compress(range(count), map(dict.get, _FIRSTS, firsts)):
        offset = _OFFSETS[index]
        for length, table in _FIRSTS[index][header[offset]]:
            if offset + length > size:
                break
            rows = table.get(header[offset : offset + length])
            if rows:
                found.extend(rows)
    matches = [row for _, row in sorted(found, key=lambda pair: pair[0])]
    for start, stop, row in _FOOTERS:
        if footer[start:stop] == row.byte_match:
            matches.append(row)
    extra: set[Any] = set()
    for matched in matches:
        for row in _pm.multi_part_dict.get(matched.byte_match, ()):
            end = row.offset + len(row.byte_match)
            if row.offset < 0:
                area = footer[row.offset : end] if end != 0 else footer[row.offset :]
                if area == row.byte_match:
                    extra.add(_pm.PureMagic(matched.byte_match + row.byte_match, row.offset,
                                            row.extension, row.mime_type, row.name))  # fmt: skip
            elif end <= len(header) and header[row.offset : end] == row.byte_match:
                extra.add(_pm.PureMagic(header[matched.offset : end], row.offset,
                                        row.extension, row.mime_type, row.name))  # fmt: skip
    matches.extend(list(extra))
    return matches


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


_local = threading.local()


def compressor() -> zstandard.ZstdCompressor:
    """This thread's compressor (one per thread: they are not thread-safe; making one costs
    about as much as compressing a few KB)."""
    found: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if found is None:
        found = _local.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return found


def compressed_probe(head: bytes, mime_type: str) -> bytes | None:
    """The zstd frame of the probe (``head[:PROBE]``) when compressing pays, else None; for
    data no longer than the probe it is the whole blob's frame, ready to store."""
    if is_packed(mime_type) or not head:
        return None
    probe = head[:PROBE]
    packed = compressor().compress(probe)
    return packed if len(packed) <= len(probe) * (1 - MIN_SAVING) else None


def worth_compressing(head: bytes, mime_type: str) -> bool:
    return compressed_probe(head, mime_type) is not None


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
