"""The seeds' comparison table: the same recipe under each strategy, side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from fanout.frontends.report import fmt_cost
from fanout.frontends.state import RunState


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
    critical_path: float
    throttles: int

    @classmethod
    def of(cls, state: RunState) -> "Row":
        m = state.metrics
        s = state.started
        return cls(
            strategy=s.strategy if s else "?",
            status=state.status,
            latency=m.wall if m else 0.0,
            tokens=(m.input_tokens + m.output_tokens) if m else 0,
            tokens_estimated=bool(m and m.tokens_estimated),
            calls=m.calls if m else 0,
            cost=m.cost if m else None,
            output_length=len(state.aggregate.text),
            critical_path=m.critical_path if m else 0.0,
            throttles=m.throttles if m else 0,
        )


@dataclass(frozen=True)
class Verdict:
    fastest: str
    cheapest: str
    longest_output: str
    speedup: dict[str, float]  # against sequential: its latency over each strategy's
    token_multiplier: dict[str, float]  # each strategy's tokens over sequential's


def verdict(rows: Sequence[Row]) -> Verdict:
    fastest = min(rows, key=lambda r: r.latency)
    # Cheapest by cost where every strategy's cost is known; otherwise by tokens, the one figure all rows have.
    priced = all(r.cost is not None for r in rows)
    cheapest = min(rows, key=lambda r: (r.cost, r.tokens) if priced else (r.tokens,))
    longest = max(rows, key=lambda r: r.output_length)
    base = next((r for r in rows if r.strategy == "sequential"), rows[0])
    return Verdict(
        fastest=fastest.strategy,
        cheapest=cheapest.strategy,
        longest_output=longest.strategy,
        speedup={r.strategy: (base.latency / r.latency if r.latency else 0.0) for r in rows},
        token_multiplier={r.strategy: (r.tokens / base.tokens if base.tokens else 0.0) for r in rows},
    )


def table(rows: Sequence[Row]) -> str:
    """Plain text, the seeds' columns plus speed-up and token multiplier against sequential."""
    v = verdict(rows)
    lines = [
        f"{'Strategy':<12} {'Latency':>10} {'Tokens':>8} {'Calls':>6} {'Cost':>9} {'Output':>7} {'Speed-up':>9} {'Tokens×':>8}",
        "-" * 76,
    ]
    for r in rows:
        tokens = f"~{r.tokens}" if r.tokens_estimated else str(r.tokens)
        lines.append(
            f"{r.strategy:<12} {r.latency * 1000:>8.0f}ms {tokens:>8} {r.calls:>6} {fmt_cost(r.cost):>9} "
            f"{r.output_length:>7} {v.speedup[r.strategy]:>8.2f}× {v.token_multiplier[r.strategy]:>7.2f}×"
        )
    fastest = next(r for r in rows if r.strategy == v.fastest)
    cheapest = next(r for r in rows if r.strategy == v.cheapest)
    lines += [
        "",
        f"Fastest: {v.fastest} ({fastest.latency * 1000:.0f}ms)",
        f"Cheapest: {v.cheapest} ({cheapest.tokens} tokens, {fmt_cost(cheapest.cost)})",
        f"Longest output: {v.longest_output}",
    ]
    return "\n".join(lines)
