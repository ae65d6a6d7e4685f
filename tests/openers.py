"""Openers for reading sources in tests without an operation: the engine's accessor checks
grants; these stand in for it."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from isometry.errors import PermissionRefused


class DirectOpener:
    """Opens any path."""

    def open_binary(self, path: Path) -> BinaryIO:
        return path.open("rb")


class RefusingOpener:
    """Refuses every path, as an operation without the grant would."""

    def open_binary(self, path: Path) -> BinaryIO:
        raise PermissionRefused(f"{path} is outside the grants")
