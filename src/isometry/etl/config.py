"""An operation's configuration: a template's defaults with the user's overrides, checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from isometry.errors import InvalidConfiguration, ModelError
from isometry.model import JSON, utc_timestamp
from isometry.vcs.fieldmerge import STRATEGIES

BRANCH_STRATEGIES = ("main", "isolated", "temporary")  # and "existing:NAME"
POST_EXECUTION = ("auto-merge", "manual-merge", "rollback-on-failure", "preserve-branch")
MIN_BATCH, MAX_BATCH = 50, 1000
# The limits that must be positive when given, with how a message names them.
_LIMITS = {
    "timeout_seconds": "timeout",
    "max_memory_mb": "memory limit",
    "max_database_mb": "database size limit",
}


@dataclass(frozen=True)
class OperationConfig:
    batch_size: int = 500
    deduplicate: bool = True
    date_from: str | None = None
    date_to: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    branch_strategy: str = "isolated"
    post_execution: str = "auto-merge"
    merge_strategy: str = "manual"
    target: str = "main"
    sync_deletes: bool = False
    max_error_rate: float = 0.1
    timeout_seconds: float | None = None
    max_memory_mb: float | None = None
    max_database_mb: float | None = None
    options: Mapping[str, JSON] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not MIN_BATCH <= self.batch_size <= MAX_BATCH:
            raise InvalidConfiguration(
                f"batch size {self.batch_size} is outside {MIN_BATCH}..{MAX_BATCH}"
            )
        strategy = self.branch_strategy
        if strategy not in BRANCH_STRATEGIES and not (
            strategy.startswith("existing:") and len(strategy) > len("existing:")
        ):
            raise InvalidConfiguration(
                f"branch strategy {strategy!r}: use main, isolated, temporary or existing:NAME"
            )
        if self.post_execution not in POST_EXECUTION:
            raise InvalidConfiguration(
                f"post-execution strategy {self.post_execution!r}: use {', '.join(POST_EXECUTION)}"
            )
        if self.merge_strategy not in STRATEGIES:
            raise InvalidConfiguration(
                f"merge strategy {self.merge_strategy!r}: use {', '.join(STRATEGIES)}"
            )
        if not 0.0 <= self.max_error_rate <= 1.0:
            raise InvalidConfiguration(f"max error rate {self.max_error_rate} is outside 0..1")
        for name, label in _LIMITS.items():
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidConfiguration(f"the {label} must be positive, not {value:g}")
        for name, label in (("date_from", "from date"), ("date_to", "to date")):
            value = getattr(self, name)
            if value is not None:
                try:
                    object.__setattr__(self, name, utc_timestamp(value, f"the {label}"))
                except ModelError as error:
                    raise InvalidConfiguration(str(error)) from None
        # Compared as times: the text of one with a fraction of a second sorts wrongly.
        start, end = self.date_from, self.date_to
        if start is not None and end is not None and _moment(start) > _moment(end):
            raise InvalidConfiguration(
                f"the from date {start} is later than the to date {end}: "
                "no record could be imported"
            )

    @property
    def branch_name(self) -> str | None:
        """The branch named by ``existing:NAME``, else None."""
        prefix = "existing:"
        return (
            self.branch_strategy[len(prefix) :] if self.branch_strategy.startswith(prefix) else None
        )

    def with_overrides(self, overrides: Mapping[str, Any]) -> OperationConfig:
        return replace(self, **_values(overrides))

    def to_json(self) -> dict[str, JSON]:
        # Field by field (every other field holds a plain value): ``asdict`` deep-copies the
        # options only for them to be replaced here.
        out: dict[str, JSON] = {name: getattr(self, name) for name in _NAMES}
        out["include"] = list(self.include)
        out["exclude"] = list(self.exclude)
        out["options"] = dict(self.options)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OperationConfig:
        # The defaults overridden, built (and checked) once rather than twice.
        return cls(**_values(data))


def _moment(stamp: str) -> datetime:
    """A time as ``utc_timestamp`` writes it (UTC, with a ``Z``)."""
    return datetime.fromisoformat(stamp.removesuffix("Z") + "+00:00")


_NAMES = tuple(f.name for f in fields(OperationConfig))
_KNOWN = frozenset(_NAMES)


def _values(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The fields ``overrides`` sets (None: keep the default), checked by name."""
    unknown = sorted(set(overrides) - _KNOWN)
    if unknown:
        raise InvalidConfiguration(f"unknown configuration key(s): {', '.join(unknown)}")
    values = {k: v for k, v in overrides.items() if v is not None}
    for name in ("include", "exclude"):
        if name in values:
            values[name] = tuple(values[name])
    return values
