"""A long storm, shortened: 300 branches at concurrency 50 against the loopback server with mixed faults (10 % 429
with Retry-After, 5 % dropped mid-stream, 2 % stalls, 1 % 500s), the `fanout` process SIGKILLed in the middle,
then `fanout resume`. `bench/soak.py` runs the full 2,000 at concurrency 100."""

from __future__ import annotations

import pytest

import json

from fanout.devserver import Storm
from fanout.devserver.soak import soak
from fanout.devserver.storm import audit

pytestmark = pytest.mark.slow

BRANCHES, CONCURRENCY, TOKENS = 300, 50, 12


def test_a_storm_killed_in_the_middle_then_resumed(fanout_cli, loopback_thread, tmp_path):
    server = loopback_thread
    server.latency, server.token_interval, server.tokens = 0.2, 0.02, TOKENS  # about 0.45 s a call
    storm = Storm(retry_after=0.5)
    result = soak(fanout_cli.home, fanout_cli.env, server, storm, branches=BRANCHES, concurrency=CONCURRENCY,
                  timeout=240)
    assert result.session_id, f"the run ended before the middle (exit {result.kill_exit}): {result.stderr}"
    assert result.kill_exit == -9 and 0 < result.killed_after < BRANCHES
    assert result.exit == 0 and "Traceback" not in result.stderr, result.stderr
    doc = result.doc
    assert doc["status"] == "ok" and doc["session_id"] == result.session_id
    assert len(doc["branches"]) == BRANCHES
    kept = sum(bool(b.get("kept")) for b in doc["branches"])
    assert kept == result.killed_after == len(doc["resumed"]["kept"])
    assert audit(storm, doc, server.requests, TOKENS) == []
    injected = storm.counts()
    assert min(injected[k] for k in ("429", "drop", "stall")) > 0, injected  # the storm did storm
    assert max(result.peak_rss_mib) < 300, result.peak_rss_mib
    # Nothing kept was asked again: no request after the kill is for a kept branch's prompt.
    kept_items = {f"#{n:04d}#" for n, b in enumerate(doc["branches"]) if b.get("kept")}
    again = [r.prompt for r in server.requests if r.received_at > result.killed_at and r.prompt[11:17] in kept_items]
    assert again == [] and len(kept_items) == kept
    listed = json.loads(fanout_cli.run("sessions", "--json").stdout)
    assert [(s["id"], s["status"], s["branches"]) for s in listed] == [(result.session_id, "ok", BRANCHES)]
