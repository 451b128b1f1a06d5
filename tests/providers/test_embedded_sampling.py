"""The embedded model's sampler: llama.cpp's repeat penalty and DRY, which stop SmolLM2-135M repeating one
sentence until max_tokens (real tokens, fixed seeds), and the chat template used exactly as the GGUF gives it."""

from __future__ import annotations

import ctypes

import jinja2
import pytest

from streams import collect

from fanout.providers.base import GenerationRequest, Message
from fanout.providers.chat_template import _meta
from fanout.providers.llama_batch import Job, Sampling
from fanout.providers.local import SAMPLING, LocalProvider
from fanout.strategies import recipe as recipes
from fanout.strategies.echoes import loop_share
from fanout.strategies.prompting import branch_messages


pytestmark = pytest.mark.slow  # the embedded model, real tokens


@pytest.fixture(scope="module")
def provider():
    p = LocalProvider("local", concurrency=1)
    yield p
    p.decoder.close()


async def plain_then_embedded(provider, request: GenerationRequest) -> tuple[str, str]:
    """The same request under llama-cpp-python's plain sampling, then under the embedded provider's own."""
    try:
        provider.sampling = Sampling()
        plain, _ = await collect(provider, request)
    finally:
        provider.sampling = SAMPLING
    ours, _ = await collect(provider, request)
    return plain, ours


async def test_the_embedded_sampler_stops_the_loop_plain_sampling_falls_into(provider):
    """research's "commercial" angle, as every Quick start run asks it: without penalties the model repeats a
    phrase until max_tokens ("quantum computing, quantum computing, ...")."""
    recipe = recipes.load("research")
    messages = branch_messages(recipe, recipe.branch("commercial"), dict(recipe.inputs), "parallel", [])
    request = GenerationRequest("smollm2", messages, max_tokens=160, temperature=0.3)
    plain, penalised = await plain_then_embedded(provider, request)
    assert loop_share(plain) > 0.5, plain  # the loop this test is about: there without the penalties
    assert loop_share(penalised) < 0.1, penalised


async def test_a_step_shown_fenced_reports_answers_instead_of_copying_a_marker(provider):
    """research's "academic" step under sequential sees four fenced reports first: plain, SmolLM2 starts its answer
    with a copy of the fence's marker (which the scrubber cuts, leaving a short answer empty); the embedded
    sampler never samples a token holding "<<"."""
    from fanout.strategies.prompting import Prior

    recipe = recipes.load("research")
    priors = [Prior(b.id, b.title, f"Findings on {b.title.lower()}: progress was steady this year.")
              for b in recipe.branches if b.id != "academic"]
    messages = branch_messages(recipe, recipe.branch("academic"), dict(recipe.inputs), "sequential", priors)
    request = GenerationRequest("smollm2", messages, max_tokens=12, temperature=0)
    plain, banned = await plain_then_embedded(provider, request)
    assert plain.lstrip().startswith("<<"), plain  # what this test is about: there without the ban
    assert "<<" not in banned and banned.strip(), banned


async def test_the_penalties_and_dry_act_on_the_tokens_the_chain_has_seen(provider):
    """Through the samplers fanout builds: the repeat penalty looks back `penalty_last_n` tokens, and DRY penalises
    the token that would extend a repeated run (this llama.cpp reads a DRY window of -1 as none at all)."""
    await collect(provider, GenerationRequest("smollm2", (Message("user", "Hi"),), max_tokens=1))  # loads it
    decoder = provider.decoder
    seen = decoder._template.tokenize("the cat sat on the mat and the dog ran off. the cat sat on the mat and the")
    dog = decoder._template.tokenize("the cat sat on the mat and the dog")[-1]

    def logits_after(sampling: Sampling) -> list[float]:
        job = Job([], 1, 0.0, 0, None, None, None, lambda item: None, sampling)  # type: ignore[arg-type]
        chain = decoder._sampler_chain(job, [])
        lib = decoder._lib
        for token in seen:
            lib.llama_sampler_accept(chain, token)
        n = lib.llama_vocab_n_tokens(decoder._vocab)
        data = (lib.llama_token_data * n)()
        for i in range(n):
            data[i].id, data[i].logit, data[i].p = i, 1.0, 0.0
        lib.llama_sampler_apply(chain, ctypes.byref(lib.llama_token_data_array(data, n, -1, False)))
        lib.llama_sampler_free(chain)
        return [data[i].logit for i in range(n)]

    dry = logits_after(Sampling(dry_multiplier=0.8, top_k=0))
    assert dry[dog] < -5 and sum(v != 1.0 for v in dry) == 1  # only the token that would continue the repeat
    short = logits_after(Sampling(repeat_penalty=2.0, penalty_last_n=2, top_k=0))
    long = logits_after(Sampling(repeat_penalty=2.0, penalty_last_n=64, top_k=0))
    assert sum(v != 1.0 for v in short) == 2 < sum(v != 1.0 for v in long)  # the window is the one asked for


async def test_prompts_are_the_ggufs_own_chat_template_rendered(provider):
    """What the GGUF's `tokenizer.chat_template` gives (with its default system prompt when the messages bring
    none), its special tokens read as such."""
    await collect(provider, GenerationRequest("smollm2", (Message("user", "Hi"),), max_tokens=1))  # loads it
    decoder = provider.decoder
    template = _meta(decoder._lib, decoder._model, "tokenizer.chat_template")
    assert "<|im_start|>" in template
    for messages in ([{"role": "user", "content": "Research tidal power.\nBe brief."}],
                     [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}]):
        want = jinja2.Environment().from_string(template).render(messages=messages, add_generation_prompt=True)
        assert decoder._template.render(messages) == want
        assert decoder._template.tokenize(want)[0] == decoder._lib.llama_vocab_bos(decoder._vocab)  # <|im_start|>
