"""Whether a run's providers are there at all: one object, owned by the run's Caller.

A provider that has answered once in the run (a response of any kind) and then cannot be reached is restarting
or flaky: worth the usual retries. One that never answered and refuses the very first connection, or whose host
is unknown, is not there: the run stops calling it and says why once, instead of every branch retrying six
times. Per run, not per provider: the next run (a rerun in the app once the server is up) tries again.
"""

from __future__ import annotations

from fanout.providers.base import ProviderError, Timeout, Unreachable


class Reachability:
    def __init__(self) -> None:
        self._answered: set[str] = set()
        self._gone: dict[str, str] = {}  # provider name -> why it is not there

    def answered(self, provider: str) -> None:
        self._answered.add(provider)

    def failed(self, provider: str, err: ProviderError) -> bool:
        """Notes a failed attempt; True when it shows that the provider is not there at all."""
        if isinstance(err, Unreachable) and provider not in self._answered:
            self._gone[provider] = str(err)
            return True
        if not isinstance(err, (Unreachable, Timeout)):  # the server said something, even if only an error
            self._answered.add(provider)
        return False

    def gone(self, provider: str) -> str | None:
        """Why the provider is known not to be there, or None."""
        return self._gone.get(provider)

    @property
    def reasons(self) -> list[str]:
        """Each unreachable provider's reason, once."""
        return list(self._gone.values())
