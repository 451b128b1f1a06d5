"""Prompt templates: `{name}` variables, `{{`/`}}` literal braces, and the check that every variable has a value."""

from __future__ import annotations

import re

from .model import Recipe, RecipeError

_VAR = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Variables the engine fills in itself; a template may use them without an input of that name.
ENGINE_VARS = frozenset({"id", "title", "context", "labels", "schema", "brief"})
SECTION_VARS = frozenset({"section", "section_title", "section_index", "section_count"})
FILE_VARS = frozenset({"item", "item_name"})


def mapped_vars(branch) -> set[str]:
    """The variables a branch's own part fills in: a batch item, a document's section, a file."""
    if branch.split is not None or any(k == "section" for k, _ in branch.fills):
        return set(SECTION_VARS)
    if branch.files or any(k == "item_name" for k, _ in branch.fills):
        return set(FILE_VARS)
    if branch.items or branch.items_file or branch.item is not None:
        return {"item"}
    return set()


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
        extra = mapped_vars(b)
        if b.split is not None and b.split.input not in recipe.inputs:
            names = ", ".join(sorted(recipe.inputs)) or "none"
            raise RecipeError(f"{recipe.source}: {where}.split.input: {b.split.input!r} names no input "
                              f"(inputs: {names})")
        places.append((f"{where}.prompt", b.prompt, extra))
        if b.vote:
            places += [(f"{where}.vote.prompts[{j}]", p, extra) for j, p in enumerate(b.vote.prompts)]
        if b.items_file:
            places.append((f"{where}.items_file", b.items_file, set()))
        if b.files:
            places.append((f"{where}.files", b.files, set()))
    places += [("aggregate.prompt", recipe.aggregate.prompt, set()), ("system", recipe.system, set())]
    if recipe.plan is not None:
        places += [("plan.prompt", recipe.plan.prompt, {"min_branches", "max_branches"}),
                   ("prompt", recipe.plan.branch_prompt, set())]
    for where, template, extra in places:
        missing = sorted(template_vars(template) - known - extra)
        if missing:
            names = ", ".join(sorted(recipe.inputs)) or "none"
            hint = ""
            if missing[0] in SECTION_VARS:
                hint = f" ({{{missing[0]}}} is only for branches with split)"
            elif missing[0] in FILE_VARS:
                hint = f" ({{{missing[0]}}} is only for branches with items, or files for {{item_name}})"
            raise RecipeError(
                f"{recipe.source}: {where}: {{{missing[0]}}} has no value (define it under [inputs]; inputs: {names}){hint}"
            )
