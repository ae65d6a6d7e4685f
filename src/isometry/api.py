"""Porcelain: one function per user verb. The CLI and the web dashboard call only these.

Nothing here reads the environment or the clock: the faces pass in a path, a ``Clock`` and an
author.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import orjson

from isometry.clock import Clock
from isometry.errors import InvalidOperation, IsometryError, StoreError
from isometry.model import JSON, RowKind
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
