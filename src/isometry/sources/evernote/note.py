"""One ``<note>`` as drafts: a node for each of its tasks, then the note's own node.

Columns take what has one (title, text, times, tags, place, reminder as due date, source URL);
every other field Evernote writes goes into ``properties`` under its name in snake case
(``source-application`` as ``source_application``), times as ISO-8601, so nothing is dropped.

The note's ``source_hash`` is the SHA-256 of the note as parsed and written back as XML (its
``raw``, with each resource's base64 replaced by a note of its length), of what else decides the
node (its notebook, the tag separator option), and of the SHA-256 of each resource's bytes: it
changes exactly when the note or one of its files does, without hashing the base64 text.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from bs4 import ParserRejectedMarkup

from isometry.model import JSON, node_id_for
from isometry.sources.base import Draft, Item, Locator, Rejected
from isometry.sources.evernote import enml
from isometry.sources.evernote.enml import TaskLine
from isometry.sources.evernote.resources import NoteFiles, read_resource, resource_digest
from isometry.sources.evernote.stream import NoteElement
from isometry.sources.evernote.values import (
    element_value,
    enex_time,
    number,
    one_line,
    snake,
    text_of,
)

# Note elements with a column (or handled on their own); any other goes to ``properties``.
_NOTE_TIMES = {"created": "created_at", "updated": "modified_at", "deleted": "deleted_at"}
_HANDLED = frozenset({"title", "content", "tag", "note-attributes", "resource", "task"})
# note-attributes with a column.
_ATTRIBUTE_TIMES = {"reminder-time": "due_at", "reminder-done-time": "completed_at"}
_ATTRIBUTE_TEXTS = {"source-url": "source_url", "place-name": "location_name"}
_COORDINATES = {"latitude": 90.0, "longitude": 180.0}
# The export header's attributes, as note properties.
_HEADER = {"application": "export_application", "version": "export_version"}
_TITLE_SHOWN = 80


@dataclass(frozen=True, slots=True)
class FileContext:
    """What every note of one file shares."""

    source: str  # the importer's name
    file: str  # the file's absolute path
    folder: str | None  # the notebook the file holds
    header: Mapping[str, str]
    tag_separator: str | None  # nested tags: "a_b" becomes "a/b" when this is "_"

    def salt(self) -> bytes:
        """What decides a node besides its note's bytes."""
        return f"\x00{self.folder or ''}\x00{self.tag_separator or ''}".encode()


@dataclass(frozen=True, slots=True)
class Identity:
    """What tells a note from the others: its ``<guid>`` when the export has one (Evernote's
    own exports have none), else a hash of its notebook (the file's name: Evernote names an
    export after its notebook), title and creation time. These stay the same when notes are
    added to or removed from the notebook and it is exported again; notes that share all three
    are told apart by their order in the file."""

    key: str
    guid: bool

    @classmethod
    def of(cls, element: Element, notebook: str) -> Identity:
        guid = text_of(element.find("guid"))
        if guid is not None:
            return cls(guid, True)
        title = one_line(element.findtext("title"))
        created = text_of(element.find("created")) or ""
        key = hashlib.sha256(f"{notebook}\x00{title}\x00{created}".encode()).hexdigest()
        return cls(key[:32], False)

    def source_id(self, occurrence: int) -> str:
        """The note's ``source_id`` when ``occurrence - 1`` notes before it share the key."""
        return self.key if self.guid else f"{self.key}:{occurrence}"


def is_deleted(element: Element) -> bool:
    """Whether the note is in Evernote's trash (it carries a ``<deleted>`` time)."""
    return text_of(element.find("deleted")) is not None


def note_items(context: FileContext, part: NoteElement, source_id: str) -> list[Item]:
    """The drafts of one note: its tasks' first, then its own (with an edge to each task); or
    a ``Rejected`` when its text cannot be read."""
    title = one_line(part.element.findtext("title"))
    record = f"note {part.index + 1}" + (f": {title[:_TITLE_SHOWN]}" if title else "")
    locator = Locator(context.file, record, part.line, part.offset, part.length)
    try:
        return _drafts(context, part, source_id, title, locator)
    except ParserRejectedMarkup as error:
        reason = f"{record}: its text cannot be read as ENML ({error})"
        raw = ET.tostring(part.element, encoding="unicode")
    except RecursionError:  # elements nested past what Python's recursion can follow
        reason = f"{record}: its elements are nested too deeply to be read"
        raw = ""  # the locator's byte range holds it
    return [Rejected(locator, raw, reason)]


def _drafts(
    context: FileContext, part: NoteElement, source_id: str, title: str, locator: Locator
) -> list[Item]:
    element = part.element
    resources = [read_resource(r, i) for i, r in enumerate(element.findall("resource"))]
    element.tail = None  # what follows the note (and how much of it was read yet) is not it
    raw = ET.tostring(element, encoding="unicode")
    digest = hashlib.sha256(raw.encode("utf-8"))
    digest.update(context.salt())
    for resource in resources:
        digest.update(resource_digest(resource).encode())
    tasks = [
        _task(context, task, source_id, title, part.index + 1, k, line)
        for k, (task, line) in enumerate(
            zip(element.findall("task"), part.task_lines, strict=False)
        )
    ]
    groups: dict[str, list[TaskLine]] = {}
    for task in tasks:
        if task.group is not None:
            groups.setdefault(task.group, []).append(task.line)
    body = enml.parse(element.findtext("content") or "")
    files = NoteFiles(resources, enml.media_references(body))
    rendered = enml.render(body, files, groups)
    node, properties = _fields(context, element, source_id, title)
    unshown = files.unshown()
    content = rendered.markdown
    if unshown:  # Evernote shows the files the text does not at the note's end
        links = "\n\n".join(link.markdown() for link in unshown)
        content = f"{content}\n{links}\n" if content else links + "\n"
    node["content"] = content
    if rendered.encrypted:
        properties["encrypted_blocks"] = list(rendered.encrypted)
    if resources:
        properties["resources"] = files.described()
    if damaged := files.damaged():
        properties["damaged_resources"] = damaged
    if files.missing:
        properties["missing_resources"] = list(files.missing)
    if tasks:
        properties["tasks"] = [task.draft.node["source_id"] for task in tasks]
    node["properties"] = properties
    note_id = node_id_for(context.source, source_id)
    edges = tuple(
        {
            "edge_type": "NEST",
            "source_id": note_id,
            "target_id": node_id_for(context.source, str(task.draft.node["source_id"])),
            "label": "task",
            "sequence_order": position,
        }
        for position, task in enumerate(tasks)
    )
    draft = Draft(
        node=node,
        locator=locator,
        source_hash=digest.hexdigest(),
        raw=raw,
        edges=edges,
        attachments=files.attachments(),
    )
    return [*(task.draft for task in tasks), draft]


def _fields(
    context: FileContext, element: Element, source_id: str, title: str
) -> tuple[dict[str, JSON], dict[str, JSON]]:
    """The note's node fields but its content, and its properties."""
    node: dict[str, JSON] = {
        "source": context.source,
        "source_id": source_id,
        "node_type": "note",
        "name": title,
    }
    properties: dict[str, JSON] = {}
    if context.folder:
        node["folder"] = context.folder
    for child in element:
        name = child.tag
        if name in _NOTE_TIMES:
            _time(node, properties, _NOTE_TIMES[name], snake(name), text_of(child))
        elif name not in _HANDLED:
            properties[snake(name)] = element_value(child)
    tags = [one_line(tag.text) for tag in element.findall("tag")]
    if context.tag_separator:
        tags = [tag.replace(context.tag_separator, "/") for tag in tags]
    if any(tags):
        node["tags"] = [tag for tag in tags if tag]
    attributes = element.find("note-attributes")
    if attributes is not None:
        _attributes(attributes, node, properties)
    for name, key in _HEADER.items():
        if context.header.get(name):
            properties[key] = context.header[name]
    exported = context.header.get("export-date")
    if exported:
        properties["export_date"] = enex_time(exported) or exported
    return node, properties


def _time(
    node: dict[str, JSON], properties: dict[str, JSON], column: str, name: str, text: str | None
) -> None:
    """A time into its column; one that is no time stays, as written, in ``properties``."""
    if text is None:
        return
    moment = enex_time(text)
    if moment is None:
        properties[name] = text
    else:
        node[column] = moment


def _attributes(attributes: Element, node: dict[str, JSON], properties: dict[str, JSON]) -> None:
    """``<note-attributes>``: columns for what has one, ``properties`` for the rest."""
    application_data: dict[str, JSON] = {}
    for child in attributes:
        name, text = child.tag, text_of(child)
        if name in _ATTRIBUTE_TIMES:
            _time(node, properties, _ATTRIBUTE_TIMES[name], snake(name), text)
        elif name in _ATTRIBUTE_TEXTS:
            if text is not None:
                node[_ATTRIBUTE_TEXTS[name]] = text
        elif name in _COORDINATES:
            value = number(text)
            if value is not None and abs(value) <= _COORDINATES[name]:
                node[name] = value
            elif text is not None:
                properties[name] = text
        elif name == "altitude":
            value = number(text)
            if value is not None or text is not None:
                properties[name] = value if value is not None else text
        elif name == "application-data":
            application_data[child.get("key", "")] = text or ""
        else:
            properties[snake(name)] = element_value(child)
    if application_data:
        properties["application_data"] = application_data


@dataclass(frozen=True, slots=True)
class _Task:
    draft: Draft
    line: TaskLine
    group: str | None


# Task elements with a column (or handled on their own).
_TASK_TIMES = {"created": "created_at", "updated": "modified_at", "dueDate": "due_at"}
_TASK_HANDLED = frozenset({"title", "taskStatus", "noteLevelID", "statusUpdated"})


def _task(
    context: FileContext,
    element: Element,
    note_source_id: str,
    note_title: str,
    note_number: int,
    position: int,
    line: int,
) -> _Task:
    """An Evernote 10 task (``<task>`` in the note) as a ``task`` node of its own."""
    title = one_line(element.findtext("title"))
    status = text_of(element.find("taskStatus")) or "open"
    level_id = text_of(element.find("noteLevelID"))
    source_id = f"task:{level_id}" if level_id else f"{note_source_id}/task/{position + 1}"
    node: dict[str, JSON] = {
        "source": context.source,
        "source_id": source_id,
        "node_type": "task",
        "name": title,
        "status": status,
    }
    if context.folder:
        node["folder"] = context.folder
    properties: dict[str, JSON] = {"note": note_title}
    for child in element:
        name = child.tag
        if name in _TASK_TIMES:
            _time(node, properties, _TASK_TIMES[name], snake(name), text_of(child))
        elif name == "statusUpdated":
            changed = text_of(child)
            properties["status_updated"] = enex_time(changed) or changed
            if status == "completed":
                _time(node, properties, "completed_at", "status_updated", changed)
        elif name == "taskFlag":
            properties["flagged"] = text_of(child) == "true"
        elif name not in _TASK_HANDLED:
            value = element_value(child)
            key = snake(name)
            if name == "reminder":
                properties.setdefault("reminders", [])
                reminders = properties["reminders"]
                if isinstance(reminders, list):
                    reminders.append(value)
            else:
                properties[key] = value
    if level_id:
        properties["note_level_id"] = level_id
    node["properties"] = properties
    element.tail = None
    raw = ET.tostring(element, encoding="unicode")
    digest = hashlib.sha256(raw.encode("utf-8") + context.salt()).hexdigest()
    record = f"note {note_number}, task {position + 1}" + (f": {title}" if title else "")
    group = text_of(element.find("taskGroupNoteLevelID"))
    order = text_of(element.find("sortWeight")) or ""
    return _Task(
        Draft(node=node, locator=Locator(context.file, record, line), source_hash=digest,
              raw=raw),
        TaskLine(title, status == "completed", order),
        group,
    )  # fmt: skip
