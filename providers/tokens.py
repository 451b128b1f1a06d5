"""Counting a prompt's tokens before it is sent: with the model's own tokenizer where one is at hand, else
estimated (and said to be).

The embedded model's tokenizer is its GGUF vocabulary, loaded alone (llama.cpp's `vocab_only`: no weights, no
context), and its prompt is rendered through the same chat template the decoder uses, so the count is the one the
model will see. OpenAI's and Anthropic's tokenizers are not at hand offline (tiktoken downloads its encodings the
first time it is used; Anthropic publishes none): their counts are estimates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

from .base import Message

CHARS_PER_TOKEN = 4  # the estimate where no tokenizer is at hand (English prose runs 3.5-4.5 on BPE vocabularies)


def estimate_tokens(text: str) -> int:
    """About four characters a token: an estimate, used where no tokenizer is at hand."""
    return max(1, round(len(text) / CHARS_PER_TOKEN)) if text else 0


@dataclass(frozen=True)
class Count:
    tokens: int
    exact: bool  # counted with the model's own tokenizer (False: estimated)


Counter = Callable[[Sequence[Message]], Count]


def estimated(messages: Sequence[Message]) -> Count:
    return Count(estimate_tokens("".join(m.content for m in messages)), False)


class GGUFCounter:
    """A GGUF model's tokenizer and chat template, without its weights."""

    def __init__(self, path: Path) -> None:
        import llama_cpp as lib

        from .chat_template import ChatTemplate
        from .compat_llama import quiet_llama

        quiet_llama()
        lib.llama_backend_init()
        params = lib.llama_model_default_params()
        params.vocab_only = True
        self._lib = lib
        self._model = lib.llama_model_load_from_file(str(path).encode(), params)
        if not self._model:
            raise OSError(f"llama.cpp could not read the vocabulary of {path}")
        self._template = ChatTemplate(lib, self._model, lib.llama_model_get_vocab(self._model))
        self._lock = threading.Lock()

    def __call__(self, messages: Sequence[Message]) -> Count:
        rendered = self._template.render([{"role": m.role, "content": m.content} for m in messages])
        with self._lock:
            return Count(len(self._template.tokenize(rendered)), True)


@lru_cache(maxsize=8)
def _gguf(path: Path) -> GGUFCounter | None:
    try:
        return GGUFCounter(path)
    except (ImportError, OSError):
        return None


def counter_for(provider: Any) -> Counter:
    """The provider's own tokenizer where one is at hand (the embedded model's), else the estimate."""
    if getattr(provider, "kind", "") == "local":
        from .base import ProviderError
        from .local import resolve_model_path

        try:
            found = _gguf(resolve_model_path(provider.model))
        except ProviderError:
            found = None
        if found is not None:
            return found
    return estimated
