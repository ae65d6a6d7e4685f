"""What the content store answers: references to stored blobs, and its reports as data."""

from __future__ import annotations

from dataclasses import dataclass, field

from isometry.model import JSON


@dataclass(frozen=True, slots=True)
class BlobRef:
    hash: str
    size: int
    stored_size: int
    mime_type: str
    duplicate: bool
    compression: str = "raw"

    def to_json(self) -> dict[str, JSON]:
        return {
            "hash": self.hash,
            "size": self.size,
            "stored_size": self.stored_size,
            "mime_type": self.mime_type,
            "compression": self.compression,
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True, slots=True)
class Reference:
    """Who keeps a blob: a node (at one version, or every version when commit_seq is None)
    or an operation artifact."""

    hash: str
    kind: str
    owner: str
    role: str
    commit_seq: int | None = None

    def to_json(self) -> dict[str, JSON]:
        return {
            "hash": self.hash,
            "kind": self.kind,
            "owner": self.owner,
            "role": self.role,
            "commit_seq": self.commit_seq,
        }


@dataclass(frozen=True, slots=True)
class BlobInfo:
    ref: BlobRef
    created_at: str
    last_stored_at: str
    stores: int
    metadata: dict[str, JSON]
    names: list[str]
    references: list[Reference]

    def to_json(self) -> dict[str, JSON]:
        found = self.ref.to_json()
        del found["duplicate"]
        return found | {
            "created_at": self.created_at,
            "last_stored_at": self.last_stored_at,
            "stores": self.stores,
            "metadata": self.metadata,
            "names": list(self.names),
            "references": [r.to_json() for r in self.references],
        }


@dataclass(frozen=True, slots=True)
class MimeStats:
    blobs: int
    logical_bytes: int
    stored_bytes: int

    def to_json(self) -> dict[str, JSON]:
        return {
            "blobs": self.blobs,
            "logical_bytes": self.logical_bytes,
            "stored_bytes": self.stored_bytes,
        }


@dataclass(frozen=True, slots=True)
class BlobStats:
    blobs: int
    logical_bytes: int
    stored_bytes: int
    dedup_saved_bytes: int
    compression_saved_bytes: int
    stores: int
    references: int
    by_mime: dict[str, MimeStats]

    def to_json(self) -> dict[str, JSON]:
        return {
            "blobs": self.blobs,
            "logical_bytes": self.logical_bytes,
            "stored_bytes": self.stored_bytes,
            "dedup_saved_bytes": self.dedup_saved_bytes,
            "compression_saved_bytes": self.compression_saved_bytes,
            "stores": self.stores,
            "references": self.references,
            "by_mime": {mime: s.to_json() for mime, s in sorted(self.by_mime.items())},
        }


@dataclass(frozen=True, slots=True)
class BlobGcReport:
    examined: int
    removed: int
    bytes_freed: int
    logical_bytes_freed: int
    kept_referenced: int
    kept_young: int
    orphan_files_removed: int
    staged_leftovers_removed: int = 0

    def to_json(self) -> dict[str, JSON]:
        return {
            "staged_leftovers_removed": self.staged_leftovers_removed,
            "examined": self.examined,
            "removed": self.removed,
            "bytes_freed": self.bytes_freed,
            "logical_bytes_freed": self.logical_bytes_freed,
            "kept_referenced": self.kept_referenced,
            "kept_young": self.kept_young,
            "orphan_files_removed": self.orphan_files_removed,
        }


@dataclass(frozen=True, slots=True)
class Damage:
    hash: str
    problem: str  # "missing" | "corrupt"
    detail: str
    names: list[str]
    references: list[Reference]

    def to_json(self) -> dict[str, JSON]:
        return {
            "hash": self.hash,
            "problem": self.problem,
            "detail": self.detail,
            "names": list(self.names),
            "references": [r.to_json() for r in self.references],
        }


@dataclass(slots=True)
class VerifyReport:
    total: int
    checked: int = 0
    damaged: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged

    def to_json(self) -> dict[str, JSON]:
        return {
            "ok": self.ok,
            "total": self.total,
            "checked": self.checked,
            "damaged": [d.to_json() for d in self.damaged],
        }
