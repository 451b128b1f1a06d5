"""Recipes: TOML data describing branches, their dependencies and how their results combine.

Loading validates everything a run would trip over later, and every message names the file and the field or
branch id at fault.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from fanout.errors import UserError
from fanout.fields import Fields

from .dag import find_cycle

AGGREGATE_ID = "aggregate"  # reserved: the aggregator's own id in events
STRATEGIES = ("sequential", "parallel", "hybrid")
ON_ERROR = ("continue", "fail")
AGGREGATORS = ("concat", "merge", "union", "synthesize", "judge", "vote", "checks")
VOTE_METHODS = ("majority", "unanimous", "weighted", "threshold", "union")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VAR = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Variables the engine fills in itself; a template may use them without an input of that name.
ENGINE_VARS = frozenset({"id", "title", "context", "labels", "schema"})


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
class VoteSpec:
    samples: int = 3
    prompts: tuple[str, ...] = ()  # one voter each, in turn
    temperatures: tuple[float, ...] = ()
    models: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    method: str = "majority"
    threshold: float = 0.5

    @property
    def voters(self) -> int:
        return max(self.samples, len(self.prompts), len(self.temperatures), len(self.models), len(self.weights), 1)


@dataclass(frozen=True)
class Branch:
    id: str
    title: str
    prompt: str
    after: tuple[str, ...] = ()
    settings: CallSettings = CallSettings()
    context: int = 600  # characters of each earlier output a step is shown
    labels: tuple[str, ...] = ()  # the answer is one of these (normalised); unreadable: the voter abstains
    json_field: str = ""  # the answer is this field of a JSON object in the text
    schema: str = ""  # the branch answers JSON to this schema; invalid JSON is repaired once by asking again
    vote: VoteSpec | None = None  # declared: expands into one branch per voter
    items: tuple[str, ...] = ()  # declared: a batch, one branch per item
    items_file: str = ""
    # Set on expanded branches:
    group: str = ""  # the declared branch a voter or batch item came from
    group_title: str = ""
    sample: int = 0  # which voter: keeps N samples N cache entries
    weight: float = 1.0
    item: str | None = None


@dataclass(frozen=True)
class Aggregate:
    kind: str = "concat"
    prompt: str = ""
    settings: CallSettings = CallSettings()
    fail_on: tuple[str, ...] = ()  # checks: answers that flag the input


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
    votes: dict[str, VoteSpec] = field(default_factory=dict)  # expanded recipes: group id -> how it votes

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
              "aggregate", "vote"})
    recipe_vote = _vote(data["vote"], "vote", source) if "vote" in data else None
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
        f.only({"id", "title", "prompt", "after", "context", "labels", "json_field", "schema", "vote", "items",
                "items_file"} | _SETTINGS)
        prompt = f.opt_str("prompt") or shared_prompt
        if prompt is None:
            raise f.fail("prompt", "is required (or give a recipe-level `prompt` shared by all branches)")
        context = f.number("context", lo=0, hi=10_000_000, integer=True)
        vote = _vote(raw["vote"], f"{f.where}.vote", source) if "vote" in raw else recipe_vote
        items = tuple(f.str_list("items"))
        items_file = f.str("items_file", "")
        if items and items_file:
            raise f.fail("items", "give items or items_file, not both")
        if (items or items_file) and "vote" in raw:
            raise f.fail("vote", "a batch branch (items) cannot also vote; vote in a separate branch")
        if (items or items_file) and vote is recipe_vote:
            vote = None
        branches.append(
            Branch(
                id=bid,
                title=f.str("title", bid),
                prompt=prompt,
                after=tuple(f.str_list("after")),
                settings=_settings(f).over(base_settings),
                context=context if context is not None else (base_context if base_context is not None else 600),
                labels=tuple(f.str_list("labels")),
                json_field=f.str("json_field", ""),
                schema=f.str("schema", ""),
                vote=vote,
                items=items,
                items_file=items_file,
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
    agg.only({"kind", "prompt", "fail_on"} | _SETTINGS)
    kind = agg.str("kind", "concat", choices=AGGREGATORS)
    aggregate = Aggregate(
        kind=kind,
        prompt=agg.str("prompt", ""),
        settings=_settings(agg).over(base_settings),
        fail_on=tuple(agg.str_list("fail_on")),
    )
    if kind in ("synthesize", "judge") and not aggregate.prompt.strip():
        raise agg.fail("prompt", f"is required when kind is {kind!r}")
    if kind == "checks" and not aggregate.fail_on:
        raise agg.fail("fail_on", "is required when kind is \"checks\" (the answers that flag the input)")
    if kind == "vote" and not any(b.vote for b in branches):
        raise agg.fail("kind", "\"vote\" needs a [vote] table or a branch with `vote`")

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


def _vote(raw: Any, where: str, source: str) -> VoteSpec:
    f = Fields(raw, where, source)
    f.only({"samples", "prompts", "temperatures", "models", "weights", "method", "threshold"})

    def numbers(key: str, lo: float, hi: float) -> tuple[float, ...]:
        value = f.table.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi for v in value
        ):
            raise f.fail(key, f"must be a list of numbers between {lo:g} and {hi:g}")
        return tuple(float(v) for v in value)

    spec = VoteSpec(
        samples=f.number("samples", lo=1, hi=1000, integer=True) or 0,
        prompts=tuple(f.str_list("prompts")),
        temperatures=numbers("temperatures", 0, 2),
        models=tuple(f.str_list("models")),
        weights=numbers("weights", 0, 1000),
        method=f.str("method", "majority", choices=VOTE_METHODS),
        threshold=f.number("threshold", lo=0, hi=1) if "threshold" in f.table else 0.5,
    )
    if spec.voters < 2 and not spec.samples:
        spec = VoteSpec(3, spec.prompts, spec.temperatures, spec.models, spec.weights, spec.method, spec.threshold)
    if spec.weights and len(spec.weights) != spec.voters:
        raise f.fail("weights", f"gives {len(spec.weights)} weights for {spec.voters} voters")
    return spec


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
    for where, template, extra in places:
        missing = sorted(template_vars(template) - known - extra)
        if missing:
            names = ", ".join(sorted(recipe.inputs)) or "none"
            hint = " ({item} is only for batch branches, those with items)" if "item" in missing else ""
            raise RecipeError(
                f"{recipe.source}: {where}: {{{missing[0]}}} has no value (define it under [inputs]; inputs: {names}){hint}"
            )


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


def expand(recipe: Recipe, values: dict[str, str]) -> Recipe:
    """The recipe as the engine runs it: each voting branch becomes one branch per voter, each batch branch one
    branch per item. `after` naming an expanded branch waits for all of its parts."""
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
