"""A finished (or interrupted) run as a Markdown report or one JSON document."""

from __future__ import annotations

import dataclasses
from typing import Any

from fanout.core.text import strip_controls
from fanout.frontends import sources_text
from fanout.frontends.quality import Quality
from fanout.frontends.state import PlanState, RunState
from fanout.strategies.events import BranchMetrics, RunMetrics


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 60:  # a provider batch's wait, a long embedded run
        return f"{value / 60:.1f} min"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


UNKNOWN = "—"


def fmt_cost(value: float | None) -> str:
    """A cost in USD; an unknown one (no price for the model) is "—", never "$0", which reads as free."""
    if value is None:
        return UNKNOWN
    return f"${value:.4f}" if value else "$0"


def unpriced_models(state: RunState) -> list[str]:
    """The models whose calls in this run had no known price."""
    calls = [b.metrics for b in state.branch_list()] + [state.aggregate.metrics]
    return sorted({m.model or "?" for m in calls if m is not None and m.cost is None})


def fmt_tokens(count: int, estimated: bool) -> str:
    return f"~{count}" if estimated else str(count)


def fmt_latency(m: BranchMetrics) -> str:
    """A call's latency; a cache hit's is not one (no call was made): it says so, with what the call once took."""
    if m.cached:
        return f"cached (took {fmt_seconds(m.cached_latency)})" if m.cached_latency is not None else "cached"
    return fmt_seconds(m.latency)


def fmt_concurrency(m: RunMetrics) -> str:
    """The calls under way at once on average (sum of calls ÷ wall), or why there is no figure: never one computed
    from cache hits or from a run with no result."""
    if m.concurrency is not None:
        return f"{m.concurrency:.2f}×"
    if m.cached:
        return "not measured (cached calls)"
    return "none (every branch failed)"


def plain_fields(metrics: BranchMetrics) -> dict[str, Any]:
    """A call's metrics as a dict: `dataclasses.asdict` without the deep copies its plain values never need."""
    return {f.name: getattr(metrics, f.name) for f in dataclasses.fields(metrics)}


def to_json(state: RunState, *, unsaved: str = "") -> dict[str, Any]:
    """`unsaved`: why the run's session could not be saved ("" when it was)."""
    s = state.started
    branches = []
    for b in state.branch_list():
        branches.append(
            {
                "id": b.id,
                "title": b.title,
                "status": b.status,
                "text": strip_controls(b.text),
                "cached": b.cached,
                **({"kept": True} if b.kept else {}),
                "error": strip_controls(b.error),
                "group": b.info.group,
                "wave": b.info.wave,
                **({"stage": b.info.stage} if b.info.stage else {}),
                **({"answer": b.result.get("answer")} if "answer" in b.result else {}),
                **({"json": b.result["json"]} if "json" in b.result else {}),
                **({"flagged": b.result["flagged"]} if "flagged" in b.result else {}),
                **sources_text.branch_json(state, b),
                "metrics": plain_fields(b.metrics) if b.metrics else None,
            }
        )
    a = state.aggregate
    p = state.plan
    plan = None if p is None else {
        **wave_json(p),
        "reused": p.reused,
        "waves": [wave_json(w) for w in state.waves],  # the first is the plan itself
        **({"stopped": {"waves": state.stopped.waves, "reason": strip_controls(state.stopped.reason)}}
           if state.stopped else {}),
    }
    return {
        "session_id": s.session_id if s else "",
        "recipe": s.recipe if s else "",
        "strategy": s.strategy if s else "",
        "provider": s.provider if s else "",
        "model": s.model if s else "",
        "inputs": dict(s.inputs) if s else {},
        "status": state.status,
        "error": state.done.error if state.done else "",
        **({"plan": plan} if plan is not None else {}),
        "branches": branches,
        "aggregate": {
            "method": a.method,
            "status": a.status,
            "text": strip_controls(a.text),
            "failed": list(a.failed),
            "result": a.result,
            **({"flagged": a.result["flagged"]} if "flagged" in a.result else {}),
            **sources_text.aggregate_json(state),
            "error": a.error,
            "metrics": plain_fields(a.metrics) if a.metrics else None,
        },
        **sources_text.run_json(state),
        "metrics": {**dataclasses.asdict(state.metrics), "quality": state.quality.as_dict()} if state.metrics else None,
        # Resumed (`fanout resume`): what the session was, and the branches taken from it as they were.
        **({"resumed": {"previous": state.resumed.previous, "kept": list(state.resumed.kept)}}
           if state.resumed else {}),
        "session_saved": not unsaved,
        **({"session_error": unsaved} if unsaved else {}),
    }


def wave_json(p: PlanState) -> dict[str, Any]:
    """A wave's planner as the JSON document has it: the plan (wave 1), or a follow-up plan."""
    return {
        "status": p.status,
        "text": strip_controls(p.text),
        "branches": list(p.planned),
        "warnings": [strip_controls(w) for w in p.warnings],
        "error": strip_controls(p.error),
        "metrics": plain_fields(p.lane.metrics) if p.lane.metrics else None,
    }


def metrics_table(state: RunState) -> str:
    rows = ["| branch | status | ttft | latency | tokens in/out | cost | retries |", "|---|---|---|---|---|---|---|"]
    planners = {w.lane.id: w for w in state.waves}
    entries = []
    for b in state.lanes():  # each wave's planner before its branches
        if (w := planners.get(b.id)) is not None and w.lane is b:
            shared = " (made once, shared)" if w.reused else ""
            entries.append((b.id, b.status + (" (cached)" if b.cached else "") + shared, b.metrics))
        else:
            entries.append((b.title, b.status + (" (kept)" if b.kept else " (cached)" if b.cached else ""), b.metrics))
    if state.aggregate.metrics:
        entries.append((f"aggregate ({state.aggregate.method})", state.aggregate.status, state.aggregate.metrics))
    for title, status, m in entries:
        if m is None:
            rows.append(f"| {title} | {status} | - | - | - | - | - |")
            continue
        tokens = f"{fmt_tokens(m.input_tokens, m.tokens_estimated)} / {fmt_tokens(m.output_tokens, m.tokens_estimated)}"
        retries = f"{m.retries}" + (f" ({m.throttles}× 429, {m.backoff:.1f} s)" if m.retries else "")
        rows.append(
            f"| {title} | {status} | {'batch' if m.batch else '-' if m.cached else fmt_seconds(m.ttft)} | "
            f"{fmt_latency(m)} | {tokens} | "
            f"{fmt_cost(m.cost)} | {retries} |"
        )
    return "\n".join(rows)


def run_summary(state: RunState) -> str:
    m = state.metrics
    if m is None:
        return "The run did not finish."
    est = " (estimated)" if m.tokens_estimated else ""
    path = (f" · critical path {fmt_seconds(m.critical_path)} ({' → '.join(m.critical_path_ids)})"
            if m.critical_path is not None else "")
    summary = (
        f"wall {fmt_seconds(m.wall)} · sum of calls {fmt_seconds(m.calls_sum)} · concurrency {fmt_concurrency(m)}{path} · "
        f"tokens {m.input_tokens + m.output_tokens}{est} · cost {fmt_cost(m.cost)} · calls {m.calls} · "
        f"retries {m.retries} · throttles {m.throttles}"
        + _price_note(state)
    )
    if m.cached:
        one = m.cached == 1
        took = (f"{'it' if one else 'they'} took {fmt_seconds(m.cached_latency)}{'' if one else ' in all'} when made; "
                if m.cached_latency else "")  # unknown in sessions recorded before it was kept
        summary += (
            f"\n\n**Timings come {'partly' if m.calls else 'entirely'} from the cache:** {m.cached} "
            f"{'call was' if one else 'calls were'} served from it ({took}{m.saved_tokens} tokens saved), so the wall "
            "time is not a measurement and no concurrency or critical path is given. `--cache refresh` (or `fanout "
            "bench`, which never uses the cache) measures the run."
        )
    return summary


def _price_note(state: RunState) -> str:
    models = unpriced_models(state)
    if not models:
        return ""
    return (f"\n\nCost unknown: no price is known for {', '.join(models)} (genai-prices has none; set "
            "`[providers.NAME.prices]` in the config to price it).")


def fmt_share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


OVERLAP_MATRIX = "each row's findings that the column's branch also found"
OVERLAP_PAIRS = "the pairs where one branch's findings were most found by the other, highest first"


def quality_summary(q: Quality) -> str:
    contradictions = "no contradictions heading" if q.contradictions is None else f"contradictions flagged {q.contradictions}"
    summary = f"findings {q.findings} · distinct {q.distinct} · redundancy {fmt_share(q.redundancy)} · {contradictions}"
    if q.sources:
        c = q.citations
        unverified = f" (unverified: {', '.join(f'[{n}]' for n in c['unverified'])})" if c["unverified"] else ""
        summary += (f" · sources {q.sources}, {fmt_share(q.shared_sources)} found by two or more branches · "
                    f"citations {c['cited']}, verified {c['verified']}{unverified}")
    return summary


def overlap_table(q: Quality) -> str:
    """Row A, column B: the share of A's findings that B also found; for a batch, its most-overlapping pairs."""
    if isinstance(q.overlap, list):
        return pairs_table(q.overlap)
    ids = list(q.overlap)
    if len(ids) < 2:
        return ""
    rows = ["| found by → | " + " | ".join(ids) + " | findings |", "|---" * (len(ids) + 2) + "|"]
    for a in ids:
        cells = ["—" if a == b else fmt_share(q.overlap[a].get(b)) for b in ids]
        rows.append(f"| {a} | " + " | ".join(cells) + f" | {q.per_branch.get(a, 0)} |")
    return "\n".join(rows)


def pairs_table(pairs: list[dict[str, Any]]) -> str:
    if not pairs:
        return ""
    rows = ["| branch | found by | share of its findings |", "|---|---|---|"]
    rows += [f"| {p['branch']} | {p['found_by']} | {fmt_share(p['share'])} |" for p in pairs]
    return "\n".join(rows)


def quality_section(q: Quality) -> str:
    table = overlap_table(q)
    what = OVERLAP_PAIRS if isinstance(q.overlap, list) else OVERLAP_MATRIX
    return "## Quality\n\n" + quality_summary(q) + (f"\n\nOverlap: {what}.\n\n" + table if table else "")


def plan_section(state: RunState) -> str:
    """The planned angles (with what each waits for) and every warning about the plan; in a run of several
    waves, each wave's, and why no more were planned."""
    p = state.plan
    assert p is not None
    lines = ["## Plan" + (" (made once, shared by every strategy)" if p.reused else "")]
    several = len(state.waves) > 1 or state.stopped is not None
    for w in state.waves:
        if several:
            lines.append(f"### Wave {w.wave} ({'the plan' if w.wave == 1 else 'follow-up plan'})")
        lines += _planned_lines(state, w)
    if state.stopped is not None:
        s = state.stopped
        lines.append(f"The waves stopped after wave {s.waves}: {strip_controls(s.reason)}.")
    return "\n".join(lines)


def _planned_lines(state: RunState, w: PlanState) -> list[str]:
    lines = [f"_No plan: {strip_controls(w.error)}_"] if w.error else []
    for bid in w.planned:
        b = state.branches.get(bid)
        if b is not None:
            after = f" — after {', '.join(b.info.after)}" if b.info.after else ""
            lines.append(f"- `{b.id}`: {strip_controls(b.title)}{after}")
    return lines + [f"- **warning:** {strip_controls(w)}" for w in w.warnings]


def to_markdown(state: RunState, *, unsaved: str = "") -> str:
    s = state.started
    head = f"# {s.recipe}: {s.strategy} on {s.provider}/{s.model}" if s else "# fanout run"
    parts = [head, f"Session `{s.session_id}` · status **{state.status}**" if s else ""]
    if unsaved:
        parts.append(f"> **The session was not saved** ({strip_controls(unsaved)}): it cannot be replayed or resumed.")
    if state.resumed:
        r = state.resumed
        parts.append(f"Resumed a {r.previous} session: {len(r.kept)} branch(es) kept as they were, the rest run again.")
    if state.done and state.done.error:
        parts.append(f"> {strip_controls(state.done.error)}")
    if state.plan is not None:
        parts.append(plan_section(state))
    failed = [b for b in state.branch_list() if b.status.unsuccessful]
    if failed:
        parts.append("**Failed branches:** " + "; ".join(f"{b.title} (`{b.id}`): {strip_controls(b.error)}" for b in failed))
    a = state.aggregate
    parts.append(f"## Result ({a.method})")
    if a.result.get("flagged"):
        parts.append(f"> **Flagged:** {strip_controls(str(a.result['flagged']))}")
    if unverified := sources_text.unverified_line(state):
        parts.append(f"> {unverified}")
    parts.append(strip_controls(a.text).strip() or f"_{a.error or 'no result'}_")
    items = a.result.get("items")
    if items and a.method != "concat":
        rows = ["| item | answer |", "|---|---|"]
        rows += [f"| {strip_controls(v['item'])[:80]} | {v['answer'] if v['answer'] is not None else '_' + (v['error'] or 'unreadable') + '_'} |"
                 for v in items.values()]
        counts = a.result.get("counts") or {}
        parts.append("### Per item\n\n" + "\n".join(rows)
                     + ("\n\n" + " · ".join(f"{k}: {n}" for k, n in counts.items()) if counts else ""))
    parts.append(sources_text.sources_section(state))
    parts.append("## Metrics")
    parts.append(metrics_table(state))
    parts.append(run_summary(state))
    parts.append(quality_section(state.quality))
    if a.method != "concat":
        parts.append("## Branches")
        for b in state.branch_list():
            parts.append(f"### {b.title}")
            parts.extend(f"_{sources_text.md_text(note)}_" for note in sources_text.branch_notes(state, b))
            parts.append(strip_controls(state.sourcing.text_of(b)).strip() or f"_{b.error or 'no output'}_")
    return "\n\n".join(p for p in parts if p) + "\n"
