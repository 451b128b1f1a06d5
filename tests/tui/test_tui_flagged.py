"""An aggregate flagged as no result of the model's own (an echo of its prompt) says so in its pane, as the
exported Markdown does: never a plain "✓ done"."""

from __future__ import annotations

from fanout.devserver.texts import default_text
from fanout.frontends.report import to_markdown
from test_tui_live import SIZE, finished, live_app
from tuikit import badge, wait_for


def echo_the_synthesis(req) -> str:
    """Every angle answers afresh; the aggregator repeats its own prompt, as SmolLM2 did."""
    return req.prompt if "Synthesise the research reports" in req.prompt else default_text(req.prompt, tokens=20)


async def test_an_echoed_aggregate_shows_its_flag_in_the_pane_as_in_the_export(loopback, fanout_home):
    loopback.responder = echo_the_synthesis
    app = live_app(loopback, cache="off")
    async with app.run_test(size=SIZE) as pilot:
        screen = await finished(pilot)
        flag = screen.state.aggregate.flag
        assert flag.startswith("echo: ") and "repeats its own prompt" in flag
        pane = screen.aggregate_pane
        assert badge(pane).startswith("flagged: echo ") and "done" not in badge(pane)
        assert pane.flag_line.display and str(pane.flag_line.render()) == flag
        await pilot.press("e")
        md = fanout_home / "exports" / f"{screen.state.started.session_id}.md"
        await wait_for(pilot, md.exists, what="the Markdown export")
        assert f"> **Flagged:** {flag}" in md.read_text() == to_markdown(screen.state)


async def test_an_aggregate_of_its_own_stays_done(loopback, fanout_home):
    app = live_app(loopback, cache="off")
    async with app.run_test(size=SIZE) as pilot:
        screen = await finished(pilot)
        assert screen.state.aggregate.flag == ""
        assert badge(screen.aggregate_pane) == "done" and not screen.aggregate_pane.flag_line.display


def test_a_checks_verdict_is_no_flag_on_the_result():
    """`checks` says whether the input is flagged (a bool, shown by the tally): the result itself is the model's."""
    from fanout.frontends.state import DONE, AggregateState

    assert AggregateState(status=DONE, result={"flagged": True, "status": "flagged"}).flag == ""
    assert AggregateState(status=DONE, result={"flagged": "echo: 90% of ..."}).flag == "echo: 90% of ..."
