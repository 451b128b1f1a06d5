"""A run prepared from options, executed in-process without a session: its folded state and its events."""

from __future__ import annotations

from fanout.frontends.state import RunState
from fanout.strategies.events import Event
from fanout.wiring.launch import RunOptions, execute, prepare


async def run_unrecorded(options: RunOptions) -> tuple[RunState, list[Event]]:
    prepared = prepare(options)
    state, events = RunState(), []
    try:
        await execute(prepared, [state.apply, events.append], record=False)
    finally:
        await prepared.aclose()
    return state, events
