"""A card's lines as properties: vobject's content-line parser behind a small typed layer.

vobject's ``parseLine`` reads each property: group, name, parameters with their quoting and
comma lists, value. The rest of vobject is not used. Its component layer decodes text values by
splitting them at every unescaped comma and keeping the first piece, which cuts ``FN:Mr. John
Richter, James Doe Sr.`` (as Gmail writes it) down to ``Mr. John Richter``; its ``ContentLine``
raises on a quoted-printable byte its charset cannot decode (a stray ``=80`` in a UTF-8 value,
as in the Android fixture) and costs more than the parsing itself. Values are decoded in
``values``, from the text exactly as written.

Before a line is parsed, this module does what vobject's line reader cannot:
- bytes become text per line: the property's ``CHARSET`` when it decodes, else UTF-8, else
  Windows-1252 (what 2.1 exports without a charset were written in);
- physical lines are joined into logical ones, keeping the file line each property starts on:
  folded lines (a leading space or tab), quoted-printable soft line breaks (a line ending in
  ``=`` continues on the next, even when that one is blank), and vCard 2.1 base64 values whose
  lines are not indented; a blank line ends a value (2.1 ends base64 that way).
Quoted-printable values are then decoded in their charset, a byte it cannot decode replaced by
U+FFFD.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from vobject.base import ParseError, parseLine

from isometry.sources.vcard.blocks import Line

_BASE64_LINE = re.compile(rb"[A-Za-z0-9+/]+=*")
_QP = "QUOTED-PRINTABLE"
_BASE64 = frozenset({"B", "BASE64"})
_SNIPPET = 60


class CardError(Exception):
    """A card that cannot be read; ``reason`` names the line where reading it failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Property:
    """One property of a card. ``params`` maps upper-case parameter names to their values as
    written; ``bare`` holds vCard 2.1 parameters written without a name (``TEL;HOME;VOICE``).
    ``value`` is text as written, quoted-printable already decoded, escapes not yet undone."""

    name: str
    value: str
    line: int
    group: str | None = None
    params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    bare: tuple[str, ...] = ()

    def param(self, name: str) -> str | None:
        """The first value of parameter ``name``, if it has one."""
        values = self.params.get(name)
        return values[0] if values else None

    @property
    def base64(self) -> bool:
        encodings = {v.upper() for v in self.params.get("ENCODING", ())}
        return bool(encodings & _BASE64) or any(b.upper() == "BASE64" for b in self.bare)


@dataclass(frozen=True, slots=True)
class Card:
    """The properties of one card, in file order, and the cards embedded in it (2.1 AGENT)."""

    version: str | None
    properties: tuple[Property, ...]
    agents: tuple[Card, ...]


def parse_card(lines: Sequence[Line]) -> Card:
    """The card written on ``lines`` (``BEGIN:VCARD`` to ``END:VCARD``), or ``CardError``."""
    stack: list[_Building] = []
    done: Card | None = None
    for number, text in _logical_lines(lines):
        prop = _property(number, text)
        if done is not None:
            raise CardError(f"line {number} follows the end of the card")
        if prop.name == "BEGIN":
            if prop.value.strip().upper() != "VCARD":
                raise CardError(f"line {number} begins a {prop.value!r} inside a card")
            stack.append(_Building())
        elif not stack:
            raise CardError(f"line {number} comes before BEGIN:VCARD")
        elif prop.name == "END":
            card = stack.pop().card()
            if stack:
                stack[-1].agents.append(card)
            else:
                done = card
        elif prop.name == "VERSION":
            stack[-1].version = prop.value.strip()
        else:
            stack[-1].properties.append(prop)
    if done is None:
        raise CardError("the card has no END:VCARD")
    return done


@dataclass
class _Building:
    version: str | None = None
    properties: list[Property] = field(default_factory=list)
    agents: list[Card] = field(default_factory=list)

    def card(self) -> Card:
        return Card(self.version, tuple(self.properties), tuple(self.agents))


# -- lines ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Head:
    """What the first line of a property says about how its value is written."""

    charset: str | None = None
    quoted_printable: bool = False
    base64: bool = False


def _head(data: bytes) -> _Head:
    # Only the name and parameters matter here: parse up to the first colon (a colon inside
    # a quoted parameter value cuts it short; the whole line is parsed then).
    colon = data.find(b":")
    try:
        _, params, _, _ = parseLine(data[: colon + 1].decode("latin-1"))
    except ParseError:
        try:
            _, params, _, _ = parseLine(data.decode("latin-1"))
        except ParseError:
            return _Head()
    charset, qp, b64 = None, False, False
    for name, *values in params:
        upper = name.upper()
        if upper == "CHARSET" and values:
            charset = values[0]
        elif upper == "ENCODING":
            qp = qp or any(v.upper() == _QP for v in values)
            b64 = b64 or any(v.upper() in _BASE64 for v in values)
        elif not values:  # a bare 2.1 parameter
            qp = qp or upper == _QP
            b64 = b64 or upper == "BASE64"
    return _Head(charset, qp, b64)


def _logical_lines(lines: Sequence[Line]) -> Iterator[tuple[int, str]]:
    """(file line where it starts, text) of each logical line."""
    parts: list[str] = []
    start, head = 0, _Head()
    for line in lines:
        data = line.data
        if not data.strip():
            if parts:
                yield start, "".join(parts)
            parts = []
            continue
        if parts and head.quoted_printable and parts[-1].endswith("="):
            if data.strip().upper() != b"END:VCARD":  # a last line that wrongly ends in "="
                parts.append("\n" + decode_text(data, head.charset))  # a2b_qp drops "=\n"
                continue
        elif parts and data[:1] in (b" ", b"\t"):
            parts.append(decode_text(data[1:], head.charset))
            continue
        elif parts and head.base64 and _BASE64_LINE.fullmatch(data):
            parts.append(data.decode("ascii"))
            continue
        if parts:
            yield start, "".join(parts)
        head = _head(data)
        start, parts = line.number, [decode_text(data, head.charset)]
    if parts:
        yield start, "".join(parts)


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Bytes of a line as text: in ``charset`` if they decode so, else UTF-8, else cp1252."""
    if data.isascii():
        return data.decode("ascii")
    for name in (charset, "utf-8"):
        if name:
            try:
                return data.decode(name)
            except (LookupError, UnicodeDecodeError):
                pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # cp1252 leaves five bytes undefined; latin-1 none


# -- properties ----------------------------------------------------------------------------


def _property(number: int, text: str) -> Property:
    try:
        name, raw_params, value, group = parseLine(text, number)
    except ParseError:
        snippet = text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."
        raise CardError(f"line {number} is not a vCard property: {snippet!r}") from None
    params: dict[str, tuple[str, ...]] = {}
    bare: list[str] = []
    quoted_printable = False
    for key, *written in raw_params:
        upper = key.upper()
        values = [v for v in written if v.upper() != _QP]
        if upper == _QP or len(values) < len(written):
            quoted_printable = True
            if upper == _QP or not values:
                continue
        if values:
            params[upper] = params.get(upper, ()) + tuple(values)
        else:
            bare.append(key)
    if quoted_printable:
        charset = params.get("CHARSET", (None,))[0]
        value = _decoded(binascii.a2b_qp(value.encode("utf-8")), charset)
    return Property(name.upper(), value, number, group, params, tuple(bare))


def _decoded(data: bytes, charset: str | None) -> str:
    """Decoded quoted-printable bytes: a declared charset is trusted (bytes it cannot decode
    are replaced); without one, or with one Python does not know, they are read as a line."""
    if charset:
        try:
            return data.decode(charset)
        except LookupError:
            pass
        except UnicodeDecodeError:
            return data.decode(charset, errors="replace")
    return decode_text(data)
