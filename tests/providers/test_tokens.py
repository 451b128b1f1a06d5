"""A prompt's tokens counted with OpenAI's own encodings (bpe-openai carries them: no download), an OpenAI-compatible
server's other models estimated, and the estimate's table saying which is which."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fanout.providers.base import Message
from fanout.providers.tokens import (REPLY_PRIMING, TOKENS_PER_MESSAGE, estimated, counter_for, openai_encoding)


def openai(model: str):
    return SimpleNamespace(kind="openai", model=model, name="openai")


@pytest.mark.parametrize("model, encoding", [
    ("gpt-4o-mini", "o200k_base"), ("gpt-4o-2024-08-06", "o200k_base"), ("gpt-4.1", "o200k_base"),
    ("gpt-5-mini", "o200k_base"), ("o3", "o200k_base"), ("openai/gpt-4o", "o200k_base"),
    ("gpt-4", "cl100k_base"), ("gpt-4-turbo", "cl100k_base"), ("gpt-3.5-turbo", "cl100k_base"),
    ("llama-3.1-8b-instruct", None), ("smollm2", None), ("m", None),
])
def test_each_openai_family_has_its_encoding(model, encoding):
    assert openai_encoding(model) == encoding


def test_openai_models_are_counted_with_their_encoding():
    """'hello world' is two tokens in both encodings (o200k: 24912 2375; cl100k: 15339 1917), 'user' one; the chat
    format adds its framing. A text the two vocabularies split differently gives different counts."""
    hello = [Message("user", "hello world")]
    for model in ("gpt-4o", "gpt-4"):
        count = counter_for(openai(model))(hello)
        assert count.exact and count.tokens == 2 + 1 + TOKENS_PER_MESSAGE + REPLY_PRIMING
    text = [Message("user", "Die Geschwindigkeitsbegrenzung auf Autobahnen — 速度制限 — ограничение скорости " * 20)]
    o200k, cl100k = counter_for(openai("gpt-4o"))(text), counter_for(openai("gpt-4"))(text)
    assert o200k.exact and cl100k.exact and o200k.tokens < cl100k.tokens
    assert o200k.tokens != estimated(text).tokens


def test_a_special_token_in_a_prompt_is_text():
    """A prompt holding '<|endoftext|>' is counted as text (tiktoken-style encoders refuse it by default)."""
    count = counter_for(openai("gpt-4o"))([Message("user", "a <|endoftext|> b")])
    assert count.exact and count.tokens > 1 + 1 + TOKENS_PER_MESSAGE + REPLY_PRIMING


def test_the_model_asked_for_decides_not_the_providers_default():
    provider = openai("llama-3.1-8b-instruct")
    assert counter_for(provider) is estimated
    assert counter_for(provider, "gpt-4o-mini")([Message("user", "hello world")]).exact


def test_other_kinds_are_estimated():
    assert counter_for(SimpleNamespace(kind="anthropic", model="claude-sonnet-4-5", name="a")) is estimated
