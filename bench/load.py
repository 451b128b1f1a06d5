"""Load: 1,000 branches at concurrency 100 through the real `fanout run` command, the loopback server in a
separate process (its CPU is not fanout's).

    python bench/load.py [--repeat 2] [--branches 1000] [--concurrency 100]

Each run is `python -m fanout run RECIPE --base-url URL --model m --concurrency 100 --cache off --json` (session
recorded, progress lines on stderr, the JSON report on stdout, both to files), reaped with os.wait4 for its
rusage: peak RSS is the child's ru_maxrss, CPU its user + system time. The server is `python -m fanout.devserver`
(0.25 s before headers, 20 tokens 5 ms apart: 0.35 s a call), a fresh one per run, so its own summary line gives
that run's peak number of requests in flight.
- flat: a generated 1,000-branch parallel recipe with a synthesize aggregate (one more call over all reports).
- batch: the shipped `tickets` recipe with --set tickets=FILE, a generated 1,000-line file (one branch per line,
  labels, merge aggregate: no aggregate call).
- baseline: the research recipe (5 branches), for the process's fixed memory.
Overhead = RunMetrics.wall over the ideal schedule of the run's calls on 100 slots: with each branch's measured
latency (slot-path: the scheduler's own overhead) and with the server's 0.35 s a call (floor: everything on the
client's side). RunMetrics.critical_path ignores the concurrency limit, so wall / critical_path is not a target here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _common as C

LATENCY, INTERVAL, TOKENS = 0.25, 0.005, 20
RSS_GOAL_MB, OVERHEAD_GOAL = 300, 1.10

def run_cli(argv: list[str], out: Path, err: Path) -> dict:
    with out.open("wb") as fo, err.open("wb") as fe:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=fo, stderr=fe, cwd=C.home(), env=dict(os.environ))
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    report = None
    try:
        report = json.loads(out.read_text(encoding="utf-8"))
    except ValueError:
        pass
    return {
        "exit": proc.returncode,
        "process_seconds": elapsed,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "report": report,
        "stderr_tail": err.read_text(encoding="utf-8", errors="replace")[-1500:] if proc.returncode else "",
    }


def figures(res: dict, slots: int, call: float) -> dict:
    rep = res["report"]
    m = rep["metrics"]
    branches = rep["branches"]
    order = [b["id"] for b in branches]
    latency = {b["id"]: (b["metrics"] or {}).get("latency", 0.0) for b in branches}
    deps: dict[str, tuple] = {}  # every load scenario here is parallel: no edges
    agg = (rep["aggregate"].get("metrics") or {}).get("latency", 0.0)
    agg_floor = call if agg else 0.0
    slot_path = C.ideal_makespan(order, deps, latency, slots) + agg
    floor = C.ideal_makespan(order, deps, {b: call for b in order}, slots) + agg_floor
    statuses: dict[str, int] = {}
    for b in branches:
        statuses[b["status"]] = statuses.get(b["status"], 0) + 1
    answers = sum(1 for b in branches if b.get("answer") is not None)
    lat = sorted(latency.values())
    return {
        "status": rep["status"],
        "branches": len(branches),
        "branch_statuses": statuses,
        "answers_read": answers,
        "wall": m["wall"],
        "critical_path": m["critical_path"],
        "calls": m["calls"],
        "retries": m["retries"],
        "throttles": m["throttles"],
        "slot_path": slot_path,
        "floor": floor,
        "wall_over_slot_path": m["wall"] / slot_path,
        "wall_over_floor": m["wall"] / floor,
        "wall_over_critical_path": m["wall"] / m["critical_path"] if m["critical_path"] else None,
        "branch_latency_median": lat[len(lat) // 2],
        "branch_latency_max": lat[-1],
        "aggregate_latency": agg,
    }


def scenario(name: str, argv_tail: list[str], slots: int, repeat: int, work: Path) -> dict:
    runs = []
    for i in range(repeat):
        with C.ServerProcess(latency=LATENCY, token_interval=INTERVAL, tokens=TOKENS) as server:
            argv = C.python("-m", "fanout", "run", *argv_tail, "--base-url", server.base_url + "/v1", "--model", "m",
                            "--cache", "off", "--json")
            res = run_cli(argv, work / f"{name}-{i}.json", work / f"{name}-{i}.err")
        if res["exit"] != 0 or res["report"] is None:
            raise SystemExit(f"{name}: `fanout run` exited {res['exit']}: {res['stderr_tail']}")
        fig = figures(res, slots, server.call_seconds)
        run = {
            "exit": res["exit"],
            "process_seconds": res["process_seconds"],
            "peak_rss_mib": res["peak_rss_mib"],
            "cpu_seconds": res["cpu_seconds"],
            "server": server.stats,
            **fig,
        }
        runs.append(run)
        print(f"  {name:<10} run {i + 1}: {fig['status']} {fig['branch_statuses']}  wall {fig['wall']:.2f} s  "
              f"peak RSS {res['peak_rss_mib']:.0f} MiB  CPU {res['cpu_seconds']:.1f} s  "
              f"max in flight {server.stats.get('max_in_flight')}  wall/slot-path {fig['wall_over_slot_path']:.3f}  "
              f"wall/floor {fig['wall_over_floor']:.3f}", file=sys.stderr)
    keys = ("wall", "process_seconds", "peak_rss_mib", "cpu_seconds", "wall_over_slot_path", "wall_over_floor",
            "branch_latency_median")
    return {
        "name": name,
        "command": "python -m fanout run " + " ".join(argv_tail) + " --base-url URL --model m --cache off --json",
        "all_complete": all(r["branch_statuses"] == {"done": r["branches"]} and r["status"] == "ok" for r in runs),
        "max_in_flight": max(r["server"].get("max_in_flight", -1) for r in runs),
        **{k: C.summary([r[k] for r in runs]) for k in keys},
        "runs": runs,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=100)
    args = p.parse_args()
    n, conc = args.branches, args.concurrency
    work = C.home() / "load"
    work.mkdir()
    flat = work / "flat.toml"
    C.write_recipe(flat, n, strategy="parallel")
    tickets = C.write_tickets(work / "tickets.txt", n)

    results = [
        scenario("baseline", ["research", "--strategy", "parallel", "--concurrency", "8"], 8, 1, work),
        scenario("flat", [str(flat), "--concurrency", str(conc)], conc, args.repeat, work),
        scenario("batch", ["tickets", "--set", f"tickets={tickets}", "--concurrency", str(conc)], conc, args.repeat,
                 work),
    ]
    print(f"\nLoad: `fanout run` with {n} branches at concurrency {conc}, loopback server in its own process")
    print(f"machine: {C.machine_line()}\n")
    rows = []
    for r in results:
        rows.append([
            r["name"], r["runs"][0]["branches"], "yes" if r["all_complete"] else "NO", r["max_in_flight"],
            f"{r['peak_rss_mib']['max']:.0f}", f"{r['wall']['median']:.2f}", f"{r['process_seconds']['median']:.2f}",
            f"{r['cpu_seconds']['median']:.1f}", f"{r['wall_over_slot_path']['median']:.3f}",
            f"{r['wall_over_floor']['median']:.2f}",
            "" if r["name"] == "baseline" else C.verdict(r["peak_rss_mib"]["max"], RSS_GOAL_MB),
            "" if r["name"] == "baseline" else C.verdict(r["wall_over_slot_path"]["median"], OVERHEAD_GOAL),
            "" if r["name"] == "baseline" else C.verdict(r["wall_over_floor"]["median"], OVERHEAD_GOAL),
        ])
    print(C.table(["run", "branches", "all done", "max in flight", "peak RSS MiB", "wall s", "process s", "CPU s",
                   "wall/slot-path", "wall/floor", "RSS <300", "≤1.10 slot", "≤1.10 floor"], rows))
    bad = [r["name"] for r in results if r["max_in_flight"] > max(8, conc)]
    if bad:
        print(f"CONCURRENCY BOUND VIOLATED in {bad}")
    C.save("load", {
        "server": {"latency": LATENCY, "token_interval": INTERVAL, "tokens": TOKENS,
                   "process": "separate (python -m fanout.devserver), one per run"},
        "goals": {"peak_rss_mib": RSS_GOAL_MB, "overhead": OVERHEAD_GOAL},
        "branches": n,
        "concurrency": conc,
        "results": results,
    })
    C.cleanup_home()
    return 0


if __name__ == "__main__":
    sys.exit(main())
