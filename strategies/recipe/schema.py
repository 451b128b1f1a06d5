"""A recipe file's tables as pydantic models: types, bounds, choices and defaults declared once.

These models are the file format (and its JSON schema, `fanout recipes schema`); `load.py` checks what spans
tables (ids, dependencies, templates) and builds the engine's `Recipe` from them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import Field, field_validator

from fanout.core.validation import Table

from ..sections import SPLIT_BY

from .model import MAX_DEPTH, OnError, Strategy, VoteMethod

Temperature = Annotated[float, Field(ge=0, le=2)]
MaxTokens = Annotated[int, Field(ge=1, le=1_000_000)]
Context = Annotated[int, Field(ge=0, le=10_000_000)]
USD = Annotated[float, Field(gt=0, le=1_000_000)]


class CallSettingsTable(Table):
    provider: Optional[str] = None
    model: Optional[str] = None
    temperature: Optional[Temperature] = None
    max_tokens: Optional[MaxTokens] = None


class VoteTable(Table):
    samples: Optional[Annotated[int, Field(ge=1, le=1000)]] = None
    prompts: list[str] = []
    temperatures: list[Temperature] = []
    models: list[str] = []
    weights: list[Annotated[float, Field(ge=0, le=1000)]] = []
    method: VoteMethod = "majority"
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5


class DefaultsTable(CallSettingsTable):
    context: Optional[Context] = None


class SplitTable(Table):
    """`split = { input = "doc", by = "heading", max_chars = 4000 }`: one branch per section of an input."""

    input: str
    by: Literal[SPLIT_BY] = "heading"  # type: ignore[valid-type]
    max_chars: Annotated[int, Field(ge=200, le=10_000_000)] = 4000


class BranchTable(CallSettingsTable):
    id: str
    title: Optional[str] = None
    prompt: Optional[str] = None
    after: list[str] = []
    context: Optional[Context] = None
    labels: list[str] = []
    json_field: str = ""
    # `schema` is also a (deprecated) BaseModel method: the file's key is kept through an alias.
    json_schema: str = Field("", alias="schema")
    vote: Optional[VoteTable] = None
    items: list[str] = []
    items_file: str = ""
    split: Optional[SplitTable] = None  # one branch per section of an input
    files: str = ""  # a glob (a template, e.g. "{docs}"): one branch per file
    search: bool = True  # false: this branch neither searches the web nor is given the sources


class PlanTable(CallSettingsTable):
    """A planner call that decides the branches at run time (checked further in plan_table.py)."""

    prompt: str
    min_branches: Annotated[int, Field(ge=1, le=64)] = 2
    max_branches: Optional[Annotated[int, Field(ge=1, le=64)]] = None  # default: 8, or min_branches if more
    dependencies: bool = True
    depth: Annotated[int, Field(ge=1, le=MAX_DEPTH)] = 1  # waves: after each, a follow-up planner may add angles
    follow_ups: Optional[Annotated[int, Field(ge=1, le=64)]] = None  # default: half of max_branches, at least 1


def aggregator_kinds() -> tuple[str, ...]:
    """The kinds the aggregators' registry knows (read when first needed: the aggregators import the recipe)."""
    from ..aggregators import AGGREGATORS

    return tuple(AGGREGATORS)


class AggregateTable(CallSettingsTable):
    kind: Annotated[str, Field(json_schema_extra=lambda schema: schema.update(enum=list(aggregator_kinds())))] = (
        "concat"
    )
    prompt: str = ""
    fail_on: list[str] = []
    # synthesize: the most characters one call is sent; more is reduced in groups first. Unset: from the
    # provider's context window where it is known.
    max_input_chars: Optional[Annotated[int, Field(ge=1000, le=100_000_000)]] = None

    @field_validator("kind")
    @classmethod
    def _known(cls, kind: str) -> str:
        kinds = aggregator_kinds()
        if kind not in kinds:
            raise ValueError(f"must be one of {', '.join(kinds)}, not {kind!r}")
        return kind


class SearchTable(Table):
    """`[search]`: the branches search the web (the provider's own search) and are given passages of files."""

    web: bool = False
    max_uses: Annotated[int, Field(ge=1, le=50)] = 5  # searches a branch's call may make
    sources: list[str] = []  # folders, files or globs, relative to the recipe's folder
    top_k: Annotated[int, Field(ge=1, le=50)] = 6  # passages each branch is given


class InputTable(Table):
    default: str = ""


class RecipeFile(Table):
    name: Optional[str] = None
    description: str = ""
    strategy: Annotated[Strategy, Field(strict=False)] = Strategy.HYBRID  # read from its name
    on_error: OnError = "continue"
    system: str = ""
    prompt: Optional[str] = None
    # An input's default is a string (numbers are taken as their text) or a table with `default`.
    inputs: dict[str, Any] = {}
    defaults: DefaultsTable = DefaultsTable()
    branches: list[BranchTable] = []
    aggregate: AggregateTable = AggregateTable()
    vote: Optional[VoteTable] = None
    plan: Optional[PlanTable] = None
    budget: Optional[USD] = None  # US dollars this recipe's run may spend (--budget wins)
    batch: bool = False  # the branches that wait on no other step go as one provider batch (--batch)
    search: SearchTable = SearchTable()


def json_schema() -> dict[str, Any]:
    """The JSON schema of a recipe file, for editors (TOML language servers read JSON schemas)."""
    return RecipeFile.model_json_schema(by_alias=True)
