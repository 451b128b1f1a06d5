"""Prompt templates: `{name}` variables, `{{`/`}}` literal braces, and the check that every variable has a value."""

from __future__ import annotations

import re

from .model import Recipe, RecipeError

_VAR = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Variables the engine fills in itself; a template may use them without an input of that name.
ENGINE_VARS = frozenset({"id", "title", "context", "labels", "schema", "brief"})


def template_vars(template: str) -> set[str]:
    return {m.group(1) for m in _VAR.finditer(template) if m.group(1)}


def render(template: str, values: dict[str, str]) -> str:
    """`{name}` is a variable, `{{` and `}}` are literal braces; any other brace (JSON in a prompt) is left alone."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        return values[m.group(1)]

    return _VAR.sub(sub, template)


def check_templates(recipe: Recipe) -> None:
    """Every `{variable}` in every template has a value: an input, or one the engine fills in."""
    known = set(recipe.inputs) | ENGINE_VARS
    places = []
    for i, b in enumerate(recipe.branches):
        where = f"branches[{i}] (id {b.id!r})"
        batch = bool(b.items or b.items_file or b.item is not None)
        extra = {"item"} if batch else set()
        places.append((f"{where}.prompt", b.prompt, extra))
        if b.vote:
            places += [(f"{where}.vote.prompts[{j}]", p, extra) for j, p in enumerate(b.vote.prompts)]
        if b.items_file:
            places.append((f"{where}.items_file", b.items_file, set()))
    places += [("aggregate.prompt", recipe.aggregate.prompt, set()), ("system", recipe.system, set())]
    if recipe.plan is not None:
        places += [("plan.prompt", recipe.plan.prompt, {"min_branches", "max_branches"}),
                   ("prompt", recipe.plan.branch_prompt, set())]
    for where, template, extra in places:
        missing = sorted(template_vars(template) - known - extra)
        if missing:
            names = ", ".join(sorted(recipe.inputs)) or "none"
            hint = " ({item} is only for batch branches, those with items)" if "item" in missing else ""
            raise RecipeError(
                f"{recipe.source}: {where}: {{{missing[0]}}} has no value (define it under [inputs]; inputs: {names}){hint}"
            )
