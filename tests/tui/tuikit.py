"""Helpers for the TUI tests: waiting on conditions, reading the screen as text, synthetic event streams."""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Iterable

from textual.content import Content

from fanout.strategies.events import (
    AggregateDone,
    AggregateStarted,
    AggregateToken,
    BranchDone,
    BranchFailed,
    BranchInfo,
    BranchMetrics,
    BranchQueued,
    BranchRetrying,
    BranchStarted,
    BranchToken,
    Event,
    RunDone,
    RunMetrics,
    RunStarted,
)
from fanout.tui import compat
from fanout.tui.widgets.key_bar import KeyBar
from fanout.tui.widgets.stream_pane import StreamPane

STARTED_AT = 1_767_225_600.0  # 2026-01-01 00:00 UTC


async def wait_for(pilot, predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Waits for a state, never for an amount of time; the timeout only stops a hung test."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


screen_text = compat.screen_text  # what the terminal shows, as plain text
notifications = compat.notifications


async def drawn(pilot, screen, timeout: float = 20.0) -> None:
    """Waits until what the run screen has received is drawn: every pane laid out, the rows sized to what the
    panes hold, nothing left for the pacer to render or redraw, every document on show at its pane's width. Bounded: a widget that breaks fails the test."""

    def pending() -> str:
        """What is not drawn yet ("" when everything is)."""
        panes = screen.grid.mounted_panes()  # a pane not made yet is drawn when shown
        if not all(p.is_mounted and (not p.display or p.doc_width() > 0) for p in panes):
            return "a pane not laid out"
        if screen.pacer.busy:
            return "the pacer busy"
        if not screen.grid.fitted:
            return f"the rows {screen.grid.heights()!r}, not yet sized to the panes"
        if not all(p.markdown.width_rendered in (0, p.doc_width()) for p in panes if p.on_screen):
            return "a document rendered at another width"
        return ""

    try:
        await wait_for(pilot, lambda: not pending(), timeout, "everything received to be drawn")
    except AssertionError as err:
        raise AssertionError(f"{err}: {pending()}") from None
    await pilot.pause()


def border_title(pane) -> str:
    """A pane's border title as it reads (Textual hands it back as markup)."""
    return Content.from_markup(pane.border_title or "").plain


def badge(pane) -> str:
    """The status label a pane's border shows (its title starts with the chip: " ✓ done ")."""
    return border_title(pane).strip().split("  ")[0][2:]


class Badges:
    """Every badge each pane shows, in order, read from its border as it is drawn."""

    def __init__(self, monkeypatch) -> None:
        self.seen: dict[object, list[str]] = {}
        draw = StreamPane._draw_header

        def recorded(pane, *args, **kwargs):
            draw(pane, *args, **kwargs)
            if pane.border_title is not None:
                shown = self.seen.setdefault(pane, [])
                label = badge(pane)
                if not shown or shown[-1] != label:
                    shown.append(label)

        monkeypatch.setattr(StreamPane, "_draw_header", recorded)

    def __call__(self, pane) -> list[str]:
        return self.seen.get(pane, [])


class Tap:
    """A feed the test pushes events into, one batch at a time."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()

    def push(self, *events) -> None:
        for e in events:
            self.queue.put_nowait(e)

    async def events(self):
        while (event := await self.queue.get()) is not None:
            yield event


async def aiter_events(events: Iterable[Event]):
    for event in events:
        yield event


def words(text: str) -> list[str]:
    """Tokens as a model streams them: words with their trailing spaces and newlines."""
    out, current = [], ""
    for ch in text:
        current += ch
        if ch in " \n":
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return out


def stream(branch: str, text: str, start: float, step: float = 0.01) -> list[Event]:
    return [BranchToken(round(start + i * step, 4), branch, tok) for i, tok in enumerate(words(text))]


HARDWARE = """## Qubit counts

- IBM: **1,121** superconducting qubits (Condor)
- Quantinuum: 56 trapped-ion qubits, 99.9 % two-qubit fidelity
- Not markup: [bold red]this stays literal[/] and \x1b[31mno colour\x1b[0m escapes
"""
SOFTWARE = "Error-corrected algorithms moved from theory to small demonstrations; "
SECURITY = "NIST finalised ML-KEM in 2024. Shown literally: [bold red]not markup[/] \x1b[31mno colour\x1b[0m; deadlines now drive "
COMMERCIAL = "Funding reached record levels in 2025, led by hardware start-ups."


def research_midstream() -> list[Event]:
    """A research run caught mid-stream: done, cached, streaming, retrying (429) and waiting branches."""
    branches = (
        BranchInfo("hardware", "Hardware progress and qubit counts", (), "custom", "m"),
        BranchInfo("software", "Software and algorithm breakthroughs", (), "custom", "m"),
        BranchInfo("commercial", "Commercial adoption and funding", (), "custom", "m"),
        BranchInfo("security", "Security implications (post-quantum cryptography)", ("hardware",), "custom", "m"),
        BranchInfo("academic", "Academic research landscape",
                   ("hardware", "software", "commercial", "security"), "custom", "m"),
    )
    ev: list[Event] = [
        RunStarted(0.0, "20260101-000000-demo01", "research", "hybrid", "custom", "m",
                   {"topic": "quantum computing"}, branches, "synthesize", STARTED_AT),
        BranchQueued(0.0, "hardware"), BranchStarted(0.01, "hardware"),
        BranchQueued(0.0, "software"), BranchStarted(0.01, "software"),
        BranchQueued(0.0, "commercial"), BranchStarted(0.01, "commercial", cached=True),
        BranchDone(0.02, "commercial", COMMERCIAL,
                   BranchMetrics(ttft=0.0, latency=0.01, input_tokens=30, output_tokens=12, cached=True,
                                 saved_tokens=42)),
    ]
    ev += stream("hardware", HARDWARE, 0.30, 0.01)
    ev += stream("software", SOFTWARE, 0.25, 0.02)
    ev.append(BranchRetrying(0.60, "software", 1, 2.0, "429 rate limited (Retry-After 2 s)", restart=True))
    ev.append(BranchDone(0.70, "hardware", HARDWARE,
                         BranchMetrics(ttft=0.29, latency=0.69, input_tokens=28, output_tokens=40, cost=0.00012)))
    ev += [BranchQueued(0.70, "security"), BranchStarted(0.71, "security")]
    ev += stream("security", SECURITY, 0.90, 0.05)
    return sorted(ev, key=lambda e: e.t)


def finish_research(events: list[Event]) -> list[Event]:
    """The same run to its end, with a synthesis."""
    t = max(e.t for e in events)
    ev = list(events)
    ev += [BranchStarted(t + 2.0, "software", attempt=2)]
    ev += stream("software", SOFTWARE, t + 2.1, 0.01)
    ev.append(BranchDone(t + 2.5, "software", SOFTWARE, BranchMetrics(ttft=0.1, latency=t + 2.5, output_tokens=9,
                                                                     retries=1, throttles=1, backoff=2.0)))
    ev.append(BranchDone(t + 2.6, "security", SECURITY, BranchMetrics(ttft=0.2, latency=1.9, output_tokens=11)))
    ev += [BranchQueued(t + 2.6, "academic"), BranchStarted(t + 2.6, "academic")]
    ev.append(BranchDone(t + 3.0, "academic", "Universities lead in error correction.",
                         BranchMetrics(ttft=0.1, latency=0.4, output_tokens=6)))
    ev.append(AggregateStarted(t + 3.0, "synthesize"))
    synthesis = "## Overall\n\nQuantum computing moved from qubit counts to error rates.\n"
    ev += [AggregateToken(round(t + 3.1 + i * 0.01, 4), tok) for i, tok in enumerate(words(synthesis))]
    ev.append(AggregateDone(t + 3.5, "synthesize", synthesis, metrics=BranchMetrics(output_tokens=10, latency=0.5)))
    ev.append(RunDone(t + 3.5, "ok", RunMetrics(wall=t + 3.5, calls_sum=9.0, concurrency=9.0 / (t + 3.5),
                                                input_tokens=300, output_tokens=88, calls=7, retries=1,
                                                throttles=1, cached=1)))
    return ev


def vote_run() -> list[Event]:
    """Five voters, one failed, and a tally that needs review."""
    voters = [BranchInfo(f"voter{i}", f"Voter {i}", (), "custom", "m", group="answer") for i in range(1, 6)]
    answers = {"voter1": "B", "voter2": "B", "voter3": "A", "voter4": "B"}
    ev: list[Event] = [RunStarted(0.0, "20260101-000000-vote01", "vote", "parallel", "custom", "m",
                                  {"question": "Which is larger?"}, tuple(voters), "vote", STARTED_AT)]
    for i, v in enumerate(voters):
        ev += [BranchQueued(0.0, v.id), BranchStarted(0.01, v.id)]
        if v.id in answers:
            ev.append(BranchDone(0.5 + i * 0.1, v.id, f"Answer: {answers[v.id]}",
                                 BranchMetrics(ttft=0.1, latency=0.5 + i * 0.1, output_tokens=3)))
        else:
            ev.append(BranchFailed(0.4, v.id, "500 server error (gave up after 3 attempts)",
                                   BranchMetrics(latency=0.4, retries=2)))
    ev.append(AggregateStarted(1.0, "vote", failed=("voter5",)))
    ev.append(AggregateDone(1.0, "vote", "B", failed=("voter5",),
                            result={"answer": "B", "confidence": 0.6, "tally": {"B": 3, "A": 1},
                                    "status": "needs review"}))
    ev.append(RunDone(1.0, "partial", RunMetrics(wall=1.0, calls_sum=2.8, concurrency=2.8, output_tokens=12, calls=5,
                                                 retries=2, failed=1)))
    return ev


SHARED_FINDINGS = "- IBM reached 1,121 qubits\n- Error correction crossed the threshold\n- Funding hit $2 billion"
# When each of three branches streamed, and which wrote the shared findings (the rest wrote their own), per strategy.
COMPARED = {
    "sequential": ([(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)], 6.0, (True, False, False)),
    "parallel": ([(0.0, 2.0), (0.0, 2.2), (0.0, 1.8)], 2.2, (True, True, True)),
    "hybrid": ([(0.0, 2.0), (0.0, 2.1), (2.1, 4.0)], 4.0, (True, True, False)),
}


def compared_run(strategy: str):
    """A finished three-branch research run as the comparison draws it: segments, findings, a synthesis."""
    from fanout.frontends.state import RunState

    return RunState.from_events(compared_events(strategy))


def compared_events(strategy: str) -> list[Event]:
    """`compared_run`'s events."""
    spans, agg_start, shared = COMPARED[strategy]
    ids = ("hardware", "software", "security")
    events: list[Event] = [RunStarted(0.0, f"20260101-000000-{strategy[:6]}", "research", strategy, "custom", "m", {},
                                      tuple(BranchInfo(b, b.title()) for b in ids), "synthesize", STARTED_AT)]
    for b, (start, end), same in zip(ids, spans, shared):
        text = SHARED_FINDINGS if same else f"- {b} finding one of its own\n- {b} second, unrelated observation"
        events += [BranchQueued(start, b), BranchStarted(start, b),
                   BranchDone(end, b, text, BranchMetrics(latency=end - start, output_tokens=100))]
    wall = agg_start + 2.0
    tokens = {"sequential": 8400, "parallel": 9200, "hybrid": 8700}[strategy]
    events += [
        AggregateStarted(agg_start, "synthesize"),
        AggregateDone(wall, "synthesize", "## Summary\nok\n## Contradictions\n- counts differ\n" + "x" * len(strategy)),
        RunDone(wall, "ok", RunMetrics(wall=wall, calls_sum=wall, concurrency=1.0, input_tokens=tokens // 2,
                                       output_tokens=tokens - tokens // 2, calls=4, cost=tokens * 1.5e-6)),
    ]
    return events


class Work:
    """Counts of the expensive things Textual does: a layout of the screen, a repaint of all of it; and of the key
    bar's redraws. A layout, a full repaint and a rebuilt footer were each part of the 70-150 ms freeze at every
    move from one finished pane to the next."""

    def __init__(self, monkeypatch) -> None:
        assert set(compat.WORK) == {"layouts", "full repaints"}, "see test_compat: Textual changed"
        self.counts = {"layouts": 0, "full repaints": 0, "key bar redraws": 0}
        for what, (cls, name) in [*compat.WORK.items(), ("key bar redraws", (KeyBar, "render"))]:
            monkeypatch.setattr(cls, name, self._counting(getattr(cls, name), what))

    def _counting(self, original, what: str):
        def counted(obj, *args, **kwargs):
            self.counts[what] += 1
            return original(obj, *args, **kwargs)

        return counted


def numbered_lines(branch: str = "solo") -> Callable[[int], list[BranchToken]]:
    """`more(n)`: the next n tokens of `branch`, each a paragraph "line <number>"."""
    line = iter(range(1_000_000))

    def more(n: int) -> list[BranchToken]:
        return [BranchToken(0.1, branch, f"line {next(line)}\n\n") for _ in range(n)]

    return more
