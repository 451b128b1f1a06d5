"""The response cache: every successful response on disk with its whole stream, keyed by the exact request.

The key is a versioned hash of the canonical request: provider kind, base URL, model, messages, every
generation parameter and the sample index (so N voting samples are N entries, never one answer replayed N
times: a vote of identical cached answers would be a fake consensus). API keys are never part of it: they are
not in the request we hash, and headers are not hashed at all.

Values are JSON, never pickles: a damaged entry is a miss with a warning, and is removed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import sys
from typing import AsyncIterator

import diskcache

from fanout.core.paths import cache_dir, private_dir
from fanout.providers.base import (GenerationRequest, StreamEnd, StreamItem, TextDelta, grounding_from_dict,
                                   grounding_to_dict)
from fanout.strategies.calls import MissInOfflineMode, Recorded, Target

KEY_VERSION = 1



def request_key(target: Target, request: GenerationRequest) -> str:
    canonical = {
        "v": KEY_VERSION,
        "kind": target.provider.kind,
        "base_url": target.provider.base_url.rstrip("/"),
        "model": request.model,
        "messages": [[m.role, m.content] for m in request.messages],
        "params": request.params(),
        "sample": request.sample,
    }
    blob = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"v{KEY_VERSION}:" + hashlib.sha256(blob.encode()).hexdigest()


def _encode(r: Recorded) -> str:
    grounded = {"grounding": [[at, grounding_to_dict(item)] for at, item in r.grounding],
                "searches": r.searches} if r.grounding or r.searches is not None else {}
    return json.dumps(
        {"chunks": r.chunks, "usage": [r.input_tokens, r.output_tokens], "finish": r.finish_reason, "model": r.model,
         "latency": r.latency, **grounded},
        ensure_ascii=False,
    )


def _decode(raw: object) -> Recorded:
    data = json.loads(raw)  # type: ignore[arg-type]
    chunks = tuple((float(t), str(text)) for t, text in data["chunks"])
    usage = data["usage"]
    latency = data.get("latency")
    latency = float(latency) if latency is not None else (chunks[-1][0] if chunks else None)
    grounding = tuple((int(at), grounding_from_dict(item)) for at, item in data.get("grounding") or ())
    return Recorded(chunks, usage[0], usage[1], str(data["finish"]), str(data["model"]), latency, grounding,
                    data.get("searches"))


def warn(message: str) -> None:
    print(f"fanout: warning: {message}", file=sys.stderr)


class ResponseCache:
    """A ResponseSource in front of the providers. Safe to share between processes (diskcache is SQLite).

    A cache that cannot be opened or written (a file in its way, a full disk, a damaged database) never stops a
    run: it says so once, naming its folder, and the run goes on without it."""

    def __init__(self, mode: str = "use", *, directory=None, size_limit_mb: int = 1024) -> None:
        self.mode = mode
        self.hits = self.misses = self.stored = 0
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._store: diskcache.Cache | None = None
        self._warned = False
        self.folder = directory or cache_dir() / "responses"
        if mode != "off":
            try:
                self._store = diskcache.Cache(
                    str(private_dir(self.folder)),
                    size_limit=size_limit_mb * 1024 * 1024,
                    eviction_policy="least-recently-used",
                    disk_min_file_size=1 << 30,  # every value inside SQLite: one private file, no loose files
                )
            except (sqlite3.Error, OSError) as err:
                self._warn_once(f"response cache {self.folder} unavailable ({err}); running without it")
                self.mode = "off"

    def _warn_once(self, message: str) -> None:
        """A full disk fails every write: one warning says it, a thousand would bury the report."""
        if not self._warned:
            self._warned = True
            warn(message)

    def _get(self, key: str) -> Recorded | None:
        assert self._store is not None
        try:
            raw = self._store.get(key)
            return None if raw is None else _decode(raw)
        except (sqlite3.Error, OSError) as err:
            self._warn_once(f"response cache {self.folder}: read failed ({err}); treated as a miss")
            return None
        except Exception as err:  # noqa: BLE001 - any damage (a foreign pickle, bad JSON) is a miss, not a crash
            warn(f"damaged cache entry {key[:16]}… ({type(err).__name__}); treated as a miss and removed")
            try:
                self._store.delete(key)
            except sqlite3.Error:
                pass
            return None

    async def lookup(self, target: Target, request: GenerationRequest) -> Recorded | None:
        if self.mode in ("off", "refresh") or self._store is None:
            return None
        key = request_key(target, request)
        pending = self._inflight.get(key)
        if pending is not None:  # the same request is already on its way: wait for it rather than pay twice
            await asyncio.shield(pending)
        hit = self._get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        if self.mode == "only":
            raise MissInOfflineMode("not in the cache and --cache only forbids calls")
        self._inflight.setdefault(key, asyncio.get_running_loop().create_future())
        return None

    def stream(self, target: Target, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        if self.mode == "off" or self._store is None:
            return target.provider.stream(request)  # nothing to record: no layer in between
        return self._recording(target, request)

    async def _recording(self, target: Target, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        key = request_key(target, request)
        loop = asyncio.get_running_loop()
        start = loop.time()
        chunks: list[tuple[float, str]] = []
        grounding: list = []  # searches and citations, each after the chunks before it
        end: StreamEnd | None = None
        async for item in target.provider.stream(request):
            if isinstance(item, TextDelta):
                chunks.append((round(loop.time() - start, 4), item.text))
            elif isinstance(item, StreamEnd):
                end = item
            else:
                grounding.append((len(chunks), item))
            yield item
        # Only whole, non-empty responses are kept: an error or an empty answer is never replayed.
        if end is not None and "".join(t for _, t in chunks).strip():
            recorded = Recorded(tuple(chunks), end.input_tokens, end.output_tokens, end.finish_reason, end.model,
                                round(loop.time() - start, 4), tuple(grounding), end.searches)
            try:
                self._store.set(key, _encode(recorded))
                self.stored += 1
            except (sqlite3.Error, OSError) as err:
                self._warn_once(f"response cache {self.folder}: write failed ({err}); the run goes on without it")

    def done(self, target: Target, request: GenerationRequest) -> None:
        if self._inflight:
            self._settle(request_key(target, request))

    def _settle(self, key: str) -> None:
        pending = self._inflight.pop(key, None)
        if pending is not None and not pending.done():
            pending.set_result(None)

    def stats(self) -> dict[str, object]:
        if self._store is None:
            return {"mode": self.mode, "entries": 0, "bytes": 0}
        return {
            "mode": self.mode,
            "directory": self._store.directory,
            "entries": len(self._store),
            "bytes": self._store.volume(),
            "size_limit": self._store.size_limit,
        }

    def clear(self) -> int:
        return self._store.clear() if self._store is not None else 0

    def close(self) -> None:
        for key in list(self._inflight):
            self._settle(key)
        if self._store is not None:
            self._store.close()
