"""A grounded run in the app: a pane shows its searches as they happen, its answer with the run's [n] marks and
its sources under it (title, site); the aggregate's pane lists the run's sources with the branches that found
each and marks the unverified citations. SVG snapshots of both, and the same read as text."""

from __future__ import annotations

from test_tui_snapshots import show_events
from tuikit import STARTED_AT, aiter_events, drawn, screen_text, wait_for

from fanout.strategies.citations import CITES
from fanout.strategies.events import (AggregateDone, AggregateStarted, BranchDone, BranchInfo, BranchMetrics,
                                      BranchQueued, BranchSearch, BranchSources, BranchStarted, BranchToken, Cited,
                                      RunDone, RunMetrics, RunStarted, Source)
from fanout.tui.app import FanoutApp
from fanout.tui.feeds import Feed
from fanout.tui.screens.run import RunScreen

MOON = "The Moon's gravity raises two tidal bulges. Spring tides come at new and full moon."
PAGES = (Source("web", "https://tides.example/moon", "How the Moon drives tides", "May 2, 2025"),
         Source("web", "https://tides.example/sun", "The Sun and the tides"),
         Source("web", "https://coast.example/range", "Tidal range along coasts"))


def started() -> list:
    infos = (BranchInfo("moon", "The Moon's pull"), BranchInfo("coasts", "Coastal ranges"),
             BranchInfo("notes", "Our own notes"))
    return [
        RunStarted(0.0, "20260101-000000-src001", "research", "parallel", "anthropic", "claude-haiku-4-5",
                   {"topic": "tides"}, infos, "synthesize", STARTED_AT),
        BranchSources(0.01, "notes", "Our own notes on tides",
                      (Source("file", "/home/me/notes/tides.md", "Tide notes", "lines 1-12"),)),
        *(e for bid in ("moon", "coasts", "notes") for e in (BranchQueued(0.02, bid), BranchStarted(0.03, bid))),
        BranchSearch(0.1, "moon", "how the Moon drives tides"),
        BranchSearch(0.4, "moon", "how the Moon drives tides", "done", 3),
        BranchSearch(0.5, "moon", "spring tides new moon"),
        BranchSearch(0.6, "coasts", "largest tidal range", "failed", error="too_many_requests"),
        BranchSearch(0.7, "coasts", "largest tidal range coasts"),
    ]


def moon_done() -> list:
    text = MOON + " Ranges are largest in the Bay of Fundy."
    cites = (Cited(PAGES[0].ref, PAGES[0].title, "The Moon's gravity pulls the oceans.", 0, 43),
             Cited("https://unsearched.example/fundy", "A page no search returned", "", 85, len(text)))
    return [
        BranchSearch(0.8, "moon", "spring tides new moon", "done", 2),
        *(BranchToken(0.9, "moon", w + " ") for w in text.split()),
        BranchDone(1.0, "moon", text, BranchMetrics(latency=1.0, output_tokens=20, searches=2, cost=0.02),
                   "end_turn", sources=PAGES, citations=cites),
    ]


def mid_run() -> list:
    return [*started(), *moon_done(), BranchToken(1.1, "notes", "Our notes say the tides [1] ")]


def finished_run() -> list:
    synthesis = "The Moon drives two bulges [2]. Our notes agree [1]. The Bay of Fundy [5]. Invented [42]."
    return [
        *mid_run(),
        BranchSearch(1.2, "coasts", "largest tidal range coasts", "done", 1),
        BranchDone(1.3, "coasts", "Fundy has the largest range.", BranchMetrics(latency=1.2, output_tokens=6),
                   sources=(PAGES[2],), citations=()),
        BranchDone(1.4, "notes", "Our notes say the tides [1] follow the Moon [3].",
                   BranchMetrics(latency=1.3, output_tokens=9)),
        AggregateStarted(1.5, "synthesize"),
        AggregateDone(2.0, "synthesize", synthesis, result={CITES: True},
                      metrics=BranchMetrics(latency=0.5, output_tokens=20)),
        RunDone(2.0, "ok", RunMetrics(wall=2.0, output_tokens=55, searches=4)),
    ]


def test_a_pane_shows_its_searches_its_marked_answer_and_its_sources(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(150, 44), run_before=show_events(mid_run()))


def test_the_aggregate_lists_the_runs_sources_and_flags_an_invented_citation(snap_compare):
    assert snap_compare(FanoutApp(), terminal_size=(150, 48), run_before=show_events(finished_run()))


async def test_the_same_as_text():
    app = FanoutApp()
    async with app.run_test(size=(150, 48)) as pilot:
        screen = RunScreen(Feed(aiter_events(finished_run()), label=""))
        await app.push_screen(screen)
        await screen.finished.wait()
        await drawn(pilot, screen)
        await wait_for(pilot, lambda: "unverified citations" in screen_text(app), what="the aggregate's sources")
        text = screen_text(app)
    assert '⌕ searched "spring tides new moon": 2 pages' in text  # the searches, as they went
    assert "⌕ search \"largest tidal range\" failed:" in text
    assert "Ranges are largest in the Bay of Fundy. [5]" in text  # web citations as the run's numbers
    assert "[2] How the Moon drives tides · tides.example" in text  # a pane's sources: title, site
    assert "[1] Tide notes · tides.md" in text
    assert "⚠ unverified: [5] unsearched.example: a page" in text
    assert "⚠ unverified: [3] tides.example: not one of" in text  # the notes cite what they were not given
    # the aggregate's list: every source with the branches that found it, and what it cited of nothing read
    assert "⚠ unverified citations: [5] (no branch retrieved it), [42] (no source has this number)" in text
    assert "[4] Tidal range along coasts · coast.example — moon, coasts" in text


async def test_the_forms_web_search_and_sources_reach_the_run(tmp_path, monkeypatch):
    from textual.widgets import Input, Select

    from fanout.wiring.launch import RunOptions

    monkeypatch.setenv("FANOUT_HOME", str(tmp_path / "home"))
    app = FanoutApp(RunOptions(sources=["notes/"]))
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#sources")), what="the form")
        form = app.screen
        assert form.query_one("#sources", Input).value == "notes/"  # the flags fill the form
        assert form.gather().search is None  # "the recipe's"
        form.query_one("#search", Select).value = "web"
        form.query_one("#sources", Input).value = "notes/, docs/*.md ,"
        await pilot.pause()
        options = form.gather()
    assert options.search == "web" and options.sources == ["notes/", "docs/*.md"]
