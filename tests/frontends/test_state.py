"""The one fold: facts front ends show are computed here from events, not guessed from text in a widget."""

from __future__ import annotations

from fanout.frontends.state import FAILED, RunState
from fanout.strategies.events import AggregateDone, AggregateStarted, BranchFailed, BranchInfo, RunStarted


def started() -> RunStarted:
    return RunStarted(0.0, "s1", "demo", "hybrid", "p", "m", {}, (BranchInfo("a", "A"), BranchInfo("b", "B")),
                      "synthesize", 0.0)


def test_skipped_comes_from_the_event_not_the_error_text():
    state = RunState()
    state.apply(started())
    state.apply(BranchFailed(1.0, "a", "the server said no"))
    state.apply(BranchFailed(1.5, "b", "any wording at all", skipped=True))
    assert state.branches["a"].status == FAILED and not state.branches["a"].skipped
    assert state.branches["b"].skipped


def test_the_aggregate_span_is_folded_from_its_events():
    state = RunState()
    state.apply(started())
    assert (state.aggregate.started, state.aggregate.ended) == (None, None)
    state.apply(AggregateStarted(2.0, "synthesize"))
    assert (state.aggregate.started, state.aggregate.ended) == (2.0, None)
    state.apply(AggregateDone(3.5, "synthesize", "merged"))
    assert (state.aggregate.started, state.aggregate.ended) == (2.0, 3.5)
