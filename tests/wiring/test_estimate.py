"""The estimate against the real cost of the same runs over real HTTP on the loopback server: low <= real <= high.

The loopback server counts a token a word. The estimate is given that tokenizer (where fanout has the provider's
own), and the server answers in three-letter words: four characters a token, as the estimate assumes when it cuts
an earlier step's text to a later step's `context`. Each recipe runs twice: every answer at the estimate's typical
length (a quarter of max_tokens), then every answer at max_tokens. The first run must cost at least the low
figure and the second at most the high one; where nothing is left to chance (no planner) each must meet its
figure exactly, which holds only if the estimate makes the calls the run makes (voters, items, sequential and
hybrid contexts, the aggregate and its reduce levels) with the prompts the run sends.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from fanout.devserver import LoopbackServer, asks_for_plan
from fanout.frontends.state import RunState
from fanout.providers.tokens import Count
from fanout.wiring.estimate import StandIn, estimate, render
from fanout.wiring.launch import RunOptions, execute, prepare
from priced import priced_config

WORDS = ["the", "and", "for", "are", "but", "not", "you", "all", "any", "can"]
PLAN = json.dumps({"angles": [
    {"title": f"Angle {n} of the subject", "after": ["Angle 1 of the subject"] if n > 2 else [],
     "brief": " ".join(["what this angle must cover and why it matters to the reader"] * 3)}
    for n in range(1, 5)
]})
REDUCED = """
name = "reduced"
strategy = "parallel"
prompt = "Summarise note {item} in a few words."
[defaults]
max_tokens = 80
[[branches]]
id = "note"
items = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
[aggregate]
kind = "synthesize"
max_input_chars = 1500
prompt = "Merge the notes."
"""


def words_counter(target):
    return lambda messages: Count(sum(len(m.content.split()) for m in messages), True)


def answering(share: float):
    """Answers of `share` of each request's max_tokens (the planner gets its plan)."""
    def answer(req) -> str:
        if asks_for_plan(req):
            return PLAN
        rng = random.Random(req.prompt)
        return " ".join(rng.choice(WORDS) for _ in range(max(1, int(req.body["max_tokens"] * share))))

    return answer


@pytest.fixture
def home(tmp_path, monkeypatch):
    def configure(server: LoopbackServer, **extra: str) -> None:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        (home / "config.toml").write_text('default_provider = "lb"\n' + priced_config(server, **extra))
        monkeypatch.setenv("FANOUT_HOME", str(home))
        for var in ("OPENAI_API_KEY", "FANOUT_CONFIG"):
            monkeypatch.delenv(var, raising=False)

    return configure


async def real_run(configure, options: RunOptions, share: float):
    """The run's metrics against a server answering `share` of max_tokens, and the estimate made first."""
    server = LoopbackServer(responder=answering(share), latency=0.0, token_interval=0.0)
    await server.start()
    try:
        configure(server)
        prepared = prepare(options)
        est = await estimate(prepared, counter=words_counter)
        assert not server.requests, "the estimate made a call"
        state = RunState()
        await execute(prepared, [state.apply], record=False)
        await prepared.aclose()
    finally:
        await server.stop()
    assert state.status == "ok", state.done
    return est, state.metrics


CASES = [
    ("research", "hybrid"),
    ("research", "sequential"),
    ("tickets", "parallel"),
    ("market", "hybrid"),
    ("deep-research", "hybrid"),
    ("reduced", "parallel"),
]


@pytest.mark.parametrize("recipe,strategy", CASES, ids=[f"{r}-{s}" for r, s in CASES])
async def test_the_estimate_holds_the_real_cost(home, tmp_path, recipe, strategy):
    planned = recipe == "deep-research"
    if recipe == "reduced":
        (tmp_path / "reduced.toml").write_text(REDUCED)
        recipe = str(tmp_path / "reduced.toml")
    options = RunOptions(recipe=recipe, strategy=strategy, cache="off")
    est, short = await real_run(home, options, 0.25)
    _, long = await real_run(home, options, 1.0)
    assert est.cost_low <= short.cost and long.cost <= est.cost_high, (est.as_dict(), short, long)
    assert est.calls_min <= short.calls and long.calls <= est.calls
    assert est.input_tokens_low <= short.input_tokens and long.input_tokens <= est.input_tokens
    assert long.output_tokens <= est.output_tokens_max
    if not planned:  # nothing left to chance: the estimate is the run, call for call and token for token
        assert (est.calls_min, est.input_tokens_low) == (short.calls, short.input_tokens)
        assert (est.calls, est.input_tokens, est.output_tokens_max) == (long.calls, long.input_tokens,
                                                                        long.output_tokens)
        assert est.cost_low == pytest.approx(short.cost) and est.cost_high == pytest.approx(long.cost)
    if recipe.endswith("reduced.toml"):  # long answers are reduced first: more calls than six items and one merge
        assert long.calls > 7


async def test_unknown_prices_are_named_never_zero(home):
    server = LoopbackServer()
    home(server)  # configured, never started: no call is made
    prepared = prepare(RunOptions(recipe="research", model="unpriced-model", cache="off"))
    est = await estimate(prepared, counter=words_counter)
    await prepared.aclose()
    assert est.unknown_prices == ["unpriced-model"]
    assert est.cost_low is None and est.cost_high is None
    assert est.as_dict()["cost_high"] is None


def test_the_stand_in_answers_at_both_ends():
    """Low: a quarter of max_tokens, as JSON (no repair); high: max_tokens, no JSON (every schema branch is
    repaired once), and the first plan unusable (the planner is asked twice)."""
    from fanout.providers.base import GenerationRequest, Message, Limits
    from fanout.strategies.calls import Target
    from fanout.strategies.limits import ProviderLimiter

    class Real:
        name, kind, model, base_url, concurrency = "p", "openai", "m", "", 1

    target = Target(Real(), Limits(), ProviderLimiter(1), "m", None, 100)
    log: list = []
    request = GenerationRequest("m", (Message("user", "a b c"),), max_tokens=100)

    async def first(stand_in):
        return [item async for item in stand_in.stream(request)]

    import asyncio

    low = asyncio.run(first(StandIn(target, False, words_counter(target), log)))
    high = asyncio.run(first(StandIn(target, True, words_counter(target), log)))
    assert low[-1].output_tokens == 25 and low[0].text.split() == ["the"] * 25
    assert high[-1].output_tokens == 100 and high[0].text.split() == ["the"] * 100
    assert [c.input_tokens for c in log] == [3, 3] and log[0].cost is None  # Limits() knows no price
    planner = replace(request, json_schema={"properties": {"angles": {"minItems": 2, "maxItems": 5}}})
    stand_in = StandIn(target, True, words_counter(target), log)

    async def plans():
        return [[i async for i in stand_in.stream(planner)][0].text for _ in range(2)]

    unusable, usable = asyncio.run(plans())
    assert unusable == "no plan" and len(json.loads(usable)["angles"]) == 5



async def test_a_batched_run_is_estimated_at_the_batch_price(home):
    """--batch: the steps that wait on no other are priced at the batch price (half, here), the rest as ever."""
    home(LoopbackServer(), batch_api="true")  # configured, never started: no call is made
    streamed = prepare(RunOptions(recipe="research", cache="off"))
    batched = prepare(RunOptions(recipe="research", cache="off", batch="first"))
    whole, cheaper = [await estimate(p, counter=words_counter) for p in (streamed, batched)]
    for p in (streamed, batched):
        await p.aclose()
    assert (cheaper.calls, cheaper.input_tokens) == (whole.calls, whole.input_tokens)
    # research under hybrid: hardware, software and commercial wait on nothing; security, academic and the
    # aggregate are ordinary calls. Those three (the smallest prompts: shown no earlier step) at half price:
    first = sorted(whole.high, key=lambda c: c.input_tokens)[:3]
    assert cheaper.cost_high == pytest.approx(whole.cost_high - sum(c.cost for c in first) / 2)


async def test_a_searching_run_is_estimated_with_its_searches(home, tmp_path):
    """With --search web each branch call may make up to `max_uses` searches (one at the low end), priced per
    search; a search with no known price makes the cost unknown."""
    server = LoopbackServer()
    home(server, web_search="true")  # never started: no call is made
    config = tmp_path / "home" / "config.toml"
    plain = await estimate(prepare(RunOptions(recipe="research", cache="off")), counter=words_counter)
    unpriced = await estimate(prepare(RunOptions(recipe="research", cache="off", search="web")),
                              counter=words_counter)
    config.write_text(config.read_text() + "searches = 10.0\n")  # USD per 1,000, under [providers.lb.prices.m]
    searching = await estimate(prepare(RunOptions(recipe="research", cache="off", search="web")),
                               counter=words_counter)
    assert plain.searches_max == 0 and unpriced.searches_max == searching.searches_max == 5 * 5  # 5 branches
    assert unpriced.cost_high is None and unpriced.unknown_prices == ["m"]
    assert searching.cost_high == pytest.approx(plain.cost_high + 25 * 10.0 / 1000)
    assert searching.cost_low == pytest.approx(plain.cost_low + 5 * 10.0 / 1000)


async def test_an_openai_model_is_counted_and_another_estimated(home):
    """With no tokenizer handed in, an OpenAI model's prompts are counted with its encoding (no `~`), another
    model's on the same OpenAI-compatible server are estimated, and the table marks only that model's row."""
    home(LoopbackServer())  # configured, never started: no call is made
    counted, guessed = [prepare(RunOptions(recipe="research", model=m, cache="off")) for m in ("gpt-4o-mini", "m")]
    est_counted, est_guessed = [await estimate(p) for p in (counted, guessed)]
    for p in (counted, guessed):
        await p.aclose()
    assert not est_counted.tokens_estimated and est_guessed.tokens_estimated
    assert est_counted.calls == est_guessed.calls
    assert est_counted.input_tokens != est_guessed.input_tokens
    both = est_counted + est_guessed
    rows = {line.split()[0]: line for line in render(both).splitlines() if line.startswith("  lb/")}
    assert "~" not in rows["lb/gpt-4o-mini"] and "~" in rows["lb/m"]
