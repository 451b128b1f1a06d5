"""A budget that holds: a ledger of what is spent and what is reserved.

Before a call starts it reserves its worst case — its prompt at most (one token a byte, which no tokenizer
exceeds, plus each message's framing), max_tokens and its web searches at most (`max_uses`), at the model's prices. A call whose reservation would take what is spent plus what is reserved past the budget waits
while calls in flight may still come in under their reservations; once none is left to settle, it does not start,
and neither does any call after it: the run stops at the budget. When a call ends its reservation is replaced by
its real cost (a failed attempt's is 0, as in the run's metrics). The sums are exact fractions, so the ledger can
never drift past the budget by rounding.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Sequence

from fanout.providers.base import GenerationRequest, Message

FRAMING_TOKENS = 16  # a message's role and separators, and the reply's priming: more than any chat format adds


def worst_case_prompt_tokens(messages: Sequence[Message]) -> int:
    """No tokenizer makes more tokens of a text than it has bytes (each token stands for at least one)."""
    return sum(len(m.content.encode("utf-8")) + FRAMING_TOKENS for m in messages) + FRAMING_TOKENS


def usd(value: float | Fraction) -> str:
    return f"${float(value):.4f}".rstrip("0").rstrip(".") if value else "$0"


@dataclass
class Budget:
    limit: float
    spent: Fraction = Fraction(0)
    reserved: Fraction = Fraction(0)
    held: dict[int, Fraction] = field(default_factory=dict)  # reservation id -> amount, for calls in flight
    stopped: str = ""  # why no call may start any more ("" while they may)
    refused: int = 0  # calls that did not start
    _next: int = 0
    _settled: asyncio.Event | None = None  # set (and replaced) each time a call settles

    @property
    def cap(self) -> Fraction:
        return Fraction(self.limit)

    async def reserve(self, amount: float | None, what: str) -> int | None:
        """A reservation id, or None: the call does not start (`stopped` says why)."""
        if amount is None:
            return self._refuse(f"the budget of {usd(self.limit)} cannot be kept: no price is known for {what}")
        need = Fraction(amount)
        while not self.stopped and self.spent + self.reserved + need > self.cap:
            if not self.held:  # nothing in flight can come in under its reservation: it will not fit
                return self._refuse(f"stopped by the budget of {usd(self.limit)}: {usd(self.spent)} spent, and the "
                                    f"next call ({what}) could cost up to {usd(need)}")
            if self._settled is None:
                self._settled = asyncio.Event()
            await self._settled.wait()
        if self.stopped:
            return self._refuse(self.stopped)
        self._next += 1
        self.held[self._next] = need
        self.reserved += need
        return self._next

    def _refuse(self, why: str) -> None:
        self.stopped = self.stopped or why
        self.refused += 1
        return None

    def settle(self, reservation: int | None, cost: float | None) -> None:
        """The call ended: its reservation gives way to what it cost (an unknown cost keeps the reservation)."""
        if reservation is None or reservation not in self.held:
            return
        need = self.held.pop(reservation)
        self.reserved -= need
        self.spent += need if cost is None else Fraction(cost)
        if self._settled is not None:
            self._settled.set()
            self._settled = None


def worst_case_cost(request: GenerationRequest, cost: Callable[[str, int, int, int], float | None]) -> float | None:
    """The most a request can cost: its prompt at most, max_tokens and every web search it may make, at the
    model's prices."""
    return cost(request.model, worst_case_prompt_tokens(request.messages), request.max_tokens, request.web_search)
