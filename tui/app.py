"""The fanout Textual app: it wires the screens together and owns what outlives one run screen
(the providers to close, the comparison of the three strategies). Drawing is the screens' business."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from fanout.core.errors import UserError
from fanout.frontends import comparisons
from fanout.wiring.judge import judge, task_of
from fanout.wiring import config as config_mod
from fanout.wiring.estimate import confirm_question, estimate
from fanout.wiring.launch import Prepared, RunOptions, prepare
from fanout.stores.sessions import load
from fanout.strategies.events import Event
from fanout.strategies.recipe import STRATEGIES

from . import gc_freeze
from .messages import Compare, Launch, OpenComparison, OpenReplay, ResumeSession, StartRun
from .screens.help import HelpSheet
from .screens.compare import CompareScreen
from .screens.confirm_spend import ConfirmSpend
from .screens.history import HistoryScreen
from .screens.run import RunScreen
from .feeds import LiveRun, Replay
from .screens.setup import SetupScreen


class FanoutApp(App[int]):
    CSS_PATH = "fanout.tcss"
    TITLE = "fanout"
    BINDINGS = [
        Binding("question_mark,f1", "help", "Keys", id="help", tooltip="Every key of this screen"),
        Binding("h", "history", "History", id="history", tooltip="Past runs: replay, resume"),
        Binding("ctrl+p", "command_palette", "Palette", id="palette", priority=True,
                tooltip="Every action, searchable"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(
        self,
        options: RunOptions | None = None,
        *,
        start: bool = False,
        prepared: Prepared | None = None,
        replay_id: str | None = None,
        replay_speed: float = 1.0,
        replay_events: list[Event] | None = None,
        keymap: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.options = options or RunOptions()
        self._start = start
        self._prepared = prepared
        self._replay_id = replay_id
        self._replay_speed = replay_speed
        self._replay_events = replay_events  # tests and the benchmark: a stream that never touched the disk
        self._user_keymap = dict(keymap or {})
        self._opened: dict[int, Prepared] = {}  # one per set of providers (`Prepared.again` shares them)
        self._kept_comparison: str | None = None  # the installed compare screen: escape does not destroy it

    def on_mount(self) -> None:
        if self._user_keymap:
            self.set_keymap(self._user_keymap)
        self.push_screen(SetupScreen(self.options))
        if self._replay_events is not None:
            self.show_run(RunScreen(Replay(self._replay_events, self._replay_speed)))
        elif self._replay_id:
            self.open_replay(self._replay_id, self._replay_speed)
        elif self._prepared is not None:
            self.start_run(self._prepared)
        elif self._start:
            self.launch(self.options)

    async def on_unmount(self) -> None:
        for prepared in self._opened.values():
            try:
                await prepared.aclose()
            except Exception:  # noqa: BLE001 - closing HTTP clients on the way out must not mask the exit
                pass
        gc_freeze.release()

    # --- runs --------------------------------------------------------------------------------------------------

    def launch(self, options: RunOptions) -> None:
        """From the form: check everything, then run; a bad input is reported on the form."""
        try:
            prepared = prepare(options)
        except UserError as err:
            if isinstance(self.screen, SetupScreen):
                self.screen.show_error(str(err))
            else:
                self.notify(str(err), title="Cannot run", severity="error", markup=False)
            return
        limit = config_mod.load().cost.confirm_above
        if limit is not None:  # [cost] confirm_above: asked first when the run may cost more
            self.confirm_then_start(prepared, limit)
            return
        self.start_run(prepared)

    @work(exclusive=True, group="confirm", exit_on_error=False)
    async def confirm_then_start(self, prepared: Prepared, limit: float) -> None:
        question = confirm_question(await estimate(prepared), limit)
        if question is not None and not await self.push_screen_wait(ConfirmSpend(question[0].upper() + question[1:]
                                                                                 + ". Run it?")):
            await prepared.aclose()
            return
        self.start_run(prepared)

    def start_run(self, prepared: Prepared):
        self._opened.setdefault(id(prepared.targets), prepared)
        return self.show_run(RunScreen(LiveRun(prepared)))

    def show_run(self, screen: RunScreen):
        while isinstance(self.screen, (HistoryScreen, CompareScreen)):
            self.pop_screen()
        if isinstance(self.screen, RunScreen):
            return self.switch_screen(screen)
        return self.push_screen(screen)

    def resume_session(self, session_id: str) -> None:
        """Go on with a session that did not finish well: only what did not finish runs, in the same session."""
        from fanout.wiring.resume import prepare_resume

        try:
            prepared = prepare_resume(session_id)
        except UserError as err:
            self.notify(str(err), title="Cannot resume", severity="error", markup=False)
            return
        self.start_run(prepared)

    def open_replay(self, session_id: str, speed: float = 1.0) -> None:
        try:
            session = load(session_id)
        except UserError as err:
            self.notify(str(err), title="Cannot replay", severity="error", markup=False)
            return
        self.show_run(RunScreen(Replay(session.events, speed)))

    def open_comparison(self, comparison: str) -> None:
        """A comparison kept in the sessions, on the compare screen again: read back from disk, nothing run."""
        group = comparisons.find(comparison)
        if group is None or not group.complete:
            self.notify(f"Comparison {comparison} did not finish: replay its runs instead.", title="Cannot compare",
                        severity="warning", markup=False)
            return
        self.push_screen(CompareScreen(comparisons.states(group)))

    @work(exclusive=True, group="compare", exit_on_error=False)
    async def compare(self, prepared: Prepared) -> None:
        """Each strategy in turn on the run screen (one at a time, so they do not slow each other down).

        A comparison of latency and calls means nothing if later strategies are answered from the cache the first
        one filled: with the cache in its default "use" mode, the comparison runs it in "refresh" mode (every call
        is made, and stored)."""
        if getattr(prepared.cache, "mode", "") == "use":
            try:
                prepared = prepare(replace(prepared.options, cache="refresh"))
            except UserError as err:
                self.notify(str(err), title="Cannot compare", severity="error", markup=False)
                return
            self._opened.setdefault(id(prepared.targets), prepared)
        prepared = prepared.comparing()  # its sessions are grouped in the history as one comparison
        if prepared.planned:  # planned once: every strategy answers the same question
            screen = RunScreen(LiveRun(prepared.planning()), mode="compare: the plan, made once")
            await self.show_run(screen)
            await screen.finished.wait()
            if screen.state.status != "ok":
                self.notify("Comparison stopped: no plan.", severity="warning")
                return
            prepared = prepared.with_plan(screen.state)
        states = []
        for index, strategy in enumerate(STRATEGIES, 1):
            screen = RunScreen(LiveRun(prepared.again(strategy)), mode=f"compare {index}/{len(STRATEGIES)}")
            await self.show_run(screen)
            await screen.finished.wait()
            if screen.state.status in ("cancelled", "running", "pending"):
                self.notify("Comparison stopped.", severity="warning")
                return
            states.append(screen.state)
        task = task_of(prepared.options)
        # The comparison refreshed the cache to time real calls; the judge uses it, so one judgement is paid once.
        options = replace(prepared.options, cache=None if prepared.options.cache == "refresh" else prepared.options.cache)

        async def judge_outputs(outputs: dict[str, str]) -> dict:
            return (await judge(outputs, task, options)).as_dict()

        await self.push_screen(self.keep_comparison(CompareScreen(states, judge=judge_outputs), screen))

    def keep_comparison(self, compare: CompareScreen, last: RunScreen) -> str:
        """Installed, the comparison outlives escape: `m` on the run it ended with reopens it, judgement and all,
        without running the three strategies again. One is kept: a new comparison lets the previous one go."""
        kept = self._kept_comparison
        if kept is not None and self.get_screen(kept) not in self.screen_stack:
            self.uninstall_screen(kept)
        self._kept_comparison = last.comparison = f"compare-{id(compare)}"
        self.install_screen(compare, last.comparison)
        return last.comparison

    # --- what the screens ask (tui.messages) ------------------------------------------------------------------

    def on_launch(self, message: Launch) -> None:
        self.launch(message.options)

    def on_start_run(self, message: StartRun) -> None:
        self.start_run(message.prepared)

    def on_resume_session(self, message: ResumeSession) -> None:
        self.resume_session(message.session_id)

    def on_open_replay(self, message: OpenReplay) -> None:
        self.open_replay(message.session_id, message.speed)

    def on_open_comparison(self, message: OpenComparison) -> None:
        self.open_comparison(message.comparison)

    def on_compare(self, message: Compare) -> None:
        self.compare(message.prepared)

    # --- app-wide actions ------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "history":  # not offered where it is already open
            return not isinstance(self.screen, HistoryScreen)
        return True

    def action_history(self) -> None:
        if not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpSheet):
            self.push_screen(HelpSheet(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key binding of the screen is also a command, so the palette lists all actions."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding, node = active.binding, active.node
            if not binding.description or binding.action in seen or binding.action == "quit":
                continue
            seen.add(binding.action)
            if node.check_action(binding.action.split("(")[0], ()) is not True:
                continue
            yield SystemCommand(
                binding.description,
                f"{binding.tooltip or binding.description} ({key})",
                lambda node=node, action=binding.action: self.call_later(node.run_action, action),
            )
