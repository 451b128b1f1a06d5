"""A model that echoes its prompt: fanout's fence markers never reach any text, and an echoed aggregate is flagged."""

from __future__ import annotations

import random

from fanout.frontends.report import to_json, to_markdown
from fanout.frontends.state import RunState
from fanout.providers.base import StreamEnd, TextDelta
from fanout.strategies import events as ev
from fanout.strategies.echoes import MarkerScrubber, echo_flag, echo_share
from fanout.strategies.engine import Engine, RunSpec
from fanout.strategies.recipe import from_data

from scripted import ScriptedProvider, Step, resolver
from vclock import run_virtual

NONCE = "c1042885de391ef5"


class Echoing(ScriptedProvider):
    """Answers every call with its own prompt, a few characters a token (SmolLM2 does much the same)."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.prompts: dict[str, str] = {}

    async def stream(self, request):
        prompt = request.messages[-1].content
        key = self.key_of(request)
        self.prompts[key] = prompt
        if key != "aggregate" and "<<<" not in prompt:  # a first step: nothing to echo yet, write something
            prompt = f"Findings on {key}: " + " ".join(f"point {i} of {key}" for i in range(12))
        for i in range(0, len(prompt), 5):
            yield TextDelta(prompt[i:i + 5])
        yield StreamEnd(10, 10, "stop", "m")


def research_like(kind: str = "synthesize"):
    return from_data(
        {
            "name": "echo",
            "prompt": "[{id}] Research {topic} focusing on {title}.",
            "inputs": {"topic": "batteries"},
            "branches": [
                {"id": "a", "title": "Chemistry"},
                {"id": "b", "title": "Supply"},
                {"id": "c", "title": "Policy", "after": ["a", "b"]},
            ],
            "aggregate": {"kind": kind, "prompt": "Synthesise these reports on {topic} into one summary."},
        },
        "echo.toml",
    )


def run(rec, provider, strategy="hybrid"):
    provider.keys = [b.id for b in rec.branches]
    engine = Engine(RunSpec(rec, dict(rec.inputs), strategy, resolver(provider), seed=1))
    events: list[ev.Event] = []

    async def go():
        async for e in engine.events():
            events.append(e)

    run_virtual(go())
    return RunState.from_events(events), events


def test_no_fence_marker_reaches_any_text_when_the_model_echoes_its_prompt():
    p = Echoing(lambda key, n: Step())
    state, events = run(research_like(), p)
    assert state.status == "ok"
    assert "<<<report" in p.prompts["aggregate"] and "<<<report" in p.prompts["c"]  # both really were shown fences
    streamed = {"c": "", "aggregate": ""}
    for e in events:
        if isinstance(e, ev.BranchToken) and e.branch == "c":
            streamed["c"] += e.text
        elif isinstance(e, ev.AggregateToken):
            streamed["aggregate"] += e.text
    report, doc = to_markdown(state), str(to_json(state))
    for text in (*streamed.values(), state.branches["c"].text, state.aggregate.text, report, doc):
        assert "<<<" not in text and "<<report" not in text, text[:300]
    nonce = p.prompts["aggregate"].split("<<<report ", 1)[1].split(" ", 1)[0]
    assert nonce not in report and nonce not in doc
    # what streamed is what the pane ends with: markers were cut as they arrived, not only at the end
    assert streamed["aggregate"] == state.aggregate.text and streamed["c"] == state.branches["c"].text


def test_an_aggregate_that_echoes_its_prompt_is_flagged_in_the_report_and_json():
    state, _ = run(research_like(), Echoing(lambda key, n: Step()))
    flag = state.aggregate.result.get("flagged", "")
    assert flag.startswith("echo: ") and "repeats its own prompt" in flag
    assert to_json(state)["aggregate"]["flagged"] == flag
    assert f"> **Flagged:** {flag}" in to_markdown(state)


class MarkersOnly(Echoing):
    """Answers the aggregate with nothing but its prompt's marker lines (a resumed run's synthesis was 400 tokens
    of them)."""

    async def stream(self, request):
        if self.key_of(request) != "aggregate":
            async for item in super().stream(request):
                yield item
            return
        lines = [line for line in request.messages[-1].content.splitlines() if line.startswith("<<<")]
        for line in lines:
            yield TextDelta(line + "\n")
        yield StreamEnd(10, 400, "length", "m")


def test_an_aggregate_emptied_by_cutting_the_markers_is_flagged_never_ok_with_no_result():
    state, _ = run(research_like(), MarkersOnly(lambda key, n: Step()))
    assert state.aggregate.status == "done" and state.aggregate.text.strip() == ""
    flag = state.aggregate.result.get("flagged", "")
    assert flag.startswith("empty: ") and "fence markers" in flag
    assert to_json(state)["aggregate"]["flagged"] == flag
    assert f"> **Flagged:** {flag}" in to_markdown(state)


def test_an_aggregate_written_afresh_is_not_flagged():
    state, _ = run(research_like(), ScriptedProvider(lambda key, n: Step(tokens=30)))
    assert state.status == "ok" and "flagged" not in state.aggregate.result
    assert "Flagged" not in to_markdown(state)


def test_markers_split_anywhere_across_tokens_are_removed_whole():
    text = (f"<<<report {NONCE} id=academic title=Academic research>>\nQuantum: a < b, x << y, <b>bold</b>.\n"
            f"<<<end {NONCE} id=academic>>>\nMore <<<report 0123456789abcdef id=x title=y>>> tail "
            f"<<<end {NONCE}")
    whole = MarkerScrubber(NONCE).scrub(text)
    assert whole == "\nQuantum: a < b, x << y, <b>bold</b>.\n\nMore  tail "
    for seed in range(300):
        rng, s, out, i = random.Random(seed), MarkerScrubber(NONCE), [], 0
        while i < len(text):
            k = rng.randint(1, 9)
            out.append(s.feed(text[i:i + k]))
            i += k
        out.append(s.flush())
        assert "".join(out) == whole, seed


def scrubbed_in_pieces(nonce: str, text: str, seed: int) -> str:
    rng, s, out, i = random.Random(seed), MarkerScrubber(nonce), [], 0
    while i < len(text):
        k = rng.randint(1, 9)
        out.append(s.feed(text[i:i + k]))
        i += k
    return "".join(out) + s.flush()


# How SmolLM2 copied the markers (issue 26): a prefix of the nonce, no brackets at all, look-alike brackets.
MANGLED = {
    f"Findings.\n<<<end {NONCE[:7]}\nMore.": "Findings.\n\nMore.",
    "<<<report cc056 id=hardware title=Hardware progress>>>\nQubits doubled.": "\nQubits doubled.",
    f"As the report {NONCE} id=hardware title=Hardware progress\nsays, qubits doubled.": "As the \nsays, qubits doubled.",
    f"<‹report {NONCE[:9]} id=a title=A›> text": " text",
    f"«end {NONCE[:5]}» and more": " and more",
    "<<<report id=academic title=Academic research landscape>>>\nDone.": "\nDone.",
    f"two markers <<<end {NONCE[:4]}>><<report {NONCE[:12]} id=x>>> here": "two markers  here",
}
PROSE = ("In the end, 2024 was good: the report 2024 says a < b, x << y and <b>bold</b>; the end 12345 came, "
         "and the report on end users and <end> tags stays. Report 9f. The report abcdef1234 stands.")


def test_partial_and_mangled_copies_of_the_markers_are_removed():
    for text, want in MANGLED.items():
        assert MarkerScrubber(NONCE).scrub(text) == want, text
        for seed in range(60):
            assert scrubbed_in_pieces(NONCE, text, seed) == want, (text, seed)


def test_prose_that_only_resembles_a_marker_is_kept():
    assert MarkerScrubber(NONCE).scrub(PROSE) == PROSE
    for seed in range(60):
        assert scrubbed_in_pieces(NONCE, PROSE, seed) == PROSE, seed


def test_text_that_only_looks_like_a_start_is_released():
    s = MarkerScrubber(NONCE)
    assert s.feed("if a <") == "if a "
    assert s.feed("= b then <<") == "<= b then "
    assert s.feed(" shift") == "<< shift"
    assert s.flush() == ""


def test_a_result_that_is_one_character_repeated_is_flagged():
    """What SmolLM2 wrote as a sequential run's synthesis: a line of the fences' opening character."""
    assert echo_flag("<" * 300, "Synthesise these reports.").startswith("echo: 100% of this result is one character")
    assert echo_flag("A table:\n| a | b |\n|---|---|\n| 1 | 2 |\nand a summary of the findings.", "x") == ""


def test_echo_share_tells_a_copy_from_a_summary():
    prompt = "Synthesise these reports on batteries into one summary. " + " ".join(f"fact {i} holds" for i in range(40))
    assert echo_share(prompt[:400], prompt) > 0.9
    assert echo_share("Batteries improved; supply is tight and policy lags behind the chemistry.", prompt) == 0
    assert echo_flag("Batteries improved; supply is tight and policy lags behind the chemistry.", prompt) == ""
