"""Finding importers: Python entry points in the group ``isometry.sources``.

The built-in importers are registered the same way (in this project's ``pyproject.toml``), and
entry points are only loaded when an importer is asked for, never at import time.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from isometry.errors import BrokenPlugin, UnknownSource
from isometry.sources.base import Importer

GROUP = "isometry.sources"


@cache
def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[str]:
    """Names of the installed importers, sorted."""
    return sorted(_entry_points())


def load(name: str) -> Importer:
    """An instance of the importer registered as ``name``."""
    ep = _entry_points().get(name)
    if ep is None:
        raise UnknownSource(
            f"no importer named {name!r} is installed (installed: {', '.join(available())})"
        )
    try:
        factory = ep.load()  # type: ignore[attr-defined]
        importer: Importer = factory()
    except Exception as error:  # a third-party plugin may fail in any way
        raise BrokenPlugin(f"the importer {name!r} could not be loaded: {error}") from None
    return importer
