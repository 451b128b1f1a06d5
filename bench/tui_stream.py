"""Streaming benchmark: N panes each fed T tokens a second for S seconds, headless at 200×60; then every pane
read in turn, as a person does once a run ends.

    python bench/tui_stream.py                      # 20×100 and 40×50 tok/s, 3 rounds each, interleaved
    python bench/tui_stream.py --rounds 5 --json
    python bench/tui_stream.py --baseline DIR       # the same, interleaved with an earlier checkout's rounds
    python bench/tui_stream.py --panes 20 --rate 100 [--seconds 30]   # one round of one configuration

Synthetic events go straight into the run screen through the same `feed()` a live run uses. It checks that
every token sent ends up displayed (each pane's Markdown source equals the text sent, once the branches end;
the focused pane's live Markdown stream equals it before they end, and each pane's Markdown equals it once
focused) and reports the event loop's lag (a probe sleeping 10 ms: p50 / p99 / max of how late it wakes) and
the process's CPU use (process time over wall time), while streaming, while the branches end, and while every
finished pane is focused in turn: how long until its first screenful of Markdown is there (first paint) and
until the whole answer is (whole).

Several rounds run as separate processes, the configurations interleaved (A B A B …) so that both see the same
neighbours on a shared machine; the summary gives each figure's median and its spread (min–max) and how busy
the rest of the machine was, and the same lag probe's figure in an idle process run beside the app (what the
machine's scheduler alone costs at that moment). Exit code 1 if a token was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

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
POLL = 0.005  # seconds between checks while timing a focused pane (first paint has a 100 ms goal)
SIZE = (200, 60)
CONFIGS = ((20, 100.0), (40, 50.0))  # panes, tokens/s per pane: the two loads
CODE = ["\n\n```python\n", "def ", "fidelity", "(", "rate", "):\n", "    return ", "1 - rate",
        "  # a comment with [bold]no markup[/bold]\n", "```\n\n"]
TABLE = ["\n\n| platform | qubits | fidelity |\n", "|---|---|---|\n", "| trapped ion | 56 | 99.9 % |\n",
         "| superconducting | 1121 | 99.5 % |\n\n"]


def fake_tokens(seed: int, count: int) -> list[str]:
    """LLM-shaped Markdown: paragraphs, headings, lists, bold words and now and then a code block or a table,
    one word-ish token at a time."""
    rng = random.Random(seed)
    words = ("qubit", "error", "rate", "logical", "surface", "code", "fidelity", "photonic", "trapped", "ion",
             "neutral", "atom", "roadmap", "2026", "benchmark", "algorithm", "the", "of", "and", "with")
    out: list[str] = []
    since_break = 0
    while len(out) < count:
        roll = rng.random()
        if since_break > 40 and roll < 0.08:
            block = rng.random()
            if block < 0.1:
                out += CODE
            elif block < 0.18:
                out += TABLE
            else:
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

    def figures(self) -> dict[str, float]:
        if not self.lags:
            return {"p50": 0.0, "p99": 0.0, "max": 0.0}
        ordered = sorted(self.lags)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return {"p50": statistics.median(ordered) * 1000, "p99": p99 * 1000, "max": ordered[-1] * 1000}


# The control: the same probe in a process that does nothing else, run beside the app for the whole round. Its
# lag is what the machine's scheduler alone costs at that moment (on a shared machine, a lot): the app's figures
# are read against it.
CONTROL = """
import asyncio, sys, time
out = open(sys.argv[1], "w", buffering=1)
async def main():
    while True:
        start = time.perf_counter()
        await asyncio.sleep(%r)
        out.write(f"{time.time()} {time.perf_counter() - start - %r}\\n")
asyncio.run(main())
""" % (PROBE, PROBE)


class Control:
    def __init__(self) -> None:
        self.path = Path(tempfile.mkstemp(prefix="fanout-bench-control-")[1])
        self.process = subprocess.Popen([sys.executable, "-c", CONTROL, str(self.path)])

    def stop(self) -> list[tuple[float, float]]:
        self.process.terminate()
        self.process.wait()
        samples = []
        for line in self.path.read_text().splitlines():
            try:
                t, lag = line.split()
                samples.append((float(t), float(lag)))
            except ValueError:
                pass
        self.path.unlink()
        return samples


class Phase:
    """A lag probe plus the process's CPU and the machine's busy time over one phase of the round."""

    def __init__(self) -> None:
        self.probe = Probe()
        self._task = asyncio.create_task(self.probe.run())
        self._cpu, self._wall, self._busy = time.process_time(), time.perf_counter(), _busy_seconds()
        self._since = time.time()

    async def stop(self) -> dict[str, float]:
        cpu, wall = time.process_time() - self._cpu, time.perf_counter() - self._wall
        busy = _busy_seconds() - self._busy
        self.probe.running = False
        await self._task
        return {**self.probe.figures(), "seconds": wall, "cpu": cpu / wall if wall else 0.0,
                "others": max(0.0, busy - cpu) / wall if wall else 0.0, "window": (self._since, time.time())}


def with_control(phase: dict[str, Any], samples: list[tuple[float, float]]) -> None:
    """The idle process's lag over the same window as the phase: its p99 and the app's p99 over it."""
    since, until = phase.pop("window")
    probe = Probe([lag for t, lag in samples if since <= t <= until])
    phase["control_p99"] = probe.figures()["p99"]


def _busy_seconds() -> float:
    """Busy CPU seconds of the whole machine (all cores), from /proc/stat; 0 where there is none."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Bench:
    panes: int
    rate: float
    seconds: float
    texts: dict[str, list[str]] = field(default_factory=dict)
    go: asyncio.Event = field(default_factory=asyncio.Event)  # the panes are up and the probe is running
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
        await self.go.wait()
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
        yield RunDone(end, "ok", RunMetrics(wall=end, calls_sum=end * self.panes, concurrency=float(self.panes)))


async def wait_until(predicate, timeout: float, poll: float = 0.05) -> bool:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(poll)
    return True


def first_paint(pane) -> bool:
    """The focused finished pane shows the start of its answer as Markdown, rendered for its current width."""
    doc = pane.markdown
    return pane.view == "final" and pane.scroll.display and bool(doc.lines) and doc.width_rendered == pane.doc_width()


def whole(pane) -> bool:
    """The focused finished pane shows its whole answer as Markdown, rendered for its current width."""
    return pane.settled and pane.markdown.width_rendered == pane.doc_width()


async def read_every_pane(screen, bench: Bench, lost: list[str]) -> dict[str, float]:
    """Focus each pane in turn, as soon as the previous one is whole: first paint and whole answer times."""
    paints, wholes = [], []
    phase = Phase()
    for index, (bid, pane) in enumerate(screen.panes.items()):
        started = time.perf_counter()
        screen.focus_pane(index)
        await wait_until(lambda: pane.has_focus and first_paint(pane), 30, POLL)
        paints.append(time.perf_counter() - started)
        await wait_until(lambda: whole(pane), 30, POLL)
        wholes.append(time.perf_counter() - started)
        if pane.markdown.source != "".join(bench.texts[bid]):
            lost.append(bid)
    read = await phase.stop()
    read.update(paint_median=statistics.median(paints) * 1000, paint_max=max(paints) * 1000,
                whole_median=statistics.median(wholes) * 1000, whole_max=max(wholes) * 1000)
    return read


async def measure(panes: int, rate: float, seconds: float) -> dict[str, Any]:
    from fanout.tui.app import FanoutApp
    from fanout.tui.screens.run import RunScreen
    from fanout.tui.feeds import Feed

    bench = Bench(panes, rate, seconds)
    control = Control()
    try:
        app = FanoutApp()  # opens on the run form; the benchmark's run screen goes on top
        async with app.run_test(size=SIZE) as pilot:
            screen = RunScreen(Feed(bench.events(), label="benchmark"))
            await app.push_screen(screen)
            await pilot.pause()
            await wait_until(lambda: len(screen.panes) == panes and screen.pane_list()[0].is_mounted
                             and screen.aggregate_pane.is_mounted, 10)  # the first pane focused, the others when shown
            await pilot.pause(0.2)
            phase = Phase()
            bench.go.set()
            await bench.streamed.wait()
            stream = await phase.stop()

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

            phase = Phase()
            bench.finish.set()
            await screen.finished.wait()
            settled = await wait_until(lambda: not screen.pacer.busy, 60)
            end = await phase.stop()
            end["markdown_panes"] = sum(1 for p in screen.panes.values() if p.settled)

            # Then read every pane in turn, as soon as the last one is there.
            lost = [bid for bid in screen.panes
                    if "".join(screen.state.branches[bid].chunks) != "".join(bench.texts[bid])]
            cache = screen.pacer.cache
            renders = cache.renders
            read = await read_every_pane(screen, bench, lost)
            read["renders"] = cache.renders - renders  # rendered ahead while the run ended: none left to do

            # Then the same after a resize (every width changes, nothing is cached): the on-demand path.
            await pilot.resize_terminal(SIZE[0] - 20, SIZE[1])
            await pilot.pause()
            screen.focus_pane(0)
            await pilot.pause()
            resized = await read_every_pane(screen, bench, lost)
    finally:
        samples = control.stop()
    for phase_figures in (stream, end, read, resized):
        with_control(phase_figures, samples)

    return {"panes": panes, "rate": rate, "seconds": seconds, "tokens": panes * int(rate * seconds),
            "answer_tokens": int(rate * seconds), "stream": stream, "end": end, "read": read, "resized": resized,
            "live_ok": live_ok, "settled": settled, "lost": sorted(set(lost))}


def report(r: dict[str, Any]) -> str:
    s, e, d, z = r["stream"], r["end"], r["read"], r["resized"]
    lines = [
        f"fanout TUI streaming benchmark: {r['panes']} panes × {r['rate']:g} tokens/s × {r['seconds']:g} s, "
        f"headless {SIZE[0]}×{SIZE[1]}",
        f"  tokens sent        {r['tokens']}",
        f"  streaming          loop lag p50 {s['p50']:.1f} ms · p99 {s['p99']:.1f} ms · max {s['max']:.1f} ms · "
        f"CPU {s['cpu']:.2f} core (others {s['others']:.2f}; an idle process's p99 {s['control_p99']:.1f} ms)",
        f"  live view          {'every token shown' if r['live_ok'] else 'TOKENS MISSING'} "
        f"(focused pane's Markdown stream, tail views)",
        f"  branches end       settled in {e['seconds']:.2f} s ({e['markdown_panes']} panes as Markdown) · "
        f"loop lag p99 {e['p99']:.1f} ms · max {e['max']:.1f} ms",
        f"  reading each pane  ({r['answer_tokens']} tokens each) first paint median {d['paint_median']:.0f} ms · "
        f"max {d['paint_max']:.0f} ms; whole answer median {d['whole_median']:.0f} ms · max {d['whole_max']:.0f} ms; "
        f"loop lag p99 {d['p99']:.1f} ms · max {d['max']:.1f} ms; {d['renders']} groups rendered",
        f"  after a resize     ({SIZE[0] - 20} columns: nothing cached) first paint median {z['paint_median']:.0f} ms · "
        f"max {z['paint_max']:.0f} ms; whole answer median {z['whole_median']:.0f} ms · max {z['whole_max']:.0f} ms; "
        f"loop lag p99 {z['p99']:.1f} ms · max {z['max']:.1f} ms",
        f"  delivered          {r['panes'] - len(r['lost'])} of {r['panes']} panes show exactly the text sent"
        + ("" if r["settled"] else " (did not settle in 60 s)"),
    ]
    if r["lost"]:
        lines.append(f"  LOST TOKENS in: {', '.join(r['lost'])}")
    return "\n".join(lines)


def ok(r: dict[str, Any]) -> bool:
    return not r["lost"] and r["live_ok"] and r["settled"]


# The figures of the summary: (label, phase, key, unit).
FIGURES = (
    ("streaming: loop lag p99", "stream", "p99", "ms"),
    ("streaming: loop lag max", "stream", "max", "ms"),
    ("streaming: an idle process's loop lag p99 meanwhile", "stream", "control_p99", "ms"),
    ("streaming: CPU", "stream", "cpu", "core"),
    ("branches end: settled in", "end", "seconds", "s"),
    ("branches end: loop lag p99", "end", "p99", "ms"),
    ("reading: first paint, median pane", "read", "paint_median", "ms"),
    ("reading: first paint, slowest pane", "read", "paint_max", "ms"),
    ("reading: whole answer, median pane", "read", "whole_median", "ms"),
    ("reading: whole answer, slowest pane", "read", "whole_max", "ms"),
    ("reading: loop lag p99", "read", "p99", "ms"),
    ("reading: loop lag max", "read", "max", "ms"),
    ("reading: an idle process's loop lag p99 meanwhile", "read", "control_p99", "ms"),
    ("after a resize: first paint, median pane", "resized", "paint_median", "ms"),
    ("after a resize: first paint, slowest pane", "resized", "paint_max", "ms"),
    ("after a resize: whole answer, median pane", "resized", "whole_median", "ms"),
    ("after a resize: whole answer, slowest pane", "resized", "whole_max", "ms"),
    ("after a resize: loop lag p99", "resized", "p99", "ms"),
    ("after a resize: loop lag max", "resized", "max", "ms"),
    ("other processes busy (streaming)", "stream", "others", "cores"),
)


def _fmt(value: float, unit: str) -> str:
    return f"{value:.2f}" if unit in ("core", "cores", "s") else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _cell(rounds: list[dict[str, Any]], phase: str, key: str, unit: str) -> str:
    values = [r[phase][key] for r in rounds if phase in r and key in r[phase]]
    if not values:
        return "–"
    return (f"{_fmt(statistics.median(values), unit)} {unit} "
            f"({_fmt(min(values), unit)}–{_fmt(max(values), unit)})")


def summary(results: dict[str, list[dict[str, Any]]], before: dict[str, list[dict[str, Any]]] | None = None) -> str:
    """Median (min–max) of every figure per configuration; with `before`, its figures beside each column."""
    names = list(results)
    rounds = max(len(v) for v in results.values())
    seconds = next(iter(results.values()))[0]["seconds"]
    out = [f"fanout TUI streaming benchmark: {rounds} rounds per configuration (separate processes, interleaved), "
           f"{seconds:g} s of streaming each, headless {SIZE[0]}×{SIZE[1]}; median (min–max)", ""]
    columns = [(name, source) for name in names for source in ((before, "before"), (results, "now"))
               if source[0] is not None and name in source[0]] if before else [(n, (results, "")) for n in names]
    out.append("| figure | " + " | ".join(f"{n} {tag}".strip() for n, (_, tag) in columns) + " |")
    out.append("|---|" + "---|" * len(columns))
    for label, phase, key, unit in FIGURES:
        out.append(f"| {label} | " + " | ".join(_cell(src[n], phase, key, unit) for n, (src, _) in columns) + " |")
    delivered = ["every token, every round" if all(ok(r) for r in src[n]) else "TOKENS LOST"
                 for n, (src, _) in columns]
    out.append("| delivered | " + " | ".join(delivered) + " |")
    return "\n".join(out)


def run_rounds(configs: list[tuple[int, float]], seconds: float, rounds: int,
               python_path: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Each round in a process of its own; `python_path`: import fanout from there instead (a baseline)."""
    env = dict(os.environ)
    if python_path:
        env["PYTHONPATH"] = python_path + os.pathsep + env.get("PYTHONPATH", "")
    results: dict[str, list[dict[str, Any]]] = {f"{p} panes × {r:g} tok/s": [] for p, r in configs}
    for index in range(rounds):
        for (panes, rate), name in zip(configs, results):
            print(f"round {index + 1}/{rounds}: {name}{' (baseline)' if python_path else ''} …",
                  file=sys.stderr, flush=True)
            done = subprocess.run(
                [sys.executable, "-P", str(Path(__file__).resolve()), "--panes", str(panes), "--rate", str(rate),
                 "--seconds", str(seconds), "--one-json"],
                # A baseline's rounds import the fanout found in its folder (PYTHONPATH), and start there; -P keeps
                # this script's own folder off the path.
                capture_output=True, text=True, check=False, env=env, cwd=python_path or None)
            if done.returncode not in (0, 1) or not done.stdout.strip():
                sys.stderr.write(done.stderr)
                raise SystemExit(f"a round failed (exit {done.returncode})")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(json.dumps(result) if python_path else report(result), file=sys.stderr, flush=True)
            results[name].append(result)
    return results


def interleaved(configs: list[tuple[int, float]], seconds: float, rounds: int, baseline: str):
    """Rounds of a baseline checkout and of this code taken in turn, so both see the same neighbours."""
    before: dict[str, list[dict[str, Any]]] = {}
    now: dict[str, list[dict[str, Any]]] = {}
    for _ in range(rounds):
        for target, path in ((before, baseline), (now, None)):
            for name, got in run_rounds(configs, seconds, 1, path).items():
                target.setdefault(name, []).extend(got)
    return before, now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/tui_stream.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--panes", type=int, help="one configuration: this many panes (with --rate)")
    parser.add_argument("--rate", type=float, help="tokens per second per pane (with --panes)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per configuration (default 3; 1, in this process, for one --panes/--rate)")
    parser.add_argument("--json", action="store_true", help="every round's figures as JSON on stdout")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also run rounds of the fanout package found in DIR (an earlier checkout laid out as "
                             "installed: DIR/fanout/tui/...), interleaved with this code's, side by side; --json "
                             "then gives before and now")
    parser.add_argument("--table", nargs="+", metavar="JSON",
                        help="no run: the summary of saved --json results (two files: before and now, side by side)")
    parser.add_argument("--one-json", action="store_true", help=argparse.SUPPRESS)  # one round, for run_rounds
    args = parser.parse_args(argv)
    os.environ["FANOUT_HOME"] = tempfile.mkdtemp(prefix="fanout-bench-")  # no config or sessions of the user's
    if args.table:
        loaded = [json.loads(Path(name).read_text()) for name in args.table]
        if len(loaded) == 1 and set(loaded[0]) == {"before", "now"}:
            loaded = [loaded[0]["before"], loaded[0]["now"]]
        print(summary(loaded[-1], loaded[0] if len(loaded) > 1 else None))
        return 0
    single = args.panes is not None or args.rate is not None
    configs = [(args.panes or CONFIGS[0][0], args.rate or CONFIGS[0][1])] if single else list(CONFIGS)
    rounds = args.rounds if args.rounds is not None else (1 if single else 3)
    if args.one_json or (single and rounds == 1 and not args.json):
        result = asyncio.run(measure(configs[0][0], configs[0][1], args.seconds))
        print(json.dumps(result) if args.one_json else report(result))
        return 0 if ok(result) else 1
    if args.baseline:
        before, results = interleaved(configs, args.seconds, rounds, args.baseline)
        print(json.dumps({"before": before, "now": results}, indent=1) if args.json else summary(results, before))
    else:
        results = run_rounds(configs, args.seconds, rounds)
        print(json.dumps(results, indent=1) if args.json else summary(results))
    return 0 if all(ok(r) for rs in results.values() for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
