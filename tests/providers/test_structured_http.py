"""Structured output over real HTTP: a schema branch (and the planner) send OpenAI's `response_format`; one whose
schema cannot be typed completely is asked in its prompt only. The schema is part of the cache key."""

from __future__ import annotations

import pytest

from fanout.devserver import LoopbackServer
from fanout.frontends.state import RunState
from fanout.providers.base import GenerationRequest, Message
from fanout.wiring.launch import RunOptions, execute, prepare

RECIPE = """
name = "schemas"
strategy = "parallel"
[[branches]]
id = "typed"
prompt = "Where is Paris?"
schema = '{"country": "string", "cities": ["string"]}'
[[branches]]
id = "loose"
prompt = "Judge this."
schema = '{"verdict": "ok or not ok"}'
"""


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_schema_branches_ask_for_structured_output_where_it_can_be_typed(tmp_path):
    path = tmp_path / "schemas.toml"
    path.write_text(RECIPE)
    async with LoopbackServer(responder=lambda req: '{"country": "France", "cities": ["Paris"]}') as server:
        prepared = prepare(RunOptions(recipe=str(path), base_url=server.base_url + "/v1", model="m", cache="off"))
        state = RunState()
        try:
            await execute(prepared, [state.apply], record=False)
        finally:
            await prepared.aclose()
    bodies = {("typed" if "Paris" in r.prompt else "loose"): r.body for r in server.requests}
    fmt = bodies["typed"]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["properties"]["cities"] == {"type": "array", "items": {"type": "string"}}
    assert "response_format" not in bodies["loose"]
    assert state.branches["typed"].result["json"] == {"country": "France", "cities": ["Paris"]}


def test_the_schema_is_in_the_cache_key_only_when_set():
    plain = GenerationRequest("m", (Message("user", "hi"),))
    typed = GenerationRequest("m", (Message("user", "hi"),), json_schema={"type": "object"})
    assert "json_schema" not in plain.params() and typed.params()["json_schema"] == {"type": "object"}
