"""The embedded model (SmolLM2-135M via llama.cpp, fanout's default `local` provider): tokens per second with one
branch and with five at once, and `fanout bench research --max-tokens 48`.

    python bench/local_model.py [--rounds 3] [--max-tokens 64] [--bench-repeat 1] [--skip-bench]

Throughput runs: a generated parallel recipe (1 or 5 branches, "Write a detailed report about ..." prompts,
temperature 0, max_tokens --max-tokens) with a concat aggregate, so no aggregate call is timed. The models are
loaded by launch.execute() before the run's clock starts (Targets.warm), so RunMetrics.wall is generation only.
- aggregate tok/s: every branch's output tokens over the run's wall;
- per-branch tok/s: a branch's output tokens over its latency (prompt processing included); decode tok/s: the
  tokens after the first over the time after the first.
Each round loads the model afresh and runs three times: "fresh" is the first run on it (what one `fanout run`
gets), "warm" the third (llama.cpp's first decode on a new context is much slower: see the README). The embedded
provider is one model and one context on one decode thread that decodes every running branch in one llama.cpp
batch (providers/llama_batch.py): a branch alone gets every core, five at once share each decode step. Five at
once is run with --concurrency 5 and at the provider's default concurrency (the sequences its context holds).
This script measures the provider as it is; `bench/embedded_batch.py` puts it side by side with the earlier pool
of `Llama` objects and with llama-cpp-python itself on the same prompts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys

import _common as C

PROMPT = "Write a detailed report about {title} in {topic}. Give at least five specific points."


def rates(run: dict) -> dict:
    per, decode = [], []
    for bid, lat in run["latency"].items():
        out = run["branch_output_tokens"][bid]
        ttft = run["ttft"][bid] or 0.0
        per.append(out / lat if lat else 0.0)
        if out > 1 and lat > ttft:
            decode.append((out - 1) / (lat - ttft))
    tokens = sum(run["branch_output_tokens"].values())
    return {
        "output_tokens": tokens,
        "aggregate_tok_s": tokens / run["wall"],
        "per_branch_tok_s": statistics.median(per),
        "decode_tok_s": statistics.median(decode) if decode else 0.0,
        "ttft": statistics.median(t for t in run["ttft"].values() if t is not None),
    }


async def throughput(name: str, n: int, concurrency: int | None, rounds: int, max_tokens: int) -> dict:
    from fanout.wiring.launch import prepare

    path = C.home() / f"local{n}.toml"
    C.write_recipe(path, n, strategy="parallel", aggregate="concat", prompt=PROMPT, max_tokens=max_tokens,
                   temperature=0.0)
    text = path.read_text()
    for i, (_, title) in enumerate(C.RESEARCH_ANGLES[:n]):
        text = text.replace(f'title = "Angle {i + 1}"', f'title = "{title}"')
    path.write_text(text)
    fresh, warm = [], []
    for i in range(rounds):
        # A fresh process-like start: the model loaded anew. Then the same model again ("warm"): the third run,
        # once its context has decoded.
        prepared = prepare(C.options(str(path), "", strategy="parallel", concurrency=concurrency))
        try:
            for kind, into in (("fresh", fresh), ("between", []), ("warm", warm)):
                run = await C.run_prepared(prepared if kind == "fresh" else prepared.again())
                if kind == "between":
                    continue
                assert run["status"] == "ok", run["status"]
                r = rates(run)
                r["wall"] = run["wall"]
                into.append(r)
                print(f"  {name:<30} round {i + 1} {kind:<5}: wall {run['wall']:.2f} s  {r['output_tokens']} tokens  "
                      f"aggregate {r['aggregate_tok_s']:.1f} tok/s  per branch {r['per_branch_tok_s']:.1f} tok/s  "
                      f"ttft {r['ttft'] * 1000:.0f} ms", file=sys.stderr)
        finally:
            await prepared.aclose()
    keys = ("wall", "output_tokens", "aggregate_tok_s", "per_branch_tok_s", "decode_tok_s", "ttft")
    return {"name": name, "branches": n, "concurrency": concurrency,
            "fresh": {k: C.summary([r[k] for r in fresh]) for k in keys},
            "warm": {k: C.summary([r[k] for r in warm]) for k in keys}}


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--bench-repeat", type=int, default=1, help="`fanout bench --repeat` rounds (default 1)")
    p.add_argument("--skip-bench", action="store_true")
    args = p.parse_args()

    from fanout.providers.local import resolve_model_path

    model_path = resolve_model_path("smollm2")
    results = [
        await throughput(f"1 branch (conc. 1: {os.cpu_count()} threads)", 1, 1, args.rounds, args.max_tokens),
        await throughput("1 branch (default conc. 2)", 1, None, args.rounds, args.max_tokens),
        await throughput("5 at once (concurrency 5)", 5, 5, args.rounds, args.max_tokens),
        await throughput("5 branches (default conc. 2)", 5, None, args.rounds, args.max_tokens),
    ]
    bench_json = None
    bench_text = ""
    if not args.skip_bench:
        from fanout.wiring.bench import bench, render, to_json
        from fanout.wiring.launch import RunOptions

        options = RunOptions(recipe="research", max_tokens=48, cache="off")

        def progress(n, strategy, state):
            m = state.metrics
            print(f"  fanout bench round {n}: {strategy:<10} {state.status:<8} {m.wall if m else 0:.2f} s", file=sys.stderr)

        rounds = await bench(options, args.bench_repeat, progress)
        bench_text = render(rounds)
        bench_json = to_json(rounds, options)

    print(f"\nThe embedded model: {model_path.name} via llama.cpp, max_tokens {args.max_tokens}, temperature 0")
    print(f"machine: {C.machine_line()}\n")
    rows = []
    for r in results:
        for kind in ("fresh", "warm"):
            f = r[kind]
            rows.append([f"{r['name']}, {kind}", f"{f['wall']['median']:.2f}", f"{f['output_tokens']['median']:.0f}",
                         f"{f['aggregate_tok_s']['median']:.1f}", f"{f['per_branch_tok_s']['median']:.1f}",
                         f"{f['decode_tok_s']['median']:.1f}", f"{f['ttft']['median'] * 1000:.0f}"])
    print(C.table(["run", "wall s", "out tokens", "aggregate tok/s", "per-branch tok/s", "decode tok/s", "ttft ms"], rows))
    print("fresh: the first run on a newly loaded model (what `fanout run` gets); warm: the same model again.")
    if bench_text:
        print(f"\n`fanout bench research --max-tokens 48` (embedded model, {args.bench_repeat} round(s)):\n")
        print(bench_text)
    C.save("local_model", {
        "model": model_path.name,
        "max_tokens": args.max_tokens,
        "throughput": results,
        "fanout_bench_research_max_tokens_48": bench_json,
    })
    C.cleanup_home()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
