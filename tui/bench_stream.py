"""Streaming benchmark: N panes each fed T tokens a second for S seconds, headless at 200×60.

    python -m fanout.tui.bench_stream [--panes 20] [--rate 100] [--seconds 30]

Synthetic events go straight into the run screen through the same `feed()` a live run uses. It checks that
every token sent ends up displayed (each pane's Markdown source equals the text sent, once the branches end;
the focused pane's live Markdown stream equals it before they end, and each pane's Markdown equals it once focused)
and reports the event loop's lag (a probe
sleeping 10 ms, p50 / p99 / max of how late it wakes) and the process's CPU use (process time over wall time).
Exit code 1 if a token was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import AsyncIterator

from fanout.strategies.events import (
    AggregateDone,
    AggregateStarted,
    BranchDone,
    BranchInfo,
    BranchMetrics,
    BranchQueued,
    BranchStarted,
    BranchToken,
    Event,
    RunDone,
    RunMetrics,
    RunStarted,
)

PROBE = 0.01  # seconds the lag probe sleeps
SIZE = (200, 60)


def fake_tokens(seed: int, count: int) -> list[str]:
    """LLM-shaped Markdown: paragraphs, headings, lists and bold words, one word-ish token at a time."""
    rng = random.Random(seed)
    words = ("qubit", "error", "rate", "logical", "surface", "code", "fidelity", "photonic", "trapped", "ion",
             "neutral", "atom", "roadmap", "2026", "benchmark", "algorithm", "the", "of", "and", "with")
    out: list[str] = []
    since_break = 0
    while len(out) < count:
        roll = rng.random()
        if since_break > 40 and roll < 0.08:
            out.append(rng.choice(("\n\n", "\n\n## Findings\n\n", "\n\n- ", "\n- ", "\n\n1. ")))
            since_break = 0
        elif roll < 0.05:
            out.append(f"**{rng.choice(words)}** ")
        else:
            out.append(rng.choice(words) + " ")
        since_break += 1
    return out[:count]


@dataclass
class Probe:
    lags: list[float] = field(default_factory=list)
    running: bool = True

    async def run(self) -> None:
        while self.running:
            start = time.perf_counter()
            await asyncio.sleep(PROBE)
            self.lags.append(time.perf_counter() - start - PROBE)

    def figures(self) -> tuple[float, float, float]:
        if not self.lags:
            return 0.0, 0.0, 0.0
        ordered = sorted(self.lags)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return statistics.median(ordered), p99, ordered[-1]


@dataclass
class Bench:
    panes: int
    rate: float
    seconds: float
    texts: dict[str, list[str]] = field(default_factory=dict)
    streamed: asyncio.Event = field(default_factory=asyncio.Event)
    finish: asyncio.Event = field(default_factory=asyncio.Event)

    def ids(self) -> list[str]:
        return [f"b{i:02d}" for i in range(self.panes)]

    async def events(self) -> AsyncIterator[Event]:
        """Tokens paced by the wall clock: if the app falls behind, the feed catches up in bursts, not later."""
        ids = self.ids()
        count = int(self.rate * self.seconds)
        self.texts = {bid: fake_tokens(i, count) for i, bid in enumerate(ids)}
        infos = tuple(BranchInfo(bid, f"Branch {bid}") for bid in ids)
        yield RunStarted(0.0, "bench", "bench", "parallel", "synthetic", "m", {}, infos, "concat", time.time())
        start = time.perf_counter()
        for bid in ids:
            yield BranchQueued(0.0, bid)
            yield BranchStarted(0.0, bid)
        sent = 0
        while sent < count:
            await asyncio.sleep(PROBE)
            now = time.perf_counter() - start
            due = min(count, int(now * self.rate))
            for index in range(sent, due):
                for bid in ids:
                    yield BranchToken(now, bid, self.texts[bid][index])
            sent = due
        self.streamed.set()
        await self.finish.wait()
        end = time.perf_counter() - start
        for bid in ids:
            yield BranchDone(end, bid, "".join(self.texts[bid]), BranchMetrics(latency=end, output_tokens=count))
        yield AggregateStarted(end, "concat")
        yield AggregateDone(end, "concat", "(aggregate)")
        yield RunDone(end, "ok", RunMetrics(wall=end, branch_sum=end * self.panes, speedup=float(self.panes)))


async def wait_until(predicate, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def measure(panes: int, rate: float, seconds: float) -> int:
    from fanout.tui.app import FanoutApp
    from fanout.tui.screens.run import RunScreen
    from fanout.tui.feeds import Feed

    bench = Bench(panes, rate, seconds)
    app = FanoutApp()  # opens on the run form; the benchmark's run screen goes on top
    async with app.run_test(size=SIZE) as pilot:
        screen = RunScreen(Feed(bench.events(), label="benchmark"))
        await app.push_screen(screen)
        await pilot.pause()
        await wait_until(lambda: len(screen.panes) == panes and all(p.is_mounted for p in screen.pane_list()), 10)
        await pilot.pause(0.2)
        probe = Probe()
        probe_task = asyncio.create_task(probe.run())
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await bench.streamed.wait()
        cpu1, wall1 = time.process_time(), time.perf_counter()
        probe.running = False
        await probe_task
        stream_lag = probe.figures()

        # Before the branches end: the focused pane's live Markdown holds every token so far, and each
        # tail view ends with the last token.
        await wait_until(lambda: not screen.pacer.busy, 10)
        await pilot.pause(0.3)
        focused = screen.focused_pane()
        live_ok = True
        for bid, pane in screen.panes.items():
            sent = "".join(bench.texts[bid])
            if pane is focused:
                live_ok &= pane.markdown.source == sent
            elif pane.on_screen:
                lines = pane.tail.visible_lines(*pane.tail.content_size)
                live_ok &= bool(lines) and sent.rstrip().endswith(lines[-1].plain.rstrip())

        probe2 = Probe()
        probe2_task = asyncio.create_task(probe2.run())
        wall2 = time.perf_counter()
        bench.finish.set()
        await screen.finished.wait()
        settled = await wait_until(lambda: not screen.pacer.busy, 60)
        wall3 = time.perf_counter()
        probe2.running = False
        await probe2_task
        end_lag = probe2.figures()
        markdown_now = sum(1 for p in screen.panes.values() if p.settled)

        # Then read every pane: focusing it renders its whole answer as Markdown (on demand, one at a time).
        lost = [bid for bid in screen.panes if "".join(screen.state.branches[bid].chunks) != "".join(bench.texts[bid])]
        focus_times = []
        probe3 = Probe()
        probe3_task = asyncio.create_task(probe3.run())
        for index, (bid, pane) in enumerate(screen.panes.items()):
            started = time.perf_counter()
            screen.focus_pane(index)
            await wait_until(lambda: pane.settled and not screen.pacer.busy, 30)
            focus_times.append(time.perf_counter() - started)
            if pane.markdown.source != "".join(bench.texts[bid]):
                lost.append(bid)
        probe3.running = False
        await probe3_task
        read_lag = probe3.figures()

    total = panes * int(rate * seconds)
    print(f"fanout TUI streaming benchmark: {panes} panes × {rate:g} tokens/s × {seconds:g} s, "
          f"headless {SIZE[0]}×{SIZE[1]}")
    print(f"  tokens sent        {total}")
    print(f"  streaming          loop lag p50 {stream_lag[0] * 1000:.1f} ms · p99 {stream_lag[1] * 1000:.1f} ms · "
          f"max {stream_lag[2] * 1000:.1f} ms · CPU {(cpu1 - cpu0) / (wall1 - wall0):.2f} core")
    print(f"  live view          {'every token shown' if live_ok else 'TOKENS MISSING'} "
          f"(focused pane's Markdown stream, tail views)")
    print(f"  branches end       settled in {wall3 - wall2:.2f} s ({markdown_now} panes as Markdown, the rest plain "
          f"until read) · loop lag p99 {end_lag[1] * 1000:.1f} ms · max {end_lag[2] * 1000:.1f} ms")
    print(f"  reading a pane     focus → whole answer as Markdown: median {statistics.median(focus_times) * 1000:.0f} ms"
          f" · max {max(focus_times) * 1000:.0f} ms · loop lag p99 {read_lag[1] * 1000:.1f} ms · "
          f"max {read_lag[2] * 1000:.1f} ms")
    print(f"  delivered          {panes - len(set(lost))} of {panes} panes show exactly the text sent"
          + ("" if settled else " (did not settle in 60 s)"))
    if lost:
        print(f"  LOST TOKENS in: {', '.join(lost)}")
    return 0 if (not lost and live_ok and settled) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fanout.tui.bench_stream", description=__doc__.split("\n\n")[0])
    parser.add_argument("--panes", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100.0, help="tokens per second per pane")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    os.environ["FANOUT_HOME"] = tempfile.mkdtemp(prefix="fanout-bench-")  # no config or sessions of the user's
    return asyncio.run(measure(args.panes, args.rate, args.seconds))


if __name__ == "__main__":
    sys.exit(main())
