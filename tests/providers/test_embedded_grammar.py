"""Structured output on the embedded model: llama.cpp's grammar from a JSON Schema holds SmolLM2-135M to valid
JSON of that shape (real tokens, a real parse)."""

from __future__ import annotations

import pytest

import json
import re
from dataclasses import replace

from streams import collect

from fanout.providers.base import GenerationRequest, Message, ProviderError
from fanout.providers.citing import citing_grammar
from fanout.providers.local import LocalProvider
from fanout.strategies import recipe as recipes
from fanout.strategies.plan import parse_plan, plan_schema
from fanout.strategies.prompting import plan_messages

pytestmark = pytest.mark.slow


async def test_the_grammar_makes_the_small_model_write_a_valid_plan():
    recipe = recipes.load("deep-research")
    spec = replace(recipe.plan, min_branches=2, max_branches=3, dependencies=False)
    recipe = replace(recipe, plan=spec)
    values = recipe.with_inputs({"topic": "solid-state batteries"})
    schema = plan_schema(False, 2, 3)
    # Tighter strings than the shipped schema, so the answer fits in a test's budget of tokens.
    for field in ("title", "brief"):
        schema["properties"]["angles"]["items"]["properties"][field]["maxLength"] = 60
    provider = LocalProvider("local", concurrency=1)
    try:
        request = GenerationRequest("smollm2", plan_messages(recipe, values), max_tokens=240, temperature=0.3,
                                    json_schema=schema)
        text, end = await collect(provider, request)
    finally:
        await provider.aclose()
    assert end is not None and end.finish_reason == "stop", (end, text)
    data = json.loads(text)  # the whole answer is JSON: nothing before or after it
    assert set(data) == {"angles"} and 2 <= len(data["angles"]) <= 3
    assert all(set(a) == {"title", "brief"} and len(a["title"]) <= 60 for a in data["angles"])
    plan = parse_plan(text, spec)
    assert 2 <= len(plan.angles) <= 3 and all(a.title for a in plan.angles)


async def test_a_schema_llama_cpp_cannot_compile_fails_the_call_clearly():
    provider = LocalProvider("local", concurrency=1)
    request = GenerationRequest("smollm2", (), max_tokens=4, json_schema={"type": "object", "$ref": "#/nowhere"})
    try:
        await collect(provider, request)
    except ProviderError as err:
        assert "cannot build a grammar from the JSON schema" in str(err)
    else:
        raise AssertionError("an uncompilable schema was accepted")
    finally:
        await provider.aclose()


async def test_a_grounded_answer_opens_each_finding_with_a_given_passage_number():
    """A grounded request (the numbers of the passages its prompt holds) is held to `- [n] finding` lines, n among
    those numbers; the same prompt ungrounded is not (the grammar, not the prompt, makes the small model cite)."""
    passages = ("Sources, each under its number.\n[2] Tides: spring tides come at new and full moon.\n"
                "[5] Fundy: the Bay of Fundy has the largest tidal range on Earth, about sixteen metres.\n\n"
                "Using the sources, state two facts about tides.")
    messages = (Message("user", passages),)
    provider = LocalProvider("local", concurrency=2)
    try:
        grounded, plain = [await collect(provider, GenerationRequest("smollm2", messages, max_tokens=60,
                                                                     temperature=0, grounded=numbers))
                           for numbers in ((2, 5), ())]
    finally:
        await provider.aclose()
    lines = grounded[0].splitlines()
    assert len(lines) >= 2, grounded
    for line in lines[:-1]:  # the last may be cut by max_tokens
        found = re.fullmatch(r"- \[(\d+)\] [^\[\]<>]{20,300}", line)
        assert found and int(found.group(1)) in (2, 5), line
    assert not re.match(r"- \[\d+\] ", plain[0]), plain


def test_the_citing_grammar_allows_only_the_given_numbers():
    grammar = citing_grammar([5, 2, 5])
    assert 'source ::= "2" | "5"' in grammar
    with pytest.raises(ValueError):
        citing_grammar([])
