"""What a recipe is, once read: branches, their settings and votes, the aggregate, the recipe's inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, get_args

from fanout.core.errors import UserError

AGGREGATE_ID = "aggregate"  # reserved: the aggregator's own id in events
PLAN_ID = "plan"  # reserved: the planner's own id in events
MAX_DEPTH = 10  # waves of planning a run may go to: `[plan] depth`, `--depth`
_FOLLOW_UP_PLANNER = re.compile(rf"^{PLAN_ID}-([0-9]+)$")


def planner_id(wave: int) -> str:
    """The id of the planner's call for a wave in events: "plan" for the first, "plan-2" for the second's
    follow-up planner, and so on."""
    return PLAN_ID if wave == 1 else f"{PLAN_ID}-{wave}"


def is_planner_id(branch_id: str) -> bool:
    return branch_id == PLAN_ID or _FOLLOW_UP_PLANNER.match(branch_id) is not None


# Each choice is spelled once, here; the file schema, the CLI's flags and the app's pickers read these.
class Strategy(StrEnum):
    """How the branches are scheduled (strategies/engine.py, `strategy_edges`)."""

    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    HYBRID = "hybrid"


OnError = Literal["continue", "fail"]
VoteMethod = Literal["majority", "unanimous", "weighted", "threshold", "union"]
STRATEGIES: tuple[str, ...] = tuple(s.value for s in Strategy)
ON_ERROR: tuple[str, ...] = get_args(OnError)
VOTE_METHODS: tuple[str, ...] = get_args(VoteMethod)
SEARCH_CHOICES = ("web", "off")  # `--search`: the providers' own web search, or none
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class RecipeError(UserError):
    pass


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
class SplitSpec:
    """`split = { input = "doc", by = "heading", max_chars = 4000 }`: one branch per section of an input."""

    input: str
    by: str = "heading"
    max_chars: int = 4000


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
    split: SplitSpec | None = None  # declared: one branch per section of an input
    files: str = ""  # declared: a glob (a template, e.g. "{docs}"): one branch per file
    # Set on expanded branches:
    group: str = ""  # the declared branch a voter or batch item came from
    group_title: str = ""
    sample: int = 0  # which voter: keeps N samples N cache entries
    weight: float = 1.0
    item: str | None = None
    brief: str = ""  # planned branches: what the planner asked this angle to cover (model text, cleaned)
    wave: int = 1  # planned branches: the wave of research whose planner decided it
    fills: tuple[tuple[str, str], ...] = ()  # template variables of a section or file: {section}, {item_name}...
    search: bool = True  # may it search the web and be given the user's files, when the run has them


@dataclass(frozen=True)
class PlanSpec:
    """A `[plan]` table: one planner call at the start of the run decides (more) branches; with `depth` > 1, a
    follow-up planner call after each wave adds at most `follow_ups` angles from what the wave found."""

    prompt: str
    min_branches: int = 2
    max_branches: int = 8
    dependencies: bool = True  # may the planner say which angle builds on which
    depth: int = 1  # waves: 1 plans once
    follow_ups: int = 1  # the most angles a follow-up wave may add
    settings: CallSettings = CallSettings()  # the planner's own call
    # What each planned branch gets: the recipe's shared `prompt`, its [defaults] settings and context.
    branch_prompt: str = ""
    branch_settings: CallSettings = CallSettings()
    branch_context: int = 600


@dataclass(frozen=True)
class SearchSpec:
    """A `[search]` table: web search (the provider's own) and the user's files, for every branch that allows it."""

    web: bool = False
    max_uses: int = 5
    sources: tuple[str, ...] = ()  # as written: relative to the recipe's folder
    top_k: int = 6


@dataclass(frozen=True)
class Aggregate:
    kind: str = "concat"
    prompt: str = ""
    settings: CallSettings = CallSettings()
    fail_on: tuple[str, ...] = ()  # checks: answers that flag the input
    # synthesize: the most characters one call may be sent; more is reduced in groups, level by level. None:
    # from the provider's context window where it is known.
    max_input_chars: int | None = None


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
    plan: PlanSpec | None = None  # a planner call decides branches at run time
    budget: float | None = None  # US dollars a run may spend (flags and the config's [cost] come after it)
    batch: bool = False  # send the branches that wait on no other step as one provider batch
    search: SearchSpec = SearchSpec()

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
