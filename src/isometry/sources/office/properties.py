"""A document's core properties (the Dublin Core set both formats keep in
``docProps/core.xml``) as node fields and properties.

Created and modified times become ``created_at`` and ``modified_at`` (the format stores them
in UTC) and keywords become tags; every other property with a value is kept under its name
(as are those three when they do not fit their column).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from isometry.errors import ModelError
from isometry.model import JSON, utc_timestamp

_KEYWORD_SEPARATORS = re.compile(r"[;,]")
TIME_COLUMNS = {"created": "created_at", "modified": "modified_at"}


def core_fields(values: Mapping[str, object]) -> tuple[dict[str, JSON], dict[str, JSON]]:
    """(node fields, properties) from core property values by name; empty ones left out."""
    fields: dict[str, JSON] = {}
    properties: dict[str, JSON] = {}
    for name, value in values.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, datetime):
            try:
                text: JSON = utc_timestamp(value)
            except (ModelError, ValueError, OverflowError):
                text = value.isoformat()
            if name in TIME_COLUMNS and isinstance(text, str) and text.endswith("Z"):
                fields[TIME_COLUMNS[name]] = text
            else:
                properties[name] = text
            continue
        if name == "keywords" and isinstance(value, str):
            tags = [t.strip() for t in _KEYWORD_SEPARATORS.split(value) if t.strip()]
            if tags:
                fields["tags"] = tags
                continue
        properties[name] = value if isinstance(value, str | int | float | bool) else str(value)
    return fields, properties
