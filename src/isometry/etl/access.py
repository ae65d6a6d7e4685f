"""Grants and the accessor: sources are opened only inside the roots an operation was granted.

A grant names a permission and a concrete root (``file-system=/Users/me/Notes``). Paths are
resolved (symlinks followed) before they are checked, so a link inside a granted folder that
points outside it is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from isometry.errors import InvalidConfiguration, PermissionRefused, SourceUnreadable

PERMISSIONS = (
    "notes",
    "reminders",
    "calendar",
    "contacts",
    "file-system",
    "network",
    "full-disk-access",
)


def shown(path: Path | str) -> str:
    """``path`` as text that can be printed and stored: the bytes of its name that are not
    UTF-8 written as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def name_problem(path: Path | str, goal: str = "import it") -> str | None:
    """Why ``path`` cannot be used because of its name, else None: a name that is not valid
    UTF-8 can be neither stored (an operation's sources and grants, its lineage and quarantine
    are UTF-8 text) nor matched to what a record names. ``goal`` ends the advice to rename."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return None
    try:
        Path(path).name.encode("utf-8")
    except UnicodeEncodeError:
        return f"{shown(path)}: its name is not valid UTF-8; rename it to {goal}"
    return (
        f"{shown(path)}: the name of a folder on its path is not valid UTF-8; rename that "
        f"folder to {goal}"
    )


@dataclass(frozen=True)
class Grants:
    roots: Mapping[str, tuple[Path, ...]]

    @classmethod
    def parse(cls, specs: Iterable[str], base: Path) -> Grants:
        """``PERMISSION=PATH`` strings (relative paths against ``base``)."""
        roots: dict[str, list[Path]] = {}
        for spec in specs:
            permission, sep, path = spec.partition("=")
            permission = permission.strip()
            if not sep or not path.strip():
                raise InvalidConfiguration(f"grant {spec!r}: write it as PERMISSION=PATH")
            if permission not in PERMISSIONS:
                raise InvalidConfiguration(
                    f"grant {spec!r}: unknown permission; use one of {', '.join(PERMISSIONS)}"
                )
            root = (base / path.strip()).resolve()
            problem = name_problem(root, "grant it")
            if problem is not None:
                raise InvalidConfiguration(f"grant {permission}={problem}")
            roots.setdefault(permission, []).append(root)
        return cls({k: tuple(v) for k, v in roots.items()})

    @classmethod
    def from_json(cls, data: Mapping[str, Iterable[str]]) -> Grants:
        return cls({k: tuple(Path(p) for p in v) for k, v in data.items()})

    def to_json(self) -> dict[str, list[str]]:
        return {k: [str(p) for p in v] for k, v in sorted(self.roots.items())}

    def merged(self, other: Grants) -> Grants:
        roots = {k: list(v) for k, v in self.roots.items()}
        for k, v in other.roots.items():
            roots.setdefault(k, []).extend(p for p in v if p not in roots[k])
        return Grants({k: tuple(v) for k, v in roots.items()})

    def missing(self, needed: Iterable[str]) -> list[str]:
        return sorted(p for p in needed if not self.roots.get(p))

    def covers(self, path: Path, permissions: Iterable[str], *, resolved: bool = False) -> bool:
        """Whether ``path`` (symlinks resolved first, unless ``resolved`` says it is already)
        lies inside a root granted for one of ``permissions``."""
        if not resolved:
            path = path.resolve()
        return any(
            path == root or path.is_relative_to(root)
            for permission in permissions
            for root in self.roots.get(permission, ())
        )


class Accessor:
    """The only way the engine's importers open files (an ``Opener``)."""

    def __init__(self, grants: Grants, permissions: frozenset[str]) -> None:
        self.grants = grants
        self.permissions = permissions

    def check(self, path: Path) -> Path:
        resolved = path.resolve()
        if not self.grants.covers(resolved, self.permissions, resolved=True):
            hint = next(iter(sorted(self.permissions)), "file-system")
            shown = f"{path} (which is {resolved})" if resolved != path.absolute() else str(path)
            raise PermissionRefused(
                f"{shown} is outside this operation's grants; give one with "
                f"--allow {hint}={resolved.parent}"
            )
        return resolved

    def open_binary(self, path: Path) -> BinaryIO:
        resolved = self.check(path)
        try:
            return resolved.open("rb")
        except OSError as error:
            raise SourceUnreadable(f"{path}: cannot read: {error.strerror or error}") from None
