"""Reading a recipe file: where shipped recipes live, and turning its validated tables into the engine's Recipe.

Each table's shape is checked by its pydantic model (`schema.py`); what spans tables is checked here (unique ids,
dependencies that exist and do not loop, templates whose variables have values). Every message names the file and
the field or branch id at fault.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fanout.core.validation import parse_toml, read_toml, validate

from ..dag import find_cycle
from .model import (AGGREGATE_ID, ID_PATTERN, PLAN_ID, Aggregate, Branch, CallSettings, Recipe, RecipeError,
                    SearchSpec, SplitSpec, VoteSpec, is_planner_id)
from .plan_table import read_plan
from .schema import BranchTable, CallSettingsTable, RecipeFile, VoteTable
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
    _, data = read_toml(path)
    return from_data(data, str(path))


def parse(text: str, source: str) -> Recipe:
    return from_data(parse_toml(text, source), source)


def _settings(t: CallSettingsTable) -> CallSettings:
    return CallSettings(provider=t.provider, model=t.model, temperature=t.temperature, max_tokens=t.max_tokens)


def aggregator(kind: str) -> Any:
    """The registry's aggregator for a kind the schema has checked (imported here: the aggregators import the
    recipe model)."""
    from ..aggregators import AGGREGATORS

    return AGGREGATORS[kind]


def _fail(source: str, where: str, problem: str) -> RecipeError:
    return RecipeError(f"{source}: {where}: {problem}")


def from_data(data: dict[str, Any], source: str) -> Recipe:
    f = validate(RecipeFile, data, source, RecipeError)
    inputs = _inputs(data.get("inputs", {}), source)
    recipe_vote = _vote(f.vote, "vote", source) if f.vote else None
    base_settings = _settings(f.defaults)
    plan = None
    if f.plan is not None:
        context = f.defaults.context if f.defaults.context is not None else 600
        plan = read_plan(f.plan, source, shared_prompt=f.prompt, base=base_settings, context=context,
                         settings=_settings(f.plan).over(base_settings))
    if not f.branches and plan is None:
        raise RecipeError(f"{source}: the recipe has no branches (add [[branches]] tables, or a [plan] table)")
    first_index: dict[str, int] = {}  # each id's first table: a duplicate is named at its own index, in one pass
    for i, t in enumerate(f.branches):
        if first_index.setdefault(t.id, i) != i:
            raise _fail(source, f"branches[{i}].id", f"duplicate id {t.id!r}")
    branches = [_branch(i, t, f, base_settings, recipe_vote, source) for i, t in enumerate(f.branches)]
    _check_dependencies(branches, source)

    agg = f.aggregate
    aggregate = Aggregate(kind=agg.kind, prompt=agg.prompt, settings=_settings(agg).over(base_settings),
                          fail_on=tuple(agg.fail_on), max_input_chars=agg.max_input_chars)
    if problem := aggregator(agg.kind).check(aggregate, branches):
        raise _fail(source, *problem)

    recipe = Recipe(
        name=f.name if f.name is not None else Path(source).stem,
        description=f.description,
        source=source,
        inputs=inputs,
        branches=tuple(branches),
        aggregate=aggregate,
        strategy=f.strategy,
        on_error=f.on_error,
        system=f.system,
        raw=data,
        plan=plan,
        budget=f.budget,
        batch=f.batch,
        search=SearchSpec(f.search.web, f.search.max_uses, tuple(f.search.sources), f.search.top_k),
    )
    check_templates(recipe)
    return recipe


def _inputs(table: Any, source: str) -> dict[str, str]:
    # Checked by hand: a default is "a string, or a table with `default`", which reads better said in one line
    # than as pydantic's error for each member of the union.
    inputs: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            extra = sorted(set(value) - {"default"})
            if extra:
                raise RecipeError(f"{source}: unknown field {extra[0]!r} in inputs.{key} (allowed: default)")
            value = value.get("default", "")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise _fail(source, f"inputs.{key}", "must be a string (the default value)")
        inputs[key] = str(value)
    return inputs


def _branch(i: int, t: BranchTable, f: RecipeFile, base: CallSettings, recipe_vote: VoteSpec | None,
            source: str) -> Branch:
    where = f"branches[{i}] (id {t.id!r})"
    if not ID_PATTERN.match(t.id):
        raise _fail(source, f"branches[{i}].id", f"{t.id!r} is not a valid id (letters, digits, '_', '-', '.')")
    if t.id == AGGREGATE_ID or is_planner_id(t.id):
        owner = "aggregator" if t.id == AGGREGATE_ID else "planner" if t.id == PLAN_ID else "follow-up planners"
        raise _fail(source, f"branches[{i}].id", f"{t.id!r} is reserved for the {owner}")
    prompt = t.prompt or f.prompt
    if prompt is None:
        raise _fail(source, f"{where}.prompt", "is required (or give a recipe-level `prompt` shared by all branches)")
    batch = bool(t.items or t.items_file or t.split or t.files)
    if t.items and t.items_file:
        raise _fail(source, f"{where}.items", "give items or items_file, not both")
    if sum(map(bool, (t.items, t.items_file, t.split, t.files))) > 1:
        raise _fail(source, f"{where}.items", "give one of items, items_file, split or files")
    if batch and t.vote:
        raise _fail(source, f"{where}.vote", "a branch that maps over items, sections or files cannot also vote; "
                                             "vote in a separate branch")
    vote = _vote(t.vote, f"{where}.vote", source) if t.vote else (None if batch else recipe_vote)
    context = t.context if t.context is not None else f.defaults.context
    return Branch(
        id=t.id,
        title=t.title if t.title is not None else t.id,
        prompt=prompt,
        after=tuple(t.after),
        settings=_settings(t).over(base),
        context=context if context is not None else 600,
        labels=tuple(t.labels),
        json_field=t.json_field,
        schema=t.json_schema,
        vote=vote,
        items=tuple(t.items),
        items_file=t.items_file,
        split=SplitSpec(t.split.input, t.split.by, t.split.max_chars) if t.split else None,
        files=t.files,
        search=t.search,
    )


def _check_dependencies(branches: list[Branch], source: str) -> None:
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


def _vote(t: VoteTable, where: str, source: str) -> VoteSpec:
    spec = VoteSpec(
        samples=t.samples or 0,
        prompts=tuple(t.prompts),
        temperatures=tuple(float(v) for v in t.temperatures),
        models=tuple(t.models),
        weights=tuple(float(v) for v in t.weights),
        method=t.method,
        threshold=t.threshold,
    )
    if spec.voters < 2 and not spec.samples:
        spec = VoteSpec(3, spec.prompts, spec.temperatures, spec.models, spec.weights, spec.method, spec.threshold)
    if spec.weights and len(spec.weights) != spec.voters:
        raise _fail(source, f"{where}.weights", f"gives {len(spec.weights)} weights for {spec.voters} voters")
    return spec
