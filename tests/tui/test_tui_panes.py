"""Panes fed synthetic events: model text stays inert, no token is lost, following the stream, the pacer's
spreading, the badges, the keymap and the command palette."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

from fanout.frontends.state import BranchState
from fanout.strategies.events import (
    BranchDone,
    BranchInfo,
    BranchQueued,
    BranchRetrying,
    BranchStarted,
    BranchToken,
    RunStarted,
)
from fanout.tui import fmt
from fanout.tui.app import FanoutApp
from fanout.tui.entry import run_tui
from fanout.wiring.launch import RunOptions
from fanout.tui.pacer import Pacer
from fanout.tui.screens.run import RunScreen
from fanout.tui.feeds import Feed
from fanout.tui.md_render import split_blocks
from tuikit import (STARTED_AT, Tap, Work, aiter_events, drawn, finish_research, notifications, numbered_lines,
                    research_midstream, screen_text, wait_for)

SIZE = (130, 40)
ROOT = Path(__file__).resolve().parents[2]


def bench_script(name: str):
    """A benchmark of bench/ (a script, not part of the package), imported from its file."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def one_branch(bid: str = "solo") -> list:
    return [
        RunStarted(0.0, "20260101-000000-solo01", "solo", "parallel", "custom", "m", {}, (BranchInfo(bid, "Solo"),),
                   "concat", STARTED_AT),
        BranchQueued(0.0, bid),
        BranchStarted(0.0, bid),
    ]


async def open_feed(pilot, events) -> RunScreen:
    screen = RunScreen(Feed(events, label=""))
    await pilot.app.push_screen(screen)
    await wait_for(pilot, lambda: screen.panes and all(p.is_mounted for p in screen.pane_list()), what="panes")
    return screen


async def test_model_text_is_shown_as_text_never_interpreted():
    nasty = ("Look: [bold red]not markup[/] \x1b[31mred?\x1b[0m \x1b]52;c;aGk=\x07 [link=http://x]x[/link] **bold** "
             "<b>tag</b>\n\n<div>html block</div>\n")
    tokens = [BranchToken(0.1 + i * 0.01, "solo", w + " ") for i, w in enumerate(nasty.split(" "))]
    app = FanoutApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_feed(pilot, aiter_events(one_branch() + tokens))
        await drawn(pilot, screen)
        await pilot.pause()
        pane = screen.panes["solo"]
        assert "\x1b" not in pane.markdown.source and "[bold red]not markup[/]" in pane.markdown.source
        text = screen_text(app)
        assert "[bold red]not markup[/]" in text and "[link=http://x]x[/link]" in text
        assert "<b>tag</b>" in text and "<div>html block</div>" in text  # HTML is text too, not dropped
        assert "\x1b" not in text and "52;c;" not in text


async def test_a_burst_then_the_end_loses_no_token():
    """Thousands of tokens with no chance to draw in between, then the branch ends: the pane shows all of it."""
    words = [f"w{i}{' ' if i % 17 else chr(10) + chr(10)}" for i in range(3000)]
    tokens = [BranchToken(0.001 * i, "solo", w) for i, w in enumerate(words)]
    tap = Tap()
    app = FanoutApp()
    async with app.run_test(size=SIZE) as pilot:
        tap.push(*one_branch(), *tokens[:1500])
        screen = await open_feed(pilot, tap.events())
        await wait_for(pilot, lambda: screen.state.branches["solo"].tokens_seen == 1500, what="half the tokens")
        await drawn(pilot, screen)
        pane = screen.panes["solo"]
        assert pane.view == "live" and pane.markdown.source == "".join(words[:1500])  # the live stream keeps up
        tap.push(*tokens[1500:], BranchDone(3.0, "solo", "".join(words)))
        await wait_for(pilot, lambda: screen.state.branches["solo"].status == "done", what="the end")
        await drawn(pilot, screen)
        assert pane.settled and pane.markdown.source == "".join(words)


async def test_a_restarted_stream_starts_its_pane_over():
    tap = Tap()
    app = FanoutApp()
    async with app.run_test(size=SIZE) as pilot:
        tap.push(*one_branch(), BranchToken(0.1, "solo", "first try "), BranchToken(0.2, "solo", "cut"))
        screen = await open_feed(pilot, tap.events())
        await wait_for(pilot, lambda: screen.state.branches["solo"].tokens_seen == 2, what="tokens")
        await drawn(pilot, screen)
        tap.push(BranchRetrying(0.3, "solo", 1, 0.5, "stalled", restart=True), BranchStarted(0.8, "solo", 2),
                 BranchToken(0.9, "solo", "second try"))
        await wait_for(pilot, lambda: screen.state.branches["solo"].attempt == 2, what="the second attempt")
        await drawn(pilot, screen)
        assert screen.panes["solo"].markdown.source == "second try"


async def test_a_streaming_pane_follows_until_the_user_scrolls_up_and_again_at_the_bottom():
    tap = Tap()
    more = numbered_lines()

    app = FanoutApp()
    async with app.run_test(size=(100, 40)) as pilot:
        tap.push(*one_branch(), *more(80))
        screen = await open_feed(pilot, tap.events())
        await wait_for(pilot, lambda: screen.state.branches["solo"].tokens_seen == 80, what="tokens")
        await drawn(pilot, screen)
        pane = screen.panes["solo"]
        scroll, doc = pane.scroll, pane.markdown
        # Reaching the bottom takes the next frame's layout, which pilot.pause() does not wait for.
        await wait_for(pilot, lambda: scroll.max_scroll_y > 0 and scroll.scroll_y == scroll.max_scroll_y,
                       what="the pane at the bottom")
        assert scroll.following
        tap.push(*more(4))
        await wait_for(pilot, lambda: screen.state.branches["solo"].tokens_seen == 84, what="a few more tokens")
        await drawn(pilot, screen)
        await wait_for(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y, what="still at the bottom")
        assert doc.pad > 0  # followed, it grows in steps: blank rows above, its last line at the bottom
        assert "line 83" in screen_text(app)  # the newest line on show

        def top_line() -> int:  # the document's line at the top of the view
            return round(scroll.scroll_y) - doc.pad

        scroll.scroll_to(y=doc.pad + 5, animate=False)  # the user scrolls up to read
        await pilot.pause()
        assert not scroll.following
        tap.push(*more(40))
        await wait_for(pilot, lambda: screen.state.branches["solo"].tokens_seen == 124, what="more tokens")
        await drawn(pilot, screen)
        await pilot.pause()
        assert doc.pad == 0  # a reader who scrolled up sees no blank rows
        assert top_line() == 5 and scroll.max_scroll_y > 5  # left where the user put it
        shown = screen_text(app)
        assert doc.lines[5].text.strip() in shown and "line 123" not in shown

        scroll.scroll_to(y=scroll.max_scroll_y - 1, animate=False)  # back near the bottom: following again
        await pilot.pause()
        assert scroll.following
        tap.push(*more(40))
        await wait_for(pilot, lambda: screen.state.branches["solo"].tokens_seen == 164, what="yet more tokens")
        await drawn(pilot, screen)
        await wait_for(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y, what="following to the bottom again")


async def test_a_followed_streaming_document_lays_out_the_screen_once_a_step_not_once_a_render(monkeypatch):
    # Each new height of a document lays out the whole screen; with twenty panes streaming that was a quarter of
    # the event loop (py-spy, bench/tui_stream.py 20 x 100). Scrolled up, the reader gets the exact height: the control.
    tap = Tap()
    more = numbered_lines()

    app = FanoutApp()
    async with app.run_test(size=(100, 40)) as pilot:
        tap.push(*one_branch(), *more(40))
        screen = await open_feed(pilot, tap.events())
        pane = screen.panes["solo"]
        scroll, doc = pane.scroll, pane.markdown
        sent = 40

        work = Work(monkeypatch)

        async def grow(batches: int) -> int:
            """Stream `batches` renders of two more lines each; how many screen layouts they cost."""
            nonlocal sent
            layouts = work.counts["layouts"]
            for _ in range(batches):
                tap.push(*more(2))
                sent += 2
                await wait_for(pilot, lambda: screen.state.branches["solo"].tokens_seen == sent, what="tokens")
                await drawn(pilot, screen)
                await wait_for(pilot, lambda: f"line {sent - 1}" in doc.lines[-1].text, what="the render")
                await pilot.pause()
            return work.counts["layouts"] - layouts

        await drawn(pilot, screen)
        await wait_for(pilot, lambda: scroll.max_scroll_y > 0 and scroll.scroll_y == scroll.max_scroll_y,
                       what="the pane at the bottom")
        followed = await grow(20)  # 80 rows: two steps of the height (each laid out twice: the view, its scroll)
        await wait_for(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y, what="still at the bottom")
        assert f"line {sent - 1}" in screen_text(app)  # every render was shown
        assert followed <= 6, followed

        scroll.scroll_to(y=doc.pad + 2, animate=False)  # the reader scrolls up: exact height from now on
        await pilot.pause()
        read = await grow(10)
        assert doc.pad == 0 and read >= 10, read  # the control: a layout for every render


async def test_unfocused_streaming_panes_show_their_last_lines_as_plain_text():
    app = FanoutApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_feed(pilot, aiter_events(research_midstream()))
        await drawn(pilot, screen)
        security = screen.panes["security"]
        assert not security.reading and security.view == "tail"
        lines = security.tail.visible_lines(*security.tail.content_size)
        assert lines and lines[-1].plain.strip().endswith("now drive")


def test_the_pacer_spreads_redraws_over_ticks():
    class FakePane:
        def __init__(self) -> None:
            self.dirty, self.last_flush, self.flushes = True, 0.0, 0
            self.on_screen, self.reading, self.has_focus, self.ended, self.settled = True, False, False, False, False
            self.is_mounted, self.wants_doc = True, False

        async def flush(self, now, cache=None, look=None, force=False):
            self.dirty, self.last_flush = False, now
            self.flushes += 1

    panes = [FakePane() for _ in range(20)]
    now = [10.0]
    pacer = Pacer(lambda: panes, clock=lambda: now[0])
    asyncio.run(pacer.tick())
    assert sum(p.flushes for p in panes) == 5  # 20 panes, each at most every PERIOD: a quarter per 25 ms tick
    for p in panes:
        p.dirty = True
    asyncio.run(pacer.tick())
    assert sum(p.flushes for p in panes) == 10 and max(p.flushes for p in panes) == 1  # the longest waiting first


def test_badges_say_what_the_branch_is_doing():
    info = BranchInfo("security", "Security", ("hardware",))
    b = BranchState(info)
    assert fmt.badge(b, 0).label == "waiting on hardware"
    b.status = "queued"
    assert fmt.badge(b, 0).label == "queued"
    b.status, b.retry_at, b.retry_delay, b.retry_reason = "retrying", 1.0, 2.5, "429 rate limited"
    assert fmt.badge(b, 1.2).label == "retrying in 3 s · 429"
    b.status, b.cached = "done", True
    assert fmt.badge(b, 0).label == "cached"
    b.status, b.error, b.skipped = "failed", "skipped: an earlier branch failed", True
    assert fmt.badge(b, 0).kind == "skipped"


def test_long_answers_are_cut_into_block_groups_never_inside_a_fence_or_a_list():
    text = ("intro\n\n" + "```python\n" + "x = 1\n\n" * 50 + "```\n\n" + "para\n\n" * 200
            + "- item\n\n  its second paragraph\n\n" * 100 + "    indented code\n\n" * 50 + "end\n")
    pieces = split_blocks(text, 200)
    assert "".join(pieces) == text and len(pieces) > 5
    assert all(p.count("```") % 2 == 0 for p in pieces)
    assert all(p[:1] not in "- " for p in pieces)  # never a list item, a continuation or indented code first
    # Groups depend only on the text before their end: a growing stream keeps its earlier groups as they were.
    grown = split_blocks(text + "more words " * 300, 200)
    assert grown[: len(pieces) - 1] == pieces[:-1]


async def test_the_keymap_remaps_bindings_and_the_palette_lists_every_action():
    app = FanoutApp(replay_events=finish_research(research_midstream()), replay_speed=0, keymap={"zoom": "f5"})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.finished.is_set(), what="replay")
        screen = app.screen
        await drawn(pilot, screen)
        await pilot.press("z")
        assert screen.maximized is None
        await pilot.press("f5")
        assert screen.maximized is not None
        await pilot.press("escape")
        titles = {c.title for c in app.get_system_commands(screen)}
        assert {"Zoom", "Copy", "Export .md", "Export .json", "Next", "Previous", "History"} <= titles
        assert "Run again" not in titles  # a replay is read-only
        export = next(c for c in app.get_system_commands(screen) if c.title == "Export .json")
        export.callback()
        await pilot.pause()
        assert any("Exported to" in n for n in notifications(app))


def test_run_tui_reports_bad_input_before_taking_the_screen(capsys):
    assert run_tui(RunOptions(recipe="no-such-recipe"), start=True) == 2
    assert "unknown recipe" in capsys.readouterr().err
    assert run_tui(RunOptions(), start=False, replay_id="20990101-000000-none00") == 2
    assert "no session" in capsys.readouterr().err


def test_the_benchmark_runs_short_and_loses_nothing(capsys):
    main = bench_script("tui_stream").main
    assert main(["--panes", "4", "--rate", "50", "--seconds", "1"]) == 0
    out = capsys.readouterr().out
    assert "4 of 4 panes show exactly the text sent" in out and "loop lag p99" in out
