"""Content-aware storage: blobs by SHA-256, deduplicated, compressed when it pays, referenced
by node versions and operation artifacts, garbage collected by reachability, verified."""

from isometry.content.backends import Backend, LocalBackend, MemoryBackend, Staging
from isometry.content.reports import (
    BlobGcReport,
    BlobInfo,
    BlobRef,
    BlobStats,
    Damage,
    MimeStats,
    Reference,
    VerifyReport,
)
from isometry.content.store import ContentStore

__all__ = [
    "Backend",
    "BlobGcReport",
    "BlobInfo",
    "BlobRef",
    "BlobStats",
    "ContentStore",
    "Damage",
    "LocalBackend",
    "MemoryBackend",
    "MimeStats",
    "Reference",
    "Staging",
    "VerifyReport",
]
