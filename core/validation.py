"""Reading TOML tables into pydantic models, with failures worded for the person who wrote the file.

pydantic does the checking (types, bounds, choices, unknown fields, defaults) from one declaration per table;
this module only turns its first error into one line that names the file, the field's dotted path (with the
branch id where the path runs through a list of tables that have ids) and what is wrong with it, e.g.
`demo.toml: branches[1] (id 'b').max_tokens: must be an integer, not 'many'`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

import annotated_types
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import UserError

M = TypeVar("M", bound=BaseModel)


class Table(BaseModel):
    """A TOML table: unknown keys are errors, no coercion ("4" is not 4), frozen once read."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """(text, data) of a TOML file; unreadable or invalid TOML is a UserError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read ({err})") from None
    return text, parse_toml(text, str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{source}: invalid TOML: {err}") from None


def validate(model: type[M], data: Any, source: str, error: type[UserError] = UserError) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise error(describe(err, model, data, source)) from None


def describe(err: ValidationError, model: type[BaseModel], data: Any, source: str) -> str:
    first = err.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    kind = first["type"]
    if kind == "extra_forbidden":
        *parent, key = loc
        owner = _model_at(model, tuple(parent))
        allowed = ", ".join(sorted(_names(owner))) if owner else ""
        where = _path(tuple(parent), data)
        at = f" in {where}" if where else ""
        return f"{source}: unknown field {key!r}{at}" + (f" (allowed: {allowed})" if allowed else "")
    return f"{source}: {_path(loc, data) or 'the file'}: {_problem(first, model, loc)}"


def _path(loc: tuple, data: Any) -> str:
    """('branches', 1, 'max_tokens') -> "branches[1] (id 'b').max_tokens"."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                out += f" (id {node['id']!r})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that validates the table at `loc`, following fields, lists and dict values."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        if isinstance(part, int):
            continue
        field = _field(current, part)
        if field is None:
            # a key of a dict-valued field (providers.NAME): stay on the value model
            continue
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field(model: type[BaseModel], key: str):
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f
    return None


def _inner_model(annotation: Any) -> Any:
    """The first BaseModel inside list[...], dict[str, ...] or X | None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _bounds(model: type[BaseModel], loc: tuple) -> tuple[float | None, float | None]:
    """(lo, hi) declared on the field at `loc` (or on the items of a list field)."""
    owner = _model_at(model, tuple(p for p in loc[:-1] if not isinstance(p, int)) if loc else ())
    key = next((p for p in reversed(loc) if isinstance(p, str)), None)
    if owner is None or key is None:
        return None, None
    field = _field(owner, key)
    lo = hi = None
    metadata = list(field.metadata) if field else []
    stack = [field.annotation] if field else []
    while stack:  # bounds may sit on the field or inside list[Annotated[float, Field(ge=..)]] / X | None
        ann = stack.pop()
        metadata += list(getattr(ann, "__metadata__", ()))
        stack += list(getattr(ann, "__args__", ()) or ())
        origin = getattr(ann, "__origin__", None)
        if origin is not None and getattr(ann, "__metadata__", None):
            stack.append(origin)
    for m in metadata:
        for inner in getattr(m, "metadata", [m]):
            if isinstance(inner, annotated_types.Ge):
                lo = inner.ge
            elif isinstance(inner, annotated_types.Le):
                hi = inner.le
    return lo, hi


_KINDS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number",
    "string_type": "a string", "bool_type": "true or false", "bool_parsing": "true or false",
    "list_type": "a list", "dict_type": "a table", "model_type": "a table", "model_attributes_type": "a table",
}


def _problem(error: dict, model: type[BaseModel], loc: tuple) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in _KINDS:
        shown = type(value).__name__ if kind == "string_type" else repr(value)
        if isinstance(loc[-1], int) if loc else False:
            return f"items must each be {_KINDS[kind]}, not {shown}"
        return f"must be {_KINDS[kind]}, not {shown}"
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}, not {value!r}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        lo, hi = _bounds(model, loc)
        if lo is not None and hi is not None:
            return f"must be between {lo:g} and {hi:g}, not {value!r}"
        return error["msg"].lower() + f", not {value!r}"
    if kind == "value_error":  # a model's own validator: its message is already in our words
        return error["msg"].removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not valid here"
    return f"{error['msg']} (got {value!r})"
