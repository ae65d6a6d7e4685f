"""The ``google-keep`` importer: the notes of a Google Takeout ``Keep/`` folder.

Takeout writes one JSON file per note, with an HTML twin and the note's files beside it. One
JSON file is one record: cursor ``{"done": true}`` once it is read. Every other file of a folder
of Keep notes (the twins, the attachments, ``Labels.txt``) is taken too and read as nothing:
the notes already hold what they say, so a folder import does not bring each note twice.

A note becomes a ``note`` node: its title (else its first line of
text, else the file's name) as name, its text and checklist as Markdown, its labels as tags,
its times from microseconds since 1970, ``deleted_at`` when it is in the trash; every other
field (colour, pinned, archived, sharees, web links...) stays in ``properties`` under Keep's
own name. The files it lists are read through the ``Opener`` and linked from the content; a
file the folder does not hold is listed under ``missingAttachments``, and the note is kept.

A file that is not JSON, or JSON that is not a note Keep could have written (no creation or
edit time, a checklist that is not a list...), is ``Rejected`` with what is wrong.

Which ``.json`` files are Keep's is told from their first bytes (see ``accepts``): other JSON is
left to the generic ``json`` importer, but a broken file among Keep notes is taken, so that it
is reported rather than silently read as something else.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from isometry.model import JSON, utc_timestamp
from isometry.sources.base import (
    Attachment,
    Draft,
    Item,
    Locator,
    Opener,
    Options,
    Rejected,
    Scan,
    attachment_link,
)
from isometry.sources.options import OptionSpec
from isometry.sources.records import (
    DONE,
    digest_stream,
    one_record_scan,
    open_source,
    record_read,
    source_id_for,
)

SUFFIX = ".json"
BOM = b"\xef\xbb\xbf"
RECORD = "note"
# Field names only Keep's notes carry together; two of them in one object make it a note.
KEEP_KEYS = frozenset(
    {
        "isTrashed",
        "isPinned",
        "isArchived",
        "userEditedTimestampUsec",
        "createdTimestampUsec",
        "textContent",
        "textContentHtml",
        "listContent",
    }
)
_KEY_PATTERN = re.compile(rb'"(' + b"|".join(k.encode() for k in sorted(KEEP_KEYS)) + rb')"\s*:')
_PEEK = 16 * 1024
# Keep caps a note at 20,000 characters; a file far larger than that is no note of Keep's.
_MAX_NOTE = 16 * 1024 * 1024
# Attachments up to this size are handed over as bytes (read once); larger ones by path, so a
# long voice recording is never held in memory.
_INLINE_MAX = 4 * 1024 * 1024
# How many other .json files of a folder are looked at to tell whether it holds Keep notes.
_SIBLINGS = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Takeout lists some pictures under one of these names and writes them under the other.
_SWAPPED_SUFFIXES = {".jpeg": ".jpg", ".jpg": ".jpeg"}
# Fields that become node columns (or the content) and so are not repeated in properties.
_CONSUMED = frozenset({"textContent", "title", "createdTimestampUsec", "userEditedTimestampUsec"})


class GoogleKeepImporter:
    """Reads the JSON notes of a Google Takeout Keep folder (see the module docstring)."""

    name: ClassVar[str] = "google-keep"
    version: ClassVar[str] = "1"
    permissions: ClassVar[frozenset[str]] = frozenset({"file-system"})
    declared_options: ClassVar[tuple[OptionSpec, ...]] = ()

    def accepts(self, path: Path) -> bool:
        """A ``.json`` file that looks like a Keep note, or that cannot be told (it does not
        parse) and sits in a folder named ``Keep`` or beside Keep notes; and any other file
        beside Keep notes (see the module docstring)."""
        if path.suffix.lower() != SUFFIX:
            return _holds_keep_notes(path.parent)
        verdict = _verdict(path)
        if verdict is _Verdict.UNKNOWN:
            return path.parent.name.lower() == "keep" or _holds_keep_notes(path.parent)
        return verdict is _Verdict.KEEP

    def scan(self, path: Path, opener: Opener, options: Options) -> Scan:
        if path.suffix.lower() != SUFFIX:
            return Scan(records=0, size=0, fingerprint=hashlib.sha256().hexdigest())
        return one_record_scan(path, opener)

    def read(
        self, path: Path, opener: Opener, options: Options, cursor: JSON
    ) -> Iterator[tuple[Item, JSON]]:
        if record_read(cursor, path) or path.suffix.lower() != SUFFIX:
            return
        with open_source(path, opener) as stream:
            data = stream.read(_MAX_NOTE + 1)
        yield _note_item(path, data, opener), dict(DONE)


# -- telling Keep's files -------------------------------------------------------------------


class _Verdict(Enum):
    KEEP = "keep"
    OTHER = "other"
    UNKNOWN = "unknown"


def _verdict(path: Path) -> _Verdict:
    """What the first bytes of a file say: a Keep note, other JSON, or cannot tell (a file
    that does not parse and names no Keep field, or one too large to parse from a peek)."""
    try:
        with path.open("rb") as stream:
            peek = stream.read(_PEEK + 1)
    except OSError:
        return _Verdict.UNKNOWN
    whole = len(peek) <= _PEEK
    body = peek[:_PEEK].removeprefix(BOM)
    if whole:
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            pass  # broken: its field names may still say whose it is
        else:
            keep = isinstance(value, dict) and len(KEEP_KEYS.intersection(value)) >= 2
            return _Verdict.KEEP if keep else _Verdict.OTHER
    names = {match.group(1) for match in _KEY_PATTERN.finditer(body)}
    return _Verdict.KEEP if len(names) >= 2 else _Verdict.UNKNOWN


def _holds_keep_notes(folder: Path) -> bool:
    try:
        changed = folder.stat().st_mtime_ns
    except OSError:
        return False
    return _folder_holds_keep_notes(str(folder), changed)


@lru_cache(maxsize=256)  # a folder is asked about once per file in it; its mtime keys a change
def _folder_holds_keep_notes(folder: str, changed: int) -> bool:
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if e.name.lower().endswith(SUFFIX))
    except OSError:
        return False
    return any(_verdict(Path(folder, name)) is _Verdict.KEEP for name in names[:_SIBLINGS])


# -- one note --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Linked:
    """An attachment found and hashed, or the reason it could not be."""

    entry: Mapping[str, JSON]
    attachment: Attachment | None = None
    digest: str | None = None
    problem: str | None = None


def _note_item(path: Path, data: bytes, opener: Opener) -> Item:
    file = str(path.resolve())
    locator = Locator(file, RECORD, 1, 0, len(data))
    if len(data) > _MAX_NOTE:
        return Rejected(
            locator, "", f"{path.name} is larger than {_MAX_NOTE} bytes: not a Keep note"
        )
    start = len(BOM) if data.startswith(BOM) else 0
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        raw = data.decode("utf-8", "replace")
        byte = error.start + start
        return Rejected(locator, raw, f"{path.name} is not UTF-8 text (byte {byte})")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        offset = start + len(text[: error.pos].encode("utf-8"))
        where = Locator(file, RECORD, error.lineno, offset)
        reason = (
            f"{path.name} is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}"
        )
        return Rejected(where, text, reason)
    except RecursionError:
        return Rejected(locator, text, f"{path.name} is not valid JSON: nested too deeply")
    problem = _problem(value)
    if problem is not None or not isinstance(value, dict):
        return Rejected(locator, text, f"{path.name} is not a Keep note: {problem}")
    linked = [_link(path.parent, entry, opener) for entry in _objects(value, "attachments")]
    hashed = hashlib.sha256(data)
    for item in linked:  # a file changed beside an unchanged note changes the node too
        hashed.update(b"\0" + (item.digest or "missing").encode())
    return Draft(
        node=_node(value, source_id_for(file, RECORD), path, linked),
        locator=locator,
        source_hash=hashed.hexdigest(),
        raw=text,
        attachments=tuple(i.attachment for i in linked if i.attachment is not None),
    )


# -- validation ------------------------------------------------------------------------------


def _problem(value: object) -> str | None:
    """What keeps ``value`` from being a Keep note, or None."""
    if not isinstance(value, dict):
        return f"it holds {_kind(value)}, not an object"
    for name, what, least in (("createdTimestampUsec", "creation", 1),
                              ("userEditedTimestampUsec", "last edit", 0)):  # fmt: skip
        moment = value.get(name)
        if moment is None:
            return f"{name} (its {what} time) is missing"
        if _microseconds(moment) is None or not isinstance(moment, int) or moment < least:
            return f"{name} is {moment!r}, not a time in microseconds"
    for name in ("title", "textContent", "textContentHtml", "color"):
        if value.get(name) is not None and not isinstance(value[name], str):
            return f"{name} is {_kind(value[name])}, not text"
    for name in ("isTrashed", "isPinned", "isArchived"):
        if value.get(name) is not None and not isinstance(value[name], bool):
            return f"{name} is {_kind(value[name])}, not true or false"
    for name, text_key in (("listContent", "text"), ("labels", "name"),
                           ("attachments", "filePath"), ("annotations", "url")):  # fmt: skip
        problem = _list_problem(value, name, text_key)
        if problem is not None:
            return problem
    return None


def _list_problem(value: Mapping[str, JSON], name: str, text_key: str) -> str | None:
    items = value.get(name)
    if items is None:
        return None
    if not isinstance(items, list):
        return f"{name} is {_kind(items)}, not a list"
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            return f"item {number} of {name} is {_kind(item)}, not an object"
        if item.get(text_key) is not None and not isinstance(item[text_key], str):
            return f"{text_key} of item {number} of {name} is {_kind(item[text_key])}, not text"
    if name == "attachments" and any(not item.get("filePath") for item in items):
        return "an attachment has no filePath"
    return None


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _microseconds(value: object) -> str | None:
    """A time in microseconds since 1970 as UTC ISO-8601, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    try:
        return utc_timestamp(_EPOCH + timedelta(microseconds=value))
    except (OverflowError, ValueError):
        return None


def _objects(value: Mapping[str, JSON], name: str) -> list[Mapping[str, JSON]]:
    found = value.get(name)
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


# -- the node --------------------------------------------------------------------------------


def _node(
    note: Mapping[str, JSON], source_id: str, path: Path, linked: list[_Linked]
) -> dict[str, JSON]:
    created = _microseconds(note["createdTimestampUsec"])
    edited = note["userEditedTimestampUsec"]
    # Keep writes 0 for a note never edited after it was made.
    modified = _microseconds(edited) if edited else created
    name, title_kept = _name(note, path)
    labels = [
        label["name"] for label in _objects(note, "labels") if isinstance(label.get("name"), str)
    ]
    node: dict[str, JSON] = {
        "source": GoogleKeepImporter.name,
        "source_id": source_id,
        "node_type": "note",
        "name": name,
        "content": _content(note, linked),
        "created_at": created,
        "modified_at": modified,
    }
    if labels:
        node["tags"] = labels
    if note.get("isTrashed") is True:
        # Keep does not say when a note went to the trash; its last edit is when it last moved.
        node["deleted_at"] = modified
    urls = [a["url"] for a in _objects(note, "annotations") if isinstance(a.get("url"), str)]
    if len(urls) == 1:
        node["source_url"] = urls[0]
    properties = _properties(note, labels, title_kept)
    missing = [
        {"filePath": i.entry.get("filePath"), "reason": i.problem} for i in linked if i.problem
    ]
    if missing:
        properties["missingAttachments"] = missing
    if properties:
        node["properties"] = properties
    return node


def _name(note: Mapping[str, JSON], path: Path) -> tuple[str, bool]:
    """The note's name, and whether its title must also be kept (it was not used as it is)."""
    title = note.get("title")
    if isinstance(title, str) and title.strip():
        lines = [line.strip() for line in title.splitlines() if line.strip()]
        name = " ".join(lines)
        return name, name != title
    text = note.get("textContent")
    candidates = text.splitlines() if isinstance(text, str) else []
    candidates += [str(i.get("text") or "") for i in _objects(note, "listContent")]
    first = next((line.strip() for line in candidates if line.strip()), None)
    return first or path.stem, isinstance(title, str) and title != ""


def _properties(note: Mapping[str, JSON], labels: list[str], title_kept: bool) -> dict[str, JSON]:
    """Every field of the note that no column holds as it is, under Keep's own name."""
    properties: dict[str, JSON] = {}
    for key, value in note.items():
        if key in _CONSUMED and not (key == "title" and title_kept):
            continue
        if key == "labels" and _only(value, {"name"}) and len(labels) == len(_list(value)):
            continue
        if key == "listContent" and _only(value, {"text", "isChecked"}):
            continue  # the checklist in the content says all of it
        properties[key] = value
    return properties


def _list(value: JSON) -> list[JSON]:
    return value if isinstance(value, list) else []


def _only(value: JSON, keys: set[str]) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and set(i) <= keys for i in value)


# -- content -------------------------------------------------------------------------------


def _content(note: Mapping[str, JSON], linked: list[_Linked]) -> str:
    parts: list[str] = []
    text = note.get("textContent")
    if isinstance(text, str) and text.strip():
        parts.append(plain_markdown(text.strip("\n")))
    items = [_checklist_line(item) for item in _objects(note, "listContent")]
    if items:
        parts.append("\n".join(items))
    links = [
        _attachment_markdown(item.attachment, item.digest)
        for item in linked
        if item.attachment is not None and item.digest is not None
    ]
    if links:
        parts.append("\n".join(links))
    webs = [_annotation_line(a) for a in _objects(note, "annotations")]
    webs = [line for line in webs if line]
    if webs:
        parts.append("\n".join(webs))
    return "\n\n".join(parts)


def plain_markdown(text: str) -> str:
    """Plain text as Markdown that reads the same: a ``<`` is escaped so that nothing in a
    note can become HTML (a ``<script>`` typed in a note stays text); the rest is as typed."""
    return text.replace("\\<", "\\\\<").replace("<", "\\<")


def _checklist_line(item: Mapping[str, JSON]) -> str:
    mark = "x" if item.get("isChecked") is True else " "
    text = str(item.get("text") or "")
    lines = plain_markdown(text).splitlines() or [""]
    rest = "".join("\n      " + line for line in lines[1:])
    return f"- [{mark}] {lines[0]}{rest}"


def _label(text: str) -> str:
    """Text for inside ``[...]`` in Markdown."""
    return re.sub(r"([\\\[\]])", r"\\\1", plain_markdown(" ".join(text.split())))


def _destination(url: str) -> str:
    """A link destination that no character of the URL can end early."""
    return "<" + url.replace("<", "%3C").replace(">", "%3E").replace("\n", "") + ">"


def _attachment_markdown(attachment: Attachment, digest: str) -> str:
    link = f"[{_label(attachment.filename)}]({attachment_link(digest)})"
    return "!" + link if attachment.role == "inline-image" else link


def _annotation_line(annotation: Mapping[str, JSON]) -> str:
    url = annotation.get("url")
    title = annotation.get("title")
    description = annotation.get("description")
    label = next((t for t in (title, description) if isinstance(t, str) and t.strip()), None)
    if isinstance(url, str) and url.strip():
        shown = _label(label) if label else _label(url.strip())
        return f"- [{shown}]({_destination(url.strip())})"
    return f"- {_label(label)}" if label else ""


# -- attachments -----------------------------------------------------------------------------


def _link(folder: Path, entry: Mapping[str, JSON], opener: Opener) -> _Linked:
    """The attachment ``entry`` names, read through the opener and hashed."""
    relative = str(entry.get("filePath"))
    mime = entry.get("mimetype")
    mime_type = mime if isinstance(mime, str) and mime else None
    target = folder / relative
    swapped = _SWAPPED_SUFFIXES.get(target.suffix.lower())
    if not target.exists() and swapped and target.with_suffix(swapped).exists():
        target = target.with_suffix(swapped)
    if not target.is_file():
        return _Linked(entry, problem="not in the folder")
    try:
        data, digest = _hash_file(target, opener)
    except OSError as error:  # unreadable, or outside the grants
        return _Linked(entry, problem=str(error))
    role = "inline-image" if (mime_type or "").startswith("image/") else "attachment"
    attachment = Attachment(
        target.name, data=data, path=None if data is not None else target, role=role,
        mime_type=mime_type,
    )  # fmt: skip
    return _Linked(entry, attachment, digest)


def _hash_file(path: Path, opener: Opener) -> tuple[bytes | None, str]:
    """(bytes when small enough to hand over, SHA-256 hex) of a file, read once."""
    with opener.open_binary(path) as stream:
        digest, _, data = digest_stream(stream, keep=_INLINE_MAX)
    return data, digest
