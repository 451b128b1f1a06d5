"""The form's estimate: what the run as filled in would cost, made again (on stand-ins, no call) a moment after
the inputs stop changing."""

from __future__ import annotations

import asyncio

from textual import work
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from fanout.core.errors import UserError
from fanout.frontends.report import fmt_cost
from fanout.wiring.estimate import estimate
from fanout.wiring.launch import RunOptions, prepare

SETTLE = 0.4  # seconds without a change before the estimate is made again


def describe(est) -> str:
    calls = f"{est.calls_min}–{est.calls}" if est.calls_min != est.calls else str(est.calls)
    tokens = ("~" if est.tokens_estimated else "") + f"{est.input_tokens:,}"
    cost = (f"{fmt_cost(est.cost_low)} to {fmt_cost(est.cost_high)}" if est.cost_high is not None
            else f"unknown (no price for {', '.join(est.unknown_prices)})")
    return f"Estimate: {calls} calls · {tokens} prompt tokens · at most {est.output_tokens_max:,} out · {cost}"


class EstimateLine(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._timer: Timer | None = None
        self._options: RunOptions | None = None
        self.made = 0  # estimates shown

    def request(self, options: RunOptions) -> None:
        """The form changed: estimate it once it has been still for a moment."""
        self._options = options
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(SETTLE, self._make)

    def _make(self) -> None:
        # Only for the form in sight: a form under a run screen would lay the app out for nobody (its screen asks
        # again when it is back).
        if self._options is not None and self.screen.is_current:
            self._estimate(self._options)

    @work(exclusive=True, group="estimate", exit_on_error=False)
    async def _estimate(self, options: RunOptions) -> None:
        """On the app's loop: the dry run yields between its steps like a run, so the form stays responsive
        (a thread would contend with the app for the interpreter instead)."""
        text = await estimate_text(options)
        if self.screen.is_current:
            self.update(Content(text))
            self.made += 1


async def estimate_text(options: RunOptions) -> str:
    try:
        # In a thread: preparing may wait on a child process (whether llama.cpp runs on this CPU, ~0.35 s) and
        # on reading files, which would stall the app's loop; the dry run itself stays on the loop.
        prepared = await asyncio.to_thread(prepare, options)
    except UserError:
        return ""  # the form says what is wrong when it is run
    try:
        return describe(await estimate(prepared))
    finally:
        await prepared.aclose()
