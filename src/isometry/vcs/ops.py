"""The changes ``apply`` accepts: upsert, patch and delete of nodes and edges."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from isometry.errors import InvalidOperation, ModelError
from isometry.model import EDGE_FIELDS, JSON, NODE_FIELDS, RowKind, edge_row, node_row


@dataclass(frozen=True, slots=True)
class Upsert:
    """Write the whole row: fields not given become NULL."""

    kind: RowKind
    row: dict[str, JSON]

    @property
    def key(self) -> str:
        return str(self.row["id"])


@dataclass(frozen=True, slots=True)
class Patch:
    """Change the given fields of an existing row, keep the rest (a NULL value clears one)."""

    kind: RowKind
    key: str
    fields: dict[str, JSON]


@dataclass(frozen=True, slots=True)
class Delete:
    kind: RowKind
    key: str


Op = Upsert | Patch | Delete

_KINDS = {"node": RowKind.NODE, "edge": RowKind.EDGE}


def validate(kind: RowKind, row: Mapping[str, JSON]) -> dict[str, JSON]:
    return node_row(row) if kind is RowKind.NODE else edge_row(row)


def parse_op(data: object) -> Op:
    """One line of an ``apply`` file: ``{"op": "upsert"|"patch"|"delete", "node"|"edge": ...}``."""
    if not isinstance(data, Mapping):
        raise InvalidOperation('expected an object like {"op": "upsert", "node": {...}}')
    op = data.get("op")
    present = [name for name in _KINDS if name in data]
    if op not in ("upsert", "patch", "delete"):
        raise InvalidOperation(f"'op' must be upsert, patch or delete, not {op!r}")
    if op == "delete" and not present and "id" in data:
        present = ["node"]
    extra = sorted(set(data) - {"op", "id", *_KINDS})
    if len(present) != 1 or extra:
        raise InvalidOperation("give exactly one of 'node' or 'edge' (and nothing else)")
    name = present[0]
    kind = _KINDS[name]
    body = data.get(name)
    try:
        if op == "upsert":
            if not isinstance(body, Mapping):
                raise InvalidOperation(f"'{name}' must be an object")
            return Upsert(kind, validate(kind, body))
        key = body.get("id") if isinstance(body, Mapping) else body if body else data.get("id")
        if not isinstance(key, str) or not key:
            raise InvalidOperation(f"{op} needs the {name}'s id")
        if op == "delete":
            return Delete(kind, key)
        if not isinstance(body, Mapping):
            raise InvalidOperation(f"'{name}' must be an object with an id and the fields to set")
        fields = {k: v for k, v in body.items() if k != "id"}
        known = NODE_FIELDS if kind is RowKind.NODE else EDGE_FIELDS
        unknown = sorted(set(fields) - set(known))
        if unknown:
            raise InvalidOperation(f"{name}: unknown field(s) {', '.join(unknown)}")
        return Patch(kind, key, fields)
    except ModelError as error:
        raise InvalidOperation(str(error)) from None
