"""Evernote's values as node values: its times, numbers, names, and any element as JSON."""

from __future__ import annotations

import math
import re
from datetime import date, time
from xml.etree.ElementTree import Element

from isometry.errors import ModelError
from isometry.model import JSON, utc_timestamp
from isometry.sources.records import parse_time

_WORDS = re.compile(r"[-\s]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPACES = re.compile(r"\s+")
_ENEX_TIME = re.compile(r"\d{8}T\d{6}Z")
_ENEX_PARTS = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z")
_INTEGER = re.compile(r"-?\d{1,18}")


def snake(name: str) -> str:
    """An Evernote element name as a property name: ``source-url`` and ``sourceUrl`` both
    become ``source_url``."""
    return _WORDS.sub("_", _CAMEL.sub("_", name.strip())).lower()


def text_of(element: Element | None) -> str | None:
    """An element's text with surrounding whitespace trimmed (None when absent or empty)."""
    if element is None:
        return None
    text = (element.text or "").strip()
    return text or None


def one_line(text: str | None) -> str:
    """Runs of whitespace, line breaks included, as one space (titles, tags)."""
    return _SPACES.sub(" ", text or "").strip()


def enex_time(text: str | None) -> str | None:
    """A time as Evernote writes it (``20240131T120000Z``, UTC; newer exports sometimes use
    ISO-8601) in UTC ISO-8601 with a ``Z``; None when it is no time."""
    if not text:
        return None
    text = text.strip()
    found = _ENEX_PARTS.fullmatch(text)
    if found is not None:  # the usual form, read directly: strptime costs ten times more
        year, month, day, hour, minute, second = found.groups()
        try:
            date(int(year), int(month), int(day))
            time(int(hour), int(minute), int(second))
        except ValueError:
            return None
        return f"{year}-{month}-{day}T{hour}:{minute}:{second}Z"
    parsed = parse_time(text)
    try:
        return utc_timestamp(parsed) if isinstance(parsed, str) else None
    except ModelError:
        return None


def number(text: str | None) -> float | None:
    """A decimal number, or None when the text is not a finite one."""
    if not text:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def scalar(text: str) -> JSON:
    """Text as the JSON value it plainly is: an Evernote time (as ISO-8601), an integer,
    true/false, else the text."""
    if _ENEX_TIME.fullmatch(text):
        return enex_time(text) or text
    if _INTEGER.fullmatch(text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def element_value(element: Element) -> JSON:
    """Any element as JSON: its text when it has no children, else an object of its
    children (repeated names as lists); attributes are kept next to the text."""
    children = list(element)
    if not children:
        text = (element.text or "").strip()
        value = scalar(text)
        if element.attrib:
            return {**{snake(k): v for k, v in element.attrib.items()}, "value": value}
        return value
    out: dict[str, JSON] = {snake(k): v for k, v in element.attrib.items()}
    for child in children:
        name = snake(child.tag)
        value = element_value(child)
        if name in out:
            existing = out[name]
            out[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[name] = value
    return out
