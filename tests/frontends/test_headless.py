"""The headless printer and report: plain lines off a terminal, a redrawn block on one, model text inert."""

from __future__ import annotations

import io

from fanout.frontends.headless import Printer
from fanout.frontends.report import to_json, to_markdown
from fanout.frontends.state import RunState
from fanout.strategies import events as ev

HOSTILE = "ok \x1b[2J\x1b]52;c;cGF5bG9hZA==\x07 [bold red]markup[/] \x07done"


def stream():
    info = (ev.BranchInfo("a", "Alpha"), ev.BranchInfo("b", "Beta", ("a",)))
    return [
        ev.RunStarted(0.0, "s1", "demo", "hybrid", "p", "m", {"topic": "x"}, info, "concat", 0.0),
        ev.BranchQueued(0.0, "a"),
        ev.BranchStarted(0.1, "a"),
        ev.BranchToken(0.2, "a", HOSTILE),
        ev.BranchRetrying(0.3, "a", 1, 2.0, "429 rate limited \x1b[31mred\x1b[0m", restart=True),
        ev.BranchStarted(2.3, "a", 2),
        ev.BranchToken(2.4, "a", HOSTILE),
        ev.BranchDone(2.5, "a", HOSTILE, ev.BranchMetrics(latency=2.4, output_tokens=3)),
        ev.BranchFailed(2.6, "b", "401 not authorised \x1b]0;title\x07"),
        ev.AggregateStarted(2.6, "concat", ("b",)),
        ev.AggregateDone(2.7, "concat", "## Alpha\n\n" + HOSTILE, ("b",)),
        ev.RunDone(2.7, "partial", ev.RunMetrics(wall=2.7, failed=1)),
    ]


def test_plain_lines_off_a_terminal_with_no_control_sequences():
    out = io.StringIO()
    p = Printer(out, live=False)
    for e in stream():
        p.handle(e)
    text = out.getvalue()
    assert "a: queued" in text and "retrying in 2.0 s (429 rate limited red)" in text
    assert "b: failed: 401 not authorised" in text and "run partial" in text
    assert "\x1b" not in text and "\x07" not in text


def test_live_block_redraws_in_place():
    out = io.StringIO()
    p = Printer(out, live=True)
    for e in stream():
        p.handle(e)
    text = out.getvalue()
    assert "\x1b[3F" in text or "\x1b[4F" in text  # cursor back to the block's first line
    last = text.rsplit("\x1b[4F", 1)[-1]
    assert "✓ a" in last and "✗ b" in last and "2J" not in text and "]52;" not in text


def test_reports_strip_escape_sequences_but_keep_the_words():
    state = RunState.from_events(stream())
    md = to_markdown(state)
    doc = to_json(state)
    for text in (md, doc["branches"][0]["text"], doc["aggregate"]["text"], doc["branches"][1]["error"]):
        assert "\x1b" not in text and "\x07" not in text
    assert "[bold red]markup[/]" in doc["branches"][0]["text"]  # shown as the text it is, not interpreted
    assert state.branches["a"].text == HOSTILE  # the state keeps what the model said; only output is cleaned


def test_off_a_terminal_a_quiet_run_still_prints_a_line_every_ten_seconds():
    """A pipe or a CI log sees life at least every Printer.QUIET seconds, whatever the run is waiting on."""
    import asyncio

    from vclock import run_virtual

    out = io.StringIO()
    p = Printer(out, live=False)
    info = (ev.BranchInfo("a", "Alpha"), ev.BranchInfo("b", "Beta", ("a",)))

    async def go():
        fresh = asyncio.create_task(p.keep_fresh(every=0.5))
        p.handle(ev.RunStarted(0.0, "s1", "demo", "hybrid", "p", "m", {}, info, "concat", 0.0))
        p.handle(ev.BranchQueued(0.0, "a"))
        p.handle(ev.BranchStarted(0.0, "a"))
        for i in range(3):
            p.handle(ev.BranchToken(0.1 * i, "a", "word "))
        await asyncio.sleep(35)  # a slow first answer: no event for 35 s
        p.handle(ev.BranchDone(35.0, "a", "word word word", ev.BranchMetrics(latency=35.0, output_tokens=3)))
        await asyncio.sleep(4)  # a line was printed at 35 s: nothing more before 45 s
        fresh.cancel()

    run_virtual(go())
    stamps = [float(line[1:8]) for line in out.getvalue().splitlines()]
    quiet = [line for line in out.getvalue().splitlines() if "still running" in line]
    assert len(quiet) == 3, out.getvalue()
    assert quiet[0].endswith("still running · 1 waiting · 1 streaming (3 tokens so far)")
    assert max(b - a for a, b in zip(stamps, stamps[1:])) <= Printer.QUIET + 0.5


def test_a_cancelled_branch_says_so_once():
    out = io.StringIO()
    p = Printer(out, live=False)
    p.handle(ev.RunStarted(0.0, "s1", "demo", "hybrid", "p", "m", {}, (ev.BranchInfo("a", "Alpha"),), "concat", 0.0))
    p.handle(ev.BranchFailed(1.0, "a", "cancelled", cancelled=True))
    assert "a: cancelled\n" in out.getvalue() and "cancelled: cancelled" not in out.getvalue()
