"""Sources and citations: one numbering for the whole run, and every citation checked against what was read.

Pure functions of plain data, so the engine (which shows the aggregate each report with its numbered sources) and
the front ends' fold (frontends/state.py, which shows them) number and check alike, once each, from the same
events.

The numbering: `[1]`, `[2]`, ... first the passages of the user's own files, which every branch is given before
any runs (so a branch's prompt already shows them with the run's numbers), then the web pages the branches'
searches returned, then pages cited that no search returned; each in the run's order of branches, and within a
branch in the order it got them. A page is one source however many branches found it (its URL compared without
OpenAI's `utm_source`), a file one source however many of its passages were given.

A citation is verified when it rests on something its author read: a branch's `[n]` (or a provider's citation)
on a source that branch was given or received; the aggregate's `[n]` on a source some branch received. Anything
else (a number no source has, a page no search returned) is unverified.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .events import Cited, Source

WEB, FILE = "web", "file"
CITES = "cites_sources"  # an aggregate result's flag: it was shown the numbered sources and asked to cite them
# `[3]`, `[3, 5]`, `[3][5]`: up to three digits, so a year in brackets is not taken for a citation.
MARK = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\](?!\()")
_TRACKING = frozenset({"utm_source"})


@dataclass(frozen=True)
class Passage:
    """A passage of the user's own files that matched a branch (what the engine's retrieval returns)."""

    path: str
    title: str
    text: str
    start_line: int
    end_line: int
    name: str = ""  # how a prompt names the file: its path in its folder, the same from wherever fanout runs

    def source(self) -> Source:
        return Source(FILE, self.path, self.title, f"lines {self.start_line}-{self.end_line}")


Retrieve = Callable[[str, int], Sequence[Passage]]  # (a branch's title, brief and prompt; top_k) -> passages


def normal_url(url: str) -> str:
    """A URL as sources are told apart: without OpenAI's `utm_source=openai`."""
    parts = urlsplit(url)
    if "utm_" not in parts.query:
        return url
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _TRACKING])
    return urlunsplit(parts._replace(query=query))


def key_of(kind: str, ref: str) -> str:
    return normal_url(ref) if kind == WEB else ref


@dataclass(frozen=True)
class Grounded:
    """One branch's material, as numbering needs it."""

    id: str
    given: Sequence[Source] = ()  # passages of the user's files in its prompt
    received: Sequence[Source] = ()  # pages its searches returned
    cited: Sequence[Cited] = ()  # its provider's web citations


@dataclass(frozen=True)
class Numbered:
    n: int
    kind: str
    ref: str  # the URL (without utm_source) or the path
    title: str
    branches: tuple[str, ...]  # that were given, received or cited it
    retrieved: bool  # some branch was given or received it (not only cited it)


@dataclass
class Numbering:
    sources: list[Numbered] = field(default_factory=list)
    by_key: dict[str, int] = field(default_factory=dict)  # key_of(kind, ref) -> n
    read: dict[str, tuple[int, ...]] = field(default_factory=dict)  # branch -> the numbers it was given or received

    def number(self, kind: str, ref: str) -> int | None:
        return self.by_key.get(key_of(kind, ref))

    def get(self, n: int) -> Numbered | None:
        return self.sources[n - 1] if 0 < n <= len(self.sources) else None

    def of_branch(self, branch: str) -> list[Numbered]:
        """Every source a branch was given or received, each once, in number order."""
        return [self.sources[n - 1] for n in sorted(self.read.get(branch, ()))]


class _Builder:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.by_key: dict[str, int] = {}
        self.read: dict[str, list[int]] = {}

    def add(self, branch: str, kind: str, ref: str, title: str, *, retrieved: bool) -> int:
        key = key_of(kind, ref)
        n = self.by_key.get(key)
        if n is None:
            n = self.by_key[key] = len(self.rows) + 1
            self.rows.append({"kind": kind, "ref": key, "title": title, "branches": [], "retrieved": False})
        row = self.rows[n - 1]
        row["title"] = row["title"] or title
        if branch not in row["branches"]:
            row["branches"].append(branch)
        if retrieved:
            row["retrieved"] = True
            mine = self.read.setdefault(branch, [])
            if n not in mine:
                mine.append(n)
        return n

    def done(self) -> Numbering:
        sources = [Numbered(i + 1, r["kind"], r["ref"], r["title"], tuple(r["branches"]), r["retrieved"])
                   for i, r in enumerate(self.rows)]
        return Numbering(sources, dict(self.by_key), {b: tuple(ns) for b, ns in self.read.items()})


def number_sources(branches: Iterable[Grounded]) -> Numbering:
    """The run's one numbering of its branches' sources (`branches` in the run's order)."""
    branches = list(branches)
    build = _Builder()
    for b in branches:
        for s in b.given:
            build.add(b.id, s.kind, s.ref, s.title, retrieved=True)
    for b in branches:
        for s in b.received:
            build.add(b.id, s.kind, s.ref, s.title, retrieved=True)
    for b in branches:
        for c in b.cited:
            build.add(b.id, WEB, c.url, c.title, retrieved=False)
    return build.done()


def given_numbers(branches: Iterable[tuple[str, Sequence[Passage]]]) -> dict[str, int]:
    """The numbers of the files given to branches, before any runs: the first part of `number_sources`."""
    numbering = number_sources(Grounded(bid, tuple(p.source() for p in passages)) for bid, passages in branches)
    return dict(numbering.by_key)


# ---- citations -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """A citation in an answer, on the run's numbering."""

    n: int  # the source's number; for a mark naming no source, the number as written
    verified: bool
    kind: str = ""  # the cited source's: "web" | "file"; "" when no source has the number
    ref: str = ""
    cited_text: str = ""
    start: int | None = None  # where in the answer
    end: int | None = None


def marks(text: str) -> list[tuple[int, int, int]]:
    """Every `[n]` in a text: (n, start, end) of its mark, in order."""
    found = []
    for m in MARK.finditer(text):
        for part in re.split(r"\s*[,;]\s*", m.group(1)):
            found.append((int(part), m.start(), m.end()))
    return found


def branch_citations(branch: Grounded, text: str, numbering: Numbering) -> list[Checked]:
    """A branch's citations: its provider's web citations, then the `[n]` marks it wrote itself. Verified when the
    source is one it was given or received."""
    mine = set(numbering.read.get(branch.id, ()))
    out: list[Checked] = []
    for c in branch.cited:
        n = numbering.number(WEB, c.url)
        assert n is not None  # number_sources numbered every cited page
        out.append(Checked(n, n in mine, WEB, normal_url(c.url), c.cited_text, c.start, c.end))
    for n, start, end in marks(text):
        source = numbering.get(n)
        out.append(Checked(n, n in mine, source.kind if source else "", source.ref if source else "", "", start, end))
    return out


def aggregate_citations(text: str, numbering: Numbering) -> list[Checked]:
    """The aggregate's `[n]`, each number once, in order: verified when a branch was given or received it."""
    seen: dict[int, Checked] = {}
    for n, start, end in marks(text):
        if n not in seen:
            source = numbering.get(n)
            seen[n] = Checked(n, bool(source and source.retrieved), source.kind if source else "",
                              source.ref if source else "", "", start, end)
    return list(seen.values())


def marked_text(text: str, cited: Sequence[Cited], numbering: Numbering) -> str:
    """A branch's answer with its web citations as `[n]` marks: a cited span's link (OpenAI writes one) becomes
    the mark, otherwise the mark follows the span's last word. Marks the branch wrote itself are the run's
    already."""
    spans = sorted((c for c in cited if c.end is not None), key=lambda c: (c.end, c.start or 0), reverse=True)
    for c in spans:
        n = numbering.number(WEB, c.url)
        end = min(max(c.end or 0, 0), len(text))
        start = min(max(c.start if c.start is not None else end, 0), end)
        span = text[start:end]
        if span.startswith("([") and span.endswith("))"):
            text = text[:start] + f"[{n}]" + text[end:]
            continue
        at = start + len(span.rstrip())
        if not text[at:].lstrip().startswith(f"[{n}]"):
            text = text[:at] + f" [{n}]" + text[at:]
    return text


def where(source: Numbered | Source) -> str:
    """A source as a prompt names it: its URL, or its file's name (the same from wherever fanout runs, so the
    prompt and its cache entry are too)."""
    return os.path.basename(source.ref) if source.kind == FILE else source.ref
