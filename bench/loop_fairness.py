"""Event-loop fairness at 1,000 branches / 100 slots: how Caller._consume's way of reading a stream shows in slot
occupancy and event-loop stalls (the TUI shares that loop).

    python bench/loop_fairness.py [--rounds 2] [--branches 1000]

Interleaved A/B in one process, same loopback server (its own process, 0.35 s a call), parallel, concurrency 100:
- as is: fanout's Caller._consume;
- wait_for a chunk: the same method as it was up to commit 4882842 (one asyncio.wait_for per chunk, a Task each;
  bench/_experiments.py, patched in for those runs only);
- as is + yield a chunk: fanout's method, with every stream giving the loop a turn after each chunk
  (`await asyncio.sleep(0)`, patched into the response source for those runs only).
Per run: wall, the process's CPU, slot occupancy (the branches' summed latency over slots × the time the last
branch ended: 1.0 = every slot always busy), and the loop's stalls (a task sleeping 10 ms, how late it wakes:
p50 / p99).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

import _common as C
from _experiments import patched_consume, wait_for_consume, yielding_source


async def probe(out: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        t = loop.time()
        await asyncio.sleep(0.01)
        out.append(loop.time() - t - 0.01)


async def one(recipe: str, url: str, slots: int) -> dict:
    lags: list[float] = []
    task = asyncio.create_task(probe(lags))
    try:
        run = await C.fanout_run(recipe, url, strategy="parallel", concurrency=slots)
    finally:
        task.cancel()
    assert run["status"] == "ok" and run["branches_done"] == run["branches"], run["status"]
    lat = run["latency"]
    # the last branch's end on the run's clock: wall minus the aggregate (a concat aggregate: no call)
    end = run["wall"] - run["aggregate_latency"]
    lags.sort()
    return {
        "wall": run["wall"],
        "cpu": run["cpu"],
        "occupancy": sum(lat.values()) / (slots * end),
        "lag_p50_ms": lags[len(lags) // 2] * 1000,
        "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000,
    }


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=100)
    args = p.parse_args()
    recipe = C.home() / "flat.toml"
    C.write_recipe(recipe, args.branches, strategy="parallel", aggregate="concat")
    variants = {
        "as is": contextlib.nullcontext,
        "wait_for a chunk (≤ 4882842)": lambda: patched_consume(wait_for_consume),
        "as is + yield a chunk": yielding_source,
    }
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    with C.ServerProcess() as server:
        await C.fanout_run(str(recipe), server.base_url, strategy="parallel", concurrency=args.concurrency)
        for i in range(args.rounds):
            for name, ctx in variants.items():
                with ctx():
                    r = await one(str(recipe), server.base_url, args.concurrency)
                runs[name].append(r)
                print(f"  round {i + 1} {name:<30} wall {r['wall']:.2f} s  CPU {r['cpu']:.2f} s  occupancy "
                      f"{r['occupancy']:.3f}  loop stall p99 {r['lag_p99_ms']:.0f} ms", file=sys.stderr)
    keys = ("wall", "cpu", "occupancy", "lag_p50_ms", "lag_p99_ms")
    results = {name: {k: C.summary([r[k] for r in rs]) for k in keys} for name, rs in runs.items()}
    print(f"\nEvent-loop fairness: {args.branches} branches, concurrency {args.concurrency}, interleaved A/B "
          f"({args.rounds} rounds, medians)")
    print(f"machine: {C.machine_line()}\n")
    rows = [[name, f"{r['wall']['median']:.2f}", f"{r['cpu']['median']:.2f}", f"{r['occupancy']['median']:.3f}",
             f"{r['lag_p50_ms']['median']:.1f}", f"{r['lag_p99_ms']['median']:.0f}"] for name, r in results.items()]
    print(C.table(["Caller._consume", "wall s", "CPU s", "slot occupancy", "loop stall p50 ms", "p99 ms"], rows))
    C.save("loop_fairness", {"branches": args.branches, "concurrency": args.concurrency, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
