"""The figures a run reports, as every plain front end shows them: cached timings are said to be cached and never
turned into a concurrency; a run with no result has none; progress lines are cut at a word, the whole kept."""

from __future__ import annotations

import io
from dataclasses import replace

from fanout.core.text import shorten
from fanout.frontends.compare import Row, bar_groups, bars_text, headline, table, verdict
from fanout.frontends.headless import Printer, describe
from fanout.frontends.report import run_summary, to_json, to_markdown
from fanout.frontends.state import RunState
from fanout.strategies import events as ev
from fanout.strategies.metrics import run_metrics

LONG = ("connection to http://127.0.0.1:8080/v1 failed (ConnectError: All connection attempts failed, "
        "and then some more words to push it past every width)")


def folded(*events: ev.Event) -> RunState:
    return RunState.from_events(events)


def cached_run() -> list[ev.Event]:
    info = (ev.BranchInfo("a", "Alpha"), ev.BranchInfo("b", "Beta"))
    hit = ev.BranchMetrics(cached=True, saved_tokens=40, cached_latency=2.5)
    live = ev.BranchMetrics(latency=1.5, output_tokens=10)
    metrics = run_metrics(1.6, {"a": hit, "b": live}, {}, None, calls=1, failed=0)
    return [
        ev.RunStarted(0.0, "s1", "demo", "parallel", "p", "m", {}, info, "concat", 0.0),
        ev.BranchStarted(0.0, "a", cached=True),
        ev.BranchDone(0.01, "a", "from the cache", hit),
        ev.BranchStarted(0.0, "b"),
        ev.BranchDone(1.5, "b", "made now", live),
        ev.AggregateStarted(1.5, "concat"),
        ev.AggregateDone(1.6, "concat", "both"),
        ev.RunDone(1.6, "ok", metrics),
    ]


def test_a_run_with_cached_calls_says_so_and_gives_no_speed_up():
    state = folded(*cached_run())
    m = state.metrics
    assert m.cached == 1 and m.cached_latency == 2.5 and m.calls_sum == 1.5  # the hit adds nothing
    assert m.concurrency is None and m.critical_path is None  # not measured
    summary = run_summary(state)
    first = summary.split("\n")[0]
    assert "concurrency not measured (cached calls)" in first and "critical path" not in first
    assert "1 call was served from it (it took 2.50 s when made" in summary
    md = to_markdown(state)
    assert "| Alpha | done (cached) | - | cached (took 2.50 s) |" in md
    doc = to_json(state)
    assert doc["metrics"]["concurrency"] is None and doc["metrics"]["cached_latency"] == 2.5
    assert doc["branches"][0]["metrics"]["cached_latency"] == 2.5
    out = io.StringIO()
    printer = Printer(out, live=False)
    for e in cached_run():
        printer.handle(e)
    text = out.getvalue()
    assert "a: done · cached (took 2.50 s) · 0 tokens" in text
    assert "concurrency not measured (cached calls) · 1 cached" in text


def test_every_branch_failed_reports_no_speed_up():
    failed = ev.BranchMetrics(latency=0.2)
    m = run_metrics(0.3, {"a": failed, "b": failed}, {}, None, calls=2, failed=2)
    assert m.concurrency is None and m.critical_path is None
    state = folded(
        ev.RunStarted(0.0, "s1", "demo", "parallel", "p", "m", {}, (ev.BranchInfo("a", "A"), ev.BranchInfo("b", "B")),
                      "concat", 0.0),
        ev.BranchFailed(0.2, "a", "boom", failed),
        ev.BranchFailed(0.2, "b", "boom", failed),
        ev.RunDone(0.3, "failed", m),
    )
    assert "concurrency none (every branch failed)" in run_summary(state)


def test_the_sum_of_calls_counts_the_aggregate_call_and_the_speed_up_is_it_over_the_wall():
    branches = {"a": ev.BranchMetrics(latency=1.0), "b": ev.BranchMetrics(latency=2.0)}
    m = run_metrics(3.0, branches, {}, ev.BranchMetrics(latency=1.0), calls=3, failed=0)
    assert m.calls_sum == 4.0 and m.concurrency == 4.0 / 3.0 and m.critical_path == 3.0


def test_old_sessions_keep_their_sum_and_their_concurrency():
    done = ev.from_dict({"type": "run_done", "t": 1.0, "status": "ok",
                         "metrics": {"wall": 1.0, "branch_sum": 2.0, "speedup": 2.0}})
    assert done.metrics.calls_sum == 2.0 and done.metrics.concurrency == 2.0


def test_compare_never_computes_from_cached_rows():
    rows = [Row("sequential", "ok", 8.2, 8400, False, 6, 0.0, 3200, 8.2, 0),
            Row("parallel", "ok", 0.02, 9200, False, 0, 0.0, 3350, None, 0, cached=6),
            Row("hybrid", "ok", 3.8, 8700, False, 6, 0.0, 3500, 3.8, 0)]
    v = verdict(rows)
    assert v.fastest == "hybrid"  # not the cached 20 ms
    assert v.speedup["parallel"] is None and round(v.speedup["hybrid"], 2) == 2.16
    text = table(rows)
    assert "cached" in text.splitlines()[3] and "Fastest: hybrid" in text


def test_progress_lines_cut_at_a_word_with_balanced_brackets():
    for width in (30, 50, 60, 80):
        line = shorten(LONG, width)
        assert len(line) <= width and "…" in line
        assert line.count("(") == line.count(")")
        body = line.split("…")[0]
        assert LONG.startswith(body) and LONG[len(body)] == " ", line  # cut where a word ends
    assert shorten("short (fine)", 80) == "short (fine)"
    assert shorten(LONG, 80) == "connection to http://127.0.0.1:8080/v1 failed (ConnectError: All connection…)"


def test_a_long_failure_is_cut_in_progress_but_whole_in_the_report_and_json():
    state = folded(
        ev.RunStarted(0.0, "s1", "demo", "parallel", "p", "m", {}, (ev.BranchInfo("a", "A"),), "concat", 0.0),
        ev.BranchRetrying(0.1, "a", 1, 2.0, LONG),
    )
    assert describe(state.branches["a"], 0.1) == f"retrying in 2.0 s ({shorten(LONG, 60)})"
    state.apply(ev.BranchFailed(0.5, "a", LONG))
    line = describe(state.branches["a"], 0.5)
    assert line == f"failed: {shorten(LONG, 80)}" and line.count("(") == line.count(")")
    state.apply(ev.RunDone(0.6, "failed", ev.RunMetrics(wall=0.6, failed=1)))
    assert LONG in to_markdown(state) and to_json(state)["branches"][0]["error"] == LONG


def test_the_headline_says_the_verdict_in_the_tables_figures_and_never_times_cached_calls():
    def rows(*, cached: str = "", base_latency: float = 8.2) -> list[Row]:
        return [Row("sequential", "ok", base_latency, 8400, False, 6, None, 3200, None, 0, distinct=7,
                    cached=6 * (cached in ("sequential", "all"))),
                Row("parallel", "ok", 2.4, 9240, False, 6, None, 3350, None, 0, distinct=7,
                    cached=6 * (cached in ("parallel", "all"))),
                Row("hybrid", "ok", 3.8, 8700, False, 6, None, 3500, None, 0, distinct=5,
                    cached=6 * (cached == "all"))]

    assert headline(rows()) == "parallel: 3.42× faster than sequential, 1.10× the tokens, as many distinct findings"
    assert headline(rows(cached="parallel")) == ("hybrid: 2.16× faster than sequential, 1.04× the tokens, "
                                                 "5 distinct findings against 7")
    assert headline(rows(base_latency=1.0)) == "sequential: the fastest (1.00 s)"
    assert headline(rows(cached="sequential")) == ("parallel: speed against sequential not measured (cached calls), "
                                                   "1.10× the tokens, as many distinct findings")
    assert headline(rows(cached="all")) == ("timings not measured (cached calls); parallel: 1.10× the tokens of "
                                            "sequential, as many distinct findings")
    assert table(rows()).split("\n\n")[1].startswith(headline(rows()) + "\nFastest: parallel")


def test_a_figure_the_same_unknown_or_zero_for_every_strategy_has_no_bar_group():
    rows = [Row(s, "ok", latency, 8400, False, 6, None, 3200, None, 0, redundancy=0.0)
            for s, latency in (("sequential", 8.2), ("parallel", 2.4))]
    assert [figure for figure, _ in bar_groups(rows)] == ["latency", "tokens"]
    assert "cost" not in bars_text(rows) and "redundancy" not in bars_text(rows)
    rows[1] = replace(rows[1], cost=0.01, redundancy=None)
    assert [figure for figure, _ in bar_groups(rows)] == ["latency", "tokens", "cost"]
