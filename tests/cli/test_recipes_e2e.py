"""Every shipped recipe end to end against the loopback server, which answers chosen labels per voter."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from fanout.devserver import LoopbackServer
from fanout.wiring.launch import RunOptions, execute, prepare
from fanout.strategies.answers import normalise
from fanout.frontends.state import RunState


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def scripted(rules):
    """A responder: the first rule whose key is in the prompt answers, cycling through its answers per call."""
    calls = defaultdict(int)

    def respond(req):
        for key, answers in rules:
            if key in req.prompt:
                n = calls[key]
                calls[key] += 1
                answer = answers(req) if callable(answers) else answers[n % len(answers)]
                return answer
        return "default answer"

    return respond


async def run_recipe(name, responder, **options):
    async with LoopbackServer(responder=responder) as server:
        prepared = prepare(RunOptions(recipe=name, base_url=server.base_url + "/v1", model="m", cache="off", **options))
        state = RunState()
        try:
            await execute(prepared, [state.apply])
        finally:
            await prepared.aclose()
        return state, server


async def test_moderation_flags_when_any_check_fails():
    state, _ = await run_recipe("moderation", scripted([
        ("hate speech", ["hate", "ok", "ok"]),
        ("spam or unsolicited", ["spam"]),
        ("personal information", ["pii: a phone number"]),
        ("copyrighted", ["ok"]),
    ]))
    r = state.aggregate.result
    assert state.status == "ok" and r["flagged"] is True and r["status"] == "flagged"
    assert {i["check"] for i in r["issues"]} == {"spam", "pii"}
    hate = r["votes"]["hate"]
    assert hate["answer"] == "ok" and hate["tally"] == {"ok": 2, "hate": 1}
    assert hate["confidence"] == pytest.approx(2 / 3, abs=1e-4) and hate["status"] == "confident"
    assert "FLAGGED" in state.aggregate.text


async def test_moderation_clear_and_needs_review():
    state, _ = await run_recipe("moderation", scripted([
        ("hate speech", ["ok", "hate", "I cannot say"]),  # a tie between ok and hate, one abstention
        ("spam or unsolicited", ["ok"]),
        ("personal information", ["ok"]),
        ("copyrighted", ["ok"]),
    ]))
    r = state.aggregate.result
    assert r["flagged"] is False and r["status"] == "needs review" and r["unclear"] == ["hate"]
    assert r["votes"]["hate"]["status"] == "no consensus" and r["votes"]["hate"]["abstained"] == ["hate.v3"]


async def test_code_review_votes_per_aspect_and_merges():
    state, server = await run_recipe("code-review", scripted([
        ("for security", ["- SQL injection in login\n- password stored in plain text",
                          "- sql injection in login()", "- SQL Injection in login!\n- no rate limiting"]),
        ("for performance", ["- cache grows forever", "- the cache grows forever", "- none"]),
        ("for style", ["- none"]),
    ]))
    assert len(server.requests) == 9  # three aspects x three voters
    merged = state.aggregate.result["merged"]
    assert set(merged) == {"security", "performance", "style"}
    security = state.aggregate.result["votes"]["security"]
    # Identical voter requests reach the server in any order, so who said which wording varies; what is
    # folded, and how many found it, does not.
    top = security["findings"][0]
    assert normalise(top["text"]) == "sql injection in login"
    assert sorted(top["found_by"]) == ["security.v1", "security.v2", "security.v3"] and top["support"] == 1.0
    assert len(security["findings"]) == 3
    assert normalise(merged["security"]["answer"][0]) == "sql injection in login"
    performance = json.loads(state.aggregate.text.strip("`json\n"))["performance"]
    assert [normalise(f) for f in performance["answer"]] in (["cache grows forever"], ["the cache grows forever"])
    assert merged["style"]["answer"] == [] and merged["style"]["status"] == "no consensus"


async def test_market_sections_and_a_weighted_forecast_vote():
    by_temperature = {0.2: "growth", 0.7: "strong growth", 1.0: "growth"}
    state, server = await run_recipe("market", scripted([
        ("Predict next year", lambda req: by_temperature[req.body["temperature"]]),
        ("Combine these analyses", ["The market report."]),
    ]))
    forecast = state.aggregate.result["votes"]["forecast"]
    assert forecast["answer"] == "growth" and forecast["tally"] == {"growth": 2.0, "strong growth": 1.0}
    assert forecast["confidence"] == pytest.approx(2 / 3, abs=1e-4)
    synthesis_prompt = server.requests[-1].prompt
    assert "Voted answer: growth" in synthesis_prompt and "Competitors" in synthesis_prompt
    assert state.aggregate.text == "The market report."


async def test_headlines_judge_picks_one():
    state, server = await run_recipe("headlines", scripted([
        ("news editor", ["Winner: 3\nIt asks the question readers have."]),
        ("question-style", ["Could bike lanes save your main street?"]),
    ]))
    r = state.aggregate.result
    assert r["winner"] == "question" and r["choice"] == 3 and r["status"] == "confident"
    assert r["winner_text"] == "Could bike lanes save your main street?"
    assert "readers" in r["reason"]
    judge_prompt = server.requests[-1].prompt
    assert judge_prompt.index("Candidate 1") < judge_prompt.index("Candidate 5")


async def test_tickets_batch_gives_a_result_per_item(tmp_path):
    items = ["I was charged twice", "The export button crashes", "Please add dark mode", "gibberish"]
    f = tmp_path / "t.txt"
    f.write_text("\n".join(items) + "\n")

    def label(req):
        text = req.prompt.lower()
        return next((lab for key, lab in [("charged", "billing"), ("crashes", "bug"), ("add dark", "feature request")]
                     if key in text), "hmm")

    state, server = await run_recipe("tickets", scripted([("Ticket:", label)]), inputs={"tickets": str(f)})
    r = state.aggregate.result
    assert [v["item"] for v in r["items"].values()] == items
    assert [v["answer"] for v in r["items"].values()] == ["billing", "bug", "feature request", None]
    assert r["counts"] == {"billing": 1, "bug": 1, "feature request": 1}
    assert len(server.requests) == 4


async def test_tickets_json_array_file(tmp_path):
    f = tmp_path / "t.json"
    f.write_text(json.dumps(["one", "two", {"id": 3}]))
    state, _ = await run_recipe("tickets", scripted([("Ticket:", ["bug"])]), inputs={"tickets": str(f)})
    assert [v["item"] for v in state.aggregate.result["items"].values()] == ["one", "two", '{"id": 3}']


async def test_research_and_pipeline_run():
    for name in ("research", "pipeline"):
        state, server = await run_recipe(name, None)
        assert state.status == "ok" and len(state.branches) == 5


MERGE_RECIPE = """
name = "facts"
[inputs]
city = "Lisbon"
[[branches]]
id = "geo"
title = "Geography"
schema = '{"country": "string", "coastal": "boolean"}'
prompt = "Facts about {city}'s geography."
[[branches]]
id = "people"
title = "People"
schema = '{"population": "number"}'
prompt = "Facts about {city}'s people."
[aggregate]
kind = "merge"
"""


async def test_merge_repairs_invalid_json_once_then_flags(tmp_path):
    path = tmp_path / "facts.toml"
    path.write_text(MERGE_RECIPE)
    state, server = await run_recipe(str(path), scripted([
        ("coastal", ["Sure! The country is Portugal.", '{"country": "Portugal", "coastal": true}']),
        ("population", ["about half a million", "still not json"]),
    ]))
    r = state.aggregate.result
    assert r["merged"]["geo"] == {"country": "Portugal", "coastal": True}
    assert r["invalid"] == ["people"] and r["status"] == "needs review"
    assert "invalid JSON after one repair" in r["merged"]["people"]["invalid_json"]
    assert len(server.requests) == 4  # one repair each, never more
    repair = next(req for req in server.requests if "coastal" in req.prompt and "not valid JSON" in req.prompt)
    assert [m["role"] for m in repair.body["messages"]] == ["user", "assistant", "user"]
    geo = state.branches["geo"]
    assert geo.result["repaired"] is True and geo.metrics.retries == 1
