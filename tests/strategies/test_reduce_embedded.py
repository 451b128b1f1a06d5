"""The embedded model (real tokens; its window set to 2,048 tokens to halve the test's prefill on a shared machine)
synthesising five long research reports: together they overflow its context, so the aggregate reduces them in groups that fit and completes; with the reduce turned off
the same synthesis fails on context length. The reports come from the loopback server (a second provider), so
they are long and the same on every run; every reduce and the last call are the model's own."""

from __future__ import annotations

import pytest
from runs import run_unrecorded

from fanout.strategies import events as ev
from fanout.wiring.launch import RunOptions

pytestmark = pytest.mark.slow

ANGLES = ["hardware", "software", "commercial", "security", "academic"]


def report(angle: str) -> str:
    sentence = (f"On {angle}, the lab reported that qubit coherence rose from 100 to 300 microseconds, that error "
                f"rates fell by half, and that {angle} budgets grew 40 percent over the year. ")
    return sentence * 11  # about 2,000 characters, about 450 tokens: five do not fit 2,048


def write_recipe(tmp_path, base_url: str, max_input_chars: int | None) -> str:
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "config.toml").write_text(
        f'[providers.loop]\nkind = "openai"\nbase_url = "{base_url}"\nmodel = "m"\n'
        # Generous timeouts: on a loaded machine a 1,500-token prefill can take minutes.
        '[providers.local]\nn_ctx = 2048\ntimeout = 900\nstall_timeout = 600\n')
    limit = f"max_input_chars = {max_input_chars}\n" if max_input_chars else ""
    branches = "".join(f'[[branches]]\nid = "{a}"\ntitle = "{a}"\nprovider = "loop"\n\n' for a in ANGLES)
    path = tmp_path / "synthesis.toml"
    path.write_text(f'name = "synthesis"\nstrategy = "parallel"\nprompt = "Report on {{title}}."\n\n{branches}'
                    '[aggregate]\nkind = "synthesize"\nprovider = "local"\nmax_tokens = 48\ntemperature = 0\n'
                    f'prompt = "Synthesise the reports into one short summary."\n{limit}')
    return str(path)


async def run(tmp_path, monkeypatch, loopback, max_input_chars=None):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path / "home"))
    loopback.responder = lambda req: report(req.prompt.removeprefix("Report on ").rstrip("."))
    return await run_unrecorded(RunOptions(recipe=write_recipe(tmp_path, loopback.base_url + "/v1", max_input_chars),
                                           cache="off"))


async def test_the_embedded_model_reduces_reports_that_overflow_its_context(tmp_path, monkeypatch, loopback):
    state, events = await run(tmp_path, monkeypatch, loopback)
    assert state.status == "ok", state.aggregate.error
    reduce = state.aggregate.result["reduce"]
    # The window's default budget: (2,048 - 48 answer tokens - 64) x 2.5 characters.
    assert reduce["max_input_chars"] == (2048 - 48 - 64) * 5 // 2 and reduce["levels"] >= 1 and reduce["calls"] >= 2
    steps = [e.info.id for e in events if isinstance(e, ev.BranchAdded)]
    assert len(steps) == reduce["calls"]
    for sid in steps:
        b = state.branches[sid]
        assert b.status == "done" and b.text.strip()
        assert b.metrics.output_tokens > 0 and not b.metrics.tokens_estimated and b.metrics.input_tokens < 2048
    agg = state.aggregate
    assert agg.text.strip() and agg.metrics.input_tokens < 2048 and not agg.metrics.tokens_estimated
    assert state.metrics.calls == len(ANGLES) + len(steps) + 1 + state.metrics.retries


async def test_without_the_reduce_the_same_synthesis_overflows(tmp_path, monkeypatch, loopback):
    state, _ = await run(tmp_path, monkeypatch, loopback, max_input_chars=10_000_000)
    assert state.status == "failed"
    assert "exceed context window of 2048" in state.aggregate.error
