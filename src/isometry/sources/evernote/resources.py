"""A note's files: ``<resource>`` elements decoded, checked against their MD5, and linked.

Evernote names a resource by the MD5 of its data: ``<en-media hash>`` in the text points at it,
and ``<recognition>`` (the image's OCR index) repeats it as ``objID``. A resource is damaged when
its data is missing or not base64, or when its data's MD5 is not the hash that names it: the
recognition index's, or that of the one ``en-media`` left without a file, when just one resource
of that type is left without a place in the text. A damaged resource is not stored; the note is
imported all the same and lists it under ``damaged_resources`` with both hashes.

Images the text holds inline as ``data:`` URLs are stored as files too, so the Markdown links
to them rather than carrying kilobytes of base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes
from xml.etree.ElementTree import Element

from isometry.model import JSON
from isometry.sources.base import Attachment, attachment_link
from isometry.sources.evernote.enml import Link
from isometry.sources.evernote.values import element_value, snake

_RECOGNITION_ID = re.compile(r"""objID\s*=\s*["']([0-9a-fA-F]{32})["']""")
_MD5 = re.compile(r"[0-9a-f]{32}")
# Extensions ``mimetypes`` has no single answer for, or a poor one.
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "audio/mpeg": ".mp3",
    "text/plain": ".txt",
}
INLINE_IMAGE = "inline-image"


@dataclass
class Resource:
    """One ``<resource>``: its data (when it could be decoded) and what Evernote says of it."""

    position: int
    data: bytes | None
    md5: str | None
    sha256: str | None
    mime: str | None
    filename: str
    properties: dict[str, JSON]
    problem: str | None = None  # why its data cannot be trusted
    expected_md5: str | None = None  # the hash that names it, when that is not its data's
    recognized: str | None = None  # the MD5 its recognition index names


def read_resource(element: Element, position: int) -> Resource:
    """Decode and describe a ``<resource>``; its ``<data>`` text is released afterwards (the
    element keeps a short note of what was there)."""
    properties: dict[str, JSON] = {}
    data: bytes | None = None
    problem: str | None = None
    mime = (element.findtext("mime") or "").strip() or None
    recognized: str | None = None
    for child in element:
        name = child.tag
        if name == "data":
            data, problem = _decode(child)
        elif name == "recognition":
            text = child.text or ""
            found = _RECOGNITION_ID.search(text)
            recognized = found.group(1).lower() if found else None
            properties["recognition"] = text.strip()
        elif name == "resource-attributes":
            for attribute in child:
                properties[snake(attribute.tag)] = element_value(attribute)
        elif name == "alternate-data":
            alternate, _ = _decode(child)
            if alternate is not None:
                properties["alternate_data_md5"] = hashlib.md5(alternate).hexdigest()
                properties["alternate_data_size"] = len(alternate)
            child.text = f"[{len(alternate or b'')} bytes, not kept]"
        elif name != "mime":
            properties[snake(name)] = element_value(child)
    md5 = hashlib.md5(data).hexdigest() if data is not None else None
    sha = hashlib.sha256(data).hexdigest() if data is not None else None
    resource = Resource(position, data, md5, sha, mime, "", properties, problem)
    resource.recognized = recognized
    if md5 is not None and recognized is not None and recognized != md5:
        resource.problem = "its data's MD5 is not the one its recognition index names"
        resource.expected_md5 = recognized
    given = properties.get("file_name")
    if isinstance(given, str) and given.strip():
        resource.filename = given.strip()
    else:
        stem = md5 or f"resource-{position + 1}"
        resource.filename = stem + extension(mime)
    return resource


def _decode(element: Element) -> tuple[bytes | None, str | None]:
    """The bytes of a ``<data>`` (or ``<alternate-data>``) element, or why there are none;
    the base64 text is dropped from the element once decoded."""
    encoding = (element.get("encoding") or "base64").strip().lower()
    text = element.text or ""
    element.text = f"[{len(text)} characters of {encoding}]"
    if encoding != "base64":
        return None, f"its data is in an encoding this importer does not read ({encoding})"
    if not text.strip():
        return None, "it has no data"
    try:
        return base64.b64decode(text), None
    except (binascii.Error, ValueError) as error:
        return None, f"its data is not valid base64 ({error})"


def extension(mime: str | None) -> str:
    if not mime:
        return ""
    mime = mime.split(";")[0].strip().lower()
    return _EXTENSIONS.get(mime) or mimetypes.guess_extension(mime) or ""


def resource_digest(resource: Resource) -> str:
    """What a resource adds to its note's source hash: its data's SHA-256, else its problem."""
    return resource.sha256 or f"unreadable:{resource.problem}"


@dataclass
class NoteFiles:
    """The files of one note, as its text shows them (implements ``enml.Media``)."""

    resources: Sequence[Resource]
    references: Sequence[tuple[str, str | None]]
    shown: dict[str, Resource] = field(default_factory=dict)  # by MD5, shown in the text
    missing: list[str] = field(default_factory=list)
    inline: dict[str, Attachment] = field(default_factory=dict)  # data: URL images by SHA-256

    def __post_init__(self) -> None:
        self._by_md5: dict[str, Resource] = {}
        for resource in self.resources:
            if resource.problem is None and resource.md5 is not None:
                self._by_md5.setdefault(resource.md5, resource)
        self._pair_orphans()

    def _pair_orphans(self) -> None:
        """A hash in the text that no resource's data has, and just one resource of that type
        the text does not show (or whose data could not be read): that resource is the one the
        hash names, damaged since."""
        referenced = {md5 for md5, _ in self.references}
        for md5, mime in dict.fromkeys(self.references):
            if md5 in self._by_md5:
                continue
            candidates = [
                r for r in self.resources
                if r.mime == mime and r.expected_md5 is None
                and (r.md5 is None if r.problem is not None else r.md5 not in referenced)
            ]  # fmt: skip
            if len(candidates) == 1:
                (damaged,) = candidates
                damaged.expected_md5 = md5
                if damaged.problem is None:
                    damaged.problem = "its data's MD5 is not the one the note's text names"
                    self._by_md5.pop(damaged.md5 or "", None)

    def media(self, md5: str, mime: str | None) -> Link | str:
        resource = self._by_md5.get(md5)
        if resource is None or resource.sha256 is None:
            damaged = next((r for r in self.resources if r.expected_md5 == md5), None)
            if damaged is not None:
                return f"[damaged attachment: {damaged.filename}]"
            if _MD5.fullmatch(md5) and md5 not in self.missing:
                self.missing.append(md5)
            return f"[missing attachment: {md5}]"
        self.shown[md5] = resource
        image = (resource.mime or mime or "").startswith("image/")
        return Link(resource.filename, attachment_link(resource.sha256), image)

    def data_image(self, src: str, alt: str) -> Link | None:
        decoded = decode_data_url(src)
        if decoded is None:
            return None
        data, mime = decoded
        digest = hashlib.sha256(data).hexdigest()
        name = f"image-{digest[:12]}{extension(mime)}"
        attachment = Attachment(name, data=data, role=INLINE_IMAGE, mime_type=mime)
        self.inline.setdefault(digest, attachment)
        return Link(alt.strip() or name, attachment_link(digest), True)

    def unshown(self) -> list[Link]:
        """Links to the whole resources the text never shows (Evernote lists them at the end)."""
        links: list[Link] = []
        seen: set[str] = set()
        for resource in self.resources:
            if resource.problem is not None or resource.sha256 is None:
                continue
            if resource.md5 in self.shown or resource.sha256 in seen:
                continue
            seen.add(resource.sha256)
            image = (resource.mime or "").startswith("image/")
            links.append(Link(resource.filename, attachment_link(resource.sha256), image))
        return links

    def attachments(self) -> tuple[Attachment, ...]:
        """Every whole file, once: shown images are inline images, the rest attachments."""
        found: dict[str, Attachment] = {}
        for resource in self.resources:
            if resource.problem is not None or resource.data is None or resource.sha256 is None:
                continue
            shown = self.shown.get(resource.md5 or "") is resource
            image = (resource.mime or "").startswith("image/")
            role = INLINE_IMAGE if shown and image else "attachment"
            found.setdefault(
                resource.sha256,
                Attachment(resource.filename, data=resource.data, role=role,
                           mime_type=resource.mime),
            )  # fmt: skip
        for digest, attachment in self.inline.items():
            found.setdefault(digest, attachment)
        return tuple(found.values())

    def damaged(self) -> list[dict[str, JSON]]:
        return [
            {
                "file_name": r.filename,
                "mime": r.mime,
                "expected_md5": r.expected_md5,
                "actual_md5": r.md5,
                "reason": r.problem,
            }
            for r in self.resources
            if r.problem is not None
        ]

    def described(self) -> list[dict[str, JSON]]:
        """What the source says of each resource (its data aside), for ``properties``."""
        out: list[dict[str, JSON]] = []
        referenced = {md5 for md5, _ in self.references}
        for resource in self.resources:
            entry: dict[str, JSON] = {"file_name": resource.filename, "mime": resource.mime}
            if resource.md5 is not None:
                entry["md5"] = resource.md5
                entry["sha256"] = resource.sha256
                entry["size"] = len(resource.data or b"")
            entry["verified"] = resource.problem is None and (
                resource.md5 in referenced or resource.md5 == resource.recognized
            )
            entry["stored"] = resource.problem is None and resource.data is not None
            for name, value in resource.properties.items():
                entry.setdefault(name, value)
            out.append(entry)
        return out


def decode_data_url(src: str) -> tuple[bytes, str] | None:
    """The bytes and MIME type of a ``data:`` URL (None when it is not one that decodes)."""
    header, comma, payload = src.removeprefix("data:").partition(",")
    if not comma:
        return None
    parts = [part.strip() for part in header.split(";")]
    mime = parts[0].lower() or "text/plain"
    try:
        if "base64" in (part.lower() for part in parts[1:]):
            return base64.b64decode(unquote_to_bytes(payload)), mime
        return unquote_to_bytes(payload), mime
    except (binascii.Error, ValueError):
        return None
