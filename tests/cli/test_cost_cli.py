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
