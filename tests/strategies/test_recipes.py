"""Recipe validation: every bad input names the file and the field or id at fault."""

from __future__ import annotations

import pytest

from fanout.core.errors import UserError
from fanout.strategies import recipe as recipes

GOOD = """
name = "demo"
prompt = "About {topic}: {title}"
[inputs]
topic = "cats"
[[branches]]
id = "a"
[[branches]]
id = "b"
after = ["a"]
[aggregate]
kind = "synthesize"
prompt = "Merge on {topic}"
"""


def bad(text: str, *expected: str) -> None:
    with pytest.raises(UserError) as info:
        recipes.parse(text, "demo.toml")
    message = str(info.value)
    assert message.startswith("demo.toml"), message
    for part in expected:
        assert part in message, message


def test_good_recipe_loads():
    r = recipes.parse(GOOD, "demo.toml")
    assert [b.id for b in r.branches] == ["a", "b"]
    assert r.branches[1].after == ("a",)
    assert r.branches[0].prompt == "About {topic}: {title}"


@pytest.mark.parametrize("name", ["research", "pipeline"])
def test_shipped_recipes_load(name):
    r = recipes.load(name)
    assert r.branches and r.name == name


def test_research_recipe_is_the_five_angle_benchmark_task():
    r = recipes.load("research")
    assert [b.id for b in r.branches] == ["hardware", "software", "commercial", "security", "academic"]
    assert r.branch("security").after == ("hardware",)
    assert set(r.branch("academic").after) == {"hardware", "software", "commercial", "security"}
    assert r.aggregate.kind == "synthesize"


def test_invalid_toml():
    bad("name = ", "invalid TOML")


def test_no_branches():
    bad('name = "x"', "no branches")


def test_duplicate_id():
    bad(GOOD.replace('id = "b"', 'id = "a"'), "branches[1]", "duplicate id 'a'")


def test_after_names_no_branch():
    bad(GOOD.replace('after = ["a"]', 'after = ["nope"]'), "id 'b'", "'nope'", "no branch")


def test_cycle_is_named():
    text = GOOD.replace('[[branches]]\nid = "a"', '[[branches]]\nid = "a"\nafter = ["b"]')
    bad(text, "dependency cycle", "a -> b -> a")


def test_longer_cycle():
    text = """
prompt = "x"
[[branches]]
id = "a"
after = ["c"]
[[branches]]
id = "b"
after = ["a"]
[[branches]]
id = "c"
after = ["b"]
"""
    bad(text, "dependency cycle", "a -> c -> b -> a")


def test_template_variable_without_value():
    bad(GOOD.replace("About {topic}", "About {subject}"), "{subject} has no value", "inputs: topic")


def test_aggregate_template_variable_without_value():
    bad(GOOD.replace("Merge on {topic}", "Merge on {thing}"), "aggregate.prompt", "{thing}")


def test_unknown_field_is_named():
    bad(GOOD.replace('after = ["a"]', 'afterr = ["a"]'), "unknown field 'afterr'", "id 'b'")


def test_wrong_type_is_named():
    bad(GOOD.replace('[[branches]]\nid = "a"', '[[branches]]\nid = "a"\nmax_tokens = "many"'),
        "branches[0] (id 'a').max_tokens", "integer")


def test_reserved_id():
    bad(GOOD.replace('id = "a"', 'id = "aggregate"').replace('["a"]', '["aggregate"]'), "reserved")


def test_bad_strategy():
    bad('strategy = "fast"\n' + GOOD, "strategy", "sequential, parallel, hybrid")


def test_synthesize_needs_a_prompt():
    bad(GOOD.replace('prompt = "Merge on {topic}"', ""), "aggregate.prompt", "required")


def test_json_braces_in_prompts_are_literal():
    text = GOOD.replace('"About {topic}: {title}"', """'Answer as {"label": "x"} about {topic}'""")
    r = recipes.parse(text, "d.toml")
    assert recipes.render(r.branches[0].prompt, {"topic": "cats"}) == 'Answer as {"label": "x"} about cats'
    assert recipes.render("{{topic}}", {"topic": "cats"}) == "{topic}"


def test_inputs_override_and_unknown_or_empty():
    r = recipes.parse(GOOD, "demo.toml")
    assert r.with_inputs({"topic": "dogs"})["topic"] == "dogs"
    with pytest.raises(UserError, match="no input named colour"):
        r.with_inputs({"colour": "red"})
    with pytest.raises(UserError, match="input 'topic' is empty"):
        r.with_inputs({"topic": "  "})


def test_unknown_recipe_lists_shipped_ones():
    with pytest.raises(UserError, match="shipped recipes: .*research"):
        recipes.resolve("nosuch")


def test_bounds_and_list_items_are_named():
    bad(GOOD.replace('[[branches]]\nid = "a"', '[[branches]]\nid = "a"\ntemperature = 3'),
        "branches[0] (id 'a').temperature", "between 0 and 2", "not 3")
    bad(GOOD + '[vote]\nweights = [1, "heavy"]\n', "vote.weights[1]", "must each be a number")
    bad(GOOD.replace('topic = "cats"', 'topic = { default = "cats", colour = "red" }'),
        "unknown field 'colour' in inputs.topic")
    bad(GOOD.replace('kind = "synthesize"', 'kind = "blend"'), "aggregate.kind", "concat, merge, union")


def test_the_json_schema_describes_every_key_the_shipped_recipes_use():
    import tomllib

    from fanout.strategies.recipe.schema import json_schema

    schema = json_schema()
    top = set(schema["properties"])
    branch = set(schema["$defs"]["BranchTable"]["properties"])
    for name, path in recipes.shipped_recipes().items():
        data = tomllib.loads(path.read_text())
        assert set(data) <= top, name
        for b in data.get("branches", []):
            assert set(b) <= branch, (name, b.get("id"))
    assert schema["additionalProperties"] is False  # an editor flags a misspelt key, as fanout does
