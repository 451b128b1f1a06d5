"""Cost control on the command line: `--estimate` (no call made), `--budget`, `--confirm-above`, `--batch`."""

from __future__ import annotations

import json

import pytest

from priced import priced_config
from test_cli import kill_when, no_traceback, session_lines


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
    (fanout_cli.home / "config.toml").write_text(priced_config(server, **extra))
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


def test_tickets_through_a_batch_cost_half(fanout_cli, loopback_thread):
    server = loopback_thread
    flags = priced(fanout_cli, server, batch_api="true", batch_poll="0.05")
    streamed = fanout_cli.json("run", "tickets", *flags, "--cache", "off", "--json")
    proc = fanout_cli.run("run", "tickets", *flags, "--cache", "off", "--batch", "--json", timeout=60)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert server.batches.created == 1 and len(server.batches.lines) == 8
    assert all(b["status"] == "done" and b["metrics"]["batch"] for b in doc["branches"])
    assert all(b["metrics"]["ttft"] is None for b in doc["branches"])
    assert [b["text"] for b in doc["branches"]] == [b["text"] for b in streamed["branches"]]
    assert doc["metrics"]["cost"] == pytest.approx(streamed["metrics"]["cost"] / 2, rel=1e-9)  # sums of floats
    assert "requests submitted" in proc.stderr and "completed · 8 of 8 answered" in proc.stderr


def test_a_batch_run_killed_while_it_waits_is_resumed_without_a_second_submission(fanout_cli, loopback_thread):
    server = loopback_thread
    server.batch_delay = None  # held at the provider until released
    flags = priced(fanout_cli, server, batch_api="true", batch_poll="0.05")
    proc = fanout_cli.popen("run", "tickets", *flags, "--batch", "--json")
    path = kill_when(proc, lambda: session_lines(fanout_cli.sessions_dir, "batch_progress", 2),
                     what="the batch submitted and looked at")
    assert server.batches.created == 1 and not server.batches.lines  # killed while it waited
    server.batches.release()

    again = fanout_cli.run("resume", path.stem, "--json")
    no_traceback(again)
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert server.batches.created == 1, "the batch was submitted twice"
    assert sum(1 for r in server.requests if r.path in ("/v1/batches", "/v1/files")) == 2  # one upload, one batch
    assert doc["status"] == "ok" and len(doc["branches"]) == 8
    assert all(b["status"] == "done" and b["metrics"]["batch"] for b in doc["branches"])
    assert len(server.batches.lines) == 8 and not [r for r in server.requests if r.path == "/v1/chat/completions"]


def test_batch_on_a_provider_that_cannot_is_refused_naming_it(fanout_cli, loopback_thread):
    proc = fanout_cli.run("run", "tickets", *fanout_cli.net(loopback_thread), "--batch")
    no_traceback(proc)
    assert proc.returncode == 2 and not loopback_thread.requests
    assert "--batch: provider 'custom' cannot take a batch" in proc.stderr
    local = fanout_cli.run("run", "tickets", "--batch")
    assert local.returncode == 2 and "provider 'local' cannot take a batch" in local.stderr


def test_bench_batch_adds_a_batch_row_at_half_the_parallel_cost(fanout_cli, loopback_thread):
    flags = priced(fanout_cli, loopback_thread, batch_api="true", batch_poll="0.05")
    doc = fanout_cli.json("bench", "tickets", *flags, "--batch", "--json", timeout=120)
    rows = {r["strategy"]: r for r in doc["rows"]}
    assert list(rows) == ["sequential", "parallel", "hybrid", "batch"]
    assert rows["batch"]["cost"] == rows["parallel"]["cost"] / 2 and rows["batch"]["status"] == "ok"
    assert loopback_thread.batches.created == 1
    text = fanout_cli.run("bench", "tickets", *flags, "--batch", timeout=120)
    assert text.returncode == 0 and "\nbatch " in text.stdout, text.stderr
