"""The run totals beside the timeline say what the report says: one sum of calls, no concurrency from cache hits."""

from __future__ import annotations

from fanout.frontends.report import run_summary
from fanout.frontends.state import RunState
from fanout.strategies import events as ev
from fanout.strategies.metrics import run_metrics
from fanout.tui import fmt

INFO = (ev.BranchInfo("a", "Alpha"), ev.BranchInfo("b", "Beta"))


def fold(events) -> RunState:
    return RunState.from_events(events)


def run_events(a: ev.BranchMetrics, b: ev.BranchMetrics, agg: ev.BranchMetrics, wall: float) -> list[ev.Event]:
    metrics = run_metrics(wall, {"a": a, "b": b}, {}, agg, calls=3, failed=0)
    return [
        ev.RunStarted(0.0, "s1", "demo", "parallel", "p", "m", {}, INFO, "synthesize", 0.0),
        ev.BranchStarted(0.0, "a", cached=a.cached),
        ev.BranchDone(a.latency, "a", "x", a),
        ev.BranchStarted(0.0, "b", cached=b.cached),
        ev.BranchDone(b.latency, "b", "y", b),
        ev.AggregateStarted(2.0, "synthesize"),
        ev.BranchStarted(2.0, "aggregate"),
        ev.AggregateDone(wall, "synthesize", "z", metrics=agg),
        ev.RunDone(wall, "ok", metrics),
    ]


def test_live_totals_use_the_same_sum_of_calls_as_the_run_metrics():
    events = run_events(ev.BranchMetrics(latency=1.0), ev.BranchMetrics(latency=2.0), ev.BranchMetrics(latency=1.0),
                        3.0)
    live = fmt.totals(fold(events[:-1]), 3.0)  # everything in, but the RunDone: the app's own sum
    final = fmt.totals(fold(events), 3.0)
    assert live.calls_sum == final.calls_sum == 4.0  # the aggregate's call counts, live and final alike
    assert live.concurrency == final.concurrency == 4.0 / 3.0
    rows = dict(fmt.totals_lines(final))
    assert rows["sum of calls"] == "4.00 s" and rows["concurrency"] == "1.33×"
    assert "sum of calls 4.00 s · concurrency 1.33×" in run_summary(fold(events))


def test_totals_of_a_cached_run_say_so_instead_of_a_speed_up():
    hit = ev.BranchMetrics(cached=True, cached_latency=1.5, saved_tokens=20)
    events = run_events(hit, ev.BranchMetrics(latency=2.0), ev.BranchMetrics(latency=1.0), 3.0)
    for state in (fold(events[:-1]), fold(events)):
        rows = dict(fmt.totals_lines(fmt.totals(state, 3.0)))
        assert rows["concurrency"] == "not measured" and rows["cached"] == "1 (took 1.50 s)"
        assert rows["sum of calls"] == "3.00 s"  # the hit made no call
        assert fmt.metrics_line(state.branches["a"], 3.0).startswith("cached (took 1.50 s)")
