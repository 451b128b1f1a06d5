"""How long to wait before the next attempt, and when not to try again."""

from __future__ import annotations

import random
from dataclasses import dataclass

from fanout.providers.base import Limits, ProviderError


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay: float = 0.0
    reason: str = ""


def decide(err: ProviderError, attempt: int, limits: Limits, rng: random.Random) -> Decision:
    """`attempt` is the 1-based attempt that just failed.

    Exponential backoff, base * 2**(attempt-1) capped at backoff_max, shrunk by up to 25 % at random so that
    branches throttled together do not all come back together. A server's Retry-After is honoured as a floor
    (plus up to 10 % jitter); one longer than `max_retry_after` fails the branch instead of sleeping for an hour.
    """
    reason = str(err)
    if not err.retryable:
        return Decision(False, reason=reason)
    if attempt > limits.max_retries:
        return Decision(False, reason=f"{reason} (gave up after {attempt} attempts)")
    if err.retry_after is not None:
        if err.retry_after > limits.max_retry_after:
            return Decision(
                False,
                reason=f"{reason} (server asked to retry after {err.retry_after:g} s, "
                f"more than max_retry_after = {limits.max_retry_after:g} s)",
            )
        return Decision(True, err.retry_after * (1 + 0.1 * rng.random()), reason)
    delay = min(limits.backoff_base * 2 ** (attempt - 1), limits.backoff_max) * (1 - 0.25 * rng.random())
    return Decision(True, delay, reason)
