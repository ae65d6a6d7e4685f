"""The vault a note belongs to: its root, the files in it, and how a link finds its file.

The root is the nearest folder above the note holding ``.obsidian`` (so a vault's ids are the
same whether the whole vault or one of its folders is imported), else the folder the user
named, else the note's own folder. Every file under the root is indexed by name, hidden files
and folders left out as Obsidian leaves them out; for a note named on its own, outside any
vault, only the files beside it (its folder could be a home folder: walking all of it for one
note is not what the user asked for).

Resolution follows Obsidian, case-insensitively and after Unicode NFC normalisation (macOS
writes names decomposed): a link with an empty target is the note itself; ``./x`` and ``../x``
are relative to the note's folder only; a bare name (``[[Note]]``) prefers a file in the note's
own folder, then the shortest path in the vault (fewest folders, then fewest characters, then
alphabetical, so the choice never depends on listing order); a path (``[[dir/Note]]``) is taken
from the vault root, then from the note's folder, then as the end of a longer path, shortest
first. A target matches a file named exactly so, else that name plus ``.md`` (then
``.markdown``), so ``[[Note.1]]`` finds ``Note.1.md`` and ``[[pic.png]]`` finds ``pic.png``.

The index is built once per vault for the opener it serves (one per operation: an operation
reads the files its scan found, so a listing never outlives it) and kept while the vault's
folders are unchanged: every folder's modification time is compared (adding, removing or
renaming an entry changes its folder's time), which costs one ``stat`` per folder instead of a
walk of every file per note. A change made during the operation within the same tick of a
coarse file-system clock (FAT keeps 2 s) can go unseen until the next import.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from weakref import WeakKeyDictionary

from isometry.sources.base import Opener

NOTE_SUFFIXES = (".md", ".markdown")
_CACHED_VAULTS = 8


@dataclass(frozen=True)
class Vault:
    """Where a note's links are looked up: ``root``, with its sub-folders when ``deep``."""

    root: Path
    deep: bool = True


def vault_of(path: Path, named: Path | None) -> Vault:
    """The vault holding the note at ``path`` (see the module docstring)."""
    for folder in path.parents:
        if (folder / ".obsidian").is_dir():
            return Vault(folder)
    if named is not None and path.is_relative_to(named):
        return Vault(named)
    return Vault(path.parent, deep=False)


@lru_cache(maxsize=65_536)  # the same names are compared for every link to them
def key_of(text: str) -> str:
    """How names are compared: NFC, lower case (as Obsidian lower-cases them)."""
    return unicodedata.normalize("NFC", text).lower()


@dataclass(frozen=True)
class VaultIndex:
    """The files of one vault, by lower-cased name and by lower-cased relative path."""

    root: Path
    files: tuple[str, ...]  # relative POSIX paths as on disk, sorted
    by_name: dict[str, tuple[str, ...]]
    by_path: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, root: Path, files: tuple[str, ...]) -> VaultIndex:
        by_name: dict[str, list[str]] = {}
        by_path: dict[str, list[str]] = {}
        for relative in files:
            key = key_of(relative)
            by_path.setdefault(key, []).append(relative)
            by_name.setdefault(key.rsplit("/", 1)[-1], []).append(relative)
        return cls(
            root,
            files,
            {k: tuple(v) for k, v in by_name.items()},
            {k: tuple(v) for k, v in by_path.items()},
        )

    def resolve(self, target: str, source: str) -> str | None:
        """The relative path of the file ``target`` links to from the note at ``source``
        (relative path), or None when the vault holds no such file."""
        if not target:
            return source
        folder = _parent(source)
        wanted = target.replace("\\", "/")
        if wanted.startswith(("./", "../")):
            joined = _normalise(f"{folder}/{wanted}" if folder else wanted)
            return None if joined is None else self._exact(joined, target)
        wanted = wanted.strip("/")
        if not wanted:
            return None
        if "/" not in wanted:
            return self._by_name(wanted, folder, target)
        normal = _normalise(wanted)
        if normal is None:
            return None
        relative = _normalise(f"{folder}/{normal}") if folder else None
        return (
            self._exact(normal, target)
            or (self._exact(relative, target) if relative else None)
            or self._by_suffix(normal, target)
        )

    def _exact(self, path: str, written: str) -> str | None:
        for candidate in _spellings(path):
            found = self.by_path.get(key_of(candidate))
            if found:
                return _best_case(found, written)
        return None

    def _by_name(self, name: str, folder: str, written: str) -> str | None:
        for candidate in _spellings(name):
            found = self.by_name.get(key_of(candidate))
            if found:
                return min(found, key=lambda p: (_parent(p) != folder, *_rank(p, written)))
        return None

    def _by_suffix(self, path: str, written: str) -> str | None:
        for candidate in _spellings(path):
            key = key_of(candidate)
            name = key.rsplit("/", 1)[-1]
            found = [p for p in self.by_name.get(name, ()) if key_of(p).endswith("/" + key)]
            if found:
                return min(found, key=lambda p: _rank(p, written))
        return None


def _spellings(target: str) -> tuple[str, ...]:
    """The file names a link target may mean, in order."""
    if target.lower().endswith(NOTE_SUFFIXES):
        return (target,)
    return (target, *(target + suffix for suffix in NOTE_SUFFIXES))


def _rank(path: str, written: str) -> tuple[int, int, int, str]:
    """Shortest path first; in a tie of case, the file spelled as the link is spelled."""
    return (path.count("/"), len(path), 0 if _spelled_as(path, written) else 1, path)


def _spelled_as(path: str, written: str) -> bool:
    name = unicodedata.normalize("NFC", path)
    link = unicodedata.normalize("NFC", written.replace("\\", "/").strip("/"))
    return any(name == s or name.endswith("/" + s) for s in _spellings(link))


def _best_case(found: tuple[str, ...], written: str) -> str:
    return min(found, key=lambda p: _rank(p, written)[2:])


def _parent(relative: str) -> str:
    return relative.rsplit("/", 1)[0] if "/" in relative else ""


def _normalise(path: str) -> str | None:
    """``a/./b/../c`` as ``a/c``; None when it climbs above the vault root."""
    parts: list[str] = []
    for part in PurePosixPath(path).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) or None


# -- listing and the cache -----------------------------------------------------------------


@dataclass(frozen=True)
class _Cached:
    index: VaultIndex
    folders: tuple[tuple[str, int], ...]  # every folder listed, with its modification time


_caches: WeakKeyDictionary[Opener, OrderedDict[Vault, _Cached]] = WeakKeyDictionary()
_lock = threading.Lock()


def index_for(vault: Vault, opener: Opener) -> VaultIndex:
    """The index of ``vault`` for the operation reading through ``opener``, listed again when
    any of its folders changed."""
    with _lock:
        try:
            cache = _caches.setdefault(opener, OrderedDict())
        except TypeError:  # an opener that cannot be referred to weakly: nothing is kept
            return _list(vault).index
        cached = cache.get(vault)
        if cached is not None:
            cache.move_to_end(vault)
    if cached is not None and _still_valid(cached):
        return cached.index
    fresh = _list(vault)
    with _lock:
        cache[vault] = fresh
        cache.move_to_end(vault)
        while len(cache) > _CACHED_VAULTS:
            cache.popitem(last=False)
    return fresh.index


def _still_valid(cached: _Cached) -> bool:
    for folder, mtime in cached.folders:
        try:
            if os.stat(folder).st_mtime_ns != mtime:
                return False
        except OSError:
            return False
    return True


def _list(vault: Vault) -> _Cached:
    files: list[str] = []
    folders: list[tuple[str, int]] = []
    pending = [(str(vault.root), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            folders.append((folder, os.stat(folder).st_mtime_ns))
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    relative = prefix + entry.name
                    if entry.is_dir(follow_symlinks=False):
                        if vault.deep:
                            pending.append((entry.path, relative + "/"))
                    elif entry.is_file():
                        files.append(relative)
        except OSError:
            continue  # a folder that cannot be listed holds no link targets
    files.sort()
    return _Cached(VaultIndex.of(vault.root, tuple(files)), tuple(folders))
