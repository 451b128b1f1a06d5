"""Recipes: TOML data describing branches, their dependencies and how their results combine.

`model` holds what a recipe is; `load` reads and validates a file; `templates` fills prompts; `items` reads batch
items; `expand` turns voters and batch items into branches.
"""

from .expand import expand
from .items import read_items
from .load import from_data, load, parse, resolve, shipped_recipes
from .model import (
    AGGREGATE_ID, MAX_DEPTH, ON_ERROR, PLAN_ID, STRATEGIES, VOTE_METHODS, Aggregate, Branch, CallSettings,
    PlanSpec, Recipe, RecipeError, SearchSpec, VoteSpec, is_planner_id, planner_id,
)
from .templates import ENGINE_VARS, check_templates, render, template_vars

__all__ = [
    "AGGREGATE_ID", "ENGINE_VARS", "MAX_DEPTH", "ON_ERROR", "PLAN_ID", "STRATEGIES", "VOTE_METHODS", "Aggregate",
    "Branch", "CallSettings", "PlanSpec", "Recipe", "RecipeError", "SearchSpec", "VoteSpec", "check_templates",
    "expand", "from_data", "is_planner_id", "load", "parse", "planner_id",
    "read_items", "render", "resolve", "shipped_recipes", "template_vars",
]
