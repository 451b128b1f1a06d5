"""Eager DAG scheduling (fanout hybrid) against a phase-by-phase hybrid (one gather a phase, as the articles fanout grew from ran it) on skewed latencies.

    python bench/eager_vs_phases.py [--rounds 7] [--factors 1,3]

The research DAG: hardware, software, commercial; security after hardware; academic after all four; then the
aggregate. A phase-by-phase hybrid runs it as phases, one asyncio.gather each (AsyncOpenAI, max_retries=0, streaming):
phase 1 hardware/software/commercial, phase 2 security, phase 3 academic, then the aggregate. fanout's hybrid
starts each step when its own dependencies are done, so security runs while software is still going.

Skew: every call takes 0.25 s + 20 tokens × 5 ms = 0.35 s, except the software branch, which waits
(factor - 1) × 0.35 s more before its headers (a per-prompt delay in bench/_server.py, its own process; it
matches "focusing on: Software", which only that branch's own prompt contains). With call time L and software
factor f, the ideal walls are: phases (f + 3) L; eager max(f, 2) L + 2 L. The gain is L for any f >= 2, 0 at f = 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import _common as C
from _plain import sdk_phases

LATENCY, INTERVAL, TOKENS = 0.25, 0.005, 20
SLOW = "focusing on: Software and algorithm breakthroughs"


async def one_factor(factor: float, rounds: int) -> dict:
    titles = dict(C.RESEARCH_ANGLES)
    phases = [[titles["hardware"], titles["software"], titles["commercial"]], [titles["security"]], [titles["academic"]]]
    call = LATENCY + TOKENS * INTERVAL
    extra = (factor - 1) * call
    slow = {SLOW: extra}  # 0 s at factor 1: the same server process, no delay
    eager, phased, ratios, fan_wall, sw_lat, other_lat, fan_cp = [], [], [], [], [], [], []
    with C.ServerProcess(latency=LATENCY, token_interval=INTERVAL, tokens=TOKENS, slow=slow) as server:
        url = server.base_url
        await C.fanout_run("research", url, strategy="hybrid", concurrency=8)  # untimed: imports, first use
        await sdk_phases(url, phases)
        for i in range(rounds):
            order = ("eager", "phases") if i % 2 == 0 else ("phases", "eager")
            got = {}
            for who in order:
                if who == "eager":
                    run = await C.fanout_run("research", url, strategy="hybrid", concurrency=8)
                    assert run["status"] == "ok", run["status"]
                    got[who] = run["e2e"]
                    fan_wall.append(run["wall"])
                    fan_cp.append(run["wall"] / run["critical_path"])
                    sw_lat.append(run["latency"]["software"])
                    other_lat.append(max(v for k, v in run["latency"].items() if k != "software"))
                else:
                    res = await sdk_phases(url, phases)
                    got[who] = res.wall
            eager.append(got["eager"])
            phased.append(got["phases"])
            ratios.append(got["eager"] / got["phases"])
            print(f"  factor {factor:g} round {i + 1}: eager {got['eager']:.3f} s  phases {got['phases']:.3f} s  "
                  f"gain {got['phases'] - got['eager']:+.3f} s", file=sys.stderr)
    if factor >= 2:
        assert min(sw_lat) > 1.5 * max(other_lat), "the skew did not hit the software branch alone"
    ideal_phases = (factor + 3) * call
    ideal_eager = (max(factor, 2) + 2) * call
    e, ph = C.summary(eager), C.summary(phased)
    return {
        "factor": factor,
        "software_extra_seconds": extra,
        "eager_e2e": e,
        "eager_runmetrics_wall": C.summary(fan_wall),
        "eager_wall_over_cp": C.summary(fan_cp),
        "phases_wall": ph,
        "gain_seconds": ph["median"] - e["median"],
        "gain_fraction": 1 - e["median"] / ph["median"],
        "eager_over_phases": C.summary(ratios),
        "ideal": {"phases": ideal_phases, "eager": ideal_eager, "gain": ideal_phases - ideal_eager,
                  "gain_fraction": 1 - ideal_eager / ideal_phases},
        "software_latency": C.summary(sw_lat),
        "other_branch_latency_max": C.summary(other_lat),
        "server": server.stats,
    }


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds per skew factor (default 7)")
    p.add_argument("--factors", default="1,3", help="software's call time over the others' (default 1,3)")
    args = p.parse_args()
    results = [await one_factor(float(f), args.rounds) for f in args.factors.split(",")]
    print("\nEager DAG (fanout hybrid) vs phase-by-phase gather (a gather per phase), research DAG, skewed software branch")
    print(f"machine: {C.machine_line()}\n")
    rows = []
    for r in results:
        rows.append([f"software ×{r['factor']:g}", f"{r['eager_e2e']['median']:.3f}", f"{r['phases_wall']['median']:.3f}",
                     f"{r['gain_seconds']:+.3f} ({r['gain_fraction']:.1%})",
                     f"{r['ideal']['gain']:+.3f} ({r['ideal']['gain_fraction']:.1%})",
                     f"{r['eager_wall_over_cp']['median']:.3f}"])
    print(C.table(["skew", "eager s (med)", "phases s (med)", "gain measured", "gain ideal", "eager wall/cp"], rows))
    C.save("eager_vs_phases", {
        "server": {"latency": LATENCY, "token_interval": INTERVAL, "tokens": TOKENS, "slow_match": SLOW},
        "results": results,
    })
    C.cleanup_home()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
