"""Reading a recipe file: where shipped recipes live, TOML parsing, and validation with messages that name the
file and the field or branch id at fault."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from fanout.core.toml_fields import Fields

from ..dag import find_cycle
from .model import (
    AGGREGATE_ID, AGGREGATORS, ID_PATTERN, ON_ERROR, STRATEGIES, VOTE_METHODS, Aggregate, Branch, CallSettings,
    Recipe, RecipeError, VoteSpec,
)
from .templates import check_templates


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
        if not ID_PATTERN.match(bid):
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
