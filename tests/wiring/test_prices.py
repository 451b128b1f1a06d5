"""Prices: the config's first, then genai-prices (offline data in the package), else unknown — never $0."""

from __future__ import annotations

import pytest

from fanout.providers.base import Prices
from fanout.wiring import prices


def test_the_library_prices_openai_and_anthropic_models_by_the_builtin_names():
    gpt = prices.resolve("openai", "openai", "https://api.openai.com/v1", "gpt-4o-mini", {})
    assert gpt == Prices(pytest.approx(0.15), pytest.approx(0.60), pytest.approx(10.0))  # $10 per 1,000 searches
    claude = prices.resolve("anthropic", "anthropic", "https://api.anthropic.com", "claude-haiku-4-5", {})
    assert claude is not None and claude.input > 0 and claude.output > claude.input
    # the built-in name keeps its price list behind a proxy's URL
    assert prices.resolve("openai", "openai", "http://127.0.0.1:9/v1", "gpt-4o-mini", {}) == gpt


def test_the_config_wins_and_unknown_stays_unknown():
    mine = {"gpt-4o-mini": Prices(1.0, 2.0)}
    # the config's token prices win; a search price it does not give is genai-prices' where it has one
    assert prices.resolve("openai", "openai", "", "gpt-4o-mini", mine) == Prices(1.0, 2.0, 10.0)
    assert prices.resolve("openai", "openai", "", "gpt-4o-mini", {"*": Prices(1.0, 2.0, 7.0)}).searches == 7.0
    assert prices.resolve("x", "openai", "", "anything", {"*": Prices(3.0, 4.0)}) == Prices(3.0, 4.0)
    assert prices.resolve("local", "local", "", "smollm2", {}) == Prices(0.0, 0.0)  # runs here: known free
    assert prices.resolve("custom", "openai", "http://127.0.0.1:8080/v1", "local-model", {}) is None
    assert prices.resolve("openai", "openai", "", "no-such-model-anywhere", {}) is None


def test_a_run_on_a_priced_model_costs_what_its_tokens_cost(fanout_cli, loopback_thread):
    fanout_cli.home.mkdir(parents=True, exist_ok=True)
    (fanout_cli.home / "config.toml").write_text(f'[providers.openai]\nbase_url = "{loopback_thread.base_url}/v1"\n')
    doc = fanout_cli.json("run", "research", "--provider", "openai", "--model", "gpt-4o-mini", "--cache", "off",
                          "--json", extra_env={"OPENAI_API_KEY": "sk-test-not-a-real-key-000000"})
    rates = prices.resolve("openai", "openai", "", "gpt-4o-mini", {})
    for b in doc["branches"]:
        m = b["metrics"]
        assert m["cost"] == pytest.approx(rates.cost(m["input_tokens"], m["output_tokens"])) and m["cost"] > 0
    assert doc["metrics"]["cost"] == pytest.approx(
        sum(b["metrics"]["cost"] for b in doc["branches"]) + doc["aggregate"]["metrics"]["cost"])


def test_an_unknown_price_is_shown_as_unknown(fanout_cli, loopback_thread):
    proc = fanout_cli.run("run", "research", "--cache", "off", *fanout_cli.net(loopback_thread))
    assert proc.returncode == 0, proc.stderr
    assert "cost —" in proc.stdout and "$0" not in proc.stdout
    assert "Cost unknown: no price is known for m" in proc.stdout
