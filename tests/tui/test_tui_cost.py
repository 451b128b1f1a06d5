"""Cost in the app: the form's estimate (made again as the inputs change, no call), the budget bar on the run
screen and the run stopped at the budget, and the question asked before a run above `[cost] confirm_above`."""

from __future__ import annotations

from textual.widgets import Input

from fanout.tui.app import FanoutApp
from fanout.tui.screens.confirm_spend import ConfirmSpend
from fanout.tui.screens.run import RunScreen
from fanout.tui.screens.setup import SetupScreen
from fanout.tui.widgets.budget_bar import BudgetBar
from fanout.tui.widgets.estimate_line import EstimateLine
from fanout.wiring.launch import RunOptions, prepare
from priced import priced_config
from tuikit import screen_text, wait_for

SIZE = (140, 44)


def priced(home, server, extra: str = "") -> RunOptions:
    (home / "config.toml").write_text(extra + "\n" + priced_config(server))
    return RunOptions(provider="lb")


async def test_the_form_shows_the_estimate_and_makes_it_again_as_inputs_change(loopback, fanout_home):
    app = FanoutApp(priced(fanout_home, loopback))
    async with app.run_test(size=SIZE) as pilot:
        line = app.screen.query_one(EstimateLine)
        await wait_for(pilot, lambda: line.made >= 1, what="the first estimate")
        first = str(line.render())
        assert "Estimate: 6 calls" in first and "$" in first
        app.screen.query_one("#input-0", Input).value = "a much longer topic " * 40
        await wait_for(pilot, lambda: line.made >= 2, what="the estimate made again")
        assert str(line.render()) != first  # a longer topic: more prompt tokens, more money
        assert "Estimate:" in screen_text(app)
    assert not loopback.requests  # estimating makes no call


async def test_the_budget_bar_and_a_run_stopped_at_the_budget(loopback, fanout_home):
    options = RunOptions(provider="lb", strategy="parallel", concurrency=1, budget=0.005)
    priced(fanout_home, loopback)
    app = FanoutApp(options, prepared=prepare(options))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), what="the run screen")
        screen = app.screen
        await wait_for(pilot, screen.finished.is_set, what="the end of the run")
        assert screen.state.status == "budget"
        bar = screen.query_one(BudgetBar)
        await wait_for(pilot, lambda: "budget reached" in screen_text(app), what="the bar saying so")
        assert "of $0.005" in str(bar.render())


async def test_a_run_above_confirm_above_is_asked_about_first(loopback, fanout_home):
    app = FanoutApp(priced(fanout_home, loopback, "[cost]\nconfirm_above = 0.00001"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen), what="the form")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSpend), what="the question")
        assert "above --confirm-above" in screen_text(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen), what="back on the form")
        assert not loopback.requests
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmSpend), what="the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), what="the run")
        await wait_for(pilot, app.screen.finished.is_set, what="the end of the run")
        assert app.screen.state.status == "ok" and loopback.requests
