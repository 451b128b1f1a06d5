"""The compare screen's figures: the cursor picks the overlap matrix shown, and its Markdown export holds
everything the screen draws."""

from __future__ import annotations

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
        await pilot.press("down", "down")
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
    for figure in ("8000ms", "4200ms", "6000ms", "67 %", "38 %", "$0.0138"):
        assert figure in shown and figure in md
