"""The comparison table: the same recipe under each strategy, side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from fanout.frontends.quality import Overlap, top_pairs
from fanout.frontends.report import OVERLAP_MATRIX, OVERLAP_PAIRS, fmt_cost, fmt_seconds, fmt_share
from fanout.frontends.state import RunState


# A strategy's wall against sequential's. Not the run screen's "concurrency" (a run's sum of calls over its own
# wall): a strategy can keep many calls under way and still be no faster than sequential.
SPEEDUP = "Speed-up vs seq"


@dataclass(frozen=True)
class Row:
    strategy: str
    status: str
    latency: float  # wall seconds
    tokens: int
    tokens_estimated: bool
    calls: int
    cost: float | None  # None: some call had no known price
    output_length: int  # characters of the aggregate
    critical_path: float | None
    throttles: int
    # The output's side of the trade-off (frontends.quality): what the branches found and how much they repeated.
    findings: int = 0
    distinct: int = 0
    redundancy: float | None = None
    contradictions: int | None = None
    overlap: Overlap = field(default_factory=dict, compare=False)
    judged: float | None = None  # the judge's score, when one was asked (frontends.judge)
    output: str = field(default="", repr=False, compare=False)  # the final output, for a judge to read
    cached: int = 0  # calls served from the cache: this row's timings are then not measurements
    waves: int = 0  # a run deeper than one wave: how many it ran (its follow-up planners are in its figures)

    @classmethod
    def of(cls, state: RunState) -> "Row":
        m = state.metrics
        s = state.started
        q = state.quality
        return cls(
            strategy=s.strategy if s else "?",
            status=state.status,
            latency=m.wall if m else 0.0,
            tokens=(m.input_tokens + m.output_tokens) if m else 0,
            tokens_estimated=bool(m and m.tokens_estimated),
            calls=m.calls if m else 0,
            cost=m.cost if m else None,
            output_length=len(state.aggregate.text),
            critical_path=m.critical_path if m else None,
            throttles=m.throttles if m else 0,
            findings=q.findings,
            distinct=q.distinct,
            redundancy=q.redundancy,
            contradictions=q.contradictions,
            overlap=q.overlap,
            output=state.aggregate.text,
            cached=m.cached if m else 0,
            waves=state.stopped.waves if state.stopped else 0,
        )

    def as_dict(self) -> dict[str, Any]:
        """The figures (the output itself is left out: it is the run's report, not a figure)."""
        return {k: v for k, v in self.__dict__.items() if k != "output"}

    @property
    def measured(self) -> bool:
        return not self.cached and self.latency > 0


@dataclass(frozen=True)
class Verdict:
    fastest: str
    cheapest: str
    longest_output: str
    speedup: dict[str, float | None]  # against sequential: its latency over each strategy's; None: not measured
    token_multiplier: dict[str, float]  # each strategy's tokens over sequential's
    least_redundant: str | None = None  # None when no outputs held findings to compare, or the lowest is shared
    best_judged: str | None = None  # None when no judge was asked, or the top score is shared


def verdict(rows: Sequence[Row]) -> Verdict:
    """A row with cached calls has no measured latency: it is never the fastest, and has no speed-up."""
    timed = [r for r in rows if r.measured]
    fastest = min(timed, key=lambda r: r.latency) if timed else None
    # Cheapest by cost where every strategy's cost is known; otherwise by tokens, the one figure all rows have.
    priced = all(r.cost is not None for r in rows)
    cheapest = min(rows, key=lambda r: (r.cost, r.tokens) if priced else (r.tokens,))
    longest = max(rows, key=lambda r: r.output_length)
    base = baseline(rows)
    measured = [r for r in rows if r.redundancy is not None]
    lowest = min((r.redundancy for r in measured), default=None)
    least = [r.strategy for r in measured if r.redundancy == lowest]
    judged = [r for r in rows if r.judged is not None]
    top = max((r.judged for r in judged), default=None)
    leaders = [r.strategy for r in judged if r.judged == top]
    return Verdict(
        best_judged=leaders[0] if len(leaders) == 1 else None,
        least_redundant=least[0] if len(least) == 1 else None,
        fastest=fastest.strategy if fastest else "",
        cheapest=cheapest.strategy,
        longest_output=longest.strategy,
        speedup={r.strategy: (base.latency / r.latency if r.measured and base.measured else None) for r in rows},
        token_multiplier={r.strategy: (r.tokens / base.tokens if base.tokens else 0.0) for r in rows},
    )


def baseline(rows: Sequence[Row]) -> Row:
    """The row every ratio is taken against: sequential's, or the first."""
    return next((r for r in rows if r.strategy == "sequential"), rows[0])


def fmt_ratio(value: float | None) -> str:
    return f"{value:.2f}×" if value is not None else "cached"


def headline(rows: Sequence[Row], v: Verdict | None = None) -> str:
    """The verdict in one sentence, in the table's figures: the fastest strategy against the baseline's speed,
    tokens and distinct findings. Cached calls are not timed, and the sentence says so rather than compare them."""
    v = v or verdict(rows)
    base = baseline(rows)
    if v.fastest == base.strategy:
        return f"{base.strategy}: the fastest ({fmt_seconds(base.latency)})"
    subject = next((r for r in rows if r.strategy == v.fastest), None)
    if subject is None:
        other = next((r for r in rows if r is not base), base)
        return f"timings not measured (cached calls); {other.strategy}: " + ", ".join(
            _against(other, base, v, of=f" of {base.strategy}"))
    speedup = v.speedup[subject.strategy]
    speed = (f"{fmt_ratio(speedup)} faster than {base.strategy}" if speedup is not None
             else f"speed against {base.strategy} not measured (cached calls)")
    return f"{subject.strategy}: " + ", ".join([speed, *_against(subject, base, v)])


def _against(r: Row, base: Row, v: Verdict, of: str = "") -> list[str]:
    """The tokens and distinct findings of `r` against the baseline's, where there are any to compare."""
    parts = [f"{fmt_ratio(v.token_multiplier[r.strategy])} the tokens{of}"] if base.tokens else []
    if r.distinct or base.distinct:
        parts.append("as many distinct findings" if r.distinct == base.distinct
                     else f"{r.distinct} distinct findings against {base.distinct}")
    return parts


def table(rows: Sequence[Row], label: str = "Strategy") -> str:
    """Plain text: latency, tokens, calls and cost per strategy, plus speed-up and token multiplier against sequential, then the output's
    quality: findings, distinct findings, redundancy and the contradictions the synthesis flagged."""
    v = verdict(rows)
    judged = any(r.judged is not None for r in rows)
    lines = [
        f"{label:<12} {'Latency':>10} {'Tokens':>8} {'Calls':>6} {'Cost':>9} {'Output':>12} {SPEEDUP:>15} {'Tokens×':>8}"
        f" {'Findings':>8} {'Distinct':>8} {'Redundancy':>10} {'Contra.':>7}" + (f" {'Judged':>7}" if judged else ""),
        "-" * (133 if judged else 125),
    ]
    widths = (10, 8, 6, 9, 12, 15, 8, 8, 8, 10, 7)
    for r in rows:
        cells = " ".join(f"{cell:>{width}}" for cell, width in zip(figures(r, v), widths))
        lines.append(f"{r.strategy:<12} {cells}" + (f" {fmt_judged(r.judged):>7}" if judged else ""))
    return "\n".join([*lines, "", headline(rows, v), *verdict_lines(rows, v)])


def verdict_lines(rows: Sequence[Row], v: Verdict | None = None) -> list[str]:
    """The verdict under the table: the fastest, the cheapest, the longest output, the least redundant and the
    best judged, each with its figure; the waves when a run went deeper than one."""
    v = v or verdict(rows)
    fastest = next((r for r in rows if r.strategy == v.fastest), None)
    cheapest = next(r for r in rows if r.strategy == v.cheapest)
    lines = [
        f"Fastest: {v.fastest} ({fmt_seconds(fastest.latency)})" if fastest
        else "Fastest: not measured (every run had cached calls; `fanout bench` runs with the cache off)",
        f"Cheapest: {v.cheapest} ({cheapest.tokens} tokens, {fmt_cost(cheapest.cost)})",
        f"Longest output: {v.longest_output}",
    ]
    if v.least_redundant:
        least = next(r for r in rows if r.strategy == v.least_redundant)
        lines.append(f"Least redundant: {v.least_redundant} ({quality_cells(least)[2]} of its findings repeated another branch's)")
    elif any(r.redundancy is not None for r in rows):
        lowest = min(r.redundancy for r in rows if r.redundancy is not None)
        tied = [r.strategy for r in rows if r.redundancy == lowest]
        lines.append(f"Least redundant: a tie between {', '.join(tied)} ({fmt_share(lowest)})")
    if v.best_judged:
        best = next(r for r in rows if r.strategy == v.best_judged)
        lines.append(f"Best judged: {v.best_judged} (score {fmt_judged(best.judged)})")
    if any(r.waves for r in rows):
        lines.append("Waves: " + ", ".join(f"{r.strategy} {r.waves}" for r in rows) + ". The first wave's plan is "
                     "made once for every row; each later wave is planned from that row's own findings, and its "
                     "follow-up planner's calls are counted in that row.")
    return lines


def fmt_judged(score: float | None) -> str:
    return "-" if score is None else f"{score:.2f}"


def figures(r: Row, v: Verdict) -> tuple[str, ...]:
    """A row's figures as every table writes them: latency, tokens, calls, cost, output, speed-up and token
    multiplier against sequential, then the quality cells."""
    return (
        fmt_seconds(r.latency),
        f"~{r.tokens}" if r.tokens_estimated else str(r.tokens),
        str(r.calls),
        fmt_cost(r.cost),
        f"{r.output_length:,} chars",
        fmt_ratio(v.speedup[r.strategy]),
        fmt_ratio(v.token_multiplier[r.strategy]),
        *quality_cells(r),
    )


def quality_cells(r: Row) -> tuple[str, str, str, str]:
    """Findings, distinct, redundancy and contradictions as the table prints them ("-": not measured)."""
    contradictions = "-" if r.contradictions is None else str(r.contradictions)
    return str(r.findings), str(r.distinct), fmt_share(r.redundancy), contradictions


# --- the comparison as a picture: the same drawings on the compare screen and in its Markdown -----------------

EIGHTHS = " ▏▎▍▌▋▊▉"
TIMELINE_CHAR = {"deps": "·", "queue": "░", "backoff": "▒", "stream": "█"}


def bar(value: float, top: float, width: int) -> str:
    """A horizontal bar `value / top` of `width` cells, to an eighth of a cell."""
    if top <= 0 or value <= 0:
        return ""
    eighths = round(min(value / top, 1.0) * width * 8)
    return "█" * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")


def bar_groups(rows: Sequence[Row]) -> list[tuple[str, list[tuple[str, float, str]]]]:
    """(figure, [(strategy, value, label)]) for latency, tokens, cost and redundancy; each group scales to its own
    largest value, so the bars compare strategies, not figures. A figure with no bar for any strategy (unknown or
    nothing for all: cost "—", redundancy 0 %) is left out: the table still has its cells."""
    groups = [
        ("latency", [(r.strategy, r.latency, f"{r.latency:.2f} s") for r in rows]),
        ("tokens", [(r.strategy, float(r.tokens), ("~" if r.tokens_estimated else "") + str(r.tokens)) for r in rows]),
        ("cost", [(r.strategy, r.cost or 0.0, fmt_cost(r.cost)) for r in rows]),  # unknown: no bar, "—"
        ("redundancy", [(r.strategy, r.redundancy or 0.0, fmt_share(r.redundancy)) for r in rows]),
    ]
    return [(figure, values) for figure, values in groups if any(v > 0 for _, v, _ in values)]


def bars_text(rows: Sequence[Row], width: int = 40) -> list[str]:
    lines = []
    for figure, values in bar_groups(rows):
        top = max((v for _, v, _ in values), default=0.0)
        lines.append(figure)
        lines += [f"  {s:<11} {bar(v, top, width):<{width}} {label}" for s, v, label in values]
    return lines


def shared_span(states: Sequence[RunState]) -> float:
    """One time axis for every run: the longest wall time (or the latest event of a run that did not finish)."""
    return max((s.metrics.wall if s.metrics else s.now for s in states), default=0.0) or 1e-6


def timeline_cells(state: RunState, span: float, cells: int) -> list[tuple[str, str]]:
    """(label, cells) per branch and for the aggregator, on an axis of `span` seconds drawn in `cells` cells."""
    def draw(pieces: list[tuple[float, float, str]]) -> str:
        row = [" "] * cells
        for start, end, char in pieces:
            a = min(cells - 1, int(start / span * cells))
            for i in range(a, min(cells, max(a + 1, round(end / span * cells)))):
                row[i] = char
        return "".join(row).rstrip()

    out = []
    for b in state.branch_list():
        pieces = [(seg.start, seg.end if seg.end is not None else state.now, TIMELINE_CHAR.get(seg.kind, "?"))
                  for seg in b.segments]
        out.append((b.id, draw([p for p in pieces if p[1] > p[0]])))
    a = state.aggregate
    if a.started is not None:
        out.append(("aggregate", draw([(a.started, a.ended if a.ended is not None else state.now, "█")])))
    return out


def overlap_lines(row: Row, width: int | None = None) -> tuple[str, list[str]]:
    """One strategy's overlap, with what it shows: the matrix (row A, column B, the share of A's findings B also
    found), or its most-overlapping pairs for a batch and wherever the matrix is wider than `width`."""
    if isinstance(row.overlap, dict):
        matrix = _matrix_lines(row.overlap)
        if width is None or not matrix or len(matrix[0]) <= width:
            return OVERLAP_MATRIX, matrix
    pairs = top_pairs(row.overlap)
    if not pairs:
        return OVERLAP_PAIRS, []
    widths = [max(len(heading), *(len(p[key]) for p in pairs)) for heading, key in (("branch", "branch"),
                                                                                    ("found by", "found_by"))]
    lines = [f"{'branch':<{widths[0]}}  {'found by':<{widths[1]}}  share"]
    lines += [f"{p['branch']:<{widths[0]}}  {p['found_by']:<{widths[1]}}  {fmt_share(p['share']):>5}" for p in pairs]
    return OVERLAP_PAIRS, lines


def _matrix_lines(overlap: dict[str, dict[str, float | None]]) -> list[str]:
    ids = list(overlap)
    if len(ids) < 2:
        return []
    width = max(5, *(len(i) for i in ids)) + 1
    lines = [" " * width + "".join(f"{i[:width - 1]:>{width}}" for i in ids)]
    for a in ids:
        cells = ["—" if a == b else fmt_share(overlap[a].get(b)).replace(" ", "") for b in ids]
        lines.append(f"{a[:width - 1]:<{width}}" + "".join(f"{c:>{width}}" for c in cells))
    return lines


def to_markdown(states: Sequence[RunState], rows: Sequence[Row] | None = None, judge_note: str = "") -> str:
    """Everything the compare screen shows: the timelines on one axis, the bars, the table, the verdict, each
    strategy's overlap matrix and the judge's verdicts when one was asked (`rows` then carry its scores)."""
    rows = list(rows) if rows is not None else [Row.of(s) for s in states]
    first = states[0].started if states else None
    span = shared_span(states)
    parts = [f"# Compare: {first.recipe if first else '?'} under each strategy", "## Timelines (one time axis)"]
    drawing = []
    for state, row in zip(states, rows):
        drawing.append(f"{row.strategy} ({row.latency:.2f} s)")
        drawing += [f"  {label[:11]:<11} {cells}" for label, cells in timeline_cells(state, span, 60)]
    drawing.append(f"  {'':<11} 0{f'{span:.2f} s':>59}")
    drawing.append("  " + "  ".join(f"{c} {k}" for k, c in TIMELINE_CHAR.items()))
    parts.append("```\n" + "\n".join(drawing) + "\n```")
    parts.append("## Bars\n\n```\n" + "\n".join(bars_text(rows)) + "\n```")
    parts.append("## Table\n\n```\n" + table(rows) + "\n```")
    if judge_note:
        parts.append("## Judge\n\n```\n" + judge_note + "\n```")
    for row in rows:
        shows, lines = overlap_lines(row)
        if lines:
            parts.append(f"## Overlap under {row.strategy}\n\n{shows[0].upper()}{shows[1:]}.\n\n"
                         "```\n" + "\n".join(lines) + "\n```")
    return "\n\n".join(parts) + "\n"
