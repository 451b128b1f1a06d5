"""What the panes show of a run's sources: a branch's searches as they happen and its numbered sources under its
answer, the aggregate's list of every source with the branches that found it and its unverified citations. Plain
text lines from `RunState.sourcing` (the fold's, computed there once); titles and addresses are web or file text,
shown as text, never as markup."""

from __future__ import annotations

from fanout.core.text import shorten
from fanout.frontends.sources_text import clean, search_text, site, sources_of, why_unverified
from fanout.frontends.state import BranchState, RunState
from fanout.frontends.status import Status

SEARCHES_SHOWN = 3  # a pane shows its latest searches; the count says how many more there were
SOURCES_SHOWN = 6


class Shown:
    """A branch's text as a pane shows it: its final answer with its web citations as the run's [n] marks."""

    __slots__ = ("chunks", "final_text")

    def __init__(self, chunks: list[str], final_text: str) -> None:
        self.chunks, self.final_text = chunks, final_text


def marked(run: RunState, b: BranchState) -> str | None:
    """The answer with its citations marked, when that differs from the text as it came."""
    return run.sourcing.marked.get(b.id) if b.status == Status.DONE else None


def searches_text(b: BranchState) -> str:
    shown = b.searches[-SEARCHES_SHOWN:]
    lines = [f"⌕ {search_text(q)}" for q in shown]
    if len(b.searches) > len(shown):
        lines.insert(0, f"⌕ {len(b.searches) - len(shown)} earlier searches")
    return "\n".join(lines)


def entry(n: int, title: str, where: str, width: int = 60) -> str:
    return f"[{n}] {shorten(clean(title) or '(untitled)', width)} · {where}"


def branch_sources_text(run: RunState, b: BranchState) -> str:
    """Its sources, numbered as the run numbers them, and any citation of its that rests on none of them."""
    sources = sources_of(run, b.id)
    lines = [entry(x.n, x.title, site(x)) for x in sources[:SOURCES_SHOWN]]
    if len(sources) > SOURCES_SHOWN:
        lines.append(f"… {len(sources) - SOURCES_SHOWN} more sources")
    bad = [c for c in run.sourcing.citations.get(b.id, ()) if not c.verified]
    if bad:
        lines.append("⚠ unverified: " + "; ".join(f"[{c.n}] {why_unverified(run, c)}" for c in bad))
    return "\n".join(lines)


def run_sources_text(run: RunState) -> str:
    """Every source of the run with the branches that found it; the aggregate's unverified citations first."""
    s = run.sourcing
    lines = []
    if s.unverified:
        lines.append("⚠ unverified citations: " + ", ".join(
            f"[{n}] ({'no source has this number' if s.numbering.get(n) is None else 'no branch retrieved it'})"
            for n in s.unverified))
    for x in s.numbering.sources:
        found = ", ".join(x.branches) + ("" if x.retrieved else ", cited only")
        lines.append(f"{entry(x.n, x.title, site(x), 48)} — {found}")
    return "\n".join(lines)
