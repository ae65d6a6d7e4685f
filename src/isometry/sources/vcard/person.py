"""A parsed card as a ``person`` node: the fields every contacts app writes, mapped the same way
whichever app wrote them, and everything else kept under its vCard name.

Node fields: ``name`` is FN, else the parts of N, else the organisation, first email or first
phone; ``content`` is NOTE (several are joined by a blank line); ``tags`` are the CATEGORIES;
``modified_at`` is REV and ``created_at`` CREATED (RFC 9554); ``location_address`` is the
preferred (else the first) address on one line; ``latitude``/``longitude`` come from GEO.

``properties``: ``given_name``, ``family_name``, ``additional_names`` (a list), ``prefix``,
``suffix``, ``nickname`` (a list), ``organization`` (its units), ``title``, ``role``,
``emails``, ``phones``, ``urls`` (lists of ``{"value", "types"}``, plus ``params`` for other
parameters), ``addresses`` (``{"street", "locality", "region", "postal_code", "country",
"po_box", "extended", "types"}`` and ``label``), ``birthday`` and ``anniversary`` (ISO, see
``values.iso_date``), ``uid``, ``categories``, ``photos``, ``vcard_version``. Every other
property is a list of ``{"value", "types"}`` entries under its upper-case vCard name (``IMPP``,
``X-ABUID``, ``X-SOCIALPROFILE``...); so is each repeat of a property the node holds once (a
second ORG, TITLE or BDAY), so nothing a card says is lost.

The same contact from different apps: Apple's ``itemN.X-ABLabel`` names the type of the
properties of its group (``_$!<HomePage>!$_`` and ``HomePage`` both become the type
``homepage``); an anniversary is ANNIVERSARY, X-ANNIVERSARY, X-MS-ANNIVERSARY,
X-EVOLUTION-ANNIVERSARY or an X-ABDATE labelled anniversary; additional names are split at
every comma (iPhone writes ``Richter,James``, Mac Address Book ``Richter\\,James``, Gmail
``Richter\\, James``: the same two names).

Inline files (PHOTO, LOGO, SOUND, KEY as base64 or ``data:`` URIs) become attachments named
after the contact; the property's entry holds ``attachment:<sha256>``. A PHOTO that is a link
is kept as the link, never fetched. MEMBER (a group card's members) and RELATED values that are
``urn:uuid:`` URIs become LINK edges to the node of the card with that UID.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from isometry.errors import ModelError
from isometry.model import JSON, node_id_for, utc_timestamp
from isometry.sources.base import Attachment, attachment_link
from isometry.sources.records import parse_time, sha256_hex
from isometry.sources.vcard.contentlines import Card, Property
from isometry.sources.vcard.values import (
    Inline,
    apple_label,
    entry,
    fields,
    geo,
    inline_file,
    is_format_word,
    iso_date,
    joined_list,
    listed,
    params_of,
    split_escaped,
    types_of,
    unescape,
)

SOURCE = "apple-contacts"

ADDRESS_FIELDS = ("po_box", "extended", "street", "locality", "region", "postal_code", "country")
ANNIVERSARIES = frozenset(
    {"ANNIVERSARY", "X-ANNIVERSARY", "X-MS-ANNIVERSARY", "X-EVOLUTION-ANNIVERSARY"}
)
MEMBERS = frozenset({"MEMBER", "X-ADDRESSBOOKSERVER-MEMBER"})
# Properties the node holds once: the first is used, each repeat is kept under its name.
_SINGLE = frozenset({"FN", "N", "ORG", "TITLE", "ROLE", "BDAY", "UID", "REV", "CREATED"})
_TIMES = {"REV": "modified_at", "CREATED": "created_at"}
_FILE_NAME_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
_FILE_NAME_LENGTH = 100


@dataclass(frozen=True, slots=True)
class Person:
    node: dict[str, JSON]
    attachments: tuple[Attachment, ...]
    edges: tuple[dict[str, JSON], ...]


def uid_of(card: Card) -> str | None:
    """The card's UID as written, if it has a non-empty one."""
    for prop in card.properties:
        if prop.name == "UID":
            uid = unescape(prop.value).strip()
            return uid or None
    return None


def person(card: Card, source_id: str) -> Person:
    """The node (with its attachments and edges) of ``card``, identified by ``source_id``."""
    reading = _Reading(card)
    reading.read()
    node_id = node_id_for(SOURCE, source_id)
    edges = tuple(
        {"edge_type": "LINK", "source_id": node_id, "target_id": target, "label": label}
        for target, label in reading.links
    )
    node = reading.node()
    node.update(source=SOURCE, source_id=source_id)
    return Person(node, tuple(reading.attachments), edges)


@dataclass
class _Reading:
    """The state of turning one card into a node: each property adds to it in file order."""

    card: Card
    props: dict[str, JSON] = field(default_factory=dict)
    others: dict[str, list[JSON]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    labels: dict[str, list[str]] = field(default_factory=dict)
    formatted: str | None = None
    notes: list[str] = field(default_factory=list)
    postal_labels: list[Property] = field(default_factory=list)
    times: dict[str, str] = field(default_factory=dict)
    place: tuple[float, float] | None = None
    attachments: list[Attachment] = field(default_factory=list)
    files: list[tuple[str, Inline, dict[str, JSON]]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)

    def read(self) -> None:
        self.labels = _apple_labels(self.card.properties)
        for prop in self.card.properties:
            if prop.name == "X-ABLABEL" and prop.group and prop.group.lower() in self.labels:
                continue  # read as the type of the other properties of its group
            first = prop.name not in self.seen
            self.seen.add(prop.name)
            if prop.name in _SINGLE and not first:
                self._other(prop)
            else:
                self._read(prop)
        self._match_postal_labels()
        self._store_files()
        for agent in self.card.agents:
            self._agent(agent)

    def _read(self, prop: Property) -> None:
        name = prop.name
        if name == "FN":
            self.formatted = unescape(prop.value).strip() or None
        elif name == "N":
            self._name(prop)
        elif name == "NICKNAME":
            self._extend("nickname", listed(prop.value))
        elif name == "ORG":
            units = [unit.strip() for unit in fields(prop.value, 0)]
            while units and not units[-1]:
                units.pop()
            self._set("organization", units or None)
        elif name in ("TITLE", "ROLE"):
            self._set(name.lower(), unescape(prop.value).strip() or None)
        elif name in ("EMAIL", "TEL", "URL"):
            key = {"EMAIL": "emails", "TEL": "phones", "URL": "urls"}[name]
            self._append(key, entry(prop, unescape(prop.value).strip(), self._labels(prop)))
        elif name == "ADR":
            self._append("addresses", self._address(prop))
        elif name == "LABEL":
            self.postal_labels.append(prop)
        elif name == "BDAY":
            self._set("birthday", iso_date(unescape(prop.value), prop.param("X-APPLE-OMIT-YEAR")))
        elif self._anniversary(prop):
            value = iso_date(unescape(prop.value), prop.param("X-APPLE-OMIT-YEAR"))
            self._set("anniversary", value)
        elif name == "NOTE":
            note = unescape(prop.value)
            if note.strip():
                self.notes.append(note)
        elif name == "CATEGORIES":
            self._extend("categories", listed(prop.value))
        elif name == "UID":
            self._set("uid", unescape(prop.value).strip() or None)
        elif name in _TIMES:
            self._time(prop, _TIMES[name])
        else:
            self._other(prop)

    # -- names and organisations -----------------------------------------------------------

    def _name(self, prop: Property) -> None:
        pieces = split_escaped(prop.value, ";")
        family, given, additional, prefix, suffix = (pieces + [""] * 5)[:5]
        parts = {
            "family_name": joined_list(family),
            "given_name": joined_list(given),
            "prefix": joined_list(prefix),
            "suffix": joined_list(suffix),
        }
        for key, value in parts.items():
            self._set(key, value or None)
        # Commas always separate additional names, escaped or not (see the module docstring).
        extra = [name.strip() for name in unescape(additional).split(",") if name.strip()]
        self._set("additional_names", extra or None)
        rest = [unescape(piece) for piece in pieces[5:]]
        if any(piece.strip() for piece in rest):
            self.others.setdefault("N", []).append(entry(prop, rest))

    def _composed_name(self) -> str:
        extra = self.props.get("additional_names")
        parts = [
            self.props.get("prefix"),
            self.props.get("given_name"),
            " ".join(extra) if isinstance(extra, list) else None,
            self.props.get("family_name"),
            self.props.get("suffix"),
        ]
        return " ".join(p for p in parts if isinstance(p, str) and p)

    def _display_name(self) -> str:
        """What a contacts app shows for the card: FN, else N, else how to reach them."""
        if self.formatted:
            return self.formatted
        if composed := self._composed_name():
            return composed
        organization = self.props.get("organization")
        if isinstance(organization, list) and organization and organization[0]:
            return str(organization[0])
        for key in ("emails", "phones"):
            found = self.props.get(key)
            if isinstance(found, list) and found:
                first = found[0]
                if isinstance(first, dict) and first.get("value"):
                    return str(first["value"])
        return ""

    # -- addresses -------------------------------------------------------------------------

    def _address(self, prop: Property) -> dict[str, JSON]:
        values = fields(prop.value, len(ADDRESS_FIELDS))
        address: dict[str, JSON] = {
            key: value.strip() for key, value in zip(ADDRESS_FIELDS, values, strict=False)
        }
        address["types"] = types_of(prop, self._labels(prop))
        params = params_of(prop)
        label = params.pop("label", None)  # vCard 4.0 writes the postal label as a parameter
        if label:
            address["label"] = label
        if params:
            address["params"] = params
        extra = [v for v in values[len(ADDRESS_FIELDS) :] if v.strip()]
        if extra:
            address["extra"] = list(extra)
        return address

    def _match_postal_labels(self) -> None:
        """vCard 2.1 and 3.0 write the printed form of an address as its own LABEL property:
        it goes with the address of the same types, else stays a property of its own."""
        addresses = self.props.get("addresses")
        candidates = addresses if isinstance(addresses, list) else []
        for prop in self.postal_labels:
            wanted = sorted(types_of(prop))
            match = next(
                (
                    a
                    for a in candidates
                    if isinstance(a, dict) and "label" not in a and sorted(a["types"]) == wanted
                ),
                None,
            )
            if match is None:
                self._other(prop)
            else:
                match["label"] = unescape(prop.value).strip()

    def _location_address(self) -> str | None:
        addresses = self.props.get("addresses")
        if not isinstance(addresses, list) or not addresses:
            return None
        chosen = next((a for a in addresses if "pref" in a["types"]), addresses[0])
        return _one_line(chosen) or None

    # -- dates and places ------------------------------------------------------------------

    def _anniversary(self, prop: Property) -> bool:
        if "anniversary" in self.props:
            return False
        if prop.name in ANNIVERSARIES:
            return True
        return prop.name == "X-ABDATE" and "anniversary" in self._labels(prop)

    def _time(self, prop: Property, key: str) -> None:
        try:
            self.times[key] = utc_timestamp(parse_time(unescape(prop.value).strip()))
        except (ModelError, OverflowError):  # parse_time overflows on year 1 or 9999 with a zone
            self._other(prop)  # a time no one can read is still kept, as written

    # -- everything else -------------------------------------------------------------------

    def _other(self, prop: Property) -> None:
        if prop.name == "AGENT" and not prop.value.strip() and self.card.agents:
            return  # an embedded agent card: read in ``_agent``
        inline = inline_file(prop)
        if inline is not None:
            self._file(prop, inline)
            return
        text = unescape(prop.value)
        value: JSON = text
        if prop.name == "ORG":
            value = [unit.strip() for unit in fields(prop.value, 0)]
        elif prop.name == "N":
            value = fields(prop.value, 5)
        if prop.name == "GEO" and self.place is None:
            self.place = geo(prop.value)
        text = text.strip()
        if prop.name in MEMBERS:
            self.links.append((node_id_for(SOURCE, text), "member"))
        elif prop.name == "RELATED" and text.lower().startswith("urn:"):
            kinds = [t for t in types_of(prop) if t != "pref"]
            self.links.append((node_id_for(SOURCE, text), kinds[0] if kinds else "related"))
        key = "photos" if prop.name == "PHOTO" else prop.name
        self.others.setdefault(key, []).append(entry(prop, value, self._labels(prop)))

    def _file(self, prop: Property, inline: Inline) -> None:
        kinds = [t for t in types_of(prop, self._labels(prop)) if not is_format_word(t)]
        out: dict[str, JSON] = {"value": prop.value, "types": kinds}
        if inline.problem is None:
            self.files.append((prop.name, inline, out))  # named once the whole card is read
        else:
            out["problem"] = inline.problem
        params = params_of(prop)
        if inline.mime_type:
            params.pop("mediatype", None)  # said by mime_type
        if params:
            out["params"] = params
        key = "photos" if prop.name == "PHOTO" else prop.name
        self.others.setdefault(key, []).append(out)

    def _store_files(self) -> None:
        """Attachments for the inline files, named after the contact (``Ann Lee.jpg``, ``Ann
        Lee 2.jpg``, ``Ann Lee logo.png``); the same bytes twice are one attachment."""
        stem = _FILE_NAME_UNSAFE.sub("_", self._display_name()).strip(" ._")
        stem = stem[:_FILE_NAME_LENGTH] or "contact"
        counts: dict[str, int] = {}
        stored: dict[str, str] = {}  # digest -> file name
        for prop_name, inline, out in self.files:
            digest = sha256_hex(inline.data)
            if digest not in stored:
                count = counts[prop_name] = counts.get(prop_name, 0) + 1
                base = stem if prop_name == "PHOTO" else f"{stem} {prop_name.lower()}"
                suffix = "" if count == 1 else f" {count}"
                stored[digest] = f"{base}{suffix}.{inline.extension}"
                self.attachments.append(
                    Attachment(stored[digest], data=inline.data, mime_type=inline.mime_type)
                )
            filename = stored[digest]
            out["value"] = attachment_link(digest)
            out["filename"] = filename
            if inline.mime_type:
                out["mime_type"] = inline.mime_type

    def _agent(self, agent: Card) -> None:
        inner = _Reading(agent)
        inner.read()
        node = inner.node()
        self.attachments.extend(inner.attachments)
        value: dict[str, JSON] = {"value": node.get("name", ""), "types": []}
        if node.get("properties"):
            value["card"] = node["properties"]
        self.others.setdefault("AGENT", []).append(value)

    # -- helpers ---------------------------------------------------------------------------

    def _labels(self, prop: Property) -> list[str]:
        return self.labels.get(prop.group.lower(), []) if prop.group else []

    def _set(self, key: str, value: JSON) -> None:
        if value is not None:
            self.props[key] = value

    def _append(self, key: str, value: JSON) -> None:
        found = self.props.setdefault(key, [])
        assert isinstance(found, list)
        found.append(value)

    def _extend(self, key: str, values: Iterable[str]) -> None:
        found = self.props.setdefault(key, [])
        assert isinstance(found, list)
        found.extend(v for v in values if v not in found)
        if not found:
            del self.props[key]

    def node(self) -> dict[str, JSON]:
        node: dict[str, JSON] = {"node_type": "person", "name": self._display_name()}
        if self.notes:
            node["content"] = "\n\n".join(self.notes)
        categories = self.props.get("categories")
        if categories:
            node["tags"] = list(categories) if isinstance(categories, list) else []
        node.update(self.times)
        if address := self._location_address():
            node["location_address"] = address
        if self.place is not None:
            node["latitude"], node["longitude"] = self.place
        properties: dict[str, JSON] = dict(self.props)
        if self.card.version:
            properties["vcard_version"] = self.card.version
        properties.update(self.others)
        node["properties"] = properties
        return node


def _apple_labels(props: Iterable[Property]) -> dict[str, list[str]]:
    """Group (lower case) -> the labels Apple gives it, for groups that hold more than their
    label."""
    labels: dict[str, list[str]] = {}
    members: set[str] = set()
    for prop in props:
        if not prop.group:
            continue
        group = prop.group.lower()
        if prop.name == "X-ABLABEL":
            label = apple_label(prop.value)
            if label:
                labels.setdefault(group, []).append(label)
        else:
            members.add(group)
    return {group: found for group, found in labels.items() if group in members}


def _one_line(address: dict[str, JSON]) -> str:
    """An address on one line: box, extended, street, locality, region and code, country."""

    def part(key: str) -> str:
        value = address.get(key)
        text = value if isinstance(value, str) else ""
        return ", ".join(p.strip(" ,") for p in text.splitlines() if p.strip(" ,"))

    region = " ".join(p for p in (part("region"), part("postal_code")) if p)
    pieces = [part("po_box"), part("extended"), part("street"), part("locality"), region]
    line = ", ".join(p for p in [*pieces, part("country")] if p)
    if line:
        return line
    label = address.get("label")
    lines = label.splitlines() if isinstance(label, str) else []
    return ", ".join(p.strip() for p in lines if p.strip())
