"""The table of past sessions, one row per session: the same columns for `fanout sessions` and the app's history."""

from __future__ import annotations

import time

from fanout.stores.sessions import Summary

from .report import fmt_cost, fmt_seconds

COLUMNS = ("when", "recipe", "strategy", "branches", "status", "wall", "tokens", "cost", "session", "provider/model")


def when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def row(s: Summary) -> tuple[str, ...]:
    return (
        when(s.created),
        s.recipe,
        s.strategy,
        str(s.branches),
        s.status,
        fmt_seconds(s.wall),
        "-" if s.tokens is None else str(s.tokens),
        "-" if s.cost is None else fmt_cost(s.cost),
        s.id,
        f"{s.provider}/{s.model}",
    )


def render_text(summaries: list[Summary]) -> str:
    """Plain aligned columns for a terminal or a pipe; every cell is data, printed as it is."""
    rows = [COLUMNS] + [row(s) for s in summaries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    numeric = {"branches", "wall", "tokens", "cost"}
    lines = []
    for r in rows:
        cells = [c.rjust(w) if COLUMNS[i] in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
