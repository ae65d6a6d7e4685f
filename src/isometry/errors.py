"""One exception root for the whole package, with a sub-root per layer.

Subclasses also inherit a builtin where callers would naturally catch one (``LookupError`` for
things that are not there, ``ValueError`` for bad input), and each carries the exit code the
CLI maps it to.
"""

from __future__ import annotations


class IsometryError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = 1


class ModelError(IsometryError, ValueError):
    """A node or edge that breaks the data model (bad id, bad type, bad date)."""


class StoreError(IsometryError):
    """Plumbing: the database could not be opened, migrated or written."""


class RepositoryNotFound(StoreError, FileNotFoundError):
    """No repository at the given location."""


class RepositoryExists(StoreError, FileExistsError):
    """``init`` on a location that already holds a repository."""


class SchemaTooNew(StoreError):
    """The repository was written by a newer version of this program."""


class VcsError(IsometryError):
    """Version control: refs, commits, merges."""


class RefNotFound(VcsError, LookupError):
    """A branch, tag or commit that does not exist."""


class NodeNotFound(VcsError, LookupError):
    """A node that does not exist at the given ref."""


class RefExists(VcsError, ValueError):
    """Creating a branch or tag whose name is taken."""


class InvalidRefName(VcsError, ValueError):
    """A branch or tag name that cannot be used."""


class BranchMoved(VcsError):
    """A compare-and-swap on a ref failed: someone else moved it first."""


class MergeInProgress(VcsError):
    """A merge or revert into this branch is waiting for its conflicts to be resolved."""


class NoMergeInProgress(VcsError, LookupError):
    """``--continue``, ``--abort`` or ``resolve`` with nothing to act on."""


class UnresolvedConflicts(VcsError):
    """The merge commit is refused until every conflict is resolved."""

    exit_code = 3


class InvalidOperation(VcsError, ValueError):
    """A request that is well formed but cannot be carried out (bad op line, bad strategy)."""


class SourceError(IsometryError):
    """Importers: a source that cannot be found, opened or read."""


class UnknownSource(SourceError, LookupError):
    """No installed importer has this name."""


class BrokenPlugin(SourceError):
    """An installed importer could not be loaded."""


class SourceUnreadable(SourceError, OSError):
    """A source file that is missing, unreadable, or not in the format its importer reads."""


class EtlError(IsometryError):
    """The engine: templates, operations, the queue, grants and limits."""


class UnknownTemplate(EtlError, LookupError):
    """No template with this id is offered."""


class OperationNotFound(EtlError, LookupError):
    """No operation with this id."""


class InvalidConfiguration(EtlError, ValueError):
    """An operation's configuration that cannot run (bad batch size, unknown strategy...)."""


class InvalidOption(InvalidConfiguration):
    """An importer option the template's importers do not take, or a value they cannot use:
    refused before the operation is made, a usage error."""

    exit_code = 2


class PermissionRefused(EtlError, PermissionError):
    """A source outside the operation's grants, or a grant the template needs and lacks."""


class InvalidTransition(EtlError):
    """An operation asked to move to a state it cannot reach from where it is."""


class LimitExceeded(EtlError):
    """A resource limit (time, memory, database size, concurrency) stopped an operation."""


class ContentError(IsometryError):
    """Content-aware storage: blobs, their references, quotas."""


class BlobNotFound(ContentError, LookupError):
    """No blob with this hash (or hash prefix) is stored."""


class QuotaExceeded(ContentError):
    """A write refused because it would pass the maximum blob size or total stored bytes."""


class BlobCorrupt(ContentError):
    """A stored blob whose bytes no longer match its hash."""


class InvalidHash(ContentError, ValueError):
    """A blob hash that is not 64 hex digits, or a prefix that names several blobs."""


class InvalidContentRequest(ContentError, ValueError):
    """A content request that cannot be carried out: unknown reference kind or role, a bad
    sample percentage."""


class BlobFormatUnknown(ContentError):
    """A blob folder written in a format this version does not know."""
