"""The run screen: a pane per branch, the aggregator, the timeline and the totals.

Live runs and replays take the same path: every event goes through `feed()`, which folds it into the
`RunState` and marks what changed; the `Pacer` draws. A replay is therefore exactly what was seen live.
"""

from __future__ import annotations

import asyncio

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal

from fanout.core.errors import UserError
from fanout.wiring.launch import Prepared, execute
from fanout.core.text import strip_controls
from fanout.stores.sessions import replay
from fanout.frontends.state import RunState
from fanout.strategies.control import RunControl
from fanout.strategies.events import (
    AggregateToken,
    BranchDone,
    BranchFailed,
    BranchRetrying,
    BranchToken,
    Event,
    PlanDone,
    PlanStarted,
    RunDone,
    RunStarted,
    BranchAdded,
    WavesDone,
)
from fanout.strategies.recipe import AGGREGATE_ID, planner_id

from .. import exporting, fmt, gc_freeze
from ..compat import QuietFocusScreen
from ..messages import Compare, ResumeSession, StartRun
from ..md_render import Look, look_for
from ..pacer import TICK, Pacer
from ..feeds import Feed, LiveRun, Replay, Source
from ..widgets.aggregate_pane import AggregatePane
from ..widgets.branch_pane import BranchPane
from ..widgets.budget_bar import BudgetBar
from ..widgets.pane_grid import PaneGrid, Panes
from ..widgets.run_header import RunHeader
from ..widgets.run_totals import RunTotals
from ..widgets.stream_pane import StreamPane
from ..widgets.timeline import Timeline
from ..widgets.key_bar import KeyBar

CHROME = 0.25  # seconds between redraws of the header, timeline, totals and countdowns
SHORT, NARROW = 24, 80  # below these many rows (columns), the timeline and totals (the branch list) give way
LANES = 10  # the timeline's rows at most (it scrolls beyond)
ROOMY = 30  # from this many rows on, the totals are never cut
TOTALS_WIDTH = 28  # the totals' column (fanout.tcss #totals)


class RunScreen(QuietFocusScreen):
    PANES = Binding.Group("pane", compact=True)
    BINDINGS = [
        Binding("r", "rerun", "Run again", id="rerun", tooltip="Run the recipe again on the same inputs"),
        Binding("x", "cancel_run", "Cancel run", id="cancel_run"),
        Binding("k", "cancel_branch", "Cancel branch", id="cancel_branch", tooltip="Cancel the focused branch"),
        Binding("R", "retry_branch", "Retry", id="retry_branch",
                tooltip="Retry the focused failed branch while the run goes on; once it is over, resume the "
                        "session: only what did not finish runs again"),
        Binding("s", "switch_strategy", "Strategy", id="switch_strategy",
                tooltip="Run again on the same inputs under another strategy"),
        Binding("m", "compare", "Compare", id="compare", tooltip="Run all three strategies and compare them"),
        Binding("z", "zoom", "Zoom", id="zoom", tooltip="Zoom the focused pane to the full screen, or back"),
        Binding("n", "next_pane", "Next", id="next_pane", group=PANES, tooltip="The next pane"),
        Binding("p", "previous_pane", "Previous", id="previous_pane", group=PANES, tooltip="The previous pane"),
        Binding("c", "copy", "Copy", id="copy", tooltip="Copy the focused pane's text to the clipboard"),
        Binding("e", "export_markdown", "Export .md", id="export_markdown", tooltip="The run as a Markdown report"),
        Binding("j", "export_json", "Export .json", id="export_json", tooltip="The session as JSON (fanout import)"),
        Binding("escape", "back", "Back", id="back", tooltip="Back from the zoomed pane, or to the screen before"),
    ]
    # What the key bar keeps when it is narrow, most important first (binding ids).
    KEYS_FIRST = ("back", "retry_branch", "cancel_run", "rerun", "compare", "zoom", "next_pane",
                  "cancel_branch", "switch_strategy", "export_markdown", "copy", "export_json")

    def __init__(self, source: Source, *, mode: str = "") -> None:
        super().__init__()
        self.source = source
        self.state = RunState()
        self.finished = asyncio.Event()  # set when the run (or replay) is over, however it ended
        self.engine: RunControl | None = None
        self.grid = PaneGrid(self.state, self.clock, self.panes_room, id="main")
        self.pacer = Pacer(self.grid.mounted_panes, look=self.markdown_look)
        self.timeline = Timeline(self.state, self.clock, id="timeline")
        self.totals = RunTotals(self.state, self.clock, id="totals")
        budget = source.prepared.spec.budget if isinstance(source, LiveRun) else None
        self.budget_bar = BudgetBar(self.state, self.clock, budget.limit, id="budget-bar") \
            if budget is not None else None
        self._look: Look | None = None
        self._t0: float | None = None
        self._chrome_dirty = True
        label = source.label if isinstance(source, (Replay, Feed)) else ""
        self.mode = ", ".join(x for x in (mode, label + (", read-only" if label else "")) if x)
        self.header = RunHeader(self.state, self.clock, mode=self.mode, id="run-header")
        self.bottom = Horizontal(id="bottom")
        self.comparison: str | None = None  # the comparison this run ended (its installed screen's name)

    # --- layout ------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.header
        if self.budget_bar is not None:
            yield self.budget_bar
        yield self.grid
        with self.bottom:
            yield self.timeline
            yield self.totals
        yield KeyBar()

    def on_mount(self) -> None:
        gc_freeze.reset()  # reclaim the previous screen's garbage now, before tokens flow
        self.set_interval(TICK, self.pacer.tick, name="pacer")
        self.set_interval(CHROME, self._redraw_chrome, name="chrome")
        self._play()

    def markdown_look(self) -> Look:
        """How Markdown is rendered under the app's current theme (recomputed when the theme changes)."""
        app = self.app
        if self._look is None or self._look.name != app.theme:
            self._look = look_for(app.theme, app.theme_variables, app.current_theme.dark)
        return self._look

    def on_resize(self, event: events.Resize) -> None:
        """A small terminal keeps its rows and columns for the panes (see fanout.tcss)."""
        width, height = event.size
        self.set_class(height < SHORT, "-short")
        self.set_class(width < NARROW, "-narrow")

    @property
    def panes(self) -> Panes:
        """Lane id -> its pane, in lane order (the grid's; a pane is made when first asked for)."""
        return self.grid.panes

    @property
    def aggregate_pane(self) -> AggregatePane:
        return self.grid.aggregate

    def pane_list(self) -> list[StreamPane]:
        return self.grid.pane_list()

    # --- events in -----------------------------------------------------------------------------------------------

    def clock(self) -> float:
        """Run time now: the engine's clock for a live run, the recorded one (scaled) for a replay. Once the
        events stop (a finished run, a replay or feed that has ended), the time of the last event."""
        state = self.state
        if state.done is not None:
            return state.done.t
        if self._t0 is None or self.finished.is_set() or isinstance(self.source, Feed):
            return state.now
        speed = self.source.speed if isinstance(self.source, Replay) else 1.0
        if speed <= 0:
            return state.now
        return max(state.now, (asyncio.get_running_loop().time() - self._t0) * speed)

    def feed(self, event: Event) -> None:
        """Every event of the run, live or replayed. Cheap: it marks what to redraw, it draws nothing."""
        branch = self.state.apply(event)
        kind = type(event)
        if kind is BranchToken:  # the hot path: thousands a second
            if branch is not None and (pane := self.panes.made(branch.id)) is not None:
                pane.dirty = True
            return
        if kind is AggregateToken:
            self.aggregate_pane.dirty = True
            return
        self._chrome_dirty = True
        if kind is RunStarted or kind is PlanStarted or kind is PlanDone or kind is BranchAdded:  # the run grows
            if kind is RunStarted:
                self._t0 = asyncio.get_running_loop().time()
            self._add_lanes()
            if kind is PlanDone:
                self._plan_done(event)  # type: ignore[arg-type]
        elif kind is WavesDone:
            self.notify(strip_controls(f"Stopped after wave {event.waves}: {event.reason}"),  # type: ignore[attr-defined]
                        title="Waves", markup=False, timeout=10)
        elif branch is not None:
            pane = self.panes.made(branch.id)  # a pane not made yet is made from the run state when shown
            if pane is not None:
                pane.dirty = True
                if kind is BranchRetrying and event.restart:  # type: ignore[attr-defined]
                    pane.restart()
            if kind is BranchFailed:
                self.refresh_bindings()  # R retries it
            if kind is BranchDone and (branch.received or branch.cited):  # the run's sources were renumbered
                for other in self.grid.mounted_panes():
                    other.dirty = True
        else:
            agg = self.aggregate_pane
            agg.dirty = True
            if kind is BranchRetrying and getattr(event, "branch", "") == AGGREGATE_ID and event.restart:  # type: ignore[attr-defined]
                agg.restart()
            elif kind is RunDone:
                for pane in self.grid.mounted_panes():
                    pane.dirty = True
                self.refresh_bindings()

    def _add_lanes(self) -> None:
        """A pane per lane: when the run starts, the planner's when it starts, the planned branches' when it is done."""
        self.grid.sync()
        self._size_bottom()

    def _plan_done(self, event: PlanDone) -> None:
        """Every repair made to a wave's plan is said where the user looks; the report and the JSON keep them too.
        No first plan fails the run; no follow-up plan only ends the waves."""
        pane = self.panes.made(planner_id(event.wave))
        if pane is not None:
            pane.dirty = True
        title = "Plan" if event.wave == 1 else f"Wave {event.wave}"
        if event.error:
            self.notify(strip_controls(event.error)[:600], title="No plan" if event.wave == 1 else title,
                        severity="error" if event.wave == 1 else "warning", markup=False)
        for warning in event.warnings:
            self.notify(strip_controls(warning), title=title, severity="warning", markup=False, timeout=10)

    async def _redraw_chrome(self) -> None:
        self.grid.reflow()  # a finished answer rendered at a new width may need another height: cheap when not
        running = self.state.done is None and self.state.started is not None
        if not (self._chrome_dirty or running):
            return
        self._chrome_dirty = False
        self._size_bottom()
        self.timeline.redraw()
        for widget in (self.header, self.totals, self.grid.branch_list, self.budget_bar):
            if widget is not None:
                widget.refresh()  # no layout: their heights change only with the run's shape
        self.grid.branch_list.follow()
        if running:  # countdowns and running metrics lines move with the clock
            for pane in self.grid.mounted_panes():
                pane.dirty = True

    def bottom_rows(self) -> tuple[int, int]:
        """(the timeline's rows, the bottom's whole height): the lanes up to a cap (they scroll beyond), the axis
        and legend, the totals' lines; at most a third of a short screen, where the totals' last lines give way."""
        height, width = self.size.height, self.size.width
        if height < SHORT:
            return 0, 0
        timeline = self.timeline
        axis = 1 + len(timeline.axis.legend(max(1, width - TOTALS_WIDTH - 2)))
        lanes = len(self.state.lanes()) + (self.state.aggregate.started is not None)
        rows = max(1, min(lanes, LANES, max(2, height // 3 - 1 - axis)))
        totals = 1 + len(fmt.totals_lines(fmt.totals(self.state, self.clock())))
        whole = max(rows + axis, totals if height >= ROOMY else min(totals, height // 3)) + 1  # + its border
        return rows, whole

    def panes_room(self, compact: bool) -> int:
        """The rows the panes get: the screen less the header, the budget bar, the key bar and the bottom."""
        return max(0, self.size.height - 2 - (self.budget_bar is not None) - self.bottom_rows()[1])

    def _size_bottom(self) -> None:
        """The bottom's height from its content; a layout only when it changes."""
        rows, whole = self.bottom_rows()
        timeline = self.timeline
        if rows and (timeline.lanes.styles.height is None or timeline.lanes.styles.height.value != rows):
            timeline.lanes.styles.height = rows
        bottom = self.bottom
        if whole and (bottom.styles.height is None or bottom.styles.height.value != whole):
            bottom.styles.height = whole
            self.grid.call_after_refresh(self.grid.place_panes)

    # --- playing -------------------------------------------------------------------------------------------------

    @work(exclusive=True, group="run", exit_on_error=False)
    async def _play(self) -> None:
        try:
            if isinstance(self.source, LiveRun):
                await execute(self.source.prepared, [self.feed], on_engine=self._engine_ready,
                              on_store_error=self._store_error)
            elif isinstance(self.source, Replay):
                async for event in replay(self.source.events, self.source.speed):
                    self.feed(event)
            else:
                async for event in self.source.events:
                    self.feed(event)
        except UserError as err:
            self.notify(str(err), title="Cannot run", severity="error", markup=False)
        except Exception as err:  # noqa: BLE001 - the screen must outlive a run that breaks; say what broke
            self.log.error(err)
            self.notify(f"The run stopped: {type(err).__name__}: {err}", severity="error", markup=False)
        finally:
            self.engine = None
            self.finished.set()
            self._chrome_dirty = True
            self.refresh_bindings()

    def _store_error(self, message: str) -> None:
        self.notify(f"The session is not being saved: {message}", title="Session", severity="warning",
                    markup=False, timeout=10)

    def _engine_ready(self, engine: RunControl) -> None:
        self.engine = engine
        self.refresh_bindings()

    @property
    def live(self) -> bool:
        return isinstance(self.source, LiveRun)

    @property
    def running(self) -> bool:
        return not self.finished.is_set()

    # --- panes ---------------------------------------------------------------------------------------------------

    def focused_pane(self) -> StreamPane | None:
        node = self.focused
        while node is not None and not isinstance(node, StreamPane):
            node = node.parent
        if isinstance(node, StreamPane):
            return node
        return self.grid.pane_at(self.current) if self.panes else None  # not every pane made to find one

    def focus_pane(self, index: int) -> None:
        """Focus (and in the compact layout, show) the pane at `index`: branches in recipe order, then the aggregator."""
        self.grid.focus_pane(index)

    @property
    def current(self) -> int:
        return self.grid.current

    # --- actions -------------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """False: not on this screen (a replay is read-only); None: not now (the key sheet says so, the key bar
        leaves it out); True: it works now."""
        if action in ("rerun", "retry_branch", "switch_strategy", "compare", "cancel_run", "cancel_branch"):
            if not self.live:
                return False
            if action == "retry_branch":
                return True if self.failures() else None
            if action in ("cancel_run", "cancel_branch"):
                return True if self.running and self.engine is not None else None
            return None if self.running else True
        if action == "back":
            return True if self.maximized is not None or len(self.app.screen_stack) > 2 else None
        return True

    def failures(self) -> bool:
        """Something did not finish well: a branch to retry, or a session to resume."""
        return any(b.status.unsuccessful for b in self.state.lanes()) or self.state.aggregate.status == "failed" \
            or self.state.status in ("partial", "failed", "cancelled")

    def action_next_pane(self) -> None:
        self.focus_pane(self.current + 1)

    def action_previous_pane(self) -> None:
        self.focus_pane(self.current - 1)

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            pane = self.focused_pane()
            if pane is not None:
                pane.focus()
                self.maximize(pane, container=False)
        self.refresh_bindings()  # esc now goes back from the zoom, or no longer does

    def action_back(self) -> None:
        if self.maximized is not None:
            self.minimize()
            self.refresh_bindings()
        elif self.live and self.running:
            self.notify("The run is still going: cancel it first (x).", severity="warning")
        elif len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    def action_copy(self) -> None:
        pane = self.focused_pane()
        if pane is None:
            return
        text = strip_controls(pane.text)
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {len(text)} characters.", title="Clipboard")

    def action_cancel_run(self) -> None:
        if self.engine is not None:
            self.engine.cancel()
            self.notify("Cancelling the run…")

    def action_cancel_branch(self) -> None:
        pane = self.focused_pane()
        if self.engine is None or pane is None:
            return
        if pane.ended:
            self.notify("That pane has already finished.", severity="warning")
            return
        branch_id = pane.branch_id if isinstance(pane, BranchPane) else AGGREGATE_ID
        self.engine.cancel_branch(branch_id)
        self.notify(f"Cancelling {branch_id}…", markup=False)

    def _prepared(self) -> Prepared | None:
        return self.source.prepared if isinstance(self.source, LiveRun) else None

    def action_rerun(self) -> None:
        prepared = self._prepared()
        if prepared is not None and not self.running:
            self.post_message(StartRun(prepared.again()))

    def action_retry_branch(self) -> None:
        """While the run goes on: the focused failed branch runs again (those waiting for it wait for it).
        Once it is over: the session is resumed, so every branch that did not finish runs again, then the aggregate."""
        if self._prepared() is None:
            return
        if self.running:
            pane = self.focused_pane()
            if self.engine is None or not isinstance(pane, BranchPane):
                self.notify("Focus a failed branch's pane to retry it.", severity="warning")
                return
            why_not = self.engine.retry_branch(pane.branch_id)
            if why_not:
                self.notify(f"Cannot retry: {why_not}.", severity="warning", markup=False)
            else:
                self.notify(f"Retrying {pane.branch_id}…", markup=False)
            return
        if self.state.status == "ok":
            self.notify("Every branch finished: nothing to retry (r runs the recipe again).")
            return
        if self.state.started is not None:
            self.post_message(ResumeSession(self.state.started.session_id))

    def action_switch_strategy(self) -> None:
        prepared = self._prepared()
        if prepared is None or self.running:
            return
        from .strategy_picker import StrategyPicker

        def chosen(strategy: str | None) -> None:
            if strategy:
                self.post_message(StartRun(prepared.again(strategy)))

        self.app.push_screen(StrategyPicker(prepared.spec.strategy), chosen)

    def action_compare(self) -> None:
        prepared = self._prepared()
        if self.comparison is not None and self.app.is_screen_installed(self.comparison):
            # the comparison this run ended: shown again, not run again
            self.app.push_screen(self.comparison)
        elif prepared is not None and not self.running:
            self.post_message(Compare(prepared))

    def _export(self, writer) -> None:
        if self.state.started is None:
            self.notify("Nothing to export yet.", severity="warning")
            return
        try:
            path = writer(self.state)
        except OSError as err:
            self.notify(f"Export failed: {err}", severity="error", markup=False)
            return
        self.notify(f"Exported to {path}", title="Export", markup=False)

    def action_export_markdown(self) -> None:
        self._export(exporting.export_markdown)

    def action_export_json(self) -> None:
        self._export(exporting.export_json)
