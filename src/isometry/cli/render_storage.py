"""Human output of the storage commands: stored references, blob statistics, GC and verify.

Presentation only, like ``render``: every value from the data is wrapped in ``Text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from isometry.cli.render import new_table

if TYPE_CHECKING:
    from isometry.content import BlobGcReport, BlobRef, BlobStats, VerifyReport
    from isometry.etl.export import ExportReport


def put(stored: Sequence[tuple[str, BlobRef]]) -> list[str]:
    """One plain line per stored file (never wrapped, for ``grep`` and ``cut``): new or
    duplicate, the blob's full hash (``cat`` takes it), original and stored size, MIME type,
    then the file as given."""
    if not stored:
        return ["No files stored."]
    size_width = max(len(f"{ref.size:,}") for _, ref in stored)
    stored_width = max(len(f"{ref.stored_size:,}") for _, ref in stored)
    mime_width = max(len(ref.mime_type) for _, ref in stored)
    return [
        f"{'duplicate' if ref.duplicate else 'new':<9}  {ref.hash}  {ref.size:>{size_width},} B"
        f"  stored {ref.stored_size:>{stored_width},} B  {ref.mime_type:<{mime_width}}  {name}"
        for name, ref in stored
    ]


def stats(found: BlobStats) -> RenderableType:
    summary = [
        Text(f"{found.blobs} blob(s), {found.stores} store(s), {found.references} reference(s)"),
        Text(f"logical {found.logical_bytes:,} bytes, stored {found.stored_bytes:,} bytes"),
        Text(
            f"saved by deduplication {found.dedup_saved_bytes:,} bytes, "
            f"by compression {found.compression_saved_bytes:,} bytes"
        ),
    ]
    if not found.by_mime:
        return Group(*summary)
    table = new_table("mime", "blobs", "logical bytes", "stored bytes")
    for column in table.columns[1:]:
        column.justify = "right"
    for mime, part in sorted(found.by_mime.items()):
        table.add_row(
            Text(mime), str(part.blobs), f"{part.logical_bytes:,}", f"{part.stored_bytes:,}"
        )
    return Group(*summary, Text(""), table)


def gc(report: BlobGcReport) -> RenderableType:
    return Text(
        f"Examined {report.examined} blob(s): removed {report.removed} "
        f"({report.bytes_freed:,} stored bytes, {report.logical_bytes_freed:,} logical bytes); "
        f"kept {report.kept_referenced} referenced and {report.kept_young} recent; removed "
        f"{report.orphan_files_removed} orphan file(s) and {report.staged_leftovers_removed}"
        " staged file(s) a crash left."
    )


def verify(report: VerifyReport) -> RenderableType:
    checked = f"checked {report.checked} of {report.total} blob(s)"
    if report.ok:
        return Text(f"OK: {checked}.", "green")
    lines: list[RenderableType] = [
        Text(f"{len(report.damaged)} damaged blob(s) found:", "bold red")
    ]
    for damage in report.damaged:
        names = f" ({', '.join(damage.names)})" if damage.names else ""
        lines.append(Text(f"  {damage.hash} {damage.problem}{names}: {damage.detail}"))
    lines.append(Text(f"{checked[0].upper()}{checked[1:]}.", "dim"))
    return Group(*lines)


def exported(report: ExportReport) -> RenderableType:
    what = "archive" if report.format == "jsonl" else "Markdown vault"
    return Group(
        Text.assemble("Exported ", (what, "bold"), " to ", (str(report.path), "bold")),
        Text(
            f"{report.nodes:,} node(s), {report.edges:,} edge(s), {report.attachments:,} "
            f"attachment(s) ({report.attachment_bytes:,} bytes)"
        ),
        Text(f"commit {report.commit[:12]}  root {report.root[:12]}"),
    )
