"""A branch's state is said on the branch: a failure shows its error and a short cause in its badge, a branch that
never ran says why, waiting for the first token is a state of its own, and the header and totals count what went
wrong as it happens."""

from __future__ import annotations

import socket

from fanout.devserver import Fault
from fanout.frontends.state import RunState
from fanout.frontends.status import Status
from fanout.strategies.events import (
    BranchInfo,
    BranchQueued,
    BranchRetrying,
    BranchStarted,
    BranchToken,
    RunStarted,
)
from fanout.tui import fmt
from fanout.tui.app import FanoutApp
from fanout.tui.feeds import Feed
from fanout.tui.screens.run import RunScreen
from fanout.tui.widgets.run_totals import RunTotals
from test_tui_live import SIZE, finished, live_app
from tuikit import STARTED_AT, Tap, badge, drawn, screen_text, wait_for


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_branch_that_fails_before_its_first_token_shows_its_error_and_cause(loopback):
    loopback.add_fault(Fault(status=400, message="context too long for this model"),
                       match=lambda r: "Software and algorithm" in r.prompt)
    app = live_app(loopback, strategy="parallel")
    async with app.run_test(size=SIZE) as pilot:
        screen = await finished(pilot)
        software = screen.panes["software"]
        assert badge(software) == "400 · context too long for…"
        assert software.error_line.display and software.view == "tail"  # no empty document in its place
        text = screen_text(app)
        assert "400 rejected: context too long for this model" in text
        assert "R retry" in text.splitlines()[-1]  # a partial run offers the retry in the key bar


async def test_branches_that_never_ran_say_why_and_one_error_is_said_once():
    from fanout.wiring.launch import RunOptions, prepare

    opts = RunOptions(base_url=f"http://127.0.0.1:{closed_port()}/v1", model="m", cache="off")
    app = FanoutApp(opts, prepared=prepare(opts))
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await finished(pilot)
        assert badge(screen.panes["hardware"]) == "unreachable"
        assert badge(screen.panes["security"]) == "skipped (hardware failed)"  # hybrid: it waits on hardware
        assert badge(screen.panes["academic"]).startswith("skipped (hardware, software")
        left_out = str(screen.aggregate_pane.failed_line.render())
        assert left_out.count("cannot connect") == 1, left_out  # the same error, said once
        assert "hardware, software, commercial (failed: cannot connect to" in left_out
        assert "security (skipped (hardware failed))" in left_out
        header = screen_text(app).splitlines()[0]
        assert "3 failed · 2 skipped" in header


def running(*branches: str) -> list:
    infos = tuple(BranchInfo(b, b.title()) for b in branches)
    events = [RunStarted(0.0, "20260101-000000-live01", "demo", "parallel", "custom", "m", {}, infos, "concat",
                         STARTED_AT)]
    for b in branches:
        events += [BranchQueued(0.0, b), BranchStarted(0.1, b)]
    return events


async def test_waiting_for_the_first_token_is_its_own_state_and_says_how_long():
    tap = Tap()
    async with FanoutApp().run_test(size=(130, 40)) as pilot:
        screen = RunScreen(Feed(tap.events(), label=""))
        await pilot.app.push_screen(screen)
        tap.push(*running("stuck", "talking"), BranchToken(0.5, "talking", "hello "),
                 BranchToken(20.3, "talking", "world"))  # 20 s on, "stuck" has still sent nothing
        await wait_for(pilot, lambda: screen.state.now == 20.3, what="the events")
        await drawn(pilot, screen)
        stuck, talking = screen.panes["stuck"], screen.panes["talking"]
        assert badge(stuck) == "awaiting first token · 20 s" and badge(talking) == "streaming"
        assert fmt.badge(stuck.branch, 20.3).kind == Status.AWAITING
        assert stuck.styles.border_top[1] != talking.styles.border_top[1]  # another colour than streaming's
        tap.push(None)


async def test_retries_and_throttles_are_counted_as_they_happen():
    tap = Tap()
    async with FanoutApp().run_test(size=(130, 40)) as pilot:
        screen = RunScreen(Feed(tap.events(), label=""))
        await pilot.app.push_screen(screen)
        tap.push(*running("a", "b"),
                 BranchRetrying(1.0, "a", 1, 0.5, "429 rate limited: slow down", throttled=True),
                 BranchStarted(1.5, "a", attempt=2),
                 BranchRetrying(2.0, "a", 2, 0.5, "429 rate limited: slow down", throttled=True),
                 BranchRetrying(2.0, "b", 1, 3.0, "500 server error: oops"))
        await wait_for(pilot, lambda: "b" in screen.state.branches and screen.state.branches["b"].status == "retrying",
                       what="the retries")
        await drawn(pilot, screen)
        totals = dict(screen.query_one(RunTotals).lines())
        assert totals["retries"] == "3" and totals["throttles"] == "2"  # before any call is over
        await wait_for(pilot, lambda: "3 retries" in screen_text(pilot.app).splitlines()[0], what="the header")
        # The pane's countdown is the badge's (the pane once said "after 3.0 s" beside "retrying in 3 s").
        assert badge(screen.panes["b"]).startswith("retrying in 3 s")
        assert screen.panes["b"].tail.placeholder.endswith("trying again in 3 s")
        tap.push(None)


def test_the_retry_countdown_is_the_same_in_the_badge_and_the_pane():
    state = RunState.from_events([*running("a"), BranchRetrying(1.0, "a", 1, 2.1, "500 server error: oops")])
    b = state.branches["a"]
    assert fmt.badge(b, 1.0).label == "retrying in 3 s · 500"
    assert fmt.placeholder(b, 1.0).endswith("trying again in 3 s")
    assert fmt.badge(b, 2.5).label.startswith("retrying in 1 s") and fmt.placeholder(b, 2.5).endswith("in 1 s")


def test_a_badge_has_the_short_cause():
    cases = {
        "400 rejected: context too long (gave up after 1 attempts)": "400 · context too long",
        "not tried: cannot connect to http://x/v1 (connection refused): check that a server is listening":
            "unreachable",
        "timed out waiting for http://x/v1 (gave up after 6 attempts)": "timeout",
        "the connection to http://x/v1 dropped before the answer was complete": "dropped",
        "the stream stalled for 30 s": "stalled",
        "429 rate limited: Rate limit reached for gpt-4o in organization org-123 on tokens per min":
            "429 · Rate limit reached…",
    }
    for error, cause in cases.items():
        assert fmt.cause(error) == cause, error
