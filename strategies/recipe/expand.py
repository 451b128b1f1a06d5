"""Expansion: the recipe as the engine runs it, with every voter and batch item its own branch."""

from __future__ import annotations

from dataclasses import replace

from fanout.core.files import DEFAULT_MAX_FILE_BYTES

from .items import read_items
from .mapping import file_parts, section_parts
from .model import Branch, Recipe, VoteSpec


def expand(recipe: Recipe, values: dict[str, str], *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Recipe:
    """The recipe as the engine runs it: each voting branch becomes one branch per voter, each batch branch one
    branch per item, a split branch one per section, a files branch one per file. `after` naming an expanded
    branch waits for all of its parts."""
    concrete: list[Branch] = []
    parts: dict[str, tuple[str, ...]] = {}
    votes: dict[str, VoteSpec] = dict(recipe.votes)
    for i, b in enumerate(recipe.branches):
        where = f"branches[{i}] (id {b.id!r})"
        if b.items or b.items_file:
            items = read_items(b, where, values, recipe.source)
            width = len(str(len(items)))
            made = [
                replace(b, id=f"{b.id}.{n + 1:0{width}d}", title=f"{b.title}: {_one_line(item)[:60]}", items=(),
                        items_file="", group=b.id, group_title=b.title, item=item)
                for n, item in enumerate(items)
            ]
        elif b.split is not None or b.files:
            pieces = (section_parts(b, where, values, recipe.source) if b.split is not None
                      else file_parts(b, where, values, recipe.source, max_file_bytes))
            width = len(str(len(pieces)))
            made = [
                replace(b, id=f"{b.id}.{n + 1:0{width}d}", title=f"{b.title}: {_one_line(title)[:60]}", split=None,
                        files="", group=b.id, group_title=b.title, fills=tuple(fills.items()))
                for n, (title, fills) in enumerate(pieces)
            ]
        elif b.vote is not None:
            v = b.vote
            votes[b.id] = v
            made = []
            for n in range(v.voters):
                settings = b.settings
                if v.temperatures:
                    settings = replace(settings, temperature=v.temperatures[n % len(v.temperatures)])
                if v.models:
                    settings = replace(settings, model=v.models[n % len(v.models)])
                made.append(
                    replace(
                        b,
                        id=f"{b.id}.v{n + 1}",
                        title=f"{b.title} · voter {n + 1}",
                        prompt=v.prompts[n % len(v.prompts)] if v.prompts else b.prompt,
                        settings=settings,
                        vote=None,
                        group=b.id,
                        group_title=b.title,
                        sample=n,
                        weight=v.weights[n] if v.weights else 1.0,
                    )
                )
        else:
            made = [b]
        parts[b.id] = tuple(m.id for m in made)
        concrete.extend(made)
    concrete = [replace(b, after=tuple(p for dep in b.after for p in parts[dep])) for b in concrete]
    return replace(recipe, branches=tuple(concrete), votes=votes)


def _one_line(text: str) -> str:
    return " ".join(text.split())
