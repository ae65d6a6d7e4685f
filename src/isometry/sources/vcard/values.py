"""Property values as data: escapes undone, structured values split, types normalised, dates
written the ISO way, inline files decoded.

One escaping rule serves every version: ``\\n`` (or ``\\N``) is a line break and ``\\\\``,
``\\,``, ``\\;``, ``\\:`` (Apple escapes colons in URLs) and ``\\"`` (Gmail escapes quotes)
stand for the character after the backslash; any other backslash is kept as written. Line
breaks inside values (from quoted-printable ``=0D=0A``) become ``\\n``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from urllib.parse import unquote_to_bytes

from isometry.model import JSON
from isometry.sources.vcard.contentlines import Property

_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPED = {"n": "\n", "N": "\n", "\\": "\\", ",": ",", ";": ";", ":": ":", '"': '"'}
_BREAKS = re.compile(r"\r\n?")
_SPLITTERS = {sep: re.compile(r"\\.|" + re.escape(sep), re.DOTALL) for sep in ";,"}
# RFC 6868: ^n, ^' and ^^ in parameter values.
_CARET = re.compile(r"\^([n'^])")
_CARETS = {"n": "\n", "'": '"', "^": "^"}

# Parameters that say how a value is written, not what it is.
_ENCODING_WORDS = frozenset({"BASE64", "B", "QUOTED-PRINTABLE", "8BIT", "7BIT"})
# vCard 2.1 writes where a value is as a bare parameter (``PHOTO;URL:...``).
_LOCATION_WORDS = frozenset({"URL", "URI", "CID", "CONTENT-ID", "INLINE"})
_HANDLED_PARAMS = frozenset({"TYPE", "ENCODING", "CHARSET"})
_APPLE_LABEL = re.compile(r"_\$!<(.*)>!\$_", re.DOTALL)


def unescape(text: str) -> str:
    """A text value with its escapes undone (see the module docstring)."""
    if "\\" in text:
        text = _ESCAPE.sub(lambda m: _ESCAPED.get(m.group(1), m.group(0)), text)
    return _BREAKS.sub("\n", text) if "\r" in text else text


def split_escaped(text: str, separator: str) -> list[str]:
    """``text`` split at each ``separator`` no backslash escapes; the pieces keep their
    escapes."""
    pieces, start = [], 0
    for match in _SPLITTERS[separator].finditer(text):
        if match.group() == separator:
            pieces.append(text[start : match.start()])
            start = match.end()
    pieces.append(text[start:])
    return pieces


def listed(text: str) -> list[str]:
    """A comma-separated list value (CATEGORIES, NICKNAME): its non-empty items."""
    items = (unescape(piece).strip() for piece in split_escaped(text, ","))
    return [item for item in items if item]


def fields(text: str, count: int) -> list[str]:
    """A structured value (N, ADR, ORG) as ``count`` fields at least, escapes undone."""
    pieces = [unescape(piece) for piece in split_escaped(text, ";")]
    return pieces + [""] * (count - len(pieces))


def joined_list(text: str) -> str:
    """One field of a structured value, still escaped, that may hold a list (``ing. jr,M.Sc.``):
    its items joined with ``, ``."""
    items = (unescape(item).strip() for item in split_escaped(text, ","))
    return ", ".join(item for item in items if item)


def caret_decoded(value: str) -> str:
    return _CARET.sub(lambda m: _CARETS[m.group(1)], value)


# -- types and parameters ------------------------------------------------------------------


def apple_label(text: str) -> str:
    """An Apple ``X-ABLabel``: ``_$!<HomePage>!$_`` (a label Apple names) and ``HomePage`` (one
    the user typed) both read ``homepage``."""
    text = unescape(text).strip()
    match = _APPLE_LABEL.fullmatch(text)
    return (match.group(1) if match else text).strip().lower()


def types_of(prop: Property, extra: Iterable[str] = ()) -> list[str]:
    """The property's types, lower case, each once: TYPE values (``TYPE=work,voice`` and
    ``TYPE=work;TYPE=voice`` alike), vCard 2.1 bare parameters, ``pref`` for a bare PREF,
    ``TYPE=pref`` or ``PREF=1``, and ``extra`` (Apple labels)."""
    found: list[str] = []
    for value in prop.params.get("TYPE", ()):
        found.extend(part.strip().lower() for part in value.split(","))
    for word in prop.bare:
        upper = word.upper()
        if upper not in _ENCODING_WORDS and upper not in _LOCATION_WORDS:
            found.append(word.lower())
    if prop.params.get("PREF") == ("1",):
        found.append("pref")
    found.extend(extra)
    return list(dict.fromkeys(t for t in found if t))


def params_of(prop: Property) -> dict[str, str]:
    """Parameters that are neither types nor encodings, lower-case names, RFC 6868 carets
    decoded; a 2.1 bare ``URL`` reads as ``value: url``."""
    out: dict[str, str] = {}
    for name, values in prop.params.items():
        if name in _HANDLED_PARAMS or (name == "PREF" and values == ("1",)):
            continue
        out[name.lower()] = ",".join(caret_decoded(v) for v in values)
    for word in prop.bare:
        if word.upper() in _LOCATION_WORDS:
            out["value"] = word.lower()
    return out


def entry(prop: Property, value: JSON, extra_types: Iterable[str] = ()) -> dict[str, JSON]:
    """``{"value", "types"}`` for one property, with ``params`` when it has others."""
    out: dict[str, JSON] = {"value": value, "types": types_of(prop, extra_types)}
    params = params_of(prop)
    if params:
        out["params"] = params
    return out


# -- dates ---------------------------------------------------------------------------------

_DATE = re.compile(r"(\d{4})-?(\d\d)-?(\d\d)")
_NO_YEAR = re.compile(r"--(\d\d)-?(\d\d)")
_DATE_TIME = re.compile(
    r"(\d{4})-?(\d\d)-?(\d\d)T(\d\d):?(\d\d)(?::?(\d\d))?(?:[.,]\d+)?"
    r"(Z|[+-]\d\d(?::?\d\d)?)?",
    re.IGNORECASE,
)


def iso_date(text: str, omit_year: str | None = None) -> str:
    """A date as ISO-8601: ``YYYY-MM-DD``, ``--MM-DD`` without a year (Apple marks that with
    ``X-APPLE-OMIT-YEAR``, here ``omit_year``), a date with a time as ``YYYY-MM-DDTHH:MM:SS``
    and its zone as written (a birthday moved to UTC could change day). Anything else, a text
    date (``VALUE=text``) or a date that does not exist, is kept as written."""
    text = text.strip()
    if match := _DATE.fullmatch(text):
        year, month, day = match.groups()
        if not _real_date(year, month, day):
            return text
        if omit_year is not None and year == omit_year.strip():
            return f"--{month}-{day}"
        return f"{year}-{month}-{day}"
    if match := _NO_YEAR.fullmatch(text):
        month, day = match.groups()
        return f"--{month}-{day}" if _real_date("2000", month, day) else text
    if match := _DATE_TIME.fullmatch(text):
        year, month, day, hour, minute, second, zone = match.groups()
        second = second or "00"
        if not _real_date(year, month, day) or not _real_time(hour, minute, second):
            return text
        return f"{year}-{month}-{day}T{hour}:{minute}:{second}{_zone(zone)}"
    return text


def _real_date(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _real_time(hour: str, minute: str, second: str) -> bool:
    try:
        time(int(hour), int(minute), min(int(second), 59))  # 60: a leap second
    except ValueError:
        return False
    return True


def _zone(zone: str | None) -> str:
    if not zone:
        return ""
    if zone.upper() == "Z":
        return "Z"
    digits = zone[1:].replace(":", "")
    return f"{zone[0]}{digits[:2]}:{digits[2:4] or '00'}"


# -- places --------------------------------------------------------------------------------

_GEO = re.compile(
    r"(?:geo:)?\s*([+-]?\d+(?:\.\d+)?)\s*[,;]\s*([+-]?\d+(?:\.\d+)?)(?:[,;].*)?",
    re.IGNORECASE | re.DOTALL,
)


def geo(text: str) -> tuple[float, float] | None:
    """Latitude and longitude from ``geo:46.77,-71.28`` (4.0) or ``46.77;-71.28`` (3.0)."""
    match = _GEO.fullmatch(unescape(text).strip())
    if match is None:
        return None
    latitude, longitude = float(match.group(1)), float(match.group(2))
    if -90 <= latitude <= 90 and -180 <= longitude <= 180:
        return latitude, longitude
    return None


# -- inline files --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inline:
    """A file a property holds in its value, or why it could not be decoded (``problem``)."""

    data: bytes
    mime_type: str | None
    extension: str
    problem: str | None = None


# Format words a TYPE (or MEDIATYPE) parameter gives: MIME type and file extension.
_FORMATS = {
    "jpeg": ("image/jpeg", "jpg"),
    "jpg": ("image/jpeg", "jpg"),
    "pjpeg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "gif": ("image/gif", "gif"),
    "bmp": ("image/bmp", "bmp"),
    "tiff": ("image/tiff", "tif"),
    "tif": ("image/tiff", "tif"),
    "webp": ("image/webp", "webp"),
    "heic": ("image/heic", "heic"),
    "x509": ("application/pkix-cert", "cer"),
    "pgp": ("application/pgp-keys", "asc"),
    "wave": ("audio/wav", "wav"),
    "wav": ("audio/wav", "wav"),
    "plain": ("text/plain", "txt"),
}
# Magic numbers win over what a card declares: exporters mislabel PNGs as JPEG.
_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
_DATA_URI = re.compile(r"data:([^,;]*)((?:;[^,;]*)*),(.*)", re.IGNORECASE | re.DOTALL)
_WHITESPACE = re.compile(r"\s+")
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def is_format_word(word: str) -> bool:
    """Whether a type is a file format (``JPEG``, ``image/png``) rather than a kind."""
    return word.lower() in _FORMATS or "/" in word


def inline_file(prop: Property) -> Inline | None:
    """The file in a base64 value (``ENCODING=b``, ``ENCODING=BASE64``, a bare ``BASE64``) or
    a ``data:`` URI; None when the value is a link or text."""
    declared = [*prop.params.get("MEDIATYPE", ()), *prop.params.get("TYPE", ()), *prop.bare]
    if prop.base64:
        data = _base64(prop.value)
        if isinstance(data, str):
            return Inline(b"", None, "bin", f"line {prop.line}: {data}")
        return _typed(data, declared)
    match = _DATA_URI.fullmatch(prop.value.strip())
    if match is None:
        return None
    media, flags, payload = match.groups()
    if ";base64" in flags.lower():
        data = _base64(payload)
        if isinstance(data, str):
            return Inline(b"", None, "bin", f"line {prop.line}: the data URI is {data}")
    else:
        data = unquote_to_bytes(payload)
    return _typed(data, [media] if media else declared)


def _base64(text: str) -> bytes | str:
    """The bytes base64 ``text`` stands for (whitespace from folding ignored), or what is
    wrong with it."""
    payload = _WHITESPACE.sub("", text)
    if not _BASE64_TEXT.fullmatch(payload):
        return "not base64: it holds other characters than A-Z, a-z, 0-9, +, / and ="
    if len(payload.rstrip("=")) % 4 == 1:
        return f"not base64: {len(payload)} characters cannot encode whole bytes (cut or edited)"
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4))
    except (binascii.Error, ValueError) as error:
        return f"not base64 ({error})"


def _typed(data: bytes, declared: list[str]) -> Inline:
    for magic, word in _MAGIC:
        if data.startswith(magic):
            mime, extension = _FORMATS[word]
            return Inline(data, mime, extension)
    for word in declared:
        lower = word.strip().lower()
        if lower in _FORMATS:
            mime, extension = _FORMATS[lower]
            return Inline(data, mime, extension)
        if "/" in lower:
            subtype = lower.split("/", 1)[1]
            known = _FORMATS.get(subtype)
            extension = known[1] if known else re.sub(r"[^a-z0-9]", "", subtype) or "bin"
            return Inline(data, lower, extension)
    return Inline(data, None, "bin")
