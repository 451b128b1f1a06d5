"""What a `fanout run` costs as a whole process, beside `fanout --version` and a plain SDK script doing the same
calls, every one a whole process, interleaved round by round so all three see the same neighbours.

    python bench/startup.py [--rounds 5]

Against the loopback server in its own process (0.25 s before headers, 20 tokens 5 ms apart):
- `fanout --version`: the interpreter, fanout's command line and its recipe schema (what every command pays);
- `fanout run research --base-url URL/v1 --model m --cache off --json`: five branches and a synthesis under the
  recipe's strategy; the run's own wall comes from its JSON (`metrics.wall`);
- a plain script: `openai.AsyncOpenAI(max_retries=0)`, the same six calls (five at once, then one), streamed.
The goal (issue 32): the run's process within 0.4 s of `fanout --version` plus its run. The script also records
which heavy packages the run imported (`-X importtime`): the anthropic SDK, Textual and llama_cpp must not be
among them, and what the openai SDK's import alone costs here.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import time
from pathlib import Path

import _common as C

GOAL = 0.4  # seconds: run process - (version process + run wall)
HEAVY = ("openai", "anthropic", "textual", "llama_cpp", "aiohttp", "httpx2", "pydantic", "genai_prices", "rapidfuzz")

PLAIN = """
import asyncio, sys, openai
async def one(client, text):
    stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}],
                                                  max_tokens=64, stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
async def main(url):
    async with openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0) as client:
        parts = await asyncio.gather(*(one(client, f"angle {i}") for i in range(5)))
        print(len(await one(client, "combine " + " ".join(parts))))
asyncio.run(main(sys.argv[1]))
"""


def timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=C.home(), check=True)
    return time.perf_counter() - start, proc.stdout


def imported(url: str) -> dict[str, float]:
    """Cumulative import seconds of each heavy top-level package a `fanout run` imported."""
    argv = C.python("-X", "importtime", "-m", "fanout", "run", "research", "--base-url", f"{url}/v1", "--model", "m",
                    "--cache", "off", "--json")
    err = subprocess.run(argv, capture_output=True, text=True, cwd=C.home(), check=True).stderr
    found = {}
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+(\S+)$", line)
        if m and m.group(2) in HEAVY:  # a package's first import, wherever it happened, is its whole cost
            found.setdefault(m.group(2), int(m.group(1)) / 1e6)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rounds: list[dict[str, float]] = []
    with C.ServerProcess() as server:
        url = server.base_url
        version = C.python("-m", "fanout", "--version")
        run = C.python("-m", "fanout", "run", "research", "--base-url", f"{url}/v1", "--model", "m", "--cache", "off",
                       "--json")
        plain = C.python("-c", PLAIN, f"{url}/v1")
        timed(version), timed(plain)  # one untimed round: the page cache, not the code, is warm after it
        for n in range(args.rounds):
            v, _ = timed(version)
            r, out = timed(run)
            p, _ = timed(plain)
            wall = json.loads(out)["metrics"]["wall"]
            rounds.append({"version": v, "run_process": r, "run_wall": wall, "plain_process": p,
                           "over": r - (v + wall)})
            print(f"round {n + 1}: version {v:.2f} s · run {r:.2f} s (its run {wall:.2f} s) · plain script {p:.2f} s",
                  flush=True)
        heavy = imported(url)
    med = {k: statistics.median(x[k] for x in rounds) for k in rounds[0]}
    rows = [
        ("fanout --version (process)", f"{med['version']:.2f} s"),
        ("fanout run research (process)", f"{med['run_process']:.2f} s"),
        ("  its run (RunMetrics.wall)", f"{med['run_wall']:.2f} s"),
        ("  the rest: run process - (version + its run)", f"{med['over']:.2f} s (goal ≤ {GOAL} s: "
                                                          f"{C.verdict(med['over'], GOAL)})"),
        ("plain openai script, the same 6 calls (process)", f"{med['plain_process']:.2f} s"),
        ("fanout run / plain script", f"{med['run_process'] / med['plain_process']:.2f}"),
    ]
    print(C.table(("figure (median of rounds)", "value"), rows))
    print("imported by `fanout run` (cumulative import seconds): "
          + ", ".join(f"{k} {v:.2f}" for k, v in sorted(heavy.items(), key=lambda kv: -kv[1])))
    absent = [k for k in ("anthropic", "textual", "llama_cpp") if k not in heavy]
    print(f"not imported: {', '.join(absent) or 'none'}")
    print(C.save("startup", {"rounds": rounds, "median": med, "imported": heavy, "not_imported": absent,
                             "goal_seconds": GOAL}))


if __name__ == "__main__":
    main()
