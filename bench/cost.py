"""Cost under control, end to end with the `fanout` command against the loopback server in its own process:

    python bench/cost.py [--tokens 256]

- the estimate against the real cost: `fanout run research --estimate --json`, then the same run; the server
  answers --tokens words a call (256 fills research's branches as a real model would) and counts a word a token,
  while fanout, which has no tokenizer for this server, estimates a prompt at four characters a token;
- a budget: `fanout run research --strategy parallel --concurrency 1 --budget B` stops where B ends (exit 1,
  status "budget"), then `fanout resume ID --budget 1` runs the rest;
- a batch: `fanout run tickets --batch` (one provider batch of eight requests) against the same run streamed: the
  cost, and the wall time (the loopback server answers a batch at once; a provider's takes minutes to hours).

The provider `lb` is the loopback server with a price for its model (3 and 15 US dollars per million input and
output tokens) and `batch_api = true`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time

import _common as C

PRICES = (3.0, 15.0)


def fanout(*args: str) -> tuple[int, dict, float, str]:
    """(exit code, the JSON document on stdout, wall seconds, stderr) of one `fanout` command."""
    start = time.perf_counter()
    proc = subprocess.run(C.python("-m", "fanout", *args), capture_output=True, text=True, cwd=C.home(), timeout=600)
    wall = time.perf_counter() - start
    doc = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return proc.returncode, doc, wall, proc.stderr


def configure(base_url: str) -> None:
    (C.home() / "config.toml").write_text(f"""
[providers.lb]
kind = "openai"
base_url = "{base_url}/v1"
model = "m"
batch_api = true
batch_poll = 0.2
[providers.lb.prices.m]
input = {PRICES[0]}
output = {PRICES[1]}
""")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=256, help="words per answer (default 256)")
    args = p.parse_args()
    lb = ("--provider", "lb", "--cache", "off")
    with C.ServerProcess(latency=0.0, token_interval=0.0, tokens=args.tokens) as server:
        configure(server.base_url)
        _, est, est_wall, _ = fanout("run", "research", *lb, "--estimate", "--json")
        _, real, _, _ = fanout("run", "research", *lb, "--json")
        code, stopped, _, _ = fanout("run", "research", *lb, "--strategy", "parallel", "--concurrency", "1",
                                     "--budget", "0.02", "--json")
        resumed_code, resumed, _, _ = fanout("resume", stopped["session_id"], "--budget", "1", "--json")
        _, streamed, streamed_wall, _ = fanout("run", "tickets", *lb, "--json")
        _, batched, batched_wall, _ = fanout("run", "tickets", *lb, "--batch", "--json")
    e, m = est["estimate"], real["metrics"]
    holds = e["cost_low"] <= m["cost"] <= e["cost_high"]
    print(f"\nCost under control (loopback server, {args.tokens} words an answer, prices {PRICES[0]:g}/{PRICES[1]:g} "
          "USD per million tokens)")
    print(f"machine: {C.machine_line()}\n")
    print(C.table(["research", "calls", "input tokens", "output tokens", "cost"], [
        ["estimate, low", e["calls_min"], f"~{e['input_tokens_low']}", "", f"${e['cost_low']:.5f}"],
        ["estimate, high", e["calls"], f"~{e['input_tokens']}", e["output_tokens_max"], f"${e['cost_high']:.5f}"],
        ["the run", m["calls"], m["input_tokens"], m["output_tokens"], f"${m['cost']:.5f}"],
    ]))
    print(f"low <= real <= high: {holds}; the estimate took {est_wall:.2f} s end to end, no call made\n")
    not_run = [b["id"] for b in stopped["branches"] if b["status"] != "done"]
    print(f"--budget 0.02: exit {code}, status {stopped['status']}, spent ${stopped['metrics']['cost']:.5f}, "
          f"not run: {', '.join(not_run)} and the aggregate")
    print(f"resume --budget 1: exit {resumed_code}, status {resumed['status']}, "
          f"kept {len(resumed['resumed']['kept'])}, spent ${resumed['metrics']['cost']:.5f} in all\n")
    print(C.table(["tickets", "calls", "wall s", "cost"], [
        ["streamed", streamed["metrics"]["calls"], f"{streamed_wall:.2f}", f"${streamed['metrics']['cost']:.6f}"],
        ["--batch", batched["metrics"]["calls"], f"{batched_wall:.2f}", f"${batched['metrics']['cost']:.6f}"],
    ]))
    ratio = batched["metrics"]["cost"] / streamed["metrics"]["cost"]
    print(f"batch / streamed cost: {ratio:.3f}")
    C.save("cost", {
        "tokens_per_answer": args.tokens, "prices": PRICES,
        "estimate": e, "real": {k: m[k] for k in ("calls", "input_tokens", "output_tokens", "cost")},
        "estimate_holds": holds, "estimate_wall_seconds": est_wall,
        "budget": {"exit": code, "status": stopped["status"], "spent": stopped["metrics"]["cost"], "not_run": not_run,
                   "resume_exit": resumed_code, "resume_status": resumed["status"],
                   "total_cost": resumed["metrics"]["cost"]},
        "batch": {"streamed_cost": streamed["metrics"]["cost"], "batch_cost": batched["metrics"]["cost"],
                  "ratio": ratio, "streamed_wall": streamed_wall, "batch_wall": batched_wall},
    })
    C.cleanup_home()
    return 0 if holds and code == 1 and resumed_code == 0 and abs(ratio - 0.5) < 1e-9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
