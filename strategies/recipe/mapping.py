"""The parts a mapping branch becomes: a document's sections (`split`) or the files a glob matches (`files`)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from fanout.core.files import DEFAULT_MAX_FILE_BYTES, read_text_file

from ..sections import split
from .model import Branch, RecipeError
from .templates import render

MAX_FILES = 1000  # a glob matching more is almost certainly a mistake (`**` over a home folder)


def section_parts(branch: Branch, where: str, values: dict[str, str], source: str) -> list[tuple[str, dict]]:
    """(title, template variables) for each section of the input the branch splits."""
    spec = branch.split
    assert spec is not None
    sections = split(values[spec.input], spec.by, spec.max_chars)
    if not sections:
        raise RecipeError(f"{source}: {where}.split: input {spec.input!r} has no text to split")
    return [
        (s.title, {"section": s.text, "section_title": s.title, "section_index": str(s.index),
                   "section_count": str(s.count)})
        for s in sections
    ]


def file_parts(
    branch: Branch, where: str, values: dict[str, str], source: str, limit: int = DEFAULT_MAX_FILE_BYTES
) -> list[tuple[str, dict]]:
    """(title, template variables) for each file the branch's glob matches, in name order, each read and checked
    like a file input."""
    pattern = render(branch.files, values).strip()
    if not pattern:
        raise RecipeError(f"{source}: {where}.files: the glob is empty")
    names = _matches(os.path.expanduser(pattern))
    base = ""
    if not names and not Path(pattern).expanduser().is_absolute():  # a shipped recipe's own sample files
        base = str(Path(source).parent)
        names = _matches(os.path.join(base, pattern))
    if not names:
        raise RecipeError(f"{source}: {where}.files: {pattern!r} matches no file")
    if len(names) > MAX_FILES:
        raise RecipeError(f"{source}: {where}.files: {pattern!r} matches {len(names)} files, more than {MAX_FILES}")
    parts = []
    for name in names:
        text = read_text_file(name, f"{where}.files of {source}", limit)
        shown = os.path.relpath(name, base) if base else name
        parts.append((shown, {"item": text, "item_name": shown}))
    return parts


def _matches(pattern: str) -> list[str]:
    return sorted(n for n in glob.glob(pattern, recursive=True) if not Path(n).is_dir())
