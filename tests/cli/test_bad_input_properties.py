"""Property-based: whatever a recipe or config file holds, loading it either works or ends in a UserError that
names the file (so the CLI exits 2 with that message and no traceback). Never any other exception."""

from __future__ import annotations

from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanout.wiring import config
from fanout.core.errors import UserError
from fanout.wiring.launch import RunOptions, prepare
from fanout.strategies import recipe as recipes

RESEARCH = (Path(__file__).parents[2] / "prompts" / "research.toml").read_text()
EXAMPLE = (Path(__file__).parents[2] / "config.example.toml").read_text()

RECIPE_KEYS = ["name", "description", "strategy", "on_error", "system", "prompt", "inputs", "defaults", "branches",
               "aggregate", "vote", "id", "title", "after", "context", "labels", "json_field", "schema", "items",
               "items_file", "provider", "model", "temperature", "max_tokens", "kind", "fail_on", "samples",
               "method", "threshold", "weights", "temperatures", "models", "prompts", "topic", "default"]
CONFIG_KEYS = ["default_provider", "providers", "cache", "keymap", "kind", "model", "base_url", "api_key_env",
               "concurrency", "rpm", "tpm", "timeout", "stall_timeout", "max_retries", "max_retry_after",
               "backoff_base", "backoff_max", "adaptive", "prices", "input", "output", "n_ctx", "mode",
               "size_limit_mb", "local", "openai", "x"]

scalars = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["{topic}", "{nope}", "a", "hybrid", "sequential", "synthesize", "vote", "majority", "checks",
                     "local", "openai", "{item}", "x.txt", "", "-", "aggregate"]),
    st.integers(min_value=-5, max_value=10**7),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
)


def documents(keys):
    key = st.one_of(st.sampled_from(keys), st.text(min_size=1, max_size=8))
    return st.recursive(
        scalars,
        lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(key, children, max_size=6)),
        max_leaves=25,
    ).filter(lambda d: isinstance(d, dict)) | st.dictionaries(key, st.recursive(
        scalars, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(key, c, max_size=4)), max_leaves=15),
        max_size=8)


def as_toml(doc) -> str | None:
    try:
        return tomli_w.dumps(doc)
    except (TypeError, ValueError):  # e.g. a list mixing tables and values: not expressible in TOML
        return None


def loads_or_names_the_file(load, text: str, source: str) -> None:
    try:
        load(text)
    except UserError as err:
        assert source in str(err), str(err)


def mutate(text: str, data) -> str:
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if op == "delete":
            j = data.draw(st.integers(i, min(len(text), i + 12)))
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + data.draw(st.sampled_from(['"', "[", "]", "=", "\n", "{x}", "after = [\"x\"]\n", "#",
                                                         "[[branches]]\nid = \"hardware\"\n", "'''"])) + text[i:]
        else:
            text = text[:i] + text[i: i + 40] + text[i:]
    return text


FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.filter_too_much])


def parse_recipe(text: str) -> None:
    recipe = recipes.parse(text, "fuzz.toml")
    recipes.expand(recipe, recipe.with_inputs({})) if all(v.strip() for v in recipe.inputs.values()) else None


@FAST
@given(documents(RECIPE_KEYS))
def test_any_recipe_document_loads_or_is_a_user_error(doc):
    text = as_toml(doc)
    if text is not None:
        loads_or_names_the_file(parse_recipe, text, "fuzz.toml")


@FAST
@given(st.data())
def test_a_damaged_recipe_loads_or_is_a_user_error(data):
    loads_or_names_the_file(parse_recipe, mutate(RESEARCH, data), "fuzz.toml")


@FAST
@given(st.text(max_size=300))
def test_arbitrary_text_as_a_recipe(text):
    loads_or_names_the_file(parse_recipe, text, "fuzz.toml")


def parse_config(text: str) -> None:
    config.parse(text, "conf.toml")  # fanout's own reading, TOML errors included


@FAST
@given(documents(CONFIG_KEYS))
def test_any_config_document_loads_or_is_a_user_error(doc):
    text = as_toml(doc)
    if text is not None:
        loads_or_names_the_file(parse_config, text, "conf.toml")


@FAST
@given(st.data())
def test_a_damaged_config_loads_or_is_a_user_error(data):
    loads_or_names_the_file(parse_config, mutate(EXAMPLE, data), "conf.toml")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_preparing_a_damaged_recipe_is_clear(data, tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("FANOUT_HOME", str(home))
    path = home / "r.toml"
    path.write_text(mutate(RESEARCH, data))
    sets = data.draw(st.dictionaries(st.sampled_from(["topic", "nope", ""]), st.text(max_size=5), max_size=2))
    try:
        prepare(RunOptions(recipe=str(path), base_url="http://127.0.0.1:9/v1", inputs=sets, cache="off"))
    except UserError as err:
        assert str(err)
