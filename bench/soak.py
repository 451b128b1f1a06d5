"""Soak: 2,000 branches at concurrency 100 through the real `fanout` command in a storm of mixed faults, the process
SIGKILLed in the middle, then `fanout resume`; beside it, the same run with no faults and no kill.

    python bench/soak.py [--branches 2000] [--concurrency 100]

The loopback server runs in a thread of this script (fanout runs in its own processes: `fanout run`, then
`fanout resume`), 0.25 s before headers and 20 tokens 5 ms apart (0.35 s a call). The storm (fanout.devserver.Storm)
gives each prompt's first request, by a hash of the prompt: a 429 with Retry-After 1 s (10 %), a connection dropped
after 3 tokens (5 %), a stall after 2 tokens (2 %; the provider's stall_timeout is 10 s) or a 500 (1 %). The config
turns adaptive concurrency off, so the run stays at 100 calls at once. The final document is audited
(fanout.devserver.storm.audit): every branch done, its text exactly the server's answer (nothing duplicated,
nothing cut), its retries and throttles exactly the faults injected in the process that finished it.
"""

from __future__ import annotations

import argparse
import os
import sys

import _common as C

from fanout.devserver import LoopbackServer, Storm
from fanout.devserver.soak import soak
from fanout.devserver.storm import audit

LATENCY, INTERVAL, TOKENS = 0.25, 0.005, 20
RSS_GOAL_MB = 300


def one(name: str, branches: int, concurrency: int, storm: Storm | None, kill: float | None) -> dict:
    server = LoopbackServer(latency=LATENCY, token_interval=INTERVAL, tokens=TOKENS).start_in_thread()
    try:
        storm = storm or Storm(rates={})
        result = soak(C.home() / name, dict(os.environ), server, storm, branches=branches, concurrency=concurrency,
                      kill_fraction=kill, timeout=1800)
        requests = list(server.requests)
    finally:
        server.stop_thread()
    doc = result.doc
    if not doc:
        raise SystemExit(f"{name}: no report (exit {result.exit}): {result.stderr}")
    problems = audit(storm, doc, requests, TOKENS)
    m = doc["metrics"]
    return {
        "name": name,
        "status": doc["status"],
        "branches": len(doc["branches"]),
        "all_done": sum(b["status"] == "done" for b in doc["branches"]) == branches,
        "problems": problems[:20],
        "problem_count": len(problems),
        "killed_after": result.killed_after,
        "kept": len(doc.get("resumed", {}).get("kept", [])),
        "injected": dict(storm.counts()),
        "injected_in_finishing_process": {"retries": m["retries"], "throttles": m["throttles"]},
        "requests": len(requests),
        "peak_rss_mib": result.peak_rss_mib,
        "seconds": result.seconds,
        "wall_reported": m["wall"],
        "max_in_flight": server.max_in_flight,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--branches", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=100)
    args = p.parse_args()
    n, conc = args.branches, args.concurrency
    calm = one("calm", n, conc, None, None)
    storm = one("storm", n, conc, Storm(retry_after=1.0), 0.5)
    total = {r["name"]: sum(r["seconds"]) for r in (calm, storm)}
    print(f"\nSoak: `fanout run` of {n} branches at concurrency {conc}; the storm's SIGKILLed at half, then "
          "`fanout resume`")
    print(f"machine: {C.machine_line()}\n")
    rows = []
    for r in (calm, storm):
        inj = r["injected"]
        rows.append([
            r["name"], r["status"], "yes" if r["all_done"] else "NO", r["problem_count"],
            f"{r['killed_after']} / {r['kept']}" if r["name"] == "storm" else "-",
            " · ".join(f"{inj.get(k, 0)} {k}" for k in ("429", "drop", "stall", "500")) if inj else "-",
            f"{r['injected_in_finishing_process']['retries']} / {r['injected_in_finishing_process']['throttles']}",
            " + ".join(f"{s:.1f}" for s in r["seconds"] if s), f"{max(r['peak_rss_mib']):.0f}", r["max_in_flight"],
        ])
    print(C.table(["run", "status", "all done", "problems", "killed at / kept", "injected", "retries / throttles",
                   "seconds (run + resume)", "peak RSS MiB", "max in flight"], rows))
    ratio = total["storm"] / total["calm"]
    print(f"\nstorm (kill + resume) / calm, seconds: {ratio:.2f}; peak RSS "
          f"{C.verdict(max(storm['peak_rss_mib']), RSS_GOAL_MB)} (< {RSS_GOAL_MB} MiB)")
    C.save("soak", {
        "server": {"latency": LATENCY, "token_interval": INTERVAL, "tokens": TOKENS, "process": "a thread of bench/soak.py"},
        "branches": n, "concurrency": conc, "goals": {"peak_rss_mib": RSS_GOAL_MB},
        "storm_over_calm_seconds": ratio, "results": [calm, storm],
    })
    C.cleanup_home()
    return 0 if not calm["problem_count"] and not storm["problem_count"] and storm["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
