"""The embedded model decodes every running branch in one llama.cpp batch: real tokens from SmolLM2-135M."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from streams import collect

from fanout.wiring.config import builtin_providers
from fanout.providers.base import GenerationRequest, Message, ProviderError
from fanout.providers.local import DEFAULT_SEQUENCES, LocalProvider

pytestmark = pytest.mark.slow

TOPICS = ("hardware", "software", "security", "pricing")


def ask(prompt: str, max_tokens: int = 24, **kw) -> GenerationRequest:
    return GenerationRequest("smollm2", (Message("user", prompt),), max_tokens=max_tokens, temperature=0, **kw)


def report(topic: str) -> GenerationRequest:
    return ask(f"Write a short report about {topic} in laptops.")


@pytest.fixture(scope="module")
def provider():
    # One model for the module: each test runs on its own event loop, which the decoder serves alike.
    p = LocalProvider("local", concurrency=4)
    yield p
    p.decoder.close()


@pytest.fixture(scope="module")
def solo(provider):
    """Each prompt's greedy text with nothing else running."""

    async def run():
        return {t: await collect(provider, report(t)) for t in TOPICS}

    return asyncio.run(run())


async def test_branches_decoded_together_give_the_same_greedy_text_as_one_at_a_time(provider, solo):
    provider.decoder.max_batch_seqs = 0
    steps = provider.decoder.steps
    together = await asyncio.gather(*(collect(provider, report(t)) for t in TOPICS))
    assert provider.decoder.max_batch_seqs == len(TOPICS)  # they really shared decode calls
    # Four branches of 24 tokens in one batch take about 24 decode calls, not 4 x 24.
    assert provider.decoder.steps - steps < 2 * 24
    for topic, (text, end) in zip(TOPICS, together):
        assert text.strip() and (text, end) == solo[topic]
        assert end.output_tokens == 24 and end.finish_reason == "length" and end.input_tokens > 20


async def test_cancelling_one_branch_mid_stream_leaves_the_others_intact(provider, solo):
    got = []

    async def cut_short():
        async for item in provider.stream(ask("Write a long story about a dragon.", max_tokens=200)):
            got.append(item)
            if len(got) == 3:
                break  # closing the generator cancels the branch

    cancelled = asyncio.create_task(cut_short())
    others = await asyncio.gather(*(collect(provider, report(t)) for t in TOPICS[:3]))
    await cancelled
    assert len(got) == 3
    assert others == [solo[t] for t in TOPICS[:3]]
    # Its sequence was freed: four more branches (the context's every sequence) run at once.
    again = await asyncio.gather(*(collect(provider, report(t)) for t in TOPICS))
    assert again == [solo[t] for t in TOPICS]


async def test_a_prompt_too_long_for_its_sequence_fails_that_branch_only(provider, solo):
    huge = ask("word " * 5000, max_tokens=8)
    results = await asyncio.gather(
        collect(provider, huge), *(collect(provider, report(t)) for t in TOPICS[:2]), return_exceptions=True
    )
    err = results[0]
    assert isinstance(err, ProviderError) and not err.retryable
    assert "exceed context window of 4096 tokens per branch" in str(err)
    assert results[1:] == [solo[t] for t in TOPICS[:2]]


async def test_a_branch_reuses_the_prompt_prefix_a_free_sequence_still_holds(provider, solo):
    first = provider.decoder.prefilled
    assert await collect(provider, report("hardware")) == solo["hardware"]
    # The same prompt again: only its last token is decoded again (for its logits), and the text is unchanged.
    assert provider.decoder.prefilled - first == 1
    before = provider.decoder.prefilled
    text, end = await collect(provider, report("graphics"))
    # A different topic shares the template's head and the system prompt: far fewer than all its tokens.
    assert 0 < provider.decoder.prefilled - before < end.input_tokens // 2


async def test_finish_reason_is_stop_at_the_end_of_generation(provider):
    text, end = await collect(provider, ask("Say yes.", max_tokens=200))
    assert end.finish_reason == "stop" and 0 < end.output_tokens < 200 and text.strip()


SCHEMA = {
    "type": "object",
    "properties": {
        "angles": {"type": "array", "items": {"type": "string", "maxLength": 24}, "minItems": 2, "maxItems": 3}
    },
    "required": ["angles"],
    "additionalProperties": False,
}


async def test_a_json_schema_constrains_the_output_to_json_that_parses(provider):
    text, end = await collect(provider, ask("List angles to research laptops from, as JSON.", 120, json_schema=SCHEMA))
    doc = json.loads(text)
    assert end.finish_reason == "stop"
    assert set(doc) == {"angles"} and 2 <= len(doc["angles"]) <= 3
    assert all(isinstance(a, str) and len(a) <= 24 for a in doc["angles"])
    # Without the schema the same prompt does not give JSON of that shape: the grammar did the work.
    free, _ = await collect(provider, ask("List angles to research laptops from, as JSON.", 40))
    assert not free.lstrip().startswith('{"angles"')


def test_json_schema_is_in_cache_keys_only_when_set():
    plain = ask("hi")
    assert "json_schema" not in plain.params()
    assert ask("hi", json_schema=SCHEMA).params()["json_schema"] == SCHEMA


async def test_the_default_concurrency_is_the_sequences_one_context_holds():
    assert builtin_providers()["local"].limits.concurrency == DEFAULT_SEQUENCES
    p = LocalProvider("local")
    try:
        await p.warm()
        import llama_cpp

        assert p.concurrency == DEFAULT_SEQUENCES == llama_cpp.llama_n_seq_max(p.decoder._ctx)
        assert p.decoder.n_ctx == 4096  # per sequence: each branch keeps the whole window
    finally:
        await p.aclose()


async def test_every_llama_call_runs_on_the_one_decode_thread(provider, monkeypatch):
    import llama_cpp

    seen = set()
    real = llama_cpp.llama_decode

    def spy(ctx, batch):
        seen.add(threading.get_ident())
        return real(ctx, batch)

    monkeypatch.setattr(llama_cpp, "llama_decode", spy)
    for _ in range(3):
        await collect(provider, ask("Hi", max_tokens=3))
        await asyncio.gather(*(asyncio.to_thread(lambda: None) for _ in range(4)))  # churn the default executor
    assert seen == {provider.decoder._thread.ident}


def test_token_text_is_decoded_across_multibyte_boundaries(provider):
    asyncio.run(collect(provider, ask("Hi", max_tokens=1)))  # the decoder has loaded the model
    text = "Party 🎉 at 東京, café ünïcödé ✓"
    pieces = provider.decoder.pieces(text)
    assert any(not _valid(p) for p in pieces)  # some tokens hold only part of a character
    assert provider.decoder.detokenize_stream(pieces) == text


def _valid(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
