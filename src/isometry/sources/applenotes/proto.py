"""The protobuf messages Apple Notes stores: note bodies (``ZICNOTEDATA.ZDATA``) and the
mergeable data of embedded tables (``ZMERGEABLEDATA1`` of a ``com.apple.notes.table``).

Apple publishes no schema. The field numbers below are the ones the Notes app is known to
write, as documented by the public projects that read these stores; every message is
``proto2`` so fields this schema does not name are kept as unknown fields and ignored, which
is what lets a store from a newer version still be read.

The schema is declared as a ``FileDescriptorProto`` in text form and built at import time
with the ``protobuf`` runtime (no generated code), so it stays readable in one place.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from google.protobuf.message import DecodeError, Message

PACKAGE = "isometry.applenotes"

# Field types as FieldDescriptorProto names them; labels are optional unless marked repeated.
_SCHEMA = """
name: "isometry/applenotes/notestore.proto"
package: "isometry.applenotes"
syntax: "proto2"

message_type {
  name: "NoteStoreProto"
  field { name: "document" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.Document" }
}
message_type {
  name: "Document"
  field { name: "version" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "note" number: 3 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.Note" }
}
message_type {
  name: "Note"
  field { name: "note_text" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "attribute_run" number: 5 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.AttributeRun" }
}
message_type {
  name: "AttributeRun"
  field { name: "length" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "paragraph_style" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.ParagraphStyle" }
  field { name: "font" number: 3 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.Font" }
  field { name: "font_weight" number: 5 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "underlined" number: 6 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "strikethrough" number: 7 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "superscript" number: 8 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "link" number: 9 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "color" number: 10 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.Color" }
  field { name: "attachment_info" number: 12 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.AttachmentInfo" }
  field { name: "emphasis_style" number: 14 label: LABEL_OPTIONAL type: TYPE_INT32 }
}
message_type {
  name: "ParagraphStyle"
  field { name: "style_type" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32
          default_value: "-1" }
  field { name: "alignment" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "indent_amount" number: 4 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "checklist" number: 5 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.Checklist" }
  field { name: "block_quote" number: 8 label: LABEL_OPTIONAL type: TYPE_INT32 }
}
message_type {
  name: "Checklist"
  field { name: "uuid" number: 1 label: LABEL_OPTIONAL type: TYPE_BYTES }
  field { name: "done" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32 }
}
message_type {
  name: "Font"
  field { name: "font_name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "point_size" number: 2 label: LABEL_OPTIONAL type: TYPE_FLOAT }
  field { name: "font_hints" number: 3 label: LABEL_OPTIONAL type: TYPE_INT32 }
}
message_type {
  name: "Color"
  field { name: "red" number: 1 label: LABEL_OPTIONAL type: TYPE_FLOAT }
  field { name: "green" number: 2 label: LABEL_OPTIONAL type: TYPE_FLOAT }
  field { name: "blue" number: 3 label: LABEL_OPTIONAL type: TYPE_FLOAT }
  field { name: "alpha" number: 4 label: LABEL_OPTIONAL type: TYPE_FLOAT }
}
message_type {
  name: "AttachmentInfo"
  field { name: "attachment_identifier" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "type_uti" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
}

message_type {
  name: "MergableDataProto"
  field { name: "mergable_data_object" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.MergableDataObject" }
}
message_type {
  name: "MergableDataObject"
  field { name: "version" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "data" number: 3 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.MergableDataObjectData" }
}
message_type {
  name: "MergableDataObjectData"
  field { name: "entry" number: 3 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.MergableDataObjectEntry" }
  field { name: "key_item" number: 4 label: LABEL_REPEATED type: TYPE_STRING }
  field { name: "type_item" number: 5 label: LABEL_REPEATED type: TYPE_STRING }
  field { name: "uuid_item" number: 6 label: LABEL_REPEATED type: TYPE_BYTES }
}
message_type {
  name: "MergableDataObjectEntry"
  field { name: "register_latest" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.RegisterLatest" }
  field { name: "list" number: 5 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.List" }
  field { name: "dictionary" number: 6 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.Dictionary" }
  field { name: "note" number: 10 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.Note" }
  field { name: "custom_map" number: 13 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.ObjectMap" }
  field { name: "ordered_set" number: 16 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.OrderedSet" }
}
message_type {
  name: "RegisterLatest"
  field { name: "contents" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.ObjectID" }
}
message_type {
  name: "ObjectID"
  field { name: "unsigned_integer_value" number: 2 label: LABEL_OPTIONAL type: TYPE_UINT64 }
  field { name: "string_value" number: 4 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "object_index" number: 6 label: LABEL_OPTIONAL type: TYPE_INT32 }
}
message_type {
  name: "ObjectMap"
  field { name: "type" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "map_entry" number: 3 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.MapEntry" }
}
message_type {
  name: "MapEntry"
  field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.ObjectID" }
}
message_type {
  name: "Dictionary"
  field { name: "element" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.DictionaryElement" }
}
message_type {
  name: "DictionaryElement"
  field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.ObjectID" }
  field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.ObjectID" }
}
message_type {
  name: "List"
  field { name: "list_entry" number: 1 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.ListEntry" }
}
message_type {
  name: "ListEntry"
  field { name: "id" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.ObjectID" }
}
message_type {
  name: "OrderedSet"
  field { name: "ordering" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.OrderedSetOrdering" }
  field { name: "elements" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.Dictionary" }
}
message_type {
  name: "OrderedSetOrdering"
  field { name: "array" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.OrderedSetOrderingArray" }
  field { name: "contents" number: 2 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.Dictionary" }
}
message_type {
  name: "OrderedSetOrderingArray"
  field { name: "contents" number: 1 label: LABEL_OPTIONAL type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.Note" }
  field { name: "attachment" number: 2 label: LABEL_REPEATED type: TYPE_MESSAGE
          type_name: ".isometry.applenotes.OrderedSetOrderingArrayAttachment" }
}
message_type {
  name: "OrderedSetOrderingArrayAttachment"
  field { name: "index" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "uuid" number: 2 label: LABEL_OPTIONAL type: TYPE_BYTES }
}
"""


def _classes() -> dict[str, type[Message]]:
    file_proto = text_format.Parse(_SCHEMA, descriptor_pb2.FileDescriptorProto())
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return {
        message.name: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{PACKAGE}.{message.name}")
        )
        for message in file_proto.message_type
    }


_CLASSES = _classes()
NoteStoreProto = _CLASSES["NoteStoreProto"]
MergableDataProto = _CLASSES["MergableDataProto"]

# The runtime builds these classes dynamically, so type checkers see them as ``Any``: the
# modules that walk messages name the fields they read and check presence with HasField.
ProtoMessage = Any

GZIP_MAGIC = b"\x1f\x8b"


class BodyError(ValueError):
    """A stored blob that is not the protobuf it should be (the message says what failed)."""


def inflate(data: bytes) -> bytes:
    """The protobuf bytes of a stored blob: gzip-compressed as the app writes it, or already
    plain (some tools and older exports keep the uncompressed form)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise BodyError(f"the gzip data is damaged ({error})") from None


def parse_note(data: bytes) -> ProtoMessage:
    """The ``Note`` message (text and attribute runs) of a note body blob."""
    message: ProtoMessage = NoteStoreProto()
    try:
        message.ParseFromString(inflate(data))
    except DecodeError as error:
        raise BodyError(f"the note body is not a Notes protobuf ({error})") from None
    if not message.HasField("document") or not message.document.HasField("note"):
        raise BodyError("the note body holds no document")
    return message.document.note


def parse_mergeable(data: bytes) -> ProtoMessage:
    """The object data of a mergeable-data blob (an embedded table, say)."""
    message: ProtoMessage = MergableDataProto()
    try:
        message.ParseFromString(inflate(data))
    except DecodeError as error:
        raise BodyError(f"the embedded object is not a Notes protobuf ({error})") from None
    if not message.HasField("mergable_data_object"):
        raise BodyError("the embedded object holds no mergeable data")
    return message.mergable_data_object.data
