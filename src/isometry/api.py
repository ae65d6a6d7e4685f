"""Porcelain: one function per user verb. The CLI and the web dashboard call only these.

Nothing here reads the environment or the clock: the faces pass in a path, a ``Clock`` and an
author.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from isometry.clock import Clock
from isometry.content import BlobGcReport, BlobInfo, BlobRef, BlobStats, ContentStore, VerifyReport
from isometry.errors import (
    InvalidConfiguration,
    InvalidOperation,
    IsometryError,
    NodeNotFound,
    SourceUnreadable,
    StoreError,
)
from isometry.etl import export as etl_export
from isometry.etl import metrics as etl_metrics
from isometry.etl import operations as etl_operations
from isometry.etl import queue as etl_queue
from isometry.etl import settings as etl_settings
from isometry.etl import templates as template_registry
from isometry.etl.access import Grants
from isometry.etl.cancelling import cancel
from isometry.etl.executor import Executor, ProgressSink
from isometry.etl.operations import Operation
from isometry.etl.sources import check_name
from isometry.etl.states import State
from isometry.etl.templates import Template
from isometry.lineage import openlineage as lineage_openlineage
from isometry.lineage import queries as lineage_queries
from isometry.model import JSON, RowKind
from isometry.sources.sqlitedb import TableInfo, describe
from isometry.vcs import merging
from isometry.vcs.blame import BlameLine
from isometry.vcs.blame import blame as _blame
from isometry.vcs.commits import Commit
from isometry.vcs.diff import Diff
from isometry.vcs.diff import diff as _diff
from isometry.vcs.fieldmerge import MergePolicy, check_strategy
from isometry.vcs.maintenance import FsckReport, GcReport
from isometry.vcs.maintenance import fsck as _fsck
from isometry.vcs.maintenance import gc as _gc
from isometry.vcs.merging import Conflict, MergeResult
from isometry.vcs.ops import Op, parse_op
from isometry.vcs.repository import ApplyResult, BranchInfo, Repository

# An operation id, or a prefix of one: hex digits (the prefix search ignores their case).


def init(path: Path, *, clock: Clock, author: str) -> Repository:
    """Create a repository with an empty ``main`` holding one initial commit."""
    return Repository.init(path, clock, author)


def open_repository(path: Path, *, clock: Clock) -> Repository:
    return Repository.open(path, clock)


def read_ops(path: Path) -> list[Op]:
    """Parse an ``apply`` file (JSON Lines); any bad line rejects the file, naming the line."""
    try:
        text = path.read_bytes()
    except OSError as error:
        raise StoreError(f"{path}: cannot read: {error.strerror or error}") from None
    ops: list[Op] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            ops.append(parse_op(orjson.loads(line)))
        except orjson.JSONDecodeError as error:
            raise InvalidOperation(f"{path}:{number}: not valid JSON: {error}") from None
        except IsometryError as error:
            raise InvalidOperation(f"{path}:{number}: {error}") from None
    return ops


def apply(
    repo: Repository,
    ops: Sequence[Op],
    *,
    branch: str,
    message: str,
    author: str,
    metadata: Mapping[str, JSON] | None = None,
) -> ApplyResult:
    """Apply changes to ``branch`` atomically and commit them."""
    return repo.apply(branch, ops, author=author, message=message, metadata=dict(metadata or {}))


def create_branch(repo: Repository, name: str, start: str = "main") -> Commit:
    return repo.create_branch(name, start)


def delete_branch(repo: Repository, name: str) -> Commit:
    return repo.delete_branch(name)


def branches(repo: Repository) -> list[BranchInfo]:
    return repo.branches()


def log(
    repo: Repository, rev: str = "main", *, first_parent: bool = False, limit: int | None = None
) -> list[Commit]:
    return repo.log(rev, first_parent=first_parent, limit=limit)


def show_commit(repo: Repository, rev: str) -> Commit:
    return repo.commit(rev)


def diff(repo: Repository, source: str, target: str) -> Diff:
    return _diff(repo, source, target)


def policy(
    strategy: str = "manual",
    by_type: Mapping[str, str] | None = None,
    by_field: Mapping[str, str] | None = None,
) -> MergePolicy:
    """A merge policy from a default strategy and per-node-type / per-field overrides."""
    return MergePolicy(check_strategy(strategy), dict(by_type or {}), dict(by_field or {}))


def merge(
    repo: Repository,
    source: str,
    into: str,
    *,
    author: str,
    strategy: MergePolicy | None = None,
    message: str | None = None,
    fast_forward: bool = True,
) -> MergeResult:
    return merging.merge(
        repo,
        source,
        into,
        strategy or MergePolicy(),
        author=author,
        message=message,
        fast_forward=fast_forward,
    )


def conflicts(repo: Repository, into: str | None = None) -> list[Conflict]:
    return merging.conflicts(repo, into)


def resolve(
    repo: Repository,
    node: str,
    *,
    choice: str,
    value: JSON = None,
    field: str | None = None,
    into: str | None = None,
) -> list[Conflict]:
    return merging.resolve(repo, node, choice=choice, value=value, field_name=field, into=into)


def merge_continue(repo: Repository, into: str | None = None) -> MergeResult:
    return merging.continue_(repo, into)


def merge_abort(repo: Repository, into: str | None = None) -> str:
    return merging.abort(repo, into)


def revert(
    repo: Repository, commit: str, *, branch: str = "main", author: str, message: str | None = None
) -> MergeResult:
    return merging.revert(repo, commit, branch, author=author, message=message)


def reset(repo: Repository, branch: str, commit: str) -> Commit:
    return repo.reset(branch, commit)


def tag(repo: Repository, name: str, rev: str = "main") -> Commit:
    return repo.create_tag(name, rev)


def tags(repo: Repository) -> list[tuple[str, Commit]]:
    return repo.tags()


def nodes(
    repo: Repository, *, at: str = "main", search: str | None = None, limit: int | None = None
) -> list[dict[str, JSON]]:
    """The nodes at ``at`` (a branch, tag, commit or time), optionally full-text searched."""
    if search:
        return repo.search(search, at, limit=limit or 100)
    found = repo.list_rows(RowKind.NODE, at)
    return found[:limit] if limit is not None else found


def edges(repo: Repository, *, at: str = "main") -> list[dict[str, JSON]]:
    return repo.list_rows(RowKind.EDGE, at)


def show(repo: Repository, key: str, *, at: str = "main") -> tuple[str, dict[str, JSON]]:
    """One node (or edge) at ``at``, every field present."""
    kind, row = repo.get_row(key, at)
    return merging.KIND_NAMES[kind], row


def blame(repo: Repository, key: str, *, at: str = "main") -> list[BlameLine]:
    return _blame(repo, key, at)


def gc(
    repo: Repository, *, keep_unreachable: timedelta = timedelta(days=14), vacuum: bool = False
) -> GcReport:
    return _gc(repo, keep_unreachable=keep_unreachable, vacuum=vacuum)


def fsck(repo: Repository, *, repair: bool = False) -> FsckReport:
    return _fsck(repo, repair=repair)


# -- the engine: templates, operations, the queue, lineage, metrics ---------------------------


def templates() -> list[Template]:
    """The templates that can run here (their importers are installed)."""
    return template_registry.offered()


def create_operation(
    repo: Repository,
    template: str,
    sources: Sequence[str | Path],
    *,
    grants: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
    base: Path,
) -> Operation:
    """An operation from a template, its sources and grants (``PERMISSION=PATH``, relative
    paths against ``base``), with configuration overriding the template's defaults. Its
    ``options`` are checked against the template's (``InvalidOption``) and kept parsed."""
    chosen = template_registry.get(template)
    settings_ = chosen.defaults.with_overrides(dict(config or {}))
    settings_ = settings_.with_overrides({"options": chosen.check_options(settings_.options)})
    granted = Grants.parse(grants, base)
    paths = [str((base / Path(s)).absolute()) for s in sources]
    if not paths:
        raise InvalidConfiguration("give at least one source file or folder")
    for path in paths:
        check_name(path)  # before the operation is stored: its sources are kept as text
    with repo.db.transaction() as conn:
        return etl_operations.create(
            conn, template=chosen.id, config=settings_, sources=paths,
            grants=granted.to_json(), now=repo.now(),
        )  # fmt: skip


def check_options(template: str, options: Mapping[str, JSON]) -> dict[str, JSON]:
    """``options`` as an operation of ``template`` would keep them, parsed; one the template
    does not take, or a value it cannot use, raises ``InvalidOption`` (as creating the
    operation would)."""
    return template_registry.get(template).check_options(options)


def run_operation(
    repo: Repository, op_id: str, *, author: str, on_progress: ProgressSink | None = None
) -> Operation:
    """Run a created, queued or interrupted operation now (resume is the same call)."""
    return Executor(repo, author=author, on_progress=on_progress).run(op_id)


def import_(
    repo: Repository,
    template: str,
    sources: Sequence[str | Path],
    *,
    author: str,
    grants: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
    base: Path,
    on_progress: ProgressSink | None = None,
) -> Operation:
    """Create an operation and run it now."""
    op = create_operation(repo, template, sources, grants=grants, config=config, base=base)
    return run_operation(repo, op.id, author=author, on_progress=on_progress)


def queue_operation(
    repo: Repository,
    template: str,
    sources: Sequence[str | Path],
    *,
    grants: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
    base: Path,
) -> Operation:
    # One transaction: an operation is never seen created but not yet queued.
    with repo.db.transaction():
        op = create_operation(repo, template, sources, grants=grants, config=config, base=base)
        return etl_queue.enqueue(repo, op.id)


def run_queue(
    repo: Repository,
    *,
    author: str,
    max_concurrent: int | None = None,
    on_progress: ProgressSink | None = None,
) -> list[Operation]:
    """Run every queued operation, several at a time; each opens its own connection."""
    return etl_queue.run_queue(
        repo.path, repo.clock, author=author, max_concurrent=max_concurrent,
        on_progress=on_progress,
    )  # fmt: skip


def cancel_operation(repo: Repository, op_id: str) -> Operation:
    """Cancel a waiting or interrupted operation now, or ask a running one to stop at its next
    batch; either way its post-execution strategy is carried out (a rollback, say)."""
    # Cancelling writes no commit: the author is never used.
    return cancel(Executor(repo, author=""), op_id)


def operations(repo: Repository) -> list[Operation]:
    with repo.db.snapshot() as conn:
        return etl_operations.list_all(conn)


def operation(repo: Repository, op_id: str) -> Operation:
    with repo.db.snapshot() as conn:
        return etl_operations.load(conn, op_id)


def operation_log(repo: Repository, op_id: str) -> list[dict[str, JSON]]:
    with repo.db.snapshot() as conn:
        op = etl_operations.load(conn, op_id)
        return etl_operations.read_log(conn, op.id)


def quarantine(repo: Repository, op_id: str | None = None) -> list[dict[str, JSON]]:
    """Records that could not become nodes, with their raw form, locator and reason."""
    with repo.db.snapshot() as conn:
        if op_id is not None:
            op_id = etl_operations.load(conn, op_id).id
        rows = conn.execute(
            "SELECT id, op_id, locator, raw, reason, time FROM quarantine"
            + (" WHERE op_id = ?" if op_id else "")
            + " ORDER BY id",
            (op_id,) if op_id else (),
        ).fetchall()
    return [
        {"id": i, "operation": op, "locator": orjson.loads(loc), "raw": raw, "reason": reason,
         "time": time}
        for i, op, loc, raw, reason, time in rows
    ]  # fmt: skip


def lineage(
    repo: Repository,
    *,
    node: str | None = None,
    op_id: str | None = None,
    source: str | Path | None = None,
    limit: int | None = None,
) -> list[dict[str, JSON]]:
    """A node's history (newest first), what one operation produced, or one file's output.
    A node that no commit ever wrote is not there: ``NodeNotFound``."""
    with repo.db.snapshot() as conn:
        if node is not None:
            found = lineage_queries.history(conn, node, limit)
            if not found and not repo.ever_written(node):
                raise NodeNotFound(f"no node or edge {node!r} was ever committed here")
            return found
        if op_id is not None:
            return lineage_queries.by_operation(conn, etl_operations.load(conn, op_id).id, limit)
        if source is not None:
            check_name(source)  # no such file was ever imported, nor can be looked up
            return lineage_queries.by_source(conn, str(Path(source).resolve()), limit)
    raise InvalidConfiguration("ask for a node, an operation (--op) or a source (--source)")


def openlineage(repo: Repository, op_id: str) -> list[dict[str, JSON]]:
    """One operation as OpenLineage run events: START, then COMPLETE, FAIL or ABORT once it
    has ended."""
    with repo.db.snapshot() as conn:
        op = etl_operations.load(conn, op_id)
    files = op.result.get("sources")
    sources = (
        [str(f["path"]) for f in files if isinstance(f, Mapping) and "path" in f]
        if isinstance(files, list)
        else []
    )
    return lineage_openlineage.events(op.to_json(repo.clock.now()), sources, str(repo.path))


def metrics(repo: Repository) -> dict[str, JSON]:
    with repo.db.snapshot() as conn:
        return etl_metrics.overall(conn)


def grant(repo: Repository, specs: Sequence[str], *, base: Path) -> dict[str, list[str]]:
    """Add standing grants to the repository's configuration (used by every operation)."""
    added = Grants.parse(specs, base)
    with repo.db.transaction() as conn:
        current = Grants.from_json(etl_settings.get(conn, "grants") or {})
        merged = current.merged(added).to_json()
        etl_settings.put(conn, "grants", merged)
        return merged


def grants(repo: Repository) -> dict[str, list[str]]:
    """The standing grants of the repository (``grant`` adds to them)."""
    with repo.db.snapshot() as conn:
        return Grants.from_json(etl_settings.get(conn, "grants") or {}).to_json()


# -- content-aware storage: blobs, attachments, artifacts ------------------------------------


def content_store(
    repo: Repository, *, max_blob_size: int | None = None, max_total_bytes: int | None = None
) -> ContentStore:
    """The repository's blob store (``<repo>/blobs/``), with the quotas given, else the
    repository's own (``set_quotas``)."""
    if max_blob_size is None or max_total_bytes is None:
        with repo.db.snapshot() as conn:
            largest, total = etl_settings.quotas(conn)
        max_blob_size = largest if max_blob_size is None else max_blob_size
        max_total_bytes = total if max_total_bytes is None else max_total_bytes
    return ContentStore.open(
        repo.path, repo.db, repo.clock, max_blob_size=max_blob_size,
        max_total_bytes=max_total_bytes,
    )  # fmt: skip


def store_files(
    repo: Repository,
    paths: Sequence[Path],
    *,
    metadata: Mapping[str, JSON] | None = None,
    max_blob_size: int | None = None,
    max_total_bytes: int | None = None,
) -> list[BlobRef]:
    """Store files as they are (a folder: every file under it, in name order), one reference
    each, in order; the name recorded is the file's name."""
    store = content_store(repo, max_blob_size=max_blob_size, max_total_bytes=max_total_bytes)
    files = [
        found
        for path in paths
        for found in (
            sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        )
    ]
    return store.store_many([(path, path.name) for path in files], metadata=metadata)


def quotas(repo: Repository) -> dict[str, int | None]:
    """The repository's blob quotas in bytes (None: no limit)."""
    with repo.db.snapshot() as conn:
        largest, total = etl_settings.quotas(conn)
    return {"max_blob_size": largest, "max_total_bytes": total}


def set_quotas(
    repo: Repository,
    *,
    max_blob_size: int | None = None,
    max_total_bytes: int | None = None,
    clear: bool = False,
) -> dict[str, int | None]:
    """Set the blob quotas every store of this repository keeps to (imports included): the
    ones given, or none with ``clear``. A quota refuses a file before anything is written."""
    for name, value in (("max_blob_size", max_blob_size), ("max_total_bytes", max_total_bytes)):
        if value is not None and value <= 0:
            raise InvalidConfiguration(f"{name} must be a positive number of bytes, not {value}")
    with repo.db.transaction() as conn:
        if clear:
            etl_settings.put(conn, "blob_max_size", None)
            etl_settings.put(conn, "blob_max_total", None)
        if max_blob_size is not None:
            etl_settings.put(conn, "blob_max_size", max_blob_size)
        if max_total_bytes is not None:
            etl_settings.put(conn, "blob_max_total", max_total_bytes)
    return quotas(repo)


def blob_stats(repo: Repository) -> BlobStats:
    return content_store(repo).stats()


def blob_gc(repo: Repository, *, grace: timedelta = timedelta(hours=24)) -> BlobGcReport:
    """Remove blobs that no artifact, no node reference at a retained commit (one still in the
    history: version-control GC has not removed it) and no recent store keeps."""
    with repo.db.snapshot() as conn:
        retained = {int(row[0]) for row in conn.execute("SELECT seq FROM commits")}
    return content_store(repo).gc(grace, retained)


def blob_verify(
    repo: Repository, *, sample_percent: float | None = None, seed: int = 0
) -> VerifyReport:
    """Re-hash every blob (or a seeded sample); damage is reported, never raised."""
    return content_store(repo).verify(sample_percent, seed)


def blob_info(repo: Repository, blob_hash: str) -> BlobInfo:
    """A blob's sizes, MIME type, names and references; ``blob_hash`` may be a unique prefix."""
    store = content_store(repo)
    return store.info(store.resolve(blob_hash))


def read_blob(repo: Repository, blob_hash: str, out: BinaryIO | Path) -> int:
    """Write a blob's original bytes (checked against its hash) to a stream or a file; return
    the byte count. A file is written through a temporary file and appears only when the bytes
    were verified. ``blob_hash`` may be a unique prefix (at least 4 hex digits)."""
    store = content_store(repo)
    full = store.resolve(blob_hash)
    if not isinstance(out, Path):
        return store.copy_to(full, out)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with partial.open("wb") as target:
            written = store.copy_to(full, target)
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def attachments(repo: Repository, node: str, *, at: str = "main") -> list[dict[str, JSON]]:
    """The files linked to a node, newest version first: hash, role, names, MIME type, size,
    and the commit of the node version that linked each (the versions visible at ``at``)."""
    seq = repo.resolve(at)
    store = content_store(repo)
    found: list[dict[str, JSON]] = []
    for ref in reversed(store.references_of("node", node)):
        if ref.commit_seq is not None and not repo.graph.is_ancestor(ref.commit_seq, seq):
            continue
        info = store.info(ref.hash)
        found.append(
            {
                "hash": ref.hash,
                "role": ref.role,
                "names": info.names,
                "mime_type": info.ref.mime_type,
                "size": info.ref.size,
                "commit": repo.graph.get(ref.commit_seq).id if ref.commit_seq is not None else None,
                "link": f"attachment:{ref.hash}",
            }
        )
    return found


def collect_garbage(
    repo: Repository,
    *,
    keep_unreachable: timedelta = timedelta(days=14),
    vacuum: bool = False,
    blob_grace: timedelta = timedelta(hours=24),
) -> tuple[GcReport, BlobGcReport]:
    """History first (commits and row versions nothing reaches), then the blobs that only the
    removed node versions referenced: one repository-wide clean-up."""
    history = gc(repo, keep_unreachable=keep_unreachable, vacuum=vacuum)
    return history, blob_gc(repo, grace=blob_grace)


def export(
    repo: Repository,
    out: Path,
    *,
    author: str,
    at: str = "main",
    form: str = "jsonl",
    on_progress: ProgressSink | None = None,
) -> etl_export.ExportReport:
    """Write the nodes, edges and attachments at ``at`` to the new folder ``out``: a JSON Lines
    archive (``jsonl``, importable again with the template ``archive-import``, same root hash)
    or a Markdown vault (``markdown``). Runs as a ``data-export-archive`` operation, granted
    the folder it writes into; a failure raises its error."""
    if form not in etl_export.FORMATS:  # said as the caller named it, before any operation
        raise etl_export.ExportRefused(
            f"unknown export format {form!r} (use one of {', '.join(etl_export.FORMATS)})"
        )
    target = out.absolute()
    op = import_(repo, "data-export-archive", [target], author=author, base=target.parent,
                 grants=[f"file-system={target.parent}"], on_progress=on_progress,
                 config={"options": {"at": at, "format": form}})  # fmt: skip
    written = op.result.get("export")
    if op.state is not State.SUCCEEDED or not isinstance(written, Mapping):
        raise etl_export.ExportRefused(op.error or f"export operation {op.id} did not finish")
    return etl_export.ExportReport.from_json(written)


class _PlainOpener:
    """Opens what the user names on the command line: no operation, no grants to check."""

    def open_binary(self, path: Path) -> BinaryIO:
        try:
            return path.open("rb")
        except OSError as error:
            raise SourceUnreadable(f"{path}: cannot read: {error.strerror or error}") from None


def sqlite_tables(path: Path) -> list[TableInfo]:
    """The tables of a SQLite database as ``sqlite-database-import`` would read them, to write
    a mapping from (the file is read from a private copy, never changed)."""
    return describe(path, _PlainOpener())
