"""Cost control on the command line: `--estimate` (no call made), `--budget`, `--confirm-above`, `--batch`."""

from __future__ import annotations

import json

from test_cli import no_traceback


def test_estimate_makes_no_call_and_names_unknown_prices(fanout_cli, loopback_thread):
    server = loopback_thread
    proc = fanout_cli.run("run", "research", *fanout_cli.net(server), "--estimate", "--json")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert not server.requests
    est = json.loads(proc.stdout)["estimate"]
    assert {"calls", "input_tokens", "output_tokens_max", "searches_max", "cost_low", "cost_high",
            "unknown_prices"} <= set(est)
    assert est["calls"] == 6 and est["output_tokens_max"] == 5 * 256 + 400
    assert est["unknown_prices"] == ["m"] and est["cost_low"] is None and est["cost_high"] is None
    assert "estimate (no call made)" in proc.stderr and "no price is known for m" in proc.stderr
    assert not (fanout_cli.home / "sessions").exists() or not list((fanout_cli.home / "sessions").iterdir())


def test_estimate_on_the_embedded_model_counts_with_its_own_tokenizer(fanout_cli):
    proc = fanout_cli.run("run", "tickets", "--estimate", "--json")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    est = json.loads(proc.stdout)["estimate"]
    assert est["calls"] == 8 and est["tokens_estimated"] is False  # eight tickets, a merge: no call of its own
    assert est["cost_low"] == 0 and est["cost_high"] == 0 and est["unknown_prices"] == []
    assert "~" not in proc.stderr


def priced(fanout_cli, server, **extra: str) -> list[str]:
    """A config whose provider `lb` is the loopback server with a price for its model; the flags to use it."""
    fanout_cli.home.mkdir(parents=True, exist_ok=True)
    lines = "\n".join(f"{k} = {v}" for k, v in extra.items())
    (fanout_cli.home / "config.toml").write_text(f"""
[providers.lb]
kind = "openai"
base_url = "{server.base_url}/v1"
model = "m"
{lines}
[providers.lb.prices.m]
input = 3.0
output = 15.0
""")
    return ["--provider", "lb"]


def test_a_budget_stops_the_run_and_resume_with_more_finishes_it(fanout_cli, loopback_thread):
    server = loopback_thread
    flags = priced(fanout_cli, server)
    first = fanout_cli.run("run", "research", *flags, "--strategy", "parallel", "--concurrency", "1",
                           "--budget", "0.005", "--json")
    no_traceback(first)
    assert first.returncode == 1, first.stderr
    doc = json.loads(first.stdout)
    ran = [b["id"] for b in doc["branches"] if b["status"] == "done"]
    not_run = [b["id"] for b in doc["branches"] if b["status"] != "done"]
    assert doc["status"] == "budget" and ran and not_run and doc["session_saved"]
    assert doc["aggregate"]["status"] == "waiting" and len(server.requests) == len(ran)
    assert "stopped by the budget of $0.005" in doc["error"]
    assert f"not run: {len(not_run)} branch" in doc["error"] and f"fanout resume {doc['session_id']}" in doc["error"]
    assert doc["metrics"]["cost"] <= 0.005

    seen = len(server.requests)
    again = fanout_cli.run("resume", doc["session_id"], "--budget", "1", "--json")
    no_traceback(again)
    assert again.returncode == 0, again.stderr
    resumed = json.loads(again.stdout)
    assert resumed["status"] == "ok" and resumed["resumed"]["kept"] == ran
    assert len(server.requests) - seen == len(not_run) + 1  # the rest and the aggregate, nothing kept asked again


def test_a_budget_with_an_unpriced_model_is_refused_naming_the_key(fanout_cli, loopback_thread):
    flags = priced(fanout_cli, loopback_thread)
    proc = fanout_cli.run("run", "research", *flags, "--model", "other", "--budget", "1")
    no_traceback(proc)
    assert proc.returncode == 2 and not loopback_thread.requests
    assert "no price is known for model 'other' of provider 'lb'" in proc.stderr
    assert '[providers.lb.prices."other"]' in proc.stderr


def test_confirm_above_refuses_without_a_terminal_unless_yes(fanout_cli, loopback_thread):
    server = loopback_thread
    flags = priced(fanout_cli, server)
    proc = fanout_cli.run("run", "research", *flags, "--confirm-above", "0.0001")
    no_traceback(proc)
    assert proc.returncode == 2 and not server.requests
    assert "above --confirm-above $0.0001" in proc.stderr and "add --yes" in proc.stderr
    below = fanout_cli.run("run", "research", *flags, "--confirm-above", "5", "--json")
    assert below.returncode == 0 and json.loads(below.stdout)["status"] == "ok"
    forced = fanout_cli.run("run", "research", *flags, "--confirm-above", "0.0001", "--yes", "--cache", "off")
    assert forced.returncode == 0, forced.stderr
