"""The files an operation reads: folders expanded, each file given to its importer, scanned.

Resuming checks that every file is still the one the checkpoints point into.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from isometry.errors import IsometryError, PermissionRefused, SourceUnreadable
from isometry.etl.access import Accessor, name_problem, shown
from isometry.etl.config import OperationConfig
from isometry.model import JSON
from isometry.sources import registry
from isometry.sources.base import Importer, Options, family_of


@dataclass(frozen=True)
class SourceFile:
    path: Path
    importer: Importer
    records: int
    size: int
    fingerprint: str
    mtime_ns: int
    root: Path | None = None  # the folder it was found in, as the user named it
    clashing: tuple[str, ...] = ()  # keys its scan found clashing (see ``Scan``)
    repeated: Mapping[str, int] = field(default_factory=dict)  # ids it found repeated (``Scan``)

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {
            "path": str(self.path),
            "importer": self.importer.name,
            "records": self.records,
            "size": self.size,
            "fingerprint": self.fingerprint,
            "mtime_ns": self.mtime_ns,
        }
        if self.root is not None:
            out["root"] = str(self.root)
        if self.clashing:
            out["clashing"] = list(self.clashing)
        if self.repeated:
            out["repeated"] = dict(self.repeated)
        return out

    def options(self, options: Options) -> Options:
        """The operation's options as this file's importer sees them."""
        return replace(
            options, root=self.root, clashing=frozenset(self.clashing), repeated=self.repeated
        )


def _wanted(relative: str, config: OperationConfig) -> bool:
    name = relative.rsplit("/", 1)[-1]

    def hit(patterns: Iterable[str]) -> bool:
        return any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in patterns)

    return (not config.include or hit(config.include)) and not hit(config.exclude)


def _files(
    root: Path,
    config: OperationConfig,
    accessor: Accessor,
    hidden: bool,
    refused: list[tuple[Path, IsometryError]],
) -> list[Path]:
    """Every file under ``root``, sorted, filtered by include/exclude; hidden ones skipped
    (hidden folders not even entered) unless ``hidden``. A file that resolves outside the
    grants (a symlink out of the tree), or whose name is not valid UTF-8, and a folder under
    ``root`` that cannot be listed, are put in ``refused`` (as they can be shown) with why,
    never looked into; ``root`` itself that cannot be listed raises ``SourceUnreadable``."""

    def unlisted(error: OSError) -> None:
        where = Path(error.filename) if error.filename is not None else root
        why = error.strerror or str(error)
        if where == root:
            raise SourceUnreadable(f"{shown(root)}: cannot read the folder: {why}")
        message = f"{shown(where)}: cannot read the folder: {why}; its files were left out"
        refused.append((Path(shown(where)), SourceUnreadable(message)))

    found: list[Path] = []
    for folder, dirs, names in os.walk(root, onerror=unlisted):
        if not hidden:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        base = Path(folder)
        for name in names:
            path = base / name
            if (name.startswith(".") and not hidden) or not path.is_file():
                continue
            if _wanted(path.relative_to(root).as_posix(), config):
                problem = name_problem(path)
                if problem is not None:
                    refused.append((Path(shown(path)), SourceUnreadable(problem)))
                    continue
                try:
                    accessor.check(path)
                except PermissionRefused as error:
                    refused.append((path, error))
                    continue
                found.append(path)
    return sorted(found)


def _importers_for(path: Path, importers: Sequence[Importer]) -> list[Importer]:
    """The importers that read ``path``: the first that accepts it, and the others of its
    family that accept it too (an iCalendar file holds events and to-dos, read by two
    importers of the family ``icalendar``)."""
    first = next((imp for imp in importers if imp.accepts(path)), None)
    if first is None:
        return []
    family = family_of(first)
    if family is None:
        return [first]
    return [first] + [
        imp
        for imp in importers
        if imp is not first and family_of(imp) == family and imp.accepts(path)
    ]


def expand(
    sources: Sequence[str],
    config: OperationConfig,
    importers: Sequence[Importer],
    accessor: Accessor,
    options: Options,
    unreadable: list[tuple[Path, str]] | None = None,
) -> list[SourceFile]:
    """The files to read, scanned, each with the importers that read it. A file found in a
    folder that cannot be read, that leads outside the grants or whose name is not valid
    UTF-8, is put in ``unreadable`` (path, reason) and left out, so one bad file does not stop
    a folder's import; a file named on its own that cannot be read fails the operation."""
    out: list[SourceFile] = []
    for source in sources:
        root = Path(source)
        if root.is_dir():
            refused: list[tuple[Path, IsometryError]] = []
            hidden = options.flag("include_hidden")
            chosen = [
                (path, imp)
                for path in _files(root, config, accessor, hidden, refused)
                for imp in _importers_for(path, importers)
            ]
            if refused:
                if unreadable is None:
                    raise refused[0][1]
                unreadable.extend((path, str(error)) for path, error in refused)
        else:
            check_name(root)
            found = _importers_for(root, importers)
            if not found:
                names = ", ".join(i.name for i in importers)
                raise SourceUnreadable(f"{source}: not a file the {names} importer reads")
            chosen = [(root, imp) for imp in found]
        folder = root.resolve() if root.is_dir() else None
        for path, importer in chosen:
            resolved = accessor.check(path)
            try:
                scan = importer.scan(resolved, accessor, replace(options, root=folder))
            except SourceUnreadable as error:
                if unreadable is None or not root.is_dir():
                    raise
                unreadable.append((resolved, str(error)))
                continue
            out.append(
                SourceFile(resolved, importer, scan.records, scan.size, scan.fingerprint,
                           resolved.stat().st_mtime_ns, folder, scan.clashing, scan.repeated)
            )  # fmt: skip
    return out


def check_name(source: Path | str) -> None:
    """Refuse a source whose name is not valid UTF-8 (see ``name_problem``)."""
    problem = name_problem(source)
    if problem is not None:
        raise SourceUnreadable(problem)


def recheck(
    known: Sequence[Mapping[str, JSON]], accessor: Accessor, options: Options
) -> list[SourceFile]:
    """The files an operation scanned when it started, checked to be as they were then, so a
    resume reads what its checkpoints point into. A file whose time changed but not its size is
    scanned again (a sync tool or ``touch`` changes the time alone): the same fingerprint is
    the same file."""
    out: list[SourceFile] = []
    for entry in known:
        path = Path(str(entry["path"]))
        resolved = accessor.check(path)
        root, clashing, repeated = entry.get("root"), entry.get("clashing"), entry.get("repeated")
        folder = Path(root).resolve() if isinstance(root, str) else None
        importer = registry.load(str(entry["importer"]))
        try:
            stat = resolved.stat()
        except OSError as error:
            raise SourceUnreadable(f"{path}: cannot resume: {error.strerror or error}") from None
        same = stat.st_size == entry["size"] and (
            stat.st_mtime_ns == entry["mtime_ns"]
            or importer.scan(resolved, accessor, replace(options, root=folder)).fingerprint
            == entry["fingerprint"]
        )
        if not same:
            raise SourceUnreadable(
                f"{path} changed since the operation started; resuming would mix two versions "
                "of it: cancel this operation and import again"
            )
        out.append(
            SourceFile(resolved, importer, int(entry["records"]), int(entry["size"]),
                       str(entry["fingerprint"]), stat.st_mtime_ns,
                       Path(root) if isinstance(root, str) else None,
                       tuple(map(str, clashing)) if isinstance(clashing, list) else (),
                       _numbers(repeated))
        )  # fmt: skip
    return out


def _numbers(found: JSON) -> dict[str, int]:
    """The repeated ids of a source as its operation keeps them (see ``Scan``)."""
    if not isinstance(found, dict):
        return {}
    return {str(key): int(number) for key, number in found.items() if isinstance(number, int)}
