"""What every provider adapter speaks: a request in, one async stream of token deltas and a final usage out.

Adapters do no retrying of their own (SDK retries are off); they translate their SDK's failures into
`ProviderError`, whose fields tell the engine's single retry loop what to do.
"""

from __future__ import annotations

import dataclasses
import email.utils
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, ClassVar, Mapping, Protocol


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    model: str
    messages: tuple[Message, ...]
    max_tokens: int = 512
    temperature: float | None = None
    seed: int | None = None
    sample: int = 0  # voting: which of N samples this is (kept in cache keys, not sent)
    json_schema: dict | None = None  # constrain the output to JSON matching this schema (structured output)
    web_search: int = 0  # the provider's own web search, at most this many searches; 0: no search
    # The numbers of the passages of the user's files the prompt holds, which the answer may quote and cite
    grounded: tuple[int, ...] = ()

    def params(self) -> dict[str, Any]:
        """Every generation parameter, for cache keys and sessions (json_schema, web_search and grounded only when
        set, so keys made before they existed stay valid)."""
        params: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed}
        if self.json_schema is not None:
            params["json_schema"] = self.json_schema
        if self.web_search:
            params["web_search"] = self.web_search
        if self.grounded:
            params["grounded"] = list(self.grounded)
        return params


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class StreamEnd:
    input_tokens: int | None = None  # None: the provider did not say
    output_tokens: int | None = None
    finish_reason: str = ""
    model: str = ""
    batch: str = ""  # the answer came whole from this provider batch (no token timing)
    searches: int | None = None  # web searches the provider made (and bills); None: it did not say


@dataclass(frozen=True)
class WebResult:
    """One page a web search returned."""

    url: str
    title: str = ""
    page_age: str = ""


@dataclass(frozen=True)
class SearchStarted:
    """The model began a web search. `query` is "" where the provider names it only when the search is done."""

    query: str = ""


@dataclass(frozen=True)
class SearchResults:
    """A web search ended: the pages it returned, or the provider's error code."""

    query: str = ""
    results: tuple[WebResult, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class Citation:
    """The answer cites a web page: characters [start, end) of the answer's text rest on it (None: not said)."""

    url: str
    title: str = ""
    cited_text: str = ""  # what the provider quotes from the page ("" where it quotes nothing)
    start: int | None = None
    end: int | None = None


StreamItem = TextDelta | StreamEnd | SearchStarted | SearchResults | Citation
GROUNDING_ITEMS = (SearchStarted, SearchResults, Citation)  # what a stream carries besides text and its end


def grounding_to_dict(item: SearchStarted | SearchResults | Citation) -> dict[str, Any]:
    """A grounding item as plain JSON data (the response cache keeps them with the text)."""
    data = dataclasses.asdict(item)
    data["type"] = type(item).__name__
    return data


def grounding_from_dict(data: dict[str, Any]) -> SearchStarted | SearchResults | Citation:
    kinds = {cls.__name__: cls for cls in GROUNDING_ITEMS}
    fields = {k: v for k, v in data.items() if k != "type"}
    if "results" in fields:
        fields["results"] = tuple(WebResult(**r) for r in fields["results"])
    return kinds[data["type"]](**fields)


class ProviderError(Exception):
    """A failed call. What failed is the class; the retry loop reads `retryable`, `rate_limited` and
    `retry_after`, and a front end `kind`, a short label ("429", "timeout", "unreachable", ...)."""

    kind: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False
    rate_limited = False
    retry_after: float | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class StatusError(ProviderError):
    """The server refused the request with an HTTP status (or an error event that names one)."""

    def __init__(self, message: str, status: int, *, retry_after: float | None = None, quota: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.quota = quota  # out of credit: a 429 that no wait will cure

    @property
    def kind(self) -> str:  # type: ignore[override]
        return str(self.status)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return status_is_retryable(self.status) and not self.quota

    @property
    def rate_limited(self) -> bool:  # type: ignore[override]
        return self.status == 429 and not self.quota


class StreamError(ProviderError):
    """An error event after the response had started (HTTP 200): the event's own type says what it was."""

    kind = "stream"

    def __init__(self, message: str, *, final: bool = False, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.final = final
        self.rate_limited = rate_limited

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return not self.final


class TransportError(ProviderError):
    """The wire failed: worth another attempt."""

    kind = "connection"
    retryable = True


class Unreachable(TransportError):
    """No connection could be made at all (refused, unknown host): unlike a drop, it says nothing was there."""

    kind = "unreachable"


class Timeout(TransportError):
    """The server took longer than the timeout to answer."""

    kind = "timeout"


class Stalled(TransportError):
    """No chunk arrived for too long (fanout's own watchdog)."""

    kind = "stalled"


class BadStream(ProviderError):
    """The response was not a complete stream of the provider's format."""

    kind = "malformed"
    retryable = True


class Incomplete(BadStream):
    """The stream ended, after some text, before its terminal event."""

    kind = "incomplete"


class EmptyStream(BadStream):
    """No completion at all: an empty body, or one that is not an event stream."""

    kind = "empty"


class LocalModelError(ProviderError):
    """The embedded model failed while running."""

    kind = "local"


class SetupError(ProviderError):
    """The provider cannot be used at all (a missing package or model file): no attempt can help."""

    kind = "setup"


class Provider(Protocol):
    name: str  # the configured name, e.g. "openai" or "local"
    kind: str  # "openai" | "anthropic" | "local"
    model: str  # the default model
    base_url: str  # "" for the embedded model
    concurrency: int  # the configured upper bound of simultaneous calls

    def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]: ...

    async def aclose(self) -> None: ...


RETRYABLE_STATUS = frozenset({408, 409, 429, 529})


def status_is_retryable(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, else `Retry-After` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def classify_status(
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    error_code: str | None = None,
) -> ProviderError:
    """The engine's view of an HTTP error: retry it or fail at once, and how long the server asked to wait."""
    retry_after = parse_retry_after(headers)
    quota = error_code == "insufficient_quota" or "insufficient_quota" in message
    if quota:
        label = "quota exhausted"
    elif status == 429:
        label = "rate limited"
    elif status == 529:
        label = "overloaded"
    elif status >= 500:
        label = "server error"
    elif status in (401, 403):
        label = "not authorised"
    elif status == 404:
        label = "not found"
    else:
        label = "rejected"
    return StatusError(f"{status} {label}: {message}", status, retry_after=retry_after, quota=quota)


@dataclass
class Prices:
    """USD per million tokens, and per thousand web searches (None: not known)."""

    input: float = 0.0
    output: float = 0.0
    searches: float | None = None

    def cost(self, input_tokens: int, output_tokens: int, searches: int = 0) -> float | None:
        """The call's cost; None when it made searches whose price is not known (never counted as free)."""
        tokens = (input_tokens * self.input + output_tokens * self.output) / 1_000_000
        if not searches:
            return tokens
        return None if self.searches is None else tokens + searches * self.searches / 1000


@dataclass
class Limits:
    concurrency: int = 8
    rpm: int | None = None  # requests per minute
    tpm: int | None = None  # tokens per minute
    timeout: float = 60.0  # seconds to connect and get the response started
    stall_timeout: float = 30.0  # seconds with no chunk mid-stream before the call is abandoned
    max_retries: int = 5
    max_retry_after: float = 60.0  # a server asking for a longer wait fails the branch instead
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    adaptive: bool = True
    prices: dict[str, Prices] = field(default_factory=dict)  # per model; "*" for any
