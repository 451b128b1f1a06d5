"""SVG snapshots of the screens, driven by fixed synthetic events (no clock, no network): the run screen
mid-stream, a vote's tally, the comparison table and the history."""

from __future__ import annotations

import pytest

from fanout.stores.sessions import Header, Recorder
from fanout.strategies.events import RunDone, RunMetrics
from fanout.tui.app import FanoutApp
from fanout.tui.screens.compare import CompareScreen
from fanout.tui.screens.run import RunScreen
from fanout.tui.feeds import Feed
from tuikit import (
    STARTED_AT,
    aiter_events,
    compared_run,
    drawn,
    finish_research,
    research_midstream,
    vote_run,
)


def show_events(events):
    async def run_before(pilot) -> None:
        screen = RunScreen(Feed(aiter_events(events), label=""))
        await pilot.app.push_screen(screen)
        await screen.finished.wait()
        await pilot.pause()
        await drawn(pilot, screen)
        await pilot.pause()

    return run_before


def test_run_screen_mid_stream(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(130, 40), run_before=show_events(research_midstream()))


def test_run_screen_compact_when_many_branches(snap_compare):
    # 80×24 cannot hold six panes: the list of branches and the focused pane instead.
    assert snap_compare(FanoutApp(), terminal_size=(80, 24), run_before=show_events(research_midstream()))


def test_vote_tally(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(120, 42), run_before=show_events(vote_run()))


def test_compare_table(snap_compare):
    # The three timelines on one axis, the bars, the table with the quality columns and parallel's overlap.
    states = [compared_run(s) for s in ("sequential", "parallel", "hybrid")]

    async def run_before(pilot) -> None:
        await pilot.app.push_screen(CompareScreen(states))
        await pilot.pause()
        await pilot.press("tab", "down")  # the cursor on parallel: its overlap matrix
        await pilot.pause()

    assert snap_compare(FanoutApp(), terminal_size=(130, 62), run_before=run_before)


def test_history(snap_compare):
    """An older run of its own, then a comparison: one row with its runs under it, its verdict under the table."""
    from fanout.strategies.events import BranchInfo, RunStarted

    for i, (strategy, status, wall) in enumerate((("hybrid", "ok", 4.1), ("sequential", "ok", 8.2),
                                                  ("parallel", "partial", 2.4), ("hybrid", "ok", 3.8))):
        sid = f"20260101-00000{i}-hist{i:02d}"
        header = Header(sid, "research", {}, {"topic": "q"}, strategy, "custom", "m", STARTED_AT + 60 * i,
                        comparison="compare-20260101-000100-hist01" if i else "")
        rec = Recorder(header)
        rec(RunStarted(0.0, sid, "research", strategy, "custom", "m", {"topic": "q"},
                       tuple(BranchInfo(f"b{j}", f"B{j}") for j in range(5)), "synthesize", STARTED_AT))
        rec(RunDone(wall, status, RunMetrics(wall=wall, input_tokens=4000, output_tokens=4000 + 100 * i,
                                             cost=0.01 * (i + 1))))
        rec.close()

    async def run_before(pilot) -> None:
        pilot.app.action_history()
        await pilot.pause()

    assert snap_compare(FanoutApp(), terminal_size=(120, 14), run_before=run_before)


MODEL_MARKDOWN = """# Findings

A paragraph with **bold**, *italic*, `inline code`, a [link](http://example.com/a) and literal [bold red]markup[/]
that stays text, <b>an HTML tag</b> too, and one very long word: {long}.

```python
def fidelity(rate: float) -> float:
    return 1 - rate  # a comment long enough to wrap inside the pane: {long}
```

| platform | qubits | two-qubit fidelity | note |
|---|---:|---|---|
| trapped ion | 56 | 99.9 % | slow gates but all-to-all connectivity |
| superconducting | 1,121 | 99.5 % | fast gates, nearest-neighbour coupling only |

1. first
2. second, with a nested list:
   - nested item
> a quote from the report
""".format(long="x" * 150)


def model_markdown_run():
    from fanout.strategies.events import (AggregateDone, AggregateStarted, BranchDone, BranchInfo, BranchMetrics,
                                          BranchQueued, BranchStarted, RunStarted)

    infos = (BranchInfo("report", "A report with code, a table and long lines"),)
    return [
        RunStarted(0.0, "20260101-000000-md0001", "markdown", "parallel", "custom", "m", {}, infos, "concat",
                   STARTED_AT),
        BranchQueued(0.0, "report"), BranchStarted(0.0, "report"),
        BranchDone(1.0, "report", MODEL_MARKDOWN, BranchMetrics(ttft=0.1, latency=1.0, output_tokens=180)),
        AggregateStarted(1.0, "concat"), AggregateDone(1.0, "concat", "done"),
        RunDone(1.0, "ok", RunMetrics(wall=1.0, calls_sum=1.0, concurrency=1.0, output_tokens=180, calls=1)),
    ]


def test_model_markdown_code_tables_and_long_lines(snap_compare):
    async def run_before(pilot) -> None:
        await show_events(model_markdown_run())(pilot)
        await pilot.press("z")  # the report pane zoomed: the whole answer
        await pilot.pause()

    assert snap_compare(FanoutApp(), terminal_size=(100, 44), run_before=run_before)


FINISHED = finish_research(research_midstream())


def test_header_and_badges_at_80_columns(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(80, 30), run_before=show_events(FINISHED))


def test_header_and_badges_at_120_columns(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(120, 40), run_before=show_events(FINISHED))


def test_header_and_badges_at_200_columns(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(200, 40), run_before=show_events(FINISHED))
