"""A planner's answer as branches: parsing, cleaning and checking the plan before anything runs on it.

The plan is model output, so it is data: titles are cut to one line of at most 200 characters and stripped of
control characters and of anything shaped like a fence marker; ids are derived from titles, never taken from
them; every repair made to the plan (too many angles, an unknown or cyclic dependency, a duplicate title, a
follow-up angle repeating an earlier wave's) is kept as a warning the front ends show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from fanout.core.text import strip_controls

from .answers import find_json
from .dag import find_cycle
from .recipe import AGGREGATE_ID, Branch, PlanSpec, is_planner_id

TITLE_MAX = 200
BRIEF_MAX = 1000
ID_MAX = 40
_MARKER = re.compile(r"<<<|>>>")  # a planned title must never look like the fences' markers
_SLUG = re.compile(r"[^a-z0-9]+")


class PlanError(ValueError):
    """The planner's answer is no usable plan; the message says why."""


@dataclass(frozen=True)
class Angle:
    id: str
    title: str
    brief: str = ""
    after: tuple[str, ...] = ()  # ids of other angles


@dataclass(frozen=True)
class Plan:
    angles: tuple[Angle, ...]
    warnings: tuple[str, ...] = ()


def plan_schema(dependencies: bool, min_items: int = 1, max_items: int = 64, *, after_max: int | None = None
                ) -> dict[str, Any]:
    """The plan's JSON Schema, in the form OpenAI's strict structured output accepts (every property required,
    no others) and llama.cpp turns into a grammar (which also holds a small model to the number of angles).
    `after_max`: the most titles one `after` may name (default: up to 3 of the plan's other angles)."""
    # The lengths bound a small model that would otherwise repeat itself until max_tokens (providers that reject
    # length keywords in strict mode drop them; the parser cuts titles and briefs anyway).
    # minLength: a grammar with none lets a small model answer every title with "".
    angle: dict[str, Any] = {"title": {"type": "string", "minLength": 4, "maxLength": 80},
                             "brief": {"type": "string", "maxLength": 240}}
    if dependencies:
        most = after_max if after_max is not None else max(1, min(3, max_items - 1))
        angle["after"] = {"type": "array", "maxItems": most, "items": {"type": "string", "maxLength": 80}}
    return {
        "type": "object",
        "properties": {
            "angles": {
                "type": "array",
                "minItems": min_items,
                "maxItems": max_items,
                "items": {"type": "object", "properties": angle, "required": list(angle),
                          "additionalProperties": False},
            }
        },
        "required": ["angles"],
        "additionalProperties": False,
    }


def follow_up_schema(spec: PlanSpec) -> dict[str, Any]:
    """A follow-up planner's answer: the plan's form, with no angles at all allowed ("covered")."""
    return plan_schema(spec.dependencies, 0, spec.follow_ups, after_max=3)


COVERED = '{"angles": []}'  # a follow-up planner's answer when the research needs no further wave


def format_instructions(spec: PlanSpec, *, follow_up: bool = False) -> str:
    """The answer's form, said in the planner's prompt (for every provider, whether or not it enforces the
    schema); a follow-up planner's adds at most `follow_ups` angles, each after the reports it follows up."""
    after = ', "after": [...]' if spec.dependencies else ""
    lines = [
        f"Choose at most {spec.follow_ups} new angle{'s' if spec.follow_ups != 1 else ''}, none repeating an angle "
        "already covered." if follow_up else
        f"Choose between {spec.min_branches} and {spec.max_branches} distinct angles, each specific to the "
        "subject above.",
        'Answer with only a JSON object, nothing before or after it: {"angles": [{"title": ..., "brief": ...'
        f'{after}}}, ...]}}. Each title is a few words naming the angle; each brief is one sentence saying what '
        "that angle must find out.",
    ]
    if spec.dependencies:
        lines.append("`after` lists the titles of the reports an angle follows up (it is shown them), and of any "
                     "new angle it needs to see first." if follow_up else
                     "`after` lists the titles of the other angles an angle needs to see first; leave it empty "
                     "([]) for angles that stand on their own. Never make two angles wait for each other.")
    if follow_up:
        lines.append(f"If the reports already cover the subject well, answer {COVERED}.")
    return "\n".join(lines)


def clean(text: str, limit: int, *, one_line: bool) -> str:
    text = _MARKER.sub("", strip_controls(text))
    text = " ".join(text.split()) if one_line else text.strip()
    return text[:limit].rstrip()


def slug(title: str) -> str:
    return _SLUG.sub("-", title.lower()).strip("-")[:ID_MAX].strip("-")


_Raw = tuple[str, str, list[str]]  # an angle as read: title, brief, the names in its `after`


def parse_plan(text: str, spec: PlanSpec, taken: set[str] = frozenset(),
               earlier: Mapping[str, str] | None = None) -> Plan:
    """The plan in the planner's text, or PlanError. `taken` are ids already in use (the recipe's own branches,
    earlier waves'). `earlier`: a follow-up plan, given the earlier waves' branches (casefolded title -> id): it
    may have no angles at all, at most `follow_ups`; an angle repeating an earlier title is dropped; `after` may
    name earlier branches."""
    follow_up = earlier is not None
    raw, warnings = _read_angles(text)
    if follow_up:
        raw = _drop_repeats(raw, earlier or {}, warnings)
    lo, hi, bound = (0, spec.follow_ups, "follow_ups") if follow_up else (spec.min_branches, spec.max_branches,
                                                                          "max_branches")
    if len(raw) > hi:
        dropped = "; ".join(t for t, _, _ in raw[hi:])
        warnings.append(f"the planner gave {len(raw)} angles, more than {bound} = {hi}: kept the first {hi}, "
                        f"dropped {dropped}")
        raw = raw[:hi]
    if len(raw) < lo:
        raise PlanError(f"the planner gave {len(raw)} usable angle{'s' if len(raw) != 1 else ''}, fewer than "
                        f"min_branches = {lo}")
    ids, by_title = _assign_ids(raw, taken, warnings)
    deps = _resolve_after(raw, ids, {**(earlier or {}), **by_title}, set(ids) | set((earlier or {}).values()),
                          spec.dependencies, warnings)
    angles = tuple(Angle(bid, title, brief, tuple(deps[bid])) for bid, (title, brief, _) in zip(ids, raw))
    return Plan(angles, tuple(warnings))


def _read_angles(text: str) -> tuple[list[_Raw], list[str]]:
    try:
        data = find_json(text)
    except ValueError as err:
        raise PlanError(str(err)) from None
    if isinstance(data, dict):
        if "angles" not in data:
            raise PlanError('the JSON object has no "angles" list')
        data = data["angles"]
    if not isinstance(data, list):
        raise PlanError('"angles" is not a list')
    warnings: list[str] = []
    raw: list[_Raw] = []
    for n, item in enumerate(data, 1):
        if isinstance(item, str):
            item = {"title": item}
        title = item.get("title") if isinstance(item, dict) else None
        title = clean(title, TITLE_MAX, one_line=True) if isinstance(title, str) else ""
        if not title:
            warnings.append(f"angle {n} has no title: dropped")
            continue
        brief = item.get("brief", "")
        after = item.get("after", [])
        if isinstance(after, str):
            after = [after]
        raw.append((title, clean(brief, BRIEF_MAX, one_line=False) if isinstance(brief, str) else "",
                    [a for a in after if isinstance(a, str)] if isinstance(after, list) else []))
    return raw, warnings


def _drop_repeats(raw: list[_Raw], earlier: Mapping[str, str], warnings: list[str]) -> list[_Raw]:
    """A follow-up angle titled like an earlier wave's branch would research it again: it goes, said."""
    kept = []
    for angle in raw:
        bid = earlier.get(angle[0].casefold())
        if bid is None:
            kept.append(angle)
        else:
            warnings.append(f"{angle[0]!r} repeats an earlier wave's angle ({bid}): dropped")
    return kept


def _assign_ids(raw: list[_Raw], taken: set[str], warnings: list[str]) -> tuple[list[str], dict[str, str]]:
    """Each angle's id, derived from its title and never one in use or reserved; the first id of each title."""
    used = set(taken) | {AGGREGATE_ID}
    ids: list[str] = []
    by_title: dict[str, str] = {}
    same_title: dict[str, list[str]] = {}  # a title given more than once -> the ids of every angle with it
    for n, (title, _, _) in enumerate(raw, 1):
        base = slug(title) or f"angle-{n}"
        if is_planner_id(base):  # "plan", "plan-2": every numbered variant of these is a planner's too
            base += "-angle"
        bid, k = base, 2
        while bid in used:
            bid, k = f"{base}-{k}", k + 1
        used.add(bid)
        ids.append(bid)
        key = title.casefold()
        same_title.setdefault(key, []).append(bid)
        by_title.setdefault(key, bid)
    for key, alike in same_title.items():
        if len(alike) > 1:
            title = raw[ids.index(alike[0])][0]
            warnings.append(f"{len(alike)} angles are titled {title!r}: they run as "
                            f"{', '.join(alike[:-1])} and {alike[-1]}")
    return ids, by_title


def _resolve_after(raw: list[_Raw], ids: list[str], by_title: Mapping[str, str], known_ids: set[str],
                   dependencies: bool, warnings: list[str]) -> dict[str, list[str]]:
    """Each angle's `after` as ids (titles or ids it may name: `by_title`, `known_ids`); what names nothing, the
    angle itself, or closes a cycle is dropped with a warning."""
    deps: dict[str, list[str]] = {}
    for bid, (title, _, after) in zip(ids, raw):
        deps[bid] = []
        if after and not dependencies:
            warnings.append(f"{bid}: `after` ignored (the recipe's plan has dependencies = false)")
            continue
        for name in after:
            name_clean = clean(name, TITLE_MAX, one_line=True)
            dep = by_title.get(name_clean.casefold()) or (name_clean if name_clean in known_ids else None)
            if dep is None:
                warnings.append(f"{bid}: after names {name_clean!r}, which is no angle of the plan: dropped")
            elif dep == bid:
                warnings.append(f"{bid}: an angle cannot come after itself: dropped")
            elif dep not in deps[bid]:
                deps[bid].append(dep)
    while (cycle := find_cycle(deps)) is not None:
        # [a, b, ..., a]: a waits for b, ..., the last waits for a; the edge that closes the loop goes.
        last, first = cycle[-2], cycle[-1]
        deps[last].remove(first)
        warnings.append(f"dependency cycle {' -> '.join(cycle)}: dropped {last}'s dependency on {first}")
    return deps


def planned_branches(plan: Plan, spec: PlanSpec, wave: int = 1) -> tuple[Branch, ...]:
    return tuple(
        Branch(id=a.id, title=a.title, prompt=spec.branch_prompt, after=a.after, settings=spec.branch_settings,
               context=spec.branch_context, brief=a.brief, wave=wave)
        for a in plan.angles
    )
