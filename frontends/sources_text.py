"""A run's sources and citations as text and JSON: what the report, the JSON document, the printer and the app
show of `RunState.sourcing` (computed there, once). Titles, URLs and queries come from the web or the user's files:
they are shown as text, controls stripped, never as markup or links."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from fanout.core.text import shorten, strip_controls
from fanout.strategies.citations import FILE, Checked, Numbered

from .state import BranchState, RunState, Search


def clean(text: str) -> str:
    """One line of web or file text, as plain text."""
    return " ".join(strip_controls(text).split())


def site(source: Numbered) -> str:
    """Where a source is, short: a page's host, a file's name."""
    if source.kind == FILE:
        return source.ref.rsplit("/", 1)[-1]
    return urlsplit(source.ref).hostname or source.ref


def shown_path(path: str) -> str:
    """A path as the report shows it: relative to the working folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") else rel


def where(source: Numbered) -> str:
    """A source's URL, or its path as shown."""
    return shown_path(source.ref) if source.kind == FILE else source.ref


def ref_field(kind: str, ref: str) -> dict[str, str]:
    return {"path" if kind == FILE else "url": clean(ref)}


def sources_of(state: RunState, branch_id: str) -> list[Numbered]:
    """A branch's sources: every page its searches returned, every passage it was given and every page it cited."""
    return [s for s in state.sourcing.numbering.sources if branch_id in s.branches]


# ---- JSON ------------------------------------------------------------------------------------------------------


def branch_json(state: RunState, b: BranchState) -> dict[str, Any]:
    """A branch's `sources`, `citations` and `searches` (present only in a run with sources)."""
    s = state.sourcing
    if not s.numbering.sources and not b.searches:
        return {}
    return {
        "sources": [{"n": x.n, **ref_field(x.kind, x.ref), "title": clean(x.title), "kind": x.kind}
                    for x in sources_of(state, b.id)],
        "citations": [citation_json(c) for c in s.citations.get(b.id, ())],
        "searches": [{"query": clean(q.query), "status": q.status, "found": q.found,
                      **({"error": clean(q.error)} if q.error else {})} for q in b.searches],
    }


def citation_json(c: Checked) -> dict[str, Any]:
    ref = ref_field(c.kind, c.ref) if c.kind else {}
    return {"n": c.n, **ref, "cited_text": strip_controls(c.cited_text), "start": c.start, "end": c.end,
            "verified": c.verified}


def run_json(state: RunState) -> dict[str, Any]:
    """The top level's `sources` (with the branches that found each) and the aggregate's checked `citations`."""
    s = state.sourcing
    if not s.numbering.sources:
        return {}
    return {"sources": [{"n": x.n, **ref_field(x.kind, x.ref), "title": clean(x.title), "kind": x.kind,
                         "branches": list(x.branches), "retrieved": x.retrieved} for x in s.numbering.sources]}


def aggregate_json(state: RunState) -> dict[str, Any]:
    aggregate = state.sourcing.aggregate
    return {} if aggregate is None else {"citations": [{"n": c.n, "verified": c.verified} for c in aggregate]}


# ---- Markdown and lines ----------------------------------------------------------------------------------------


def md_text(text: str) -> str:
    """Web or file text inside Markdown: plain, its markup characters escaped (no link, no emphasis, no HTML)."""
    return "".join("\\" + ch if ch in "\\`*_[]<>()#|!" else ch for ch in clean(text))


def source_line(x: Numbered) -> str:
    """`[n] title — url or path (branches)` for the report."""
    title = md_text(x.title) or "_untitled_"
    unread = "" if x.retrieved else " — cited, but no branch's search returned it"
    return f"[{x.n}] {title} — `{clean(where(x)).replace('`', '')}` ({', '.join(x.branches)}){unread}"


def unverified_line(state: RunState) -> str:
    """The aggregate's citations that rest on nothing a branch read, said plainly ("" when there are none)."""
    s = state.sourcing
    if not s.unverified:
        return ""
    why = []
    for n in s.unverified:
        source = s.numbering.get(n)
        why.append(f"[{n}] ({'no source has this number' if source is None else 'no branch retrieved it'})")
    return "**Unverified citations:** " + ", ".join(why)


def sources_section(state: RunState) -> str:
    s = state.sourcing
    if not s.numbering.sources:
        return ""
    lines = ["## Sources", *(f"- {source_line(x)}" for x in s.numbering.sources)]
    if unverified := unverified_line(state):
        lines += ["", unverified]
    return "\n".join(lines)


def search_text(q: Search) -> str:
    query = f'"{shorten(clean(q.query), 60)}"' if q.query else "(query not yet known)"
    if q.status == "searching":
        return f"searching {query}"
    if q.status == "failed":
        return f"search {query} failed: {clean(q.error)}"
    return f"searched {query}: {q.found} page{'s' if q.found != 1 else ''}"


def branch_notes(state: RunState, b: BranchState) -> list[str]:
    """What a branch's section of the report says besides its answer: its searches, its files, its unverified
    citations."""
    notes = [search_text(q) for q in b.searches]
    if b.given:
        notes.append(f"given {len(b.given)} passages of your files")
    bad = [c for c in state.sourcing.citations.get(b.id, ()) if not c.verified]
    if bad:
        notes.append("unverified citations: " + ", ".join(f"[{c.n}] ({why_unverified(state, c)})" for c in bad))
    return notes


def why_unverified(state: RunState, c: Checked) -> str:
    """Why a branch's citation rests on nothing it read."""
    x = state.sourcing.numbering.get(c.n)
    if x is None:
        return "no source has this number"
    if not x.retrieved:
        return f"{site(x)}: a page no search returned"
    return f"{site(x)}: not one of its sources"
