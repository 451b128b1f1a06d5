"""The app under stress, on real runs against the loopback server: the terminal resized while tokens stream (down
to 40x12 and back), 200 branches in one run, and model text that is hard to lay out (wide characters, emoji,
right-to-left text, very long lines, no newlines). Nothing crashes, nothing is lost, the layout stays usable."""

from __future__ import annotations

from scripted import task_of

from fanout.core.text import strip_controls
from fanout.devserver import default_text
from fanout.stores import sessions
from fanout.strategies.events import BranchDone
from fanout.tui.screens.run import RunScreen
from fanout.tui.widgets.pane_grid import PaneGrid
from test_tui_live import live_app, run_screen
from tuikit import drawn, screen_text, wait_for

SIZE = (140, 44)
SMALL = (40, 12)


async def settled(pilot, screen: RunScreen, timeout: float = 60) -> None:
    await wait_for(pilot, screen.finished.is_set, timeout=timeout, what="the end of the run")
    await drawn(pilot, screen)
    await pilot.pause()


def recorded(screen: RunScreen) -> dict[str, str]:
    session = sessions.load(screen.state.started.session_id)
    return {e.branch: e.text for e in session.events if isinstance(e, BranchDone)}


def assert_usable(app, screen: RunScreen) -> None:
    """The focused pane is on screen, inside the terminal, with room for text; the screen renders."""
    width, height = app.size
    pane = screen.focused_pane()
    assert pane is not None and pane.on_screen, "no pane on screen"
    region = pane.region
    assert region.right <= width and region.bottom <= height, (region, app.size)
    assert region.height >= 3 and region.width >= 20, region
    assert screen_text(app).strip()


def assert_nothing_lost(screen: RunScreen) -> None:
    texts = recorded(screen)
    assert set(texts) == set(screen.panes)
    for bid, pane in screen.panes.items():
        assert pane.text == texts[bid]
        assert pane.shown_text == strip_controls(texts[bid]), bid


async def test_resizing_while_streaming(loopback):
    loopback.token_interval, loopback.tokens = 0.02, 80  # about 1.6 s of tokens a branch
    app = live_app(loopback)
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_screen(pilot)
        await wait_for(pilot, lambda: any(b.chunks for b in screen.state.branches.values()), what="tokens")
        for size in (SMALL, (80, 24), SMALL, (41, 13), SIZE, SMALL):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
            assert app.size == size
            assert screen.query_one(PaneGrid).compact == (size[1] < 30)  # a small terminal: list + one pane
            assert_usable(app, screen)
        assert screen.running, "the run ended before the resizes: nothing was resized while streaming"
        await pilot.resize_terminal(*SIZE)
        await settled(pilot, screen)
        assert screen.state.status == "ok"
        assert_nothing_lost(screen)
        assert_usable(app, screen)
        await pilot.resize_terminal(*SMALL)  # and a finished run at the smallest size
        await pilot.pause(0.1)
        assert_usable(app, screen)


async def test_two_hundred_branches_in_one_run(loopback, tmp_path):
    items = ", ".join(f'"item {n}"' for n in range(200))
    recipe = tmp_path / "wide.toml"
    recipe.write_text(f'name = "wide"\nstrategy = "parallel"\nprompt = "Say something about {{item}}."\n'
                      f'[[branches]]\nid = "b"\ntitle = "Part"\nitems = [{items}]\n[aggregate]\nkind = "concat"\n')
    app = live_app(loopback, recipe=str(recipe), concurrency=50)
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_screen(pilot)
        await settled(pilot, screen, timeout=120)
        assert screen.state.status == "ok" and len(screen.panes) == 200
        assert screen.query_one(PaneGrid).compact  # 200 panes do not fit: the list beside one pane
        assert_nothing_lost(screen)
        for index in (0, 137, 199):  # any pane can be reached and shown
            screen.focus_pane(index)
            await pilot.pause(0.05)
            assert screen.current == index and list(screen.panes.values())[index].on_screen
            assert_usable(app, screen)
        await pilot.press("p")
        await pilot.pause(0.05)
        assert screen.current == 198


HARD = [
    "漢字かな交じり文と全角の句読点、" * 40,  # wide characters, no spaces, no newline
    "👩‍👩‍👧‍👦 family 🏳️‍🌈 flag 🇯🇵 keycap 1️⃣ skin 👍🏽 " * 30,  # emoji and joiner sequences
    "שלום עולם مرحبا بالعالم ‏mixed‎ עם English באמצע " * 30,  # right-to-left, with direction marks
    "x" * 20_000,  # one very long line
    "e\u0301\u0308 combining a\u0338 " * 200,  # combining marks
]


async def test_hard_text_is_shown_whole_and_the_layout_holds(loopback):
    def responder(req) -> str:
        for n, title in enumerate(("Hardware", "Software", "Commercial", "Security", "Academic")):
            if title in task_of(req.prompt):
                return HARD[n]
        return default_text(req.prompt, "m", 12)

    loopback.responder = responder
    app = live_app(loopback, strategy="parallel", max_tokens=100_000)  # the server stops at max_tokens words
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_screen(pilot)
        await settled(pilot, screen)
        assert screen.state.status == "ok"
        assert_nothing_lost(screen)
        assert sorted(screen.panes[b].text for b in screen.panes) == sorted(HARD)
        text = screen_text(app)
        assert "漢字" in text and "שלום" in text
        for index in range(len(screen.panes) + 1):  # every pane focused (Markdown view), at both sizes
            for size in (SIZE, SMALL):
                await pilot.resize_terminal(*size)
                screen.focus_pane(index)
                await pilot.pause(0.05)
                await drawn(pilot, screen)
                assert_usable(app, screen)
        zoomed = screen.panes["software"]
        screen.focus_pane(1)
        await pilot.press("z")
        await pilot.pause(0.1)
        assert screen.maximized is zoomed and zoomed.shown_text == strip_controls(HARD[1])
