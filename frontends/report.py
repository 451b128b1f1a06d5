"""A finished (or interrupted) run as a Markdown report or one JSON document."""

from __future__ import annotations

import dataclasses
from typing import Any

from fanout.core.text import strip_controls
from fanout.frontends.state import RunState


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
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
                **({"answer": b.result.get("answer")} if "answer" in b.result else {}),
                **({"json": b.result["json"]} if "json" in b.result else {}),
                **({"flagged": b.result["flagged"]} if "flagged" in b.result else {}),
                "metrics": dataclasses.asdict(b.metrics) if b.metrics else None,
            }
        )
    a = state.aggregate
    return {
        "session_id": s.session_id if s else "",
        "recipe": s.recipe if s else "",
        "strategy": s.strategy if s else "",
        "provider": s.provider if s else "",
        "model": s.model if s else "",
        "inputs": dict(s.inputs) if s else {},
        "status": state.status,
        "error": state.done.error if state.done else "",
        "branches": branches,
        "aggregate": {
            "method": a.method,
            "status": a.status,
            "text": strip_controls(a.text),
            "failed": list(a.failed),
            "result": a.result,
            "error": a.error,
            "metrics": dataclasses.asdict(a.metrics) if a.metrics else None,
        },
        "metrics": dataclasses.asdict(state.metrics) if state.metrics else None,
        # Resumed (`fanout resume`): what the session was, and the branches taken from it as they were.
        **({"resumed": {"previous": state.resumed.previous, "kept": list(state.resumed.kept)}}
           if state.resumed else {}),
        "session_saved": not unsaved,
        **({"session_error": unsaved} if unsaved else {}),
    }


def metrics_table(state: RunState) -> str:
    rows = ["| branch | status | ttft | latency | tokens in/out | cost | retries |", "|---|---|---|---|---|---|---|"]
    entries = [(b.title, b.status + (" (kept)" if b.kept else " (cached)" if b.cached else ""), b.metrics) for b in state.branch_list()]
    if state.aggregate.metrics:
        entries.append((f"aggregate ({state.aggregate.method})", state.aggregate.status, state.aggregate.metrics))
    for title, status, m in entries:
        if m is None:
            rows.append(f"| {title} | {status} | - | - | - | - | - |")
            continue
        tokens = f"{fmt_tokens(m.input_tokens, m.tokens_estimated)} / {fmt_tokens(m.output_tokens, m.tokens_estimated)}"
        retries = f"{m.retries}" + (f" ({m.throttles}× 429, {m.backoff:.1f} s)" if m.retries else "")
        rows.append(
            f"| {title} | {status} | {fmt_seconds(m.ttft)} | {fmt_seconds(m.latency)} | {tokens} | "
            f"{fmt_cost(m.cost)} | {retries} |"
        )
    return "\n".join(rows)


def run_summary(state: RunState) -> str:
    m = state.metrics
    if m is None:
        return "The run did not finish."
    est = " (estimated)" if m.tokens_estimated else ""
    return (
        f"wall {fmt_seconds(m.wall)} · sum of calls {fmt_seconds(m.branch_sum)} · speed-up {m.speedup:.2f}× · "
        f"critical path {fmt_seconds(m.critical_path)} ({' → '.join(m.critical_path_ids)}) · "
        f"tokens {m.input_tokens + m.output_tokens}{est} · cost {fmt_cost(m.cost)} · calls {m.calls} · "
        f"retries {m.retries} · throttles {m.throttles}"
        + (f" · cached {m.cached} (saved {m.saved_tokens} tokens)" if m.cached else "")
        + _price_note(state)
    )


def _price_note(state: RunState) -> str:
    models = unpriced_models(state)
    if not models:
        return ""
    return (f"\n\nCost unknown: no price is known for {', '.join(models)} (genai-prices has none; set "
            "`[providers.NAME.prices]` in the config to price it).")


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
    failed = [b for b in state.branch_list() if b.status in ("failed", "cancelled")]
    if failed:
        parts.append("**Failed branches:** " + "; ".join(f"{b.title} (`{b.id}`): {strip_controls(b.error)}" for b in failed))
    a = state.aggregate
    parts.append(f"## Result ({a.method})")
    parts.append(strip_controls(a.text).strip() or f"_{a.error or 'no result'}_")
    items = a.result.get("items")
    if items and a.method != "concat":
        rows = ["| item | answer |", "|---|---|"]
        rows += [f"| {strip_controls(v['item'])[:80]} | {v['answer'] if v['answer'] is not None else '_' + (v['error'] or 'unreadable') + '_'} |"
                 for v in items.values()]
        counts = a.result.get("counts") or {}
        parts.append("### Per item\n\n" + "\n".join(rows)
                     + ("\n\n" + " · ".join(f"{k}: {n}" for k, n in counts.items()) if counts else ""))
    parts.append("## Metrics")
    parts.append(metrics_table(state))
    parts.append(run_summary(state))
    if a.method != "concat":
        parts.append("## Branches")
        for b in state.branch_list():
            parts.append(f"### {b.title}")
            parts.append(strip_controls(b.text).strip() or f"_{b.error or 'no output'}_")
    return "\n\n".join(p for p in parts if p) + "\n"
