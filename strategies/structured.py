"""A `schema` branch's schema as a JSON Schema a provider can enforce (OpenAI's response_format, llama.cpp's
grammar), when it can be read as one.

A recipe writes a schema as an example (`{"country": "string", "cities": ["string"]}`) or as a JSON Schema
(`{"type": "object", ...}`). Only a complete translation is enforced: where a part cannot be typed (free text,
a value of no known type) the branch is asked in its prompt alone, and repaired once, as before.
"""

from __future__ import annotations

import json
from typing import Any

_SCALARS = {"string": "string", "str": "string", "text": "string", "number": "number", "float": "number",
            "integer": "integer", "int": "integer", "boolean": "boolean", "bool": "boolean"}


def json_schema_for(schema: str) -> dict[str, Any] | None:
    if not schema.strip():
        return None
    try:
        data = json.loads(schema)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("type") == "object":
        return data  # already a JSON Schema
    if not isinstance(data, dict):
        return None  # the root must be an object (OpenAI's strict mode asks it)
    return _from_example(data)


def _from_example(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        kind = _SCALARS.get(value.strip().lower())
        return {"type": kind} if kind else None
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, list):
        if len(value) != 1:
            return None
        item = _from_example(value[0])
        return {"type": "array", "items": item} if item else None
    if isinstance(value, dict) and value:
        props = {}
        for key, sub in value.items():
            typed = _from_example(sub)
            if typed is None:
                return None
            props[key] = typed
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    return None
