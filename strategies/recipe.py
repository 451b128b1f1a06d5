"""Recipes: TOML data describing branches, their dependencies and how their results combine.

Loading validates everything a run would trip over later, and every message names the file and the field or
branch id at fault.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fanout.errors import UserError
from fanout.fields import Fields

from .dag import find_cycle

AGGREGATE_ID = "aggregate"  # reserved: the aggregator's own id in events
STRATEGIES = ("sequential", "parallel", "hybrid")
ON_ERROR = ("continue", "fail")
AGGREGATORS = ("concat", "synthesize")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VAR = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Variables the engine fills in itself; a template may use them without an input of that name.
ENGINE_VARS = frozenset({"id", "title", "context"})


class RecipeError(UserError):
    pass


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


@dataclass(frozen=True)
class CallSettings:
    """Where and how one call is made; unset fields fall back to the run's provider and flags."""

    provider: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None

    def over(self, base: "CallSettings") -> "CallSettings":
        return CallSettings(
            provider=self.provider if self.provider is not None else base.provider,
            model=self.model if self.model is not None else base.model,
            temperature=self.temperature if self.temperature is not None else base.temperature,
            max_tokens=self.max_tokens if self.max_tokens is not None else base.max_tokens,
        )


@dataclass(frozen=True)
class Branch:
    id: str
    title: str
    prompt: str
    after: tuple[str, ...] = ()
    settings: CallSettings = CallSettings()
    context: int = 600  # characters of each earlier output a step is shown


@dataclass(frozen=True)
class Aggregate:
    kind: str = "concat"
    prompt: str = ""
    settings: CallSettings = CallSettings()


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    source: str  # the file it came from, for messages
    inputs: dict[str, str]
    branches: tuple[Branch, ...]
    aggregate: Aggregate
    strategy: str = "hybrid"
    on_error: str = "continue"
    system: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)  # the TOML as read, kept in sessions

    def branch(self, branch_id: str) -> Branch:
        for b in self.branches:
            if b.id == branch_id:
                return b
        raise KeyError(branch_id)

    def with_inputs(self, values: dict[str, str]) -> dict[str, str]:
        """The recipe's inputs overridden by `values`; unknown names are an error naming the recipe's inputs."""
        unknown = sorted(set(values) - set(self.inputs))
        if unknown:
            known = ", ".join(sorted(self.inputs)) or "none"
            raise RecipeError(f"{self.source}: no input named {', '.join(unknown)} (inputs: {known})")
        merged = {**self.inputs, **values}
        empty = sorted(k for k, v in merged.items() if not str(v).strip())
        if empty:
            raise RecipeError(
                f"{self.source}: input {', '.join(repr(e) for e in empty)} is empty; give it with --set {empty[0]}=..."
            )
        return merged


# --- loading ---------------------------------------------------------------------------------------------------


def shipped_recipes() -> dict[str, Path]:
    folder = resources.files("fanout.prompts")
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}


def resolve(name_or_path: str) -> Path:
    """A shipped recipe's name, or a path to a TOML file."""
    shipped = shipped_recipes()
    if name_or_path in shipped:
        return shipped[name_or_path]
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    if path.suffix == ".toml" or "/" in name_or_path:
        raise RecipeError(f"{name_or_path}: no such recipe file")
    names = ", ".join(sorted(shipped)) or "none"
    raise RecipeError(f"unknown recipe {name_or_path!r} (shipped recipes: {names}; or give a path to a .toml file)")


def load(name_or_path: str) -> Recipe:
    path = resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(f"{path}: cannot read ({err})") from None
    return parse(text, str(path))


def parse(text: str, source: str) -> Recipe:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise RecipeError(f"{source}: invalid TOML: {err}") from None
    return from_data(data, source)


_SETTINGS = {"provider", "model", "temperature", "max_tokens"}


def _settings(f: Fields) -> CallSettings:
    return CallSettings(
        provider=f.opt_str("provider"),
        model=f.opt_str("model"),
        temperature=f.number("temperature", lo=0, hi=2),
        max_tokens=f.number("max_tokens", lo=1, hi=1_000_000, integer=True),
    )


def from_data(data: dict[str, Any], source: str) -> Recipe:
    top = Fields(data, "", source)
    top.only({"name", "description", "strategy", "on_error", "system", "prompt", "inputs", "defaults", "branches",
              "aggregate"})
    name = top.str("name", Path(source).stem)
    inputs_table = Fields(data.get("inputs", {}), "inputs", source)
    inputs: dict[str, str] = {}
    for key, value in inputs_table.table.items():
        if isinstance(value, dict):
            value = Fields(value, f"inputs.{key}", source).str("default", "")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise inputs_table.fail(key, "must be a string (the default value)")
        inputs[key] = str(value)
    defaults = Fields(data.get("defaults", {}), "defaults", source)
    defaults.only(_SETTINGS | {"context"})
    base_settings = _settings(defaults)
    base_context = defaults.number("context", lo=0, hi=10_000_000, integer=True)
    shared_prompt = top.opt_str("prompt")

    raw_branches = data.get("branches")
    if not raw_branches:
        raise RecipeError(f"{source}: the recipe has no branches (add [[branches]] tables)")
    if not isinstance(raw_branches, list):
        raise RecipeError(f"{source}: branches must be an array of tables ([[branches]])")
    branches: list[Branch] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_branches):
        label = f"branches[{i}]"
        f = Fields(raw, label, source)
        bid = f.str("id")
        if not _ID.match(bid):
            raise f.fail("id", f"{bid!r} is not a valid id (letters, digits, '_', '-', '.')")
        if bid == AGGREGATE_ID:
            raise f.fail("id", f"{bid!r} is reserved for the aggregator")
        if bid in seen:
            raise f.fail("id", f"duplicate id {bid!r}")
        seen.add(bid)
        f.where = f"branches[{i}] (id {bid!r})"
        f.only({"id", "title", "prompt", "after", "context"} | _SETTINGS)
        prompt = f.opt_str("prompt") or shared_prompt
        if prompt is None:
            raise f.fail("prompt", "is required (or give a recipe-level `prompt` shared by all branches)")
        context = f.number("context", lo=0, hi=10_000_000, integer=True)
        branches.append(
            Branch(
                id=bid,
                title=f.str("title", bid),
                prompt=prompt,
                after=tuple(f.str_list("after")),
                settings=_settings(f).over(base_settings),
                context=context if context is not None else (base_context if base_context is not None else 600),
            )
        )

    ids = {b.id for b in branches}
    for i, b in enumerate(branches):
        for dep in b.after:
            if dep not in ids:
                raise RecipeError(f"{source}: branches[{i}] (id {b.id!r}): after names {dep!r}, which is no branch")
            if dep == b.id:
                raise RecipeError(f"{source}: branches[{i}] (id {b.id!r}): a branch cannot come after itself")
    cycle = find_cycle({b.id: b.after for b in branches})
    if cycle:
        raise RecipeError(f"{source}: dependency cycle: {' -> '.join(cycle)}")

    agg = Fields(data.get("aggregate", {"kind": "concat"}), "aggregate", source)
    agg.only({"kind", "prompt"} | _SETTINGS)
    kind = agg.str("kind", "concat", choices=AGGREGATORS)
    aggregate = Aggregate(kind=kind, prompt=agg.str("prompt", ""), settings=_settings(agg).over(base_settings))
    if kind == "synthesize" and not aggregate.prompt.strip():
        raise agg.fail("prompt", "is required when kind is \"synthesize\"")

    recipe = Recipe(
        name=name,
        description=top.str("description", ""),
        source=source,
        inputs=inputs,
        branches=tuple(branches),
        aggregate=aggregate,
        strategy=top.str("strategy", "hybrid", choices=STRATEGIES),
        on_error=top.str("on_error", "continue", choices=ON_ERROR),
        system=top.str("system", ""),
        raw=data,
    )
    check_templates(recipe)
    return recipe


def check_templates(recipe: Recipe) -> None:
    """Every `{variable}` in every template has a value: an input, or one the engine fills in."""
    known = set(recipe.inputs) | ENGINE_VARS
    places = [(f"branches[{i}] (id {b.id!r}).prompt", b.prompt) for i, b in enumerate(recipe.branches)]
    places += [("aggregate.prompt", recipe.aggregate.prompt), ("system", recipe.system)]
    for where, template in places:
        missing = sorted(template_vars(template) - known)
        if missing:
            names = ", ".join(sorted(recipe.inputs)) or "none"
            raise RecipeError(
                f"{recipe.source}: {where}: {{{missing[0]}}} has no value (define it under [inputs]; inputs: {names})"
            )
