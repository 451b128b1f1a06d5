"""Sections of a document run as branches like any other: bounded by the concurrency limit, each its own cache
entry (over real HTTP against the loopback server)."""

from __future__ import annotations

import pytest

from fanout.frontends.state import RunState
from fanout.wiring.launch import RunOptions, execute, prepare


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path / "home"))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)


async def run(loopback, doc, cache):
    prepared = prepare(RunOptions(recipe="summarize", base_url=loopback.base_url + "/v1", model="m", cache=cache,
                                  concurrency=2, inputs={"doc": f"@{doc}"}))
    state = RunState()
    try:
        await execute(prepared, [state.apply])
    finally:
        await prepared.aclose()
    return state


async def test_ten_sections_share_two_slots_and_each_is_cached_on_its_own(loopback, tmp_path):
    loopback.latency, loopback.token_interval = 0.05, 0.002
    doc = tmp_path / "doc.md"
    doc.write_text("\n\n".join(f"## Part {i}\n\nText of part {i}." for i in range(10)))
    first = await run(loopback, doc, "use")
    sections = [b for b in first.branch_list() if b.info.group == "section"]
    assert len(sections) == 10 and first.status == "ok"
    assert loopback.max_in_flight == 2  # the limit, reached and never passed
    served = len(loopback.requests)
    doc.write_text(doc.read_text().replace("Text of part 7.", "Changed."))
    second = await run(loopback, doc, "use")
    cached = {b.id: b.cached for b in second.branch_list()}
    # Nine sections are the same requests as before; the changed one and the merge are new calls.
    assert [bid for bid, hit in cached.items() if not hit] == ["section.08"]
    assert len(loopback.requests) - served == 2
