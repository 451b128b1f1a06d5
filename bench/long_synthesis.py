"""A synthesis that overflows the embedded model's context: five long research reports (about 4,000 characters,
900 tokens each, served by the loopback server as a second provider so they are the same every run) synthesised by
the embedded model (SmolLM2-135M, n_ctx 4,096) — once with the reduce (the default budget from the window) and once
with it turned off (`max_input_chars` far above the window), side by side.

    python bench/long_synthesis.py [--max-tokens 96]

Prints one JSON object: for each run its status, wall time, reduce levels and calls, provider calls, and the
largest prompt any model call was sent (tokens, as the model counted them). Cache off: nothing is replayed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from pathlib import Path

from fanout.devserver import LoopbackServer
from fanout.frontends.state import RunState
from fanout.wiring.launch import RunOptions, execute, prepare

ANGLES = ["hardware", "software", "commercial", "security", "academic"]


def report(angle: str) -> str:
    sentence = (f"On {angle}, the lab reported that qubit coherence rose from 100 to 300 microseconds, that error "
                f"rates fell by half, and that {angle} budgets grew 40 percent over the year. ")
    return sentence * 22


def recipe(folder: Path, base_url: str, max_tokens: int, max_input_chars: int | None) -> str:
    (folder / "config.toml").write_text(f'[providers.loop]\nkind = "openai"\nbase_url = "{base_url}"\nmodel = "m"\n'
                                        '[providers.local]\ntimeout = 1800\nstall_timeout = 900\n')
    limit = f"max_input_chars = {max_input_chars}\n" if max_input_chars else ""
    branches = "".join(f'[[branches]]\nid = "{a}"\ntitle = "{a}"\nprovider = "loop"\n\n' for a in ANGLES)
    path = folder / "synthesis.toml"
    path.write_text(f'name = "synthesis"\nstrategy = "parallel"\nprompt = "Report on {{title}}."\n\n{branches}'
                    f'[aggregate]\nkind = "synthesize"\nprovider = "local"\nmax_tokens = {max_tokens}\n'
                    f'temperature = 0\nprompt = "Synthesise the reports into one short summary."\n{limit}')
    return str(path)


async def one(folder: Path, server: LoopbackServer, max_tokens: int, max_input_chars: int | None) -> dict:
    prepared = prepare(RunOptions(recipe=recipe(folder, server.base_url + "/v1", max_tokens, max_input_chars),
                                  cache="off"))
    state = RunState()
    try:
        await execute(prepared, [state.apply], record=False)
    finally:
        await prepared.aclose()
    m = state.metrics
    local = [b.metrics for b in state.branch_list() if b.info.stage == "reduce" and b.metrics]
    if state.aggregate.metrics:
        local.append(state.aggregate.metrics)
    reduce = state.aggregate.result.get("reduce", {})
    return {"status": state.status, "error": state.aggregate.error[:160], "wall_s": round(m.wall, 2),
            "reduce_levels": reduce.get("levels", 0), "reduce_calls": reduce.get("calls", 0),
            "budget_chars": reduce.get("max_input_chars"), "calls": m.calls,
            "largest_prompt_tokens": max((x.input_tokens for x in local), default=None)}


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--max-tokens", type=int, default=96)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["FANOUT_HOME"] = home
        async with LoopbackServer(responder=lambda req: report(req.prompt.removeprefix("Report on ").rstrip("."))) as server:
            with_reduce = await one(Path(home), server, args.max_tokens, None)
            without = await one(Path(home), server, args.max_tokens, 10_000_000)
    print(json.dumps({"report_chars": len(report("hardware")), "reports": len(ANGLES), "with_reduce": with_reduce,
                      "without_reduce": without, "machine": f"{os.cpu_count()} cores, shared"}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
