"""`fanout bench`: the comparison table for a recipe, every strategy on the same inputs, cache off."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fanout.frontends.compare import Row, table, verdict
from fanout.devserver import LoopbackServer


def test_bench_json_over_the_loopback_server(tmp_path):
    server = LoopbackServer(latency=0.15, tokens=6).start_in_thread()
    try:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env["FANOUT_HOME"] = str(tmp_path)
        proc = subprocess.run(
            [sys.executable, "-m", "fanout", "bench", "research", "--base-url", server.base_url + "/v1",
             "--model", "m", "--repeat", "2", "--json"],
            capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        rows = {r["strategy"]: r for r in doc["rows"]}
        assert list(rows) == ["sequential", "parallel", "hybrid"] and doc["repeat"] == 2
        assert len(server.requests) == 2 * 3 * 6  # cache off: every round really calls
        for r in rows.values():
            assert r["calls"] == 6 and r["status"] == "ok" and r["latency_min"] <= r["latency"] <= r["latency_max"]
        assert rows["sequential"]["speedup_vs_sequential"] == 1.0
        assert doc["fastest"] == "parallel"
        # sequential waits on five calls plus the aggregate in a row; parallel on two
        assert rows["parallel"]["latency"] < rows["hybrid"]["latency"] < rows["sequential"]["latency"]
        assert rows["sequential"]["latency"] > 6 * 0.15
        assert "round 2: hybrid" in proc.stderr
    finally:
        server.stop_thread()


def test_table_has_the_comparison_columns_and_verdict():
    rows = [Row("sequential", "ok", 8.2, 8400, False, 6, 0.0504, 3200, 8.2, 0),
            Row("parallel", "ok", 2.4, 9200, False, 6, 0.0552, 3350, 2.4, 0),
            Row("hybrid", "ok", 3.8, 8700, True, 6, 0.0522, 3500, 3.8, 0)]
    text = table(rows)
    assert "Strategy" in text and "Latency" in text and "Tokens" in text and "Output" in text
    assert "Fastest: parallel (2.40 s)" in text and "2.40 s" in text and "ms" not in text and "Cheapest: sequential (8400 tokens" in text
    assert "~8700" in text  # an estimate says so
    v = verdict(rows)
    assert round(v.speedup["parallel"], 2) == 3.42 and round(v.token_multiplier["parallel"], 2) == 1.1
    assert v.longest_output == "hybrid"
