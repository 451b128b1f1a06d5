"""The app on documents: a section per pane, and the aggregate's reduce steps joining as panes and timeline rows
while the run goes."""

from __future__ import annotations

from fanout.frontends.state import DONE
from fanout.tui.widgets.timeline import LABEL, Timeline
from fanout.wiring.launch import RunOptions, prepare
from fanout.tui.app import FanoutApp
from test_tui_live import SIZE, finished, run_screen
from tuikit import badge, wait_for

REPORT = " ".join(["w" * 99] * 10)  # 1,000 characters in 10 chunks: six reduce panes, few redraws


def wide_recipe(tmp_path) -> str:
    branches = "\n".join(f'[[branches]]\nid = "b{i}"\ntitle = "angle {i}"\n' for i in range(1, 9))
    path = tmp_path / "wide.toml"
    path.write_text(f'name = "wide"\nstrategy = "parallel"\nprompt = "Report on {{title}}."\n\n{branches}\n'
                    '[aggregate]\nkind = "synthesize"\nprompt = "Synthesise the reports."\nmax_input_chars = 3500\n')
    return str(path)


async def test_reduce_steps_join_as_panes_and_timeline_rows(loopback, tmp_path):
    loopback.responder = lambda req: REPORT
    opts = RunOptions(recipe=wide_recipe(tmp_path), base_url=loopback.base_url + "/v1", model="m", cache="off")
    app = FanoutApp(opts, prepared=prepare(opts))
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_screen(pilot)
        await wait_for(pilot, screen.finished.is_set, timeout=90, what="the end of 15 calls")  # a loaded machine
        screen = await finished(pilot, screen)
        assert screen.state.status == "ok"
        steps = [bid for bid in screen.panes if bid.startswith("aggregate.r")]
        assert steps == ["aggregate.r1.1", "aggregate.r1.2", "aggregate.r1.3", "aggregate.r1.4", "aggregate.r2.1",
                         "aggregate.r2.2"]
        for bid in steps:
            pane = screen.panes[bid]
            screen.focus_pane(list(screen.panes).index(bid))  # shown (a compact layout shows one at a time)
            await wait_for(pilot, lambda: badge(pane) == "done", what=f"{bid} shown done")
            assert pane.shown_text == REPORT and screen.state.branches[bid].status == DONE
        # the aggregator stays the last pane, after the steps that fed it
        assert screen.pane_list()[-1] is screen.aggregate_pane
        timeline = screen.query_one(Timeline)
        assert sum(1 for label, _ in timeline.rows() if label.startswith("aggregate.r")) == 6
        drawn_labels = {row[:LABEL] for row in timeline.lanes.text() if "…r" in row[:LABEL]}
        assert len(drawn_labels) == 6  # cut to fit, yet each step tells itself apart ("aggreg…r1.1")


async def test_a_document_given_as_a_file_gets_one_pane_per_section(loopback, tmp_path):
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes\n\n## Water\n\nThe spring ran dry.\n\n## Harvest\n\nWheat was down.\n\n## School\n\n"
                   "It reopened.\n")
    def respond(req):
        if "Merge these section summaries" in req.prompt:
            return "- merged [Water]"
        return "- summary of " + req.prompt.split("Section ")[1].split("\n")[0]

    loopback.responder = respond
    opts = RunOptions(recipe="summarize", base_url=loopback.base_url + "/v1", model="m", cache="off",
                      inputs={"doc": f"@{doc}"})
    app = FanoutApp(opts, prepared=prepare(opts))
    async with app.run_test(size=SIZE) as pilot:
        screen = await finished(pilot)
        assert list(screen.panes) == ["section.1", "section.2", "section.3"]
        assert screen.panes["section.2"].shown_text == "- summary of 2 of 3: Harvest"
        assert badge(screen.aggregate_pane) == "done"
        assert screen.aggregate_pane.shown_text == "- merged [Water]"


async def test_the_form_takes_at_path_and_reports_a_bad_one_naming_it(loopback, tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("## One\n\nfirst\n\n## Two\n\nsecond\n")
    loopback.responder = lambda req: "- ok"
    app = FanoutApp(RunOptions(recipe="summarize", base_url=loopback.base_url + "/v1", model="m", cache="off"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        box = app.screen.query_one("#input-0")
        box.value = f"@{tmp_path}/missing.md"
        await pilot.press("ctrl+r")
        await pilot.pause()
        error = app.screen.query_one("#setup-error")
        assert error.display and f"{tmp_path}/missing.md: no such file (for input 'doc')" in str(error.render())
        box.value = f"@{doc}"
        await pilot.press("ctrl+r")
        screen = await finished(pilot)
        assert screen.state.started.inputs["doc"] == doc.read_text()
        assert list(screen.panes) == ["section.1", "section.2"]
