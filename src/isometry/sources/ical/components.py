"""One top-level component of a file turned into items: a component the library cannot read
is ``Rejected``; a readable one gives its record, built by the event or to-do mapping.

The fields every component has are mapped here (summary, description, dates of creation and
change, status, URL, categories, location, priority, recurrence, attachments), and everything
else is kept in ``properties``.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Mapping

import orjson
from icalendar import Component
from icalendar.prop import vGeo

from isometry.model import JSON
from isometry.sources.base import Attachment, Draft, Item, Locator, Rejected, attachment_link
from isometry.sources.ical.record import Builder, FileContext, Record, property_name
from isometry.sources.ical.split import Block
from isometry.sources.ical.values import (
    Times,
    categories,
    entry,
    first,
    key_of,
    occurrences,
    parameters,
    priority,
    properties_of,
)
from isometry.sources.ical.zones import Unreadable
from isometry.sources.records import sha256_hex

# What icalendar raises on a component it cannot parse (beyond the errors it records).
PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError)
# Properties whose every occurrence is mapped (the others keep their extra occurrences).
MANY = frozenset(
    {"CATEGORIES", "ATTENDEE", "ORGANIZER", "RDATE", "EXDATE", "ATTACH", "RRULE", "RELATED-TO"}
)
FILENAME_PARAMETERS = ("FILENAME", "X-FILENAME", "X-APPLE-FILENAME", "X-ORACLE-FILENAME")
APPLE_LOCATION = "X-APPLE-STRUCTURED-LOCATION"


def items_of(block: Block, context: FileContext, build: Builder) -> list[Item]:
    """The items of one component: its record (with the people it names first), or a
    ``Rejected`` saying what is wrong with it."""
    start = block.start
    locator = Locator(
        context.file, f"line {start.number}", start.number, start.offset, block.length
    )
    where = f"{context.file}: {block.name} at line {start.number}"
    data = block.data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        bad = next((ln.number for ln in block.lines if not _is_utf8(ln.data)), start.number)
        reason = f"{where}: line {bad} is not UTF-8"
        return [Rejected(locator, data.decode("utf-8", "replace"), reason)]
    if block.problem is not None:
        return [Rejected(locator, text, f"{where}: {block.problem}")]
    try:
        component = Component.from_ical(text)
    except PARSE_ERRORS as error:
        return [Rejected(locator, text, f"{where} cannot be read: {_first_line(error)}")]
    problems = [
        _problem(block, name, message) for sub in component.walk() for name, message in sub.errors
    ]
    if problems:
        return [Rejected(locator, text, f"{where} cannot be read: {'; '.join(problems)}")]
    record = Record(component, block, context, Times(context.zones, block.calendar))
    try:
        build(record)
        _common(record)
    except Unreadable as error:
        return [Rejected(locator, text, f"{where}: {error}")]
    return [*record.people, _draft(record, locator, text)]


def _draft(record: Record, locator: Locator, text: str) -> Draft:
    node = record.node
    calendar = record.context.calendars.get(record.block.calendar)
    if calendar:
        record.properties["calendar"] = dict(calendar)
    if record.properties:
        node["properties"] = record.properties
    source_id = str(node["source_id"])
    folder = str(node.get("folder", ""))
    # The record depends on its bytes, on its calendar's name and properties and on the time
    # zone definitions it used: a change to any of them is a change to the record.
    own = orjson.dumps(calendar or {}, option=orjson.OPT_SORT_KEYS)
    context = b"\x00".join([folder.encode(), own, *sorted(record.times.definitions)])
    return Draft(
        node=node,
        locator=Locator(locator.file, source_id, locator.line, locator.offset, locator.length),
        source_hash=sha256_hex(record.block.data + b"\x00" + context),
        raw=text,
        edges=tuple(record.edges),
        attachments=tuple(record.attachments),
    )


# -- what every component has -----------------------------------------------------------------


def _common(record: Record) -> None:
    node, props, component = record.node, record.properties, record.component
    node["folder"] = record.context.folder(record.block.calendar)
    _text_field(record, "SUMMARY", "name")
    description = _text_field(record, "DESCRIPTION", None)
    created = record.moment("CREATED")
    if created is None:
        created = record.moment("DTSTAMP")
    if created is not None:
        node["created_at"] = created.text
    modified = record.moment("LAST-MODIFIED")
    if modified is not None:
        node["modified_at"] = modified.text
    status = _text_field(record, "STATUS", None)
    if status:
        node["status"] = status.strip().lower()
    _text_field(record, "URL", "source_url")
    record.used.add("CATEGORIES")
    tags = categories(component)
    if tags:
        node["tags"] = tags
    _location(record)
    _priority(record)
    _recurrence(record)
    links = _attachments(record)
    content = "\n\n".join(part for part in (description, links) if part)
    if content:
        node["content"] = content
    for key, value in properties_of(component, record.times, record.used).items():
        props.setdefault(key, value)
    _repeats(record)


def _text_field(record: Record, name: str, field_name: str | None) -> str | None:
    prop = record.take(name)
    if prop is None:
        return None
    text = str(prop)
    if field_name is not None and text.strip():
        record.node[field_name] = text.strip()
    _keep_parameters(record, name, prop)
    return text if text.strip() else None


def _keep_parameters(record: Record, name: str, prop: object) -> None:
    """Parameters of a mapped property (a LANGUAGE, an ALTREP) stay in ``properties``."""
    params = parameters(prop)
    if params:
        record.properties[f"{key_of(name)}_parameters"] = params


def _repeats(record: Record) -> None:
    """A property that may come once but came more often (two DTSTARTs, say): the first one
    is mapped, the others are kept in ``properties``."""
    for name in sorted(record.used - MANY):
        extra = occurrences(record.component, name)[1:]
        if extra:
            values = [entry(value, record.times) for value in extra]
            record.properties[key_of(name)] = values[0] if len(values) == 1 else values


def _location(record: Record) -> None:
    node = record.node
    location = _text_field(record, "LOCATION", "location_name")
    geo = record.take("GEO")
    if isinstance(geo, vGeo):
        node["latitude"], node["longitude"] = float(geo.latitude), float(geo.longitude)
    apple = first(record.component, APPLE_LOCATION)
    if apple is None:
        return
    # Apple Calendar writes a place it looked up as a geo: URI, with the address and the
    # place's name as parameters (``\n`` written for line breaks).
    params = getattr(apple, "params", {}) or {}
    address = params.get("X-ADDRESS")
    if isinstance(address, str) and address.strip():
        node["location_address"] = address.replace("\\n", "\n")
    title = params.get("X-TITLE")
    if location is None and isinstance(title, str) and title.strip():
        node["location_name"] = title
    if geo is None:
        point = _geo_uri(str(apple))
        if point is not None:
            node["latitude"], node["longitude"] = point


def _geo_uri(uri: str) -> tuple[float, float] | None:
    """Latitude and longitude of a ``geo:lat,lon`` URI (RFC 5870), None for anything else."""
    if not uri.lower().startswith("geo:"):
        return None
    coordinates = uri[4:].split(";", 1)[0].split(",")
    try:
        latitude, longitude = float(coordinates[0]), float(coordinates[1])
    except (ValueError, IndexError):
        return None
    if -90 <= latitude <= 90 and -180 <= longitude <= 180:
        return latitude, longitude
    return None


def _priority(record: Record) -> None:
    prop = record.take("PRIORITY")
    if prop is None:
        return
    if isinstance(prop, bool) or not isinstance(prop, int):
        raise Unreadable(f"PRIORITY {prop!r} is not a number")
    value = int(prop)
    record.properties["ical_priority"] = value
    mapped = priority(value)
    if mapped is not None:
        record.node["priority"] = mapped
    _keep_parameters(record, "PRIORITY", prop)


def _recurrence(record: Record) -> None:
    """RRULE as written; RDATE and EXDATE as their whole lines, since what their values mean
    depends on the parameters written with them (a TZID, a PERIOD or DATE value type)."""
    record.used.update({"RRULE", "RDATE", "EXDATE"})
    rules = [own.value for own in record.lines("RRULE")]
    if rules:
        record.properties["rrule"] = rules[0] if len(rules) == 1 else rules
    for name in ("RDATE", "EXDATE"):
        lines = [own.line.text for own in record.lines(name)]
        if lines:
            record.properties[key_of(name)] = lines


def _attachments(record: Record) -> str:
    """Files carried inline (``ATTACH;VALUE=BINARY``) become attachments, linked from the
    content; attachments given by URI stay in ``properties["attach"]``."""
    record.used.add("ATTACH")
    links: list[str] = []
    by_uri: list[JSON] = []
    described: list[JSON] = []
    for number, own in enumerate(record.lines("ATTACH"), 1):
        params = {str(k).upper(): v for k, v in own.params.items()}
        mime = params.get("FMTTYPE")
        mime_type = str(mime) if mime else None
        if (
            str(params.get("VALUE", "")).upper() != "BINARY"
            and str(params.get("ENCODING", "")).upper() != "BASE64"
        ):
            plain_params = {key_of(k): str(v) for k, v in params.items()}
            by_uri.append({"value": own.value, "parameters": plain_params} if params else own.value)
            continue
        try:
            data = base64.b64decode(own.value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise Unreadable(f"line {own.line.number}: ATTACH is not valid base64") from None
        filename = _filename(params, number, mime_type)
        digest = sha256_hex(data)
        record.attachments.append(Attachment(filename, data=data, mime_type=mime_type))
        links.append(f"[{_escape(filename)}]({attachment_link(digest)})")
        about: dict[str, JSON] = {"filename": filename, "sha256": digest, "size": len(data)}
        if mime_type:
            about["mime_type"] = mime_type
        described.append(about)
    if by_uri:
        record.properties["attach"] = by_uri
    if described:
        record.properties["attachments"] = described
    return "\n".join(links)


def _filename(params: Mapping[str, object], number: int, mime_type: str | None) -> str:
    for name in FILENAME_PARAMETERS:
        given = params.get(name)
        if isinstance(given, str) and given.strip():
            return given.strip()
    extension = (mimetypes.guess_extension(mime_type) if mime_type else None) or ".bin"
    return f"attachment-{number}{extension}"


def _escape(label: str) -> str:
    return label.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


# -- errors -----------------------------------------------------------


def _problem(block: Block, name: str | None, message: str) -> str:
    """An error the library recorded, with the line it is about."""
    first_line = _first_line(message)
    if name is not None:
        wanted = name.upper()
        for line in block.own:
            if property_name(line.text) == wanted:
                return f"line {line.number} ({wanted}): {first_line}"
        return f"{wanted}: {first_line}"
    for line in block.lines:
        if line.text and line.text in message:
            return f"line {line.number}: {first_line}"
    return first_line


def _first_line(error: object) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
