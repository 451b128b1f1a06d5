"""`fanout resume ID`: a session that did not finish well goes on where it stopped, in the same session.

Every branch that finished is taken from the session as it was (its text, answer and metrics: never asked
again, whatever the cache holds); only the others run, then the aggregate. A planned session keeps its plan:
the planner is not asked again, so the branches are the ones the session began; a session of several waves keeps
each follow-up plan it made and goes on planning where its waves stopped. The recipe, inputs, strategy and
flags are the session's own, so the run is the one that was started.
"""

from __future__ import annotations

from dataclasses import fields, replace

from fanout.core.errors import UserError
from fanout.stores import sessions
from fanout.strategies import recipe as recipes
from fanout.strategies.events import (BatchSubmitted, BranchDone, BranchFailed, BranchMetrics, Event, PlanDone,
                                     RunStarted)
from fanout.strategies.plan import PlanError

from .launch import Prepared, RunOptions, prepare

_FLAGS = {f.name for f in fields(RunOptions)} - {"recipe", "inputs"}


def finished_branches(events: list[Event]) -> dict[str, BranchDone]:
    """The branches that ended done in any part of the session (a kept branch is done again in each later part),
    in the run's order of branches (the recipe's, then the plan's), not the order they happened to finish."""
    done = {e.branch: e for e in events if isinstance(e, BranchDone)}
    order: dict[str, int] = {}
    for e in events:
        if isinstance(e, (RunStarted, PlanDone)):
            for info in e.branches:
                order.setdefault(info.id, len(order))
    return dict(sorted(done.items(), key=lambda item: order.get(item[0], len(order))))


def recipe_source(recipe: str, session_id: str) -> str:
    """Where the session's recipe came from, when that file is still there: its relative paths (an items file,
    such as the shipped tickets.txt) are read from beside it again. The recipe itself is the session's copy."""
    try:
        return str(recipes.resolve(recipe))
    except recipes.RecipeError:
        return f"session {session_id} (its recipe)"


def waiting_in_batches(events: list[Event]) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """The provider batches the session submitted that still hold unfinished branches: each such branch's batch,
    and every branch each of those batches holds. A branch cancelled while it waited (ctrl+c, a kill) is still
    in its batch; one that ended, done or failed, is not."""
    pending: dict[str, str] = {}
    holds: dict[str, tuple[str, ...]] = {}
    for e in events:
        if isinstance(e, BatchSubmitted):
            holds[e.batch] = e.branch_ids
            pending.update({b: e.batch for b in e.branch_ids})
        elif isinstance(e, BranchDone) or isinstance(e, BranchFailed) and not e.cancelled:
            pending.pop(e.branch, None)
    return pending, {b: holds[b] for b in set(pending.values())}


def kept_follow_ups(events: list[Event]) -> dict[int, tuple[str, BranchMetrics]]:
    """The follow-up plans the session made, by wave (the latest of each, where a resumed part made one again):
    the waves go on where they stopped, and a follow-up planner that gave no usable plan is asked again."""
    kept: dict[int, tuple[str, BranchMetrics]] = {}
    for e in events:
        if isinstance(e, PlanDone) and e.wave > 1:
            if e.error:
                kept.pop(e.wave, None)
            else:
                kept[e.wave] = (e.text, e.metrics or BranchMetrics())
    return kept


def prepare_resume(session_id: str, cache: str | None = None, budget: float | None = None,
                   batch: str | None = None, *, search: str | None = None,
                   sources: list[str] | None = None, depth: int | None = None) -> Prepared:
    """`cache`, `budget`, `batch`, `search`, `sources` and `depth`: flags given to `fanout resume`, over the
    session's own. `budget` is what the resumed part may spend (the kept branches were paid for). A provider batch
    the session submitted is waited in again, never submitted twice. `--depth` takes a planned session further
    than it was asked."""
    session = sessions.load(session_id)
    if session.status == "ok":
        raise UserError(f"session {session_id!r} finished ok: nothing to resume (`fanout replay {session_id}`)")
    header = session.header
    if not header.recipe_data:
        raise UserError(f"session {session_id!r} keeps no recipe: it cannot be resumed")
    declared = recipes.from_data(header.recipe_data, recipe_source(header.recipe, session_id))
    # The session keeps the recipe's own sources among its flags, as absolute paths (found from any folder).
    declared = replace(declared, search=replace(declared.search, sources=()))
    flags = {k: v for k, v in header.options.items() if k in _FLAGS}
    given = {"cache": cache, "budget": budget, "batch": batch, "search": search, "sources": sources or None,
             "depth": depth}
    flags.update({k: v for k, v in given.items() if v is not None})
    # The session keeps the inputs' text (a file's content, not its @path): escaped, so none is read as a path.
    inputs = {k: "@" + v if v.startswith("@") else v for k, v in header.inputs.items()}
    options = RunOptions(recipe=header.recipe, inputs=inputs, **flags)
    options.strategy = header.strategy or options.strategy
    prepared = prepare(options, declared)
    planned = next((e for e in reversed(session.events) if isinstance(e, PlanDone) and not e.error and e.wave == 1),
                   None)
    if planned is not None and prepared.planned:
        try:
            prepared = prepared.reusing_plan(planned.text, planned.metrics or BranchMetrics())
        except PlanError:  # a plan the recipe no longer accepts: the planner is asked again
            pass
    last_t = max((e.t for e in session.events), default=0.0)
    batches = prepared.spec.batch
    if batches is not None:
        pending, holds = waiting_in_batches(session.events)
        batches = replace(batches, pending=pending, requests=holds)
    spec = replace(
        prepared.spec,
        batch=batches,
        session_id=header.id,
        kept=finished_branches(session.events),
        clock_offset=last_t,
        resumed_from=session.status,
        kept_follow_ups=kept_follow_ups(session.events),
    )
    return replace(prepared, spec=spec, resumes=session.path)
