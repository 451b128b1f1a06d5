"""Reading finished answers: every pane rendered once, ahead of need and off the event loop; a pane opened before
its document is whole shows its first screenful; a streaming document re-renders only its last block group;
the header keeps its status and time apart and whole at any width.

Timing is the benchmark's business (`python bench/tui_stream.py`); these tests assert the work done:
how many block groups were rendered (each one Markdown parse), and that no widget is mounted to read a pane."""

from __future__ import annotations

from textual.widgets import Markdown

from fanout.frontends.report import fmt_seconds
from fanout.strategies.events import (
    AggregateDone,
    AggregateStarted,
    BranchDone,
    BranchInfo,
    BranchMetrics,
    BranchQueued,
    BranchStarted,
    BranchToken,
    RunDone,
    RunMetrics,
    RunStarted,
)
from fanout.tui.app import FanoutApp
from fanout.tui.doc_cache import DocCache
from fanout.tui.md_render import render_block_group, split_blocks
from fanout.tui.screens.run import RunScreen
from fanout.tui.feeds import Feed
from fanout.tui.widgets.run_header import RunHeader
from tuikit import (STARTED_AT, Tap, Work, aiter_events, drawn, finish_research, research_midstream, screen_text,
                    wait_for, words)

SIZE = (200, 60)


def answer(i: int) -> str:
    """A long, LLM-shaped answer: headings, paragraphs, a list, a code block and a table; several block groups."""
    para = " ".join(f"word{i}x{j}" for j in range(60))
    parts = [f"## Answer {i}\n\n"]
    for k in range(16):
        parts.append(f"{para} paragraph {k}.\n\n")
        if k % 4 == 1:
            parts.append(f"- point {k}\n- another point\n\n")
        if k % 4 == 2:
            parts.append(f"```python\ndef f{k}(x):\n    return x * {k}\n```\n\n")
        if k % 4 == 3:
            parts.append("| a | b |\n|---|---|\n| 1 | 2 |\n\n")
    return "".join(parts)


def finished_run(count: int) -> list:
    infos = tuple(BranchInfo(f"b{i:02d}", f"Branch {i}") for i in range(count))
    ev: list = [RunStarted(0.0, "20260101-000000-read01", "reading", "parallel", "custom", "m", {}, infos,
                           "concat", STARTED_AT)]
    for i, info in enumerate(infos):
        ev += [BranchQueued(0.0, info.id), BranchStarted(0.0, info.id)]
        ev += [BranchToken(0.1, info.id, w) for w in words(answer(i))]
        ev.append(BranchDone(1.0, info.id, answer(i), BranchMetrics(latency=1.0, output_tokens=800)))
    ev += [AggregateStarted(1.0, "concat"), AggregateDone(1.0, "concat", "all read"),
           RunDone(1.0, "ok", RunMetrics(wall=1.0, calls_sum=float(count), concurrency=float(count)))]
    return ev


async def open_run(pilot, events) -> RunScreen:
    screen = RunScreen(Feed(aiter_events(events), label=""))
    await pilot.app.push_screen(screen)
    await wait_for(pilot, screen.finished.is_set, what="the end of the feed")
    await drawn(pilot, screen)
    return screen


async def test_reading_every_pane_of_a_finished_20_branch_run_renders_nothing_more():
    app = FanoutApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, finished_run(20))
        screen.pacer.cache = cache = DocCache()  # a cache of its own: counts only this run's work
        for pane in screen.pane_list():
            pane.markdown.clear()
        await drawn(pilot, screen)  # rendered ahead: every finished pane, before anyone reads it
        groups = sum(len(split_blocks(p.shown_text)) for p in screen.panes.values()) + 1  # + the aggregate
        assert len(split_blocks(answer(0))) > 3 and cache.renders == groups
        widgets = len(list(screen.walk_children()))
        shows = sum(p.markdown.shows for p in screen.pane_list())

        for round_ in range(2):  # every pane in turn, twice
            for index, (bid, pane) in enumerate(screen.panes.items()):
                await pilot.press("n") if index else screen.focus_pane(0)
                await wait_for(pilot, lambda: pane.has_focus and pane.settled, what=f"{bid} focused, whole")
                assert pane.markdown.source == answer(int(bid[1:])) and pane.scroll.display

        assert cache.renders == groups  # not one block group rendered again
        assert sum(p.markdown.shows for p in screen.pane_list()) == shows  # not even re-assembled
        assert len(list(screen.walk_children())) == widgets  # and no widget mounted to read an answer
        assert not list(screen.query(Markdown))

        # The control: a pane whose document is gone is assembled again, and from an empty cache rendered again.
        screen.pacer.cache = fresh = DocCache()
        pane = screen.panes["b03"]
        pane.markdown.clear()
        screen.focus_pane(0)
        screen.focus_pane(3)
        await wait_for(pilot, lambda: pane.settled, what="b03 whole again")
        assert fresh.renders > 0 and sum(p.markdown.shows for p in screen.pane_list()) > shows


async def test_moving_between_finished_panes_lays_out_repaints_and_redraws_nothing(monkeypatch):
    app = FanoutApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, finished_run(20))
        work = Work(monkeypatch)
        for index, (bid, pane) in enumerate(screen.panes.items()):
            screen.focus_pane(index)
            await wait_for(pilot, lambda: pane.has_focus and pane.settled, what=f"{bid} focused, whole")
            await pilot.pause()  # the frames that follow the move
            await pilot.pause()
            assert work.counts == {"layouts": 0, "full repaints": 0, "key bar redraws": 0}, f"moving to {bid}"
            assert pane.styles.border_top[0] == "heavy"  # the move itself is drawn

        # The control: the same counters see each of those when it is forced.
        screen.refresh(layout=True)
        app.bind("f9", "bell", description="Bell")  # a new key on offer
        screen.refresh_bindings()
        await wait_for(pilot, lambda: all(work.counts.values()), what=f"each kind of work counted: {work.counts}")


async def test_the_key_bar_is_redrawn_when_its_keys_change(monkeypatch):
    app = FanoutApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, finished_run(3))
        screen.focus_pane(0)
        await pilot.pause()
        work = Work(monkeypatch)
        screen.focus_pane(1)  # the same keys: nothing to draw
        await pilot.pause()
        assert work.counts["key bar redraws"] == 0
        app.bind("f9", "bell", description="Bell")  # what it shows changes: redrawn
        screen.refresh_bindings()
        await wait_for(pilot, lambda: work.counts["key bar redraws"] == 1, what="the key bar redrawn")
        assert "f9 bell" in screen_text(app).splitlines()[-1]


async def test_a_pane_opened_before_it_is_whole_shows_its_first_screenful():
    app = FanoutApp()
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_run(pilot, finished_run(1))
        pane = screen.panes["b00"]
        pane.markdown.clear()
        pane.view = "tail"
        look = screen.markdown_look()
        width = pane.doc_width()
        first, *rest = split_blocks(pane.shown_text)
        cache = DocCache()  # only the first group rendered so far
        cache.put((first, width, look.name), render_block_group(first, width, look))
        pane.focus()
        await pilot.pause()
        await pane.flush(0.0, cache=cache, look=look)
        assert rest and pane.view == "final" and pane.scroll.display and not pane.settled
        assert len(pane.markdown.lines) >= pane.scroll.size.height  # the first screenful, no more yet
        for group in rest:
            cache.put((group, width, look.name), render_block_group(group, width, look))
        await pane.flush(0.0, cache=cache, look=look)
        assert pane.settled and pane.markdown.source == answer(0)


async def test_a_streaming_document_re_renders_only_its_last_block_group():
    text = answer(1)
    tap = Tap()
    app = FanoutApp()
    async with app.run_test(size=(100, 40)) as pilot:
        infos = (BranchInfo("solo", "Solo"),)
        tap.push(RunStarted(0.0, "20260101-000000-solo02", "solo", "parallel", "custom", "m", {}, infos, "concat",
                            STARTED_AT), BranchQueued(0.0, "solo"), BranchStarted(0.0, "solo"),
                 *[BranchToken(0.1, "solo", w) for w in words(text)])
        screen = RunScreen(Feed(tap.events(), label=""))
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.state.branches.get("solo") is not None
                       and screen.state.branches["solo"].tokens_seen == len(words(text)), what="the tokens")
        await wait_for(pilot, lambda: all(p.is_mounted for p in screen.pane_list()), what="the panes")
        screen.pacer.cache = cache = DocCache()
        await drawn(pilot, screen)
        pane = screen.panes["solo"]
        groups = split_blocks(text)
        assert pane.has_focus and pane.view == "live" and pane.markdown.source == text
        assert len(groups) > 3 and cache.renders == len(groups)

        tap.push(BranchToken(0.2, "solo", "one "), BranchToken(0.2, "solo", "more"))
        await wait_for(pilot, lambda: screen.state.branches["solo"].tokens_seen == len(words(text)) + 2,
                       what="two more tokens")
        await drawn(pilot, screen)
        assert pane.markdown.source == text + "one more"
        assert cache.renders == len(groups) + 1  # the last group again, the others as they were

        tap.push(BranchDone(0.3, "solo", text + "one more"))
        await wait_for(pilot, lambda: screen.state.branches["solo"].status == "done", what="the end")
        await drawn(pilot, screen)
        assert pane.settled and cache.renders == len(groups) + 1  # the final text was already rendered


async def test_the_header_keeps_status_and_time_apart_and_whole_at_every_width():
    events = finish_research(research_midstream())
    for width in (80, 120, 200):
        app = FanoutApp()
        async with app.run_test(size=(width, 30)) as pilot:
            screen = RunScreen(Feed(aiter_events(events), label="replay 10×"))
            await app.push_screen(screen)
            await wait_for(pilot, screen.finished.is_set, what="the end of the feed")
            await drawn(pilot, screen)
            await pilot.pause()
            line = screen_text(app).splitlines()[0]
            assert line.rstrip().endswith(" ok  " + fmt_seconds(events[-1].t))  # the chip, a space, the time
            assert " replay 10×, read-only " in line and line.startswith(" fanout  research")
            left = screen.query_one(RunHeader).sides()[0].plain
            assert (left in line) == (width >= 120)  # narrow: the left side gives way, with an ellipsis
            assert width >= 120 or "…" in line
