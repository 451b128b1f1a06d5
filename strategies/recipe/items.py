"""A batch branch's items: inline, or read from a file of lines or a JSON array."""

from __future__ import annotations

import json
from pathlib import Path

from .model import Branch, RecipeError
from .templates import render


def read_items(branch: Branch, where: str, values: dict[str, str], source: str) -> tuple[str, ...]:
    """A batch's items: inline, or a file with one item per line or a JSON array (relative paths are tried from
    the working directory, then from the recipe's folder)."""
    if branch.items:
        return branch.items
    name = render(branch.items_file, values)
    path = Path(name).expanduser()
    if not path.is_absolute() and not path.exists():
        path = Path(source).parent / name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(f"{source}: {where}.items_file: cannot read {name!r} ({err})") from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except ValueError as err:
            raise RecipeError(f"{path}: not a JSON array ({err}) (for {source}: {where}.items_file)") from None
        if not isinstance(data, list):
            raise RecipeError(f"{path}: expected a JSON array of items")
        items = tuple(d if isinstance(d, str) else json.dumps(d, ensure_ascii=False) for d in data)
    else:
        items = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not items:
        raise RecipeError(f"{source}: {where}.items_file: {name!r} holds no items")
    return items
