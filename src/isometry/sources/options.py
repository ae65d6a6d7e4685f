"""The options an importer takes: each one's name, the values it takes, what it does.

An importer declares them in its class attribute ``declared_options`` (see ``base.Importer``);
the engine checks an operation's options against them when the operation is created and keeps
each value as its declaration parses it, so an importer reads a flag as ``True`` or ``False``,
a choice as one of its values, never the text a user typed (``yes``, ``On``, ``1``).

A value comes as the command line gives it (text) or as the configuration holds it (any JSON);
``OptionSpec.parse`` takes either and raises ``ValueError`` saying what to give instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from isometry.model import JSON

Parser = Callable[[JSON], JSON]

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True)
class OptionSpec:
    """One option: ``takes`` says in a few words which values it takes (shown to users),
    ``description`` what it does, in one line; ``parse`` turns a value given into the one
    kept, or raises ``ValueError``."""

    name: str
    takes: str
    description: str
    parse: Parser

    def to_json(self) -> dict[str, JSON]:
        return {"name": self.name, "takes": self.takes, "description": self.description}


def flag(name: str, description: str) -> OptionSpec:
    """An option that is on or off: true/false, yes/no, on/off or 1/0, in any case."""
    return OptionSpec(name, "true or false", description, parse_flag)


def parse_flag(value: JSON) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError("give true or false (or yes/no, on/off, 1/0)")


def choice(name: str, choices: Sequence[str], description: str) -> OptionSpec:
    """An option that takes one of ``choices`` (in any case)."""

    def parse(value: JSON) -> str:
        word = value.strip().lower() if isinstance(value, str) else ""
        if word in choices:
            return word
        raise ValueError(f"give {_alternatives(choices)}{did_you_mean(word, choices)}")

    return OptionSpec(name, " or ".join(choices), description, parse)


def text(name: str, description: str, *, takes: str = "text", blank: bool = False) -> OptionSpec:
    """An option that takes text, kept as given; white space alone only with ``blank`` (a
    separator may be a space, a name may not)."""

    def parse(value: JSON) -> str:
        if isinstance(value, str) and (value.strip() or (blank and value)):
            return value
        raise ValueError(f"give {takes}")

    return OptionSpec(name, takes, description, parse)


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the known word closest to ``word``, if one is close."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _alternatives(choices: Sequence[str]) -> str:
    if len(choices) == 1:
        return choices[0]
    return ", ".join(choices[:-1]) + " or " + choices[-1]
