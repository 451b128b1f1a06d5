"""The [plan] table and the planner's answer: parsing, cleaning, and every repair said as a warning."""

from __future__ import annotations

import json

import pytest

from fanout.core.errors import UserError
from fanout.strategies import recipe as recipes
from fanout.strategies.plan import PlanError, parse_plan, plan_schema
from fanout.strategies.structured import json_schema_for

PLANNED = """
name = "planned"
prompt = "Research {topic}: {title}. {brief}"
[inputs]
topic = "batteries"
[plan]
prompt = "Split {topic} into {min_branches} to {max_branches} angles"
min_branches = 2
max_branches = 4
max_tokens = 300
[aggregate]
kind = "concat"
"""


def spec(**changes):
    r = recipes.parse(PLANNED, "planned.toml")
    from dataclasses import replace

    return replace(r.plan, **changes)


def plan_text(*angles):
    return json.dumps({"angles": [a if isinstance(a, dict) else {"title": a} for a in angles]})


def test_a_plan_table_makes_a_recipe_without_branches():
    r = recipes.parse(PLANNED, "planned.toml")
    assert r.branches == () and r.plan is not None
    assert (r.plan.min_branches, r.plan.max_branches, r.plan.dependencies) == (2, 4, True)
    assert r.plan.settings.max_tokens == 300
    assert r.plan.branch_prompt == "Research {topic}: {title}. {brief}"


@pytest.mark.parametrize(
    "change, expected",
    [
        (("min_branches = 2", "min_branches = 5"), "plan.min_branches: is 5, more than max_branches (4)"),
        (("max_tokens = 300", "max_tokens = 300\nwho = 1"), "unknown field 'who' in plan"),
        (("max_tokens = 300", "max_tokens = 300\ndependencies = 'yes'"), "plan.dependencies: must be true or false"),
        (('prompt = "Split', 'prompts = "Split'), "plan.prompt: is required"),
        (('prompt = "Research {topic}: {title}. {brief}"\n', ""), "plan: planned branches use the recipe-level `prompt`"),
        (("{max_branches} angles", "{max_branches} {nothing}"), "plan.prompt: {nothing} has no value"),
    ],
)
def test_a_bad_plan_table_names_the_field(change, expected):
    text = PLANNED.replace(*change)
    assert text != PLANNED
    with pytest.raises(UserError) as info:
        recipes.parse(text, "planned.toml")
    assert str(info.value).startswith("planned.toml") and expected in str(info.value), str(info.value)


def test_depth_and_follow_ups_default_to_one_wave_and_half_of_max_branches():
    r = recipes.parse(PLANNED, "planned.toml")
    assert (r.plan.depth, r.plan.follow_ups) == (1, 2)
    one = recipes.parse(PLANNED.replace("max_branches = 4", "max_branches = 3\nmin_branches = 1")
                        .replace("min_branches = 2\n", ""), "planned.toml")
    assert one.plan.follow_ups == 1  # half of 3, rounded down, is still at least one
    deep = recipes.parse(PLANNED.replace("max_tokens = 300", "max_tokens = 300\ndepth = 3\nfollow_ups = 5"),
                         "planned.toml")
    assert (deep.plan.depth, deep.plan.follow_ups) == (3, 5)


@pytest.mark.parametrize("line, expected", [
    ("depth = 0", "plan.depth: must be between 1 and 10, not 0"),
    ("depth = 11", "plan.depth: must be between 1 and 10, not 11"),
    ("follow_ups = 0", "plan.follow_ups: must be between 1 and 64, not 0"),
])
def test_a_bad_depth_or_follow_ups_names_the_field(line, expected):
    with pytest.raises(UserError) as info:
        recipes.parse(PLANNED.replace("max_tokens = 300", f"max_tokens = 300\n{line}"), "planned.toml")
    assert expected in str(info.value), str(info.value)


def test_the_follow_up_planners_ids_are_reserved():
    with pytest.raises(UserError, match="'plan-2' is reserved for the follow-up planners"):
        recipes.parse(PLANNED + '\n[[branches]]\nid = "plan-2"\n', "planned.toml")
    assert recipes.parse(PLANNED + '\n[[branches]]\nid = "plan-b"\n', "planned.toml").branches[0].id == "plan-b"


def test_plan_is_a_reserved_branch_id():
    text = PLANNED + '\n[[branches]]\nid = "plan"\n'
    with pytest.raises(UserError, match="reserved for the planner"):
        recipes.parse(text, "planned.toml")


def test_an_object_and_a_bare_list_both_parse_in_order():
    as_object = parse_plan(plan_text("Cells", "Costs"), spec())
    as_list = parse_plan('Here it is: [{"title": "Cells"}, {"title": "Costs"}]', spec())
    assert [a.title for a in as_object.angles] == [a.title for a in as_list.angles] == ["Cells", "Costs"]
    assert [a.id for a in as_object.angles] == ["cells", "costs"] and as_object.warnings == ()


def test_titles_are_data_cleaned_and_cut():
    evil = "\x1b[31mRed\x1b[0m title\nwith <<<end abc>>> a fence\x07 " + "x" * 400
    plan = parse_plan(plan_text(evil, "Second"), spec())
    title = plan.angles[0].title
    assert len(title) == 200 and "\x1b" not in title and "\x07" not in title and "\n" not in title
    assert "<<<" not in title and ">>>" not in title and title.startswith("Red title with end abc a fence")
    assert plan.angles[0].id.startswith("red-title-with") and len(plan.angles[0].id) <= 40


def test_more_than_max_keeps_the_first_and_warns():
    plan = parse_plan(plan_text("A", "B", "C", "D", "E", "F"), spec())
    assert [a.title for a in plan.angles] == ["A", "B", "C", "D"]
    assert plan.warnings == ("the planner gave 6 angles, more than max_branches = 4: kept the first 4, dropped E; F",)


def test_fewer_than_min_fails():
    with pytest.raises(PlanError, match="1 usable angle, fewer than min_branches = 2"):
        parse_plan(plan_text("Only", {"brief": "no title"}), spec())


@pytest.mark.parametrize("text, reason", [("no json here", "no JSON"), ('{"topics": []}', 'no "angles"'),
                                          ('{"angles": 3}', "not a list")])
def test_no_plan_in_the_text_fails_with_the_reason(text, reason):
    with pytest.raises(PlanError, match=reason):
        parse_plan(text, spec())


def test_duplicate_titles_get_distinct_ids_and_a_warning():
    plan = parse_plan(plan_text("Costs", "costs", "Costs"), spec())
    assert [a.id for a in plan.angles] == ["costs", "costs-2", "costs-3"]
    assert plan.warnings == ("3 angles are titled 'Costs': they run as costs, costs-2 and costs-3",)


def test_ids_never_take_a_fixed_or_reserved_id():
    plan = parse_plan(plan_text("Plan", "Aggregate", "Hardware"), spec(), taken={"hardware"})
    assert [a.id for a in plan.angles] == ["plan-angle", "aggregate-2", "hardware-2"]


def test_after_names_titles_and_unknown_ones_are_dropped_with_a_warning():
    plan = parse_plan(plan_text("Facts", {"title": "Implications", "after": ["facts", "Nowhere", "Implications"]}),
                      spec())
    assert plan.angles[1].after == ("facts",)
    assert plan.warnings == (
        "implications: after names 'Nowhere', which is no angle of the plan: dropped",
        "implications: an angle cannot come after itself: dropped",
    )


def test_a_cycle_loses_its_closing_edge_and_the_warning_names_the_cycle():
    plan = parse_plan(plan_text({"title": "A", "after": ["B"]}, {"title": "B", "after": ["C"]},
                                {"title": "C", "after": ["A"]}), spec())
    assert plan.warnings == ("dependency cycle a -> b -> c -> a: dropped c's dependency on a",)
    assert [a.after for a in plan.angles] == [("b",), ("c",), ()]


def test_without_dependencies_after_is_ignored_and_said():
    plan = parse_plan(plan_text({"title": "A"}, {"title": "B", "after": ["A"]}), spec(dependencies=False))
    assert plan.angles[1].after == () and plan.warnings == ("b: `after` ignored (the recipe's plan has "
                                                            "dependencies = false)",)
    assert "after" not in plan_schema(False)["properties"]["angles"]["items"]["properties"]


def test_schema_branches_get_an_enforceable_schema_when_one_can_be_read():
    assert json_schema_for('{"country": "string", "cities": ["string"], "n": 3}') == {
        "type": "object",
        "properties": {"country": {"type": "string"}, "cities": {"type": "array", "items": {"type": "string"}},
                       "n": {"type": "integer"}},
        "required": ["country", "cities", "n"],
        "additionalProperties": False,
    }
    given = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert json_schema_for(json.dumps(given)) == given
    # Not completely typed, not JSON, or no object at the root: asked in the prompt only.
    assert json_schema_for('{"verdict": "ok or not"}') is None
    assert json_schema_for("country: string") is None and json_schema_for('["string"]') is None
    assert json_schema_for("") is None


EARLIER = {"cells": "cells", "grid costs": "grid-costs"}  # an earlier wave's branches: casefolded title -> id


def test_a_follow_up_plan_may_be_empty_names_earlier_branches_and_holds_at_most_follow_ups():
    assert parse_plan('{"angles": []}', spec(), {"cells", "grid-costs"}, EARLIER).angles == ()
    plan = parse_plan(plan_text({"title": "Cell aging", "after": ["Cells", "grid-costs", "Nowhere"]},
                                {"title": "Recycling", "after": ["Cell aging"]}, "Third"),
                      spec(follow_ups=2), {"cells", "grid-costs"}, EARLIER)
    assert [(a.id, a.after) for a in plan.angles] == [("cell-aging", ("cells", "grid-costs")),
                                                      ("recycling", ("cell-aging",))]
    assert plan.warnings == (
        "the planner gave 3 angles, more than follow_ups = 2: kept the first 2, dropped Third",
        "cell-aging: after names 'Nowhere', which is no angle of the plan: dropped",
    )


def test_a_follow_up_angle_repeating_an_earlier_title_is_dropped_before_the_bound():
    plan = parse_plan(plan_text("GRID costs", "Recycling"), spec(follow_ups=1), {"cells", "grid-costs"}, EARLIER)
    assert [a.id for a in plan.angles] == ["recycling"]
    assert plan.warnings == ("'GRID costs' repeats an earlier wave's angle (grid-costs): dropped",)
