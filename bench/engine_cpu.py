"""fanout's own CPU, with no network and no SDK: where the orchestration overhead goes.

    python bench/engine_cpu.py [--branches 1000] [--chunks 22] [--rounds 5]

A provider that streams `--chunks` text deltas with no I/O (one `await asyncio.sleep(0)` before each, like a
socket read) stands in for the HTTP client, so every CPU second measured here is the engine's, the event
stream's and RunState's, not openai/httpx's. Compared:
- engine: launch's path minus HTTP: Engine(spec).events() → RunState.apply, parallel, concurrency 100,
  concat aggregate (no aggregate call);
- bare: the same streams consumed by asyncio.gather under a Semaphore(100), nothing else (the floor);
- Caller._consume alone as it is (one self-re-arming watchdog timer a stream), and the same
  loop with other stall timeouts: none at all (the floor), one
  asyncio.wait_for a chunk (a Task a chunk on Python 3.11: what fanout did up to commit 4882842), one
  asyncio.timeout rescheduled at each chunk, and one self-re-arming watchdog timer a stream
  (bench/_experiments.py); these are experiments written here, not fanout's code;
- run_metrics() after the run (RunMetrics' critical path over a dependency-ordered walk), at 1,000 and 4,000
  branches, to show how it grows.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import _common as C


class FakeProvider:
    name = "fake"
    kind = "openai"
    base_url = ""
    model = "m"
    concurrency = 100

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks

    async def stream(self, request):
        from fanout.providers.base import StreamEnd, TextDelta

        for _ in range(self.chunks):
            await asyncio.sleep(0)
            yield TextDelta("word ")
        yield StreamEnd(10, self.chunks, "stop", "m")

    async def aclose(self) -> None:
        pass


def spec_for(n: int, chunks: int, slots: int = 100):
    from fanout.providers.base import Limits
    from fanout.strategies import recipe as recipes
    from fanout.strategies.calls import Target
    from fanout.strategies.engine import RunSpec
    from fanout.strategies.limits import ProviderLimiter

    path = C.home() / f"cpu{n}.toml"
    C.write_recipe(path, n, strategy="parallel", aggregate="concat")
    declared = recipes.load(str(path))
    values = declared.with_inputs({})
    recipe = recipes.expand(declared, values)
    provider = FakeProvider(chunks)
    limits = Limits(concurrency=slots)
    limiter = ProviderLimiter(slots)

    def resolve(settings):
        return Target(provider, limits, limiter, "m", None, 256)

    return RunSpec(recipe=recipe, values=values, strategy="parallel", resolve=resolve)


async def engine_run(n: int, chunks: int) -> tuple[float, float, int]:
    from fanout.frontends.state import RunState
    from fanout.strategies.engine import Engine

    spec = spec_for(n, chunks)
    state = RunState()
    events = 0
    c0, t0 = time.process_time(), time.perf_counter()
    async for event in Engine(spec).events():
        state.apply(event)
        events += 1
    assert state.status == "ok", state.status
    return time.process_time() - c0, time.perf_counter() - t0, events


async def bare_run(n: int, chunks: int) -> tuple[float, float]:
    from fanout.providers.base import TextDelta

    provider = FakeProvider(chunks)
    sem = asyncio.Semaphore(100)

    async def one() -> str:
        async with sem:
            out = []
            async for item in provider.stream(None):
                if isinstance(item, TextDelta):
                    out.append(item.text)
            return "".join(out)

    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.process_time() - c0, time.perf_counter() - t0


async def consume_run(n: int, chunks: int, variant: str) -> float:
    """Caller._consume's loop over `n` streams: "as_is", or one of the alternatives priced here (experiments in this
    file only, not fanout's code): "none" (no timeout at all), "reschedule" (one asyncio.timeout per stream,
    rescheduled at every chunk), "watchdog" (one timer per stream that re-arms itself from the last chunk's time)."""
    from fanout.providers.base import Limits, ProviderError, StreamEnd, TextDelta
    from fanout.strategies.calls import Attempt, Caller

    caller = Caller(lambda e: None, lambda: 0.0)
    provider = FakeProvider(chunks)

    class Tgt:
        pass

    target = Tgt()
    target.provider, target.limits = provider, Limits()
    caller.clock = lambda: 0.0

    async def without(self, target, request, attempt, on_token, start):  # the same loop, no timeout
        async for item in self.source.stream(target, request):
            if isinstance(item, TextDelta):
                attempt.text.append(item.text)
                attempt.deltas += 1
                on_token(item.text)
            elif isinstance(item, StreamEnd):
                attempt.end = item

    async def wait_for_each(self, target, request, attempt, on_token, start):
        limits = target.limits
        it = self.source.stream(target, request).__aiter__()
        first = True
        while True:
            try:
                item = await asyncio.wait_for(it.__anext__(), limits.timeout if first else limits.stall_timeout)
            except StopAsyncIteration:
                break
            first = False
            if isinstance(item, TextDelta):
                attempt.text.append(item.text)
                attempt.deltas += 1
                on_token(item.text)
            elif isinstance(item, StreamEnd):
                attempt.end = item

    async def reschedule(self, target, request, attempt, on_token, start):
        loop, limits = asyncio.get_running_loop(), target.limits
        try:
            async with asyncio.timeout(limits.timeout) as cm:
                async for item in self.source.stream(target, request):
                    cm.reschedule(loop.time() + limits.stall_timeout)
                    if isinstance(item, TextDelta):
                        attempt.text.append(item.text)
                        attempt.deltas += 1
                        on_token(item.text)
                    elif isinstance(item, StreamEnd):
                        attempt.end = item
        except TimeoutError:
            raise ProviderError("the stream stalled", retryable=True, kind="stalled") from None

    from _experiments import watchdog_consume

    consume = {"as_is": Caller._consume, "none": without, "wait_for": wait_for_each, "reschedule": reschedule,
               "watchdog": watchdog_consume}[variant]

    async def one() -> None:
        await consume(caller, target, None, Attempt([], StreamEnd()), lambda t: None, 0.0)

    c0 = time.process_time()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.process_time() - c0


def metrics_cost(n: int) -> float:
    from fanout.strategies.events import BranchMetrics
    from fanout.strategies.metrics import run_metrics

    branches = {f"b{i:05d}": BranchMetrics(latency=0.35) for i in range(n)}
    deps = {b: () for b in branches}
    t0 = time.perf_counter()
    run_metrics(1.0, branches, deps, BranchMetrics(latency=0.35), calls=n + 1, failed=0)
    return time.perf_counter() - t0


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--chunks", type=int, default=22, help="deltas per call (the loopback's 20 words + role + end)")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    n, k = args.branches, args.chunks
    eng, bare, events = [], [], 0
    cons: dict[str, list[float]] = {"as_is": [], "none": [], "wait_for": [], "reschedule": [], "watchdog": []}
    await engine_run(50, k)  # imports, first use
    for _ in range(args.rounds):
        cpu, _, events = await engine_run(n, k)
        eng.append(cpu)
        bare.append((await bare_run(n, k))[0])
        for variant, into in cons.items():
            into.append(await consume_run(n, k, variant))
    m1 = statistics.median(metrics_cost(n) for _ in range(3))
    m4 = statistics.median(metrics_cost(4 * n) for _ in range(3))
    med = statistics.median
    per_call = (med(eng) - med(bare)) / n
    cons_wf, cons_plain = cons["as_is"], cons["none"]
    per_chunk_wf = (med(cons["wait_for"]) - med(cons_plain)) / (n * k)

    def us(v: list[float]) -> str:
        return f"{med(v) / (n * k) * 1e6:.1f} µs a chunk"

    print(f"\nfanout's own CPU per call, no network ({n} branches × {k} chunks, concurrency 100, median of {args.rounds})")
    print(f"machine: {C.machine_line()}\n")
    rows = [
        ["engine + RunState (parallel, concat)", f"{med(eng):.3f}", f"{med(eng) / n * 1e3:.3f}", f"{events} events"],
        ["bare gather + Semaphore (floor)", f"{med(bare):.3f}", f"{med(bare) / n * 1e3:.3f}", ""],
        ["fanout's own cost", f"{med(eng) - med(bare):.3f}", f"{per_call * 1e3:.3f}", f"{per_call / k * 1e6:.1f} µs a chunk"],
        ["Caller._consume as is", f"{med(cons_wf):.3f}", f"{med(cons_wf) / n * 1e3:.3f}",
         us(cons_wf)],
        ["  same loop, no timeout at all", f"{med(cons_plain):.3f}", f"{med(cons_plain) / n * 1e3:.3f}", us(cons_plain)],
        ["  same loop, asyncio.wait_for a chunk", f"{med(cons['wait_for']):.3f}",
         f"{med(cons['wait_for']) / n * 1e3:.3f}", us(cons["wait_for"])],
        ["  same loop, asyncio.timeout rescheduled a chunk", f"{med(cons['reschedule']):.3f}",
         f"{med(cons['reschedule']) / n * 1e3:.3f}", us(cons["reschedule"])],
        ["  same loop, one watchdog timer a stream", f"{med(cons['watchdog']):.3f}",
         f"{med(cons['watchdog']) / n * 1e3:.3f}", us(cons["watchdog"])],
        [f"run_metrics() at {n} branches", f"{m1:.3f}", "", "after the run, outside RunMetrics.wall"],
        [f"run_metrics() at {4 * n} branches", f"{m4:.3f}", "", f"×{m4 / m1:.1f} for ×4 branches"],
    ]
    print(C.table(["what", "CPU s", "ms a call", "note"], rows))
    C.save("engine_cpu", {
        "branches": n, "chunks": k, "rounds": args.rounds, "events": events,
        "engine_cpu": C.summary(eng), "bare_cpu": C.summary(bare),
        "own_ms_per_call": per_call * 1e3, "own_us_per_chunk": per_call / k * 1e6,
        "consume_cpu": {v: C.summary(x) for v, x in cons.items()},
        "consume_us_per_chunk": {v: med(x) / (n * k) * 1e6 for v, x in cons.items()},
        "wait_for_us_per_chunk": per_chunk_wf * 1e6,
        "run_metrics_seconds": {str(n): m1, str(4 * n): m4},
    })
    C.cleanup_home()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
