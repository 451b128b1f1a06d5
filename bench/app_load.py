"""The app under load: a 1,000-line `tickets` run in the app against the same run headless, side by side.

    python bench/app_load.py [--rounds 3] [--lines 1000] [--concurrency 100]
    python bench/app_load.py --baseline DIR      # also an earlier checkout's app and headless run, interleaved
    python bench/app_load.py --make-baseline COMMIT DIR   # lays a commit out as installed, for --baseline

Each round runs the shipped `tickets` recipe over the same generated file of LINES support tickets (one branch
each, no aggregate call) against the loopback server in its own process (`python -m fanout.devserver`, 0.3 s
before headers, then 20 tokens 20 ms apart: 0.7 s a call; a fresh server per run), `--cache off`, concurrency 100:
- headless: `python -m fanout run tickets --set tickets=FILE ... --json` as a process of its own;
- app: the real `FanoutApp` started on the run, driven headless by Textual's `run_test` at 200×50 in a process of
  its own, until the run screen says the run is over. Meanwhile a probe task sleeping 10 ms measures the event
  loop's lag (p50 / p99 / max of how late it wakes), and every second `n` is pressed (the next pane): the key's
  response is the time from the key event being posted to the pane it moves to being the current one.
The two alternate (headless, app, headless, app ...; with --baseline, the baseline's pair first in each round), so
they see the same neighbours. Reported per code: the run's wall (RunMetrics.wall) and sum of call latencies for
each, the app's wall over the headless wall of the same round, the loop lag and key response, the app's CPU, and
how busy the rest of the machine was. Goal (issue 30): app wall within 1.2× headless, loop lag p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _common as C
from tui_stream import PROBE, Probe  # the same lag probe as the streaming benchmark

LATENCY, INTERVAL, TOKENS = 0.3, 0.02, 20  # the loopback server
CONCURRENCY = 100
SIZE = (200, 50)
KEY_EVERY = 1.0  # seconds between presses of `n`
RATIO_GOAL, LAG_GOAL = 1.2, 50.0


# --------------------------------------------------------------------------------------------------
# One app run, in this process (the child)


async def press_next(app: Any, screen: Any, done: asyncio.Event, responses: list[float]) -> None:
    """`n` every KEY_EVERY seconds while the run goes on: how long until the next pane is the current one."""
    while not done.is_set():
        await asyncio.sleep(KEY_EVERY)
        if done.is_set():
            return
        before = screen.current
        start = time.perf_counter()
        app.simulate_key("n")
        while screen.current == before and not done.is_set():
            await asyncio.sleep(0.002)
        if screen.current != before:
            responses.append(time.perf_counter() - start)


async def app_run(tickets: str, base_url: str, concurrency: int) -> dict[str, Any]:
    import fanout
    from fanout.tui.app import FanoutApp
    from fanout.tui.screens.run import RunScreen
    from fanout.wiring.launch import prepare

    cpu0, t0 = time.process_time(), time.perf_counter()
    prepared = prepare(C.options("tickets", base_url, concurrency=concurrency, inputs={"tickets": tickets}))
    app = FanoutApp(prepared=prepared)
    async with app.run_test(size=SIZE) as pilot:
        while not isinstance(app.screen, RunScreen):
            await pilot.pause(0.01)
        screen = app.screen
        probe = Probe()
        responses: list[float] = []
        probing = asyncio.create_task(probe.run())
        keys = asyncio.create_task(press_next(app, screen, screen.finished, responses))
        cpu1, t1 = time.process_time(), time.perf_counter()
        await screen.finished.wait()
        t2, cpu2 = time.perf_counter(), time.process_time()
        probe.running = False
        await asyncio.gather(probing, keys)
        state = screen.state
        m = state.metrics
        statuses: dict[str, int] = {}
        for b in state.branch_list():
            statuses[b.status] = statuses.get(b.status, 0) + 1
    return {
        "fanout": fanout.__file__,
        "status": state.status,
        "branch_statuses": statuses,
        "wall": m.wall if m else None,
        "calls_sum": m.calls_sum if m else None,
        "calls": m.calls if m else None,
        "screen_seconds": t2 - t1,  # from the run screen's first frame to the run's end
        "process_seconds": t2 - t0,
        "cpu_cores": (cpu2 - cpu1) / (t2 - t1),
        "lag": probe.figures(),
        "keys": {"presses": len(responses),
                 "median": statistics.median(responses) * 1000 if responses else None,
                 "max": max(responses) * 1000 if responses else None},
    }


# --------------------------------------------------------------------------------------------------
# The rounds (the parent)


def env_for(baseline: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if baseline:
        env["PYTHONPATH"] = baseline + os.pathsep + env.get("PYTHONPATH", "")
    return env


def busy_cores(since: tuple[float, float], child_cpu: float) -> float:
    """Cores the rest of the machine kept busy since `since` (monotonic, busy seconds), less `child_cpu`."""
    elapsed = time.monotonic() - since[0]
    return max(0.0, C._busy_seconds() - since[1] - child_cpu) / elapsed if elapsed > 0 else 0.0


def run_process(argv: list[str], out: Path, err: Path, baseline: str | None) -> tuple[int, float]:
    """Run `argv` to its end, stdout and stderr to files: (exit code, its CPU seconds from its rusage)."""
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen(argv, stdout=fo, stderr=fe, cwd=baseline or C.home(), env=env_for(baseline))
        _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime


def measured(argv: list[str], baseline: str | None, work: Path, tag: str) -> tuple[str, dict[str, Any]]:
    """One run against a fresh loopback server: (its stdout, its CPU, the rest of the machine's and the server's)."""
    with C.ServerProcess(latency=LATENCY, token_interval=INTERVAL, tokens=TOKENS) as server:
        argv = [server.base_url + a[3:] if a.startswith("URL") else a for a in argv]  # "URL", "URL/v1"
        since = (time.monotonic(), C._busy_seconds())
        out, err = work / f"{tag}.out", work / f"{tag}.err"
        code, cpu = run_process(argv, out, err, baseline)
        others = busy_cores(since, cpu + server.cpu())
    if code != 0:
        raise SystemExit(f"{tag}: exit {code}: {err.read_text(encoding='utf-8', errors='replace')[-3000:]}")
    return out.read_text(encoding="utf-8"), {"cpu_seconds": cpu, "others": others, "server": server.stats}


def headless(tickets: Path, concurrency: int, baseline: str | None, work: Path, tag: str) -> dict[str, Any]:
    argv = C.python("-m", "fanout", "run", "tickets", "--set", f"tickets={tickets}", "--base-url", "URL/v1",
                    "--model", "m", "--concurrency", str(concurrency), "--cache", "off", "--json")
    out, extra = measured(argv, baseline, work, tag)
    report = json.loads(out)
    m = report["metrics"]
    statuses: dict[str, int] = {}
    for b in report["branches"]:
        statuses[b["status"]] = statuses.get(b["status"], 0) + 1
    return {"status": report["status"], "branch_statuses": statuses, "wall": m["wall"], "calls_sum": m["calls_sum"],
            "calls": m["calls"], **extra}


def app(tickets: Path, concurrency: int, baseline: str | None, work: Path, tag: str) -> dict[str, Any]:
    # The script's own folder (bench/) goes first on the child's path, for _common; fanout is the installed one,
    # or the baseline's (PYTHONPATH), the child starting in a folder with no `fanout/` in it.
    argv = [C.PY, str(Path(__file__).resolve()), "--one-app", "URL", "--tickets", str(tickets),
            "--concurrency", str(concurrency)]
    out, extra = measured(argv, baseline, work, tag)
    return {**json.loads(out.strip().splitlines()[-1]), **extra}


def one_round(index: int, rounds: int, tickets: Path, concurrency: int, codes: dict[str, str | None],
              work: Path, results: dict[str, list[dict[str, Any]]]) -> None:
    for name, path in codes.items():
        print(f"round {index + 1}/{rounds}, {name}: headless …", file=sys.stderr, flush=True)
        h = headless(tickets, concurrency, path, work, f"{name}-{index}-headless")
        print(f"round {index + 1}/{rounds}, {name}: app …", file=sys.stderr, flush=True)
        a = app(tickets, concurrency, path, work, f"{name}-{index}-app")
        r = {"headless": h, "app": a, "ratio": a["wall"] / h["wall"]}
        results[name].append(r)
        print(f"  headless wall {h['wall']:.2f} s (calls {h['calls_sum']:.0f} s) · app wall {a['wall']:.2f} s "
              f"(calls {a['calls_sum']:.0f} s) · ratio {r['ratio']:.2f} · loop lag p50 {a['lag']['p50']:.1f} "
              f"p99 {a['lag']['p99']:.1f} max {a['lag']['max']:.0f} ms · key {a['keys']['median'] or 0:.0f} ms · "
              f"app CPU {a['cpu_cores']:.2f} core · others {h['others']:.2f}/{a['others']:.2f} cores",
              file=sys.stderr, flush=True)


# The summary's figures: (label, getter, unit).
FIGURES = (
    ("headless: wall", lambda r: r["headless"]["wall"], "s"),
    ("app: wall", lambda r: r["app"]["wall"], "s"),
    ("app wall / headless wall", lambda r: r["ratio"], "×"),
    ("headless: sum of calls", lambda r: r["headless"]["calls_sum"], "s"),
    ("app: sum of calls", lambda r: r["app"]["calls_sum"], "s"),
    ("app: loop lag p50", lambda r: r["app"]["lag"]["p50"], "ms"),
    ("app: loop lag p99", lambda r: r["app"]["lag"]["p99"], "ms"),
    ("app: loop lag max", lambda r: r["app"]["lag"]["max"], "ms"),
    ("app: key `n` to the next pane, median", lambda r: r["app"]["keys"]["median"], "ms"),
    ("app: key `n` to the next pane, slowest", lambda r: r["app"]["keys"]["max"], "ms"),
    ("app: CPU while running", lambda r: r["app"]["cpu_cores"], "core"),
    ("headless: CPU", lambda r: r["headless"]["cpu_seconds"] / r["headless"]["wall"], "core"),
    ("other processes busy (headless / app)", lambda r: (r["headless"]["others"] + r["app"]["others"]) / 2, "cores"),
)


def _fmt(value: float, unit: str) -> str:
    if unit in ("s", "×", "core", "cores"):
        return f"{value:.2f}" if unit != "s" or value < 100 else f"{value:.0f}"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def cell(rounds: list[dict[str, Any]], get, unit: str) -> str:
    values = [v for v in (get(r) for r in rounds) if v is not None]
    if not values:
        return "–"
    med = statistics.median(values)
    return f"{_fmt(med, unit)} {unit} ({_fmt(min(values), unit)}–{_fmt(max(values), unit)})"


def complete(r: dict[str, Any], lines: int) -> bool:
    return all(side["status"] == "ok" and side["branch_statuses"] == {"done": lines}
               for side in (r["headless"], r["app"]))


def summary(results: dict[str, list[dict[str, Any]]], lines: int, concurrency: int) -> str:
    names = list(results)
    rounds = max(len(v) for v in results.values())
    out = [f"The app under load: `tickets` over {lines} lines, concurrency {concurrency}, loopback server "
           f"{LATENCY:g} s + {TOKENS} tokens {INTERVAL * 1000:g} ms apart, --cache off; the app headless at "
           f"{SIZE[0]}×{SIZE[1]}; {rounds} rounds, interleaved, each run a process of its own; median (min–max)", "",
           "| figure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, get, unit in FIGURES:
        out.append(f"| {label} | " + " | ".join(cell(results[n], get, unit) for n in names) + " |")
    out.append("| every branch done, both ways | " + " | ".join(
        "yes" if all(complete(r, lines) for r in results[n]) else "NO" for n in names) + " |")
    goals = []
    for n in names:
        ratio = statistics.median(r["ratio"] for r in results[n])
        p99 = statistics.median(r["app"]["lag"]["p99"] for r in results[n])
        goals.append(f"ratio ≤ {RATIO_GOAL}: {C.verdict(ratio, RATIO_GOAL)}; p99 < {LAG_GOAL:g} ms: "
                     f"{C.verdict(p99, LAG_GOAL)}")
    out.append("| goals (medians) | " + " | ".join(goals) + " |")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--lines", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=CONCURRENCY)
    p.add_argument("--baseline", metavar="DIR", help="an earlier checkout laid out as installed, run side by side")
    p.add_argument("--make-baseline", nargs=2, metavar=("COMMIT", "DIR"), help="lay COMMIT out as installed in DIR")
    p.add_argument("--save", default="app_load", help="bench/results/NAME.json and NAME.md (default app_load)")
    p.add_argument("--one-app", metavar="URL", help=argparse.SUPPRESS)  # one app run, in this process
    p.add_argument("--tickets", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one_app:
        print(json.dumps(asyncio.run(app_run(args.tickets, args.one_app, args.concurrency))))
        return 0
    if args.make_baseline:
        from post_run import make_baseline

        make_baseline(args.make_baseline[0], Path(args.make_baseline[1]).resolve())
        return 0
    codes: dict[str, str | None] = {}
    if args.baseline:
        codes["before"] = str(Path(args.baseline).resolve())
    codes["now" if args.baseline else "this code"] = None
    work = C.home() / "app_load"
    work.mkdir()
    tickets = C.write_tickets(work / "tickets.txt", args.lines)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
    for index in range(args.rounds):
        one_round(index, args.rounds, tickets, args.concurrency, codes, work, results)
    text = summary(results, args.lines, args.concurrency)
    print()
    print(text)
    print(f"\nmachine: {C.machine_line()}")
    C.RESULTS.mkdir(parents=True, exist_ok=True)
    (C.RESULTS / f"{args.save}.md").write_text(f"{text}\n\nmachine: {C.machine_line()}\ncommand: "
                                              f"{C.command_line()}\n", encoding="utf-8")
    C.save(args.save, {"server": {"latency": LATENCY, "token_interval": INTERVAL, "tokens": TOKENS},
                       "lines": args.lines, "concurrency": args.concurrency, "size": SIZE,
                       "goals": {"ratio": RATIO_GOAL, "lag_p99_ms": LAG_GOAL}, "baseline": args.baseline,
                       "results": results})
    C.cleanup_home()
    return 0 if all(complete(r, args.lines) for rs in results.values() for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
