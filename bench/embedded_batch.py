"""The embedded model, one model batching every branch, against llama-cpp-python itself and against the pooled
`Llama` objects fanout used before (a copy of that old loop lives here, `PooledProvider`, and only here).

    python bench/embedded_batch.py [--rounds 3] [--max-tokens 64] [--skip-bench] [--skip-memory]

Every round runs each case once, interleaved, all in this process on the same prompts (research angles, greedy,
max_tokens --max-tokens), at the provider level (no engine: `fanout bench research` below covers that):
- llama-cpp-python: one `Llama` (n_threads = every core), the prompts one after another from one thread;
- batched, one at a time: fanout's provider, each prompt awaited before the next;
- batched, N at once: N prompts gathered; and the same N one at a time on a provider of concurrency 1
  (`--concurrency 1`: one sequence);
- pooled (today): the old provider at its default concurrency 2 (two `Llama` objects, 1 thread each, each call on
  asyncio's default executor), one alone and five at once.
Memory: peak RSS of a fresh process that loads one provider and runs five branches at once (and eight for the
batched one), old and new. Then `fanout bench research --max-tokens 48` with the pooled provider and with the
batched one, in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator

import _common as C

PROMPT = "Write a detailed report about {title} in {topic}. Give at least five specific points."


def prompts(n: int) -> list[str]:
    titles = [t for _, t in C.RESEARCH_ANGLES] + ["Supply chain", "History", "Regulation"]
    return [PROMPT.format(title=t, topic=C.TOPIC) for t in titles[:n]]


# -- the old provider, verbatim in behaviour: a pool of Llama objects, generation on the default executor ----------


class PooledProvider:
    kind = "local"
    base_url = ""

    def __init__(self, name: str, *, model: str = "smollm2", concurrency: int = 2, n_ctx: int = 4096) -> None:
        self.name, self.model, self.concurrency, self._n_ctx = name, model, max(1, concurrency), n_ctx
        self._pool: asyncio.Queue[Any] | None = None
        self._created = 0
        self._create_lock = asyncio.Lock()
        self._all: list[Any] = []

    def _load(self) -> Any:
        from llama_cpp import Llama

        from fanout.providers.local import resolve_model_path

        threads = max(1, (os.cpu_count() or 2) // self.concurrency)
        return Llama(model_path=str(resolve_model_path(self.model)), n_ctx=self._n_ctx, n_threads=threads, verbose=False)

    async def _acquire(self) -> Any:
        if self._pool is None:
            self._pool = asyncio.Queue()
        if self._pool.empty():
            async with self._create_lock:
                if self._pool.empty() and self._created < self.concurrency:
                    self._created += 1
                    llm = await asyncio.to_thread(self._load)
                    self._all.append(llm)
                    return llm
        return await self._pool.get()

    async def warm(self) -> None:
        held = [await self._acquire() for _ in range(self.concurrency)]
        msg = [{"role": "user", "content": "Say hello to the team in one short sentence, please."}]
        await asyncio.gather(*(asyncio.to_thread(lambda l=l: list(l.create_chat_completion(
            messages=msg, max_tokens=2, temperature=0.0, stream=True))) for l in held))
        for llm in held:
            self._pool.put_nowait(llm)

    async def stream(self, request) -> AsyncIterator[Any]:
        from fanout.providers.base import StreamEnd, TextDelta

        llm = await self._acquire()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        done = object()
        messages = [{"role": m.role, "content": m.content} for m in request.messages]

        def generate() -> None:
            produced, finish = 0, ""
            try:
                for chunk in llm.create_chat_completion(
                    messages=messages, max_tokens=request.max_tokens,
                    temperature=0.0 if request.temperature is None else request.temperature,
                    seed=(request.seed or 0) + request.sample, stream=True,
                ):
                    if stop.is_set():
                        break
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content")
                    if text:
                        produced += 1
                        loop.call_soon_threadsafe(queue.put_nowait, TextDelta(text))
                    finish = choice.get("finish_reason") or finish
                prompt = max(0, llm.n_tokens - max(0, produced - 1))
                loop.call_soon_threadsafe(queue.put_nowait, StreamEnd(prompt, produced, finish, "pooled"))
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        worker = loop.run_in_executor(None, generate)
        try:
            while (item := await queue.get()) is not done:
                yield item
        finally:
            stop.set()
            await asyncio.shield(worker)
            self._pool.put_nowait(llm)

    async def aclose(self) -> None:
        for llm in self._all:
            llm.close()
        self._all.clear()


# -- measurements ----------------------------------------------------------------------------------------------------


async def generate(provider, prompt: str, max_tokens: int) -> int:
    from fanout.providers.base import GenerationRequest, Message, StreamEnd

    tokens = 0
    async for item in provider.stream(GenerationRequest("smollm2", (Message("user", prompt),), max_tokens, 0.0)):
        if isinstance(item, StreamEnd):
            tokens = item.output_tokens or 0
    return tokens


async def one_at_a_time(provider, ps: list[str], max_tokens: int) -> float:
    t0 = time.perf_counter()
    tokens = 0
    for p in ps:
        tokens += await generate(provider, p, max_tokens)
    return tokens / (time.perf_counter() - t0)


async def at_once(provider, ps: list[str], max_tokens: int) -> float:
    t0 = time.perf_counter()
    tokens = sum(await asyncio.gather(*(generate(provider, p, max_tokens) for p in ps)))
    return tokens / (time.perf_counter() - t0)


def llama_cpp_loop(llm, ps: list[str], max_tokens: int) -> float:
    t0 = time.perf_counter()
    tokens = 0
    for p in ps:
        out = llm.create_chat_completion(messages=[{"role": "user", "content": p}], max_tokens=max_tokens, temperature=0)
        tokens += out["usage"]["completion_tokens"]
    return tokens / (time.perf_counter() - t0)


MEMORY_CHILD = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {bench!r})
import embedded_batch as B
from fanout.providers.local import LocalProvider
async def main():
    p = B.PooledProvider("local", concurrency={conc}) if {old} else LocalProvider("local", concurrency={conc})
    await p.warm()
    await B.at_once(p, B.prompts({n}), 32)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
    hwm = [l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:")][0]
    print(int(hwm.split()[1]) / 1024)
    await p.aclose()
asyncio.run(main())
"""


def peak_rss(old: bool, conc: int, n: int) -> float:
    code = MEMORY_CHILD.format(bench=str(C.BENCH), conc=conc, old=old, n=n)
    out = subprocess.run(C.python("-c", code), capture_output=True, text=True, check=True, timeout=900, cwd=C.home())
    return float(out.stdout.strip().splitlines()[-1])


async def fanout_bench(pooled: bool) -> dict:
    import fanout.wiring.config as config
    import fanout.wiring.routing as targets
    from fanout.wiring.bench import bench, render, to_json
    from fanout.wiring.launch import RunOptions

    saved = (config.builtin_providers, targets.build)
    if pooled:  # what `fanout bench` ran on before: the pooled provider at its default concurrency 2
        def builtins():
            out = saved[0]()
            out["local"].limits.concurrency = 2
            return out

        def build(name, kind, **kw):
            if kind == "local":
                return PooledProvider(name, model=kw["model"], concurrency=kw["concurrency"], n_ctx=kw["n_ctx"])
            return saved[1](name, kind, **kw)

        config.builtin_providers, targets.build = builtins, build
    try:
        options = RunOptions(recipe="research", max_tokens=48, cache="off")
        rounds = await bench(options, 1)
    finally:
        config.builtin_providers, targets.build = saved
    return {"text": render(rounds), "json": to_json(rounds, options)}


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--skip-bench", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--only-memory", action="store_true", help="just the peak-RSS processes")
    args = p.parse_args()
    mt = args.max_tokens

    from llama_cpp import Llama

    from fanout.providers.local import DEFAULT_SEQUENCES, LocalProvider, resolve_model_path

    if args.only_memory:
        args.rounds, args.skip_bench = 0, True
    cores = os.cpu_count() or 1
    llm = Llama(model_path=str(resolve_model_path("smollm2")), n_ctx=4096, n_threads=cores, verbose=False)
    batched = LocalProvider("local")  # default: DEFAULT_SEQUENCES sequences
    single = LocalProvider("local", concurrency=1)  # `--concurrency 1`
    pooled = PooledProvider("local")  # today's default: 2 instances
    for warm in (batched.warm(), single.warm(), pooled.warm()):
        await warm
    llama_cpp_loop(llm, prompts(1), 2)

    five, eight = prompts(5), prompts(8)
    cases = {
        "llama-cpp-python, 5 prompts in a loop (1 thread calling)": lambda: asyncio.to_thread(llama_cpp_loop, llm, five, mt),
        "batched, 5 one at a time": lambda: one_at_a_time(batched, five, mt),
        "batched, 1 branch alone": lambda: at_once(batched, five[:1], mt),
        "pooled (today), 1 branch alone": lambda: at_once(pooled, five[:1], mt),
        "batched, 5 at once": lambda: at_once(batched, five, mt),
        "pooled (today), 5 at once": lambda: at_once(pooled, five, mt),
        "batched, 8 at once": lambda: at_once(batched, eight, mt),
        "batched conc. 1, the 8 one at a time": lambda: one_at_a_time(single, eight, mt),
    }
    got: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(args.rounds):
        for name, case in cases.items():
            got[name].append(await case())
            print(f"  round {r + 1}: {name:<58} {got[name][-1]:6.1f} tok/s", file=sys.stderr)
    ratios = {
        "batched one at a time / llama-cpp-python (goal >= 0.85)":
            ("batched, 5 one at a time", "llama-cpp-python, 5 prompts in a loop (1 thread calling)", 0.85),
        "batched 5 at once / pooled 5 at once (goal >= 1.6)": ("batched, 5 at once", "pooled (today), 5 at once", 1.6),
        "batched 8 at once / the 8 one at a time at conc. 1 (goal >= 1.5)":
            ("batched, 8 at once", "batched conc. 1, the 8 one at a time", 1.5),
        "batched 1 alone / pooled 1 alone (goal >= 1.0)": ("batched, 1 branch alone", "pooled (today), 1 branch alone", 1.0),
    }
    ratio_out = {}
    for label, (a, b, goal) in ratios.items() if args.rounds else ():
        per_round = [x / y for x, y in zip(got[a], got[b])]
        ratio_out[label] = {**C.summary(per_round), "goal": goal, "met": statistics.median(per_round) >= goal}
    await batched.aclose()
    await single.aclose()
    await pooled.aclose()
    llm.close()

    memory = {}
    if not args.skip_memory:
        for label, old, conc, n in (("pooled (today), default conc. 2, 5 at once", True, 2, 5),
                                    ("pooled, conc. 5, 5 at once", True, 5, 5),
                                    ("batched, 5 sequences, 5 at once", False, 5, 5),
                                    (f"batched, default {DEFAULT_SEQUENCES} sequences, 8 at once", False, DEFAULT_SEQUENCES, 8)):
            memory[label] = peak_rss(old, conc, n)
            print(f"  memory: {label:<50} {memory[label]:.0f} MiB", file=sys.stderr)

    benches = {}
    if not args.skip_bench:
        for label, old in (("before (pooled, conc. 2)", True), ("after (batched)", False)):
            benches[label] = await fanout_bench(old)

    print(f"\nThe embedded model, batched vs pooled vs llama-cpp-python; max_tokens {mt}, temperature 0, "
          f"{args.rounds} interleaved rounds")
    busy = C.contention()["other_busy_cores"]
    print(f"machine: {C.machine_line()}; other processes kept {busy} cores busy on average\n")
    print(C.table(["case", "median tok/s", "min", "max"],
                  [[k, f"{statistics.median(v):.1f}", f"{min(v):.1f}", f"{max(v):.1f}"] for k, v in got.items() if v]))
    print()
    print(C.table(["ratio (per round, side by side)", "median", "min", "max", "verdict"],
                  [[k, f"{v['median']:.2f}", f"{v['min']:.2f}", f"{v['max']:.2f}", "met" if v["met"] else "missed"]
                   for k, v in ratio_out.items()]))
    if memory:
        print()
        print(C.table(["process", "peak RSS MiB"], [[k, f"{v:.0f}"] for k, v in memory.items()]))
    for label, b in benches.items():
        print(f"\n`fanout bench research --max-tokens 48`, {label}:\n\n{b['text']}")
    C.save("embedded_batch_memory" if args.only_memory else "embedded_batch", {
        "max_tokens": mt, "rounds": args.rounds, "tok_s": got, "ratios": ratio_out, "peak_rss_mib": memory,
        "fanout_bench_research_max_tokens_48": {k: b["json"] for k, b in benches.items()},
    })
    C.cleanup_home()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
