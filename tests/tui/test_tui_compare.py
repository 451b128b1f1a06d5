"""The compare screen's figures: the cursor picks the overlap matrix shown, and its Markdown export holds
everything the screen draws."""

from __future__ import annotations

from fanout.frontends.state import RunState
from fanout.strategies import events as ev
from fanout.tui.app import FanoutApp
from fanout.tui.screens.compare import CompareScreen
from tuikit import compared_run, screen_text, wait_for

STRATEGIES = ("sequential", "parallel", "hybrid")


async def test_the_overlap_follows_the_cursor_and_the_export_holds_the_whole_picture(fanout_home):
    app = FanoutApp()
    async with app.run_test(size=(130, 62)) as pilot:
        await app.push_screen(CompareScreen([compared_run(s) for s in STRATEGIES]))
        await pilot.pause()
        text = screen_text(app)
        assert "Overlap under sequential" in text and "Least redundant: sequential" in text
        await pilot.press("tab", "down", "down")  # tab: from the body to the table
        await wait_for(pilot, lambda: "Overlap under hybrid" in screen_text(app), what="hybrid's matrix")
        shown = screen_text(app)
        await pilot.press("e")
        exports = fanout_home / "exports"
        await wait_for(pilot, lambda: exports.exists() and any(exports.iterdir()), what="the export")
    md = next(exports.iterdir()).read_text()
    # The timelines on one axis: parallel's three branches start together, sequential's one after another.
    assert "  software    ···············█" in md and "\n  software    ████████████████\n" in md
    for line in ("  parallel    ████████████████████████████████████████ 67 %", "Least redundant: sequential",
                 "## Overlap under hybrid", "hardware         —     100%       0%"):
        assert line in md
    for figure in ("8.00 s", "4.20 s", "6.00 s", "67 %", "38 %", "$0.0138"):
        assert figure in shown and figure in md


async def test_the_judge_key_scores_the_outputs_on_the_screen_and_in_the_export(fanout_home, loopback):
    from fanout.wiring.judge import judge
    from fanout.wiring.launch import RunOptions

    def longer_wins(req) -> str:  # a scripted judge: the longer answer wins every criterion
        import re

        answers = re.findall(r"<<<report \w+ id=(\w) title=[^>]*>>>\n(.*?)\n<<<end", req.prompt, re.S)
        best = max(answers, key=lambda a: len(a[1]))[0]
        return "\n".join(f"{c}: {best}" for c in ("coverage", "specificity", "coherence", "contradictions", "overall"))

    loopback.responder = longer_wins
    options = RunOptions(base_url=f"{loopback.base_url}/v1", model="m")

    async def judge_outputs(outputs):
        return (await judge(outputs, "research", options)).as_dict()

    app = FanoutApp()
    async with app.run_test(size=(130, 90)) as pilot:
        await app.push_screen(CompareScreen([compared_run(s) for s in STRATEGIES], judge=judge_outputs))
        await pilot.pause()
        await pilot.press("j")
        await wait_for(pilot, lambda: "Best judged" in screen_text(app), what="the judgement")
        text = screen_text(app)
        await pilot.press("e")
        exports = fanout_home / "exports"
        await wait_for(pilot, lambda: exports.exists() and any(exports.iterdir()), what="the export")
    # compared_run's sequential synthesis is the longest: it wins all four of its trials
    assert "Best judged: sequential (score 1.00)" in text and "the judge's own cost, not in the table" in text
    assert len(loopback.requests) == 6
    md = next(exports.iterdir()).read_text()
    assert "## Judge" in md and "Best judged: sequential (score 1.00)" in md and "agreed on 100 % of pairs" in md


def many_branches(strategy: str, n: int) -> RunState:
    """A finished run of n branches: every other one repeats the one before it, word for word; the pairs differ."""
    ids = [f"b{i:02d}" for i in range(n)]
    events: list[ev.Event] = [ev.RunStarted(0.0, f"s-{strategy}", "research", strategy, "p", "m", {},
                                            tuple(ev.BranchInfo(b, b) for b in ids), "concat", 0.0)]
    for i, b in enumerate(ids):
        events += [ev.BranchStarted(0.1, b), ev.BranchDone(1.0, b, f"- finding {'abcdefghij'[i // 2] * 6} stands alone",
                                                          ev.BranchMetrics(latency=1.0))]
    events += [ev.AggregateDone(1.0, "concat", ""), ev.RunDone(1.0, "ok", ev.RunMetrics(wall=1.0))]
    state = RunState()
    for e in events:
        state.apply(e)
    return state


async def test_a_matrix_wider_than_the_screen_gives_way_to_its_pairs(fanout_home):
    states = [many_branches(s, 16) for s in ("sequential", "parallel")]  # a matrix 102 columns wide
    for width, shows in ((100, ("Overlap under sequential: the pairs where", "b00     b01       100 %")),
                         (110, ("Overlap under sequential: each row's", "b00        —  100%    0%    0%"))):
        app = FanoutApp()
        async with app.run_test(size=(width, 150)) as pilot:
            await app.push_screen(CompareScreen(states))
            await pilot.pause()
            text = screen_text(app)
            assert all(line in text for line in shows), width


async def opened(states: list[RunState], size: tuple[int, int]) -> list[str]:
    """The lines the compare screen shows as it opens."""
    app = FanoutApp()
    async with app.run_test(size=size) as pilot:
        await app.push_screen(CompareScreen(states))
        await pilot.pause()
        return screen_text(app).splitlines()


async def test_the_screen_opens_at_its_top_and_the_keys_scroll_it_to_the_verdict(fanout_home):
    # seven branches each: the table starts below the 50th row
    lines = await opened([many_branches(s, 7) for s in STRATEGIES], (200, 50))
    assert lines[0].strip().startswith("Compare: research")
    assert all(any(line.startswith(f"{s} · ") for line in lines) for s in STRATEGIES)
    assert any(line.startswith(" b06") for line in lines[20:])  # hybrid's last lane
    app = FanoutApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(CompareScreen([compared_run(s) for s in STRATEGIES]))
        await pilot.pause()
        assert "Fastest: parallel" not in screen_text(app)
        for _ in range(8):
            await pilot.press("pagedown")
        await wait_for(pilot, lambda: "Fastest: parallel (4.20 s)" in screen_text(app), what="the verdict")


async def test_the_verdict_heads_the_screen_in_one_sentence(fanout_home):
    lines = await opened([compared_run(s) for s in STRATEGIES], (80, 24))
    assert " ".join(line.strip() for line in lines[1:3]) == ("parallel: 1.90× faster than sequential, 1.10× the "
                                                             "tokens, 3 distinct findings against 7")


async def test_a_figure_with_nothing_to_draw_for_any_strategy_takes_no_rows(fanout_home):
    # no tokens and no cost counted for any run: their bar groups would be three empty bars each
    lines = await opened([many_branches(s, 3) for s in STRATEGIES], (100, 60))
    bars = lines[lines.index(next(line for line in lines if line.startswith("Per strategy"))) + 1:]
    headings = [line.strip() for line in bars[:bars.index(next(line for line in bars if line.startswith(" Strategy ")))]
                if not line.startswith("  ")]
    assert headings == ["latency", "redundancy"]


async def test_one_legend_names_each_strategys_colour_not_the_status_colours(fanout_home):
    lines = await opened([compared_run(s) for s in STRATEGIES], (130, 40))
    # the bars are drawn in the strategies' colours: the status colours' names would mislead
    assert "· dependencies  █ sequential  █ parallel  █ hybrid" in [line.strip() for line in lines]
    text = "\n".join(lines)
    assert all(status not in text for status in ("first token", "streaming", "done", "failed", "queue", "backoff"))
