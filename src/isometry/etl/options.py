"""The options an operation takes besides its importers' own, and the check of them all.

Every template that reads sources takes ``include_hidden`` (read by the engine, which walks the
folders) and ``include_deleted`` (``--include-deleted``: read by the importers whose sources
keep deleted records); the export template takes ``at`` and ``format``. ``checked`` refuses an
option the template does not take, or a value it cannot use, before the operation is made.
"""

from __future__ import annotations

from collections.abc import Mapping

from isometry.errors import InvalidOption
from isometry.etl.export import FORMATS
from isometry.model import JSON
from isometry.sources.options import OptionSpec, choice, did_you_mean, flag, text

READING: tuple[OptionSpec, ...] = (
    flag(
        "include_hidden",
        "Also read a folder's hidden files and folders (names that start with a dot).",
    ),
    flag(
        "include_deleted",
        "Also import what the source keeps as deleted (Recently Deleted notes, Evernote's "
        "trash), marked deleted; the same as --include-deleted.",
    ),
)
EXPORT: tuple[OptionSpec, ...] = (
    text("at", "What to export (default main).", takes="a branch, tag or commit"),
    choice(
        "format",
        FORMATS,
        "jsonl: an archive archive-import reads back (the default); markdown: a vault.",
    ),
)


def checked(
    template: str, values: Mapping[str, JSON], specs: Mapping[str, OptionSpec]
) -> dict[str, JSON]:
    """``values`` as their declarations in ``specs`` parse them (a value of None is no value:
    the option is left out). An option not in ``specs``, or a value its declaration refuses,
    raises ``InvalidOption`` naming the option and the value."""
    if not isinstance(values, Mapping):
        raise InvalidOption(f"options must be an object of option names and values, not {values!r}")
    out: dict[str, JSON] = {}
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            raise InvalidOption(_unknown(template, name, specs))
        if value is None:
            continue
        try:
            out[name] = spec.parse(value)
        except ValueError as error:
            raise InvalidOption(f"the option {name}={value!r}: {error}") from None
    return out


def _unknown(template: str, name: str, specs: Mapping[str, OptionSpec]) -> str:
    if not specs:
        return f"{template} takes no option, not {name!r}"
    return (
        f"{template} has no option {name!r}{did_you_mean(name, specs)}; its options are "
        f"{', '.join(specs)} (see 'isometry templates')"
    )
