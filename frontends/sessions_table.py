"""The table of past sessions, one row per session, a comparison's runs under its own row (with its verdict): the
same columns for `fanout sessions` and the app's history."""

from __future__ import annotations

import time

from fanout.stores.sessions import Summary

from .comparisons import Entry, Group, grouped, verdict
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


def run_rows(g: Group) -> list[tuple[str, ...]]:
    """The comparison's runs under its row, drawn as a tree: the plan (when made once), then each strategy."""
    out = []
    for i, s in enumerate(g.runs):
        branch = "└ " if i == len(g.runs) - 1 else "├ "
        cells = list(row(s))
        cells[0], cells[1], cells[2] = "", "", branch + ("plan" if s.plan_only else s.strategy)
        out.append(tuple(cells))
    return out


def rows(entries: list[Entry]) -> list[tuple[tuple[str, ...], str]]:
    """(cells, the session or comparison id) per line of the table, newest first."""
    out = []
    for e in entries:
        if isinstance(e, Group):
            out.append((row(e.summary()), e.id))
            out += [(cells, s.id) for cells, s in zip(run_rows(e), e.runs)]
        else:
            out.append((row(e), e.id))
    return out


def render_text(summaries: list[Summary]) -> str:
    """Plain aligned columns for a terminal or a pipe, each comparison's verdict under its runs; every cell is
    data, printed as it is."""
    entries = grouped(summaries)
    table = [(COLUMNS, "")] + rows(entries)
    widths = [max(len(r[i]) for r, _ in table) for i in range(len(COLUMNS))]
    numeric = {"branches", "wall", "tokens", "cost"}
    last_run = {e.runs[-1].id: e for e in entries if isinstance(e, Group)}  # the verdict goes under it
    lines = []
    for r, key in table:
        cells = [c.rjust(w) if COLUMNS[i] in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
        if key in last_run:
            indent = " " * (widths[0] + widths[1] + 4)
            lines.append(f"{indent}verdict: {verdict(last_run[key])}")
    return "\n".join(lines) + "\n"
