"""Research with the user's own files, end to end: what `--sources` costs a run.

    python bench/sources_run.py [--files 2000] [--rounds 3]

The `research` recipe (5 branches and a synthesis, hybrid) against the loopback server (0.25 s a call, 20 tokens)
with `--sources` on two corpora, the project's Markdown and --files generated files (tests/support/corpus.py; each
branch's angle planted in three of them, so that every branch finds passages), and without sources, rounds
interleaved. Per corpus: the index's first build (the first prepare) and its update on
the unchanged corpus (each later prepare), the retrieval per branch (the engine's call of the index for a branch's
title, brief and prompt; top_k 6), the passages' share of the branch prompts, and the run's wall time against the
same run without sources.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import time

import _common as C
from sources_index import project_corpus

sys.path.insert(0, str(C.ROOT / "tests" / "support"))
from corpus import plant, write_corpus  # noqa: E402

from fanout.strategies.recipe import load  # noqa: E402
from fanout.wiring.launch import prepare  # noqa: E402


async def one_run(base_url: str, sources: list[str]) -> dict:
    t0 = time.perf_counter()
    prepared = prepare(C.options("research", base_url, sources=sources))
    prepare_s = time.perf_counter() - t0
    retrievals: list[float] = []
    spec = prepared.spec
    if spec.retrieve is not None:
        retrieve = spec.retrieve

        def timed(query: str, top_k: int):
            t = time.perf_counter()
            try:
                return retrieve(query, top_k)
            finally:
                retrievals.append(time.perf_counter() - t)

        prepared = dataclasses.replace(prepared, spec=dataclasses.replace(spec, retrieve=timed))
    try:
        run = await C.run_prepared(prepared)
    finally:
        await prepared.aclose()
    report = prepared.corpus.report if prepared.corpus else None
    return {"prepare": prepare_s, "index": report.seconds if report else None,
            "files_read": report.files_read if report else None, "retrievals": retrievals,
            "wall": run["wall"], "input_tokens": run["input_tokens"], "status": run["status"]}


async def measure(base_url: str, corpora: dict[str, str], rounds: int) -> dict:
    runs: dict[str, list[dict]] = {name: [] for name in ["none", *corpora]}
    for _ in range(rounds):
        runs["none"].append(await one_run(base_url, []))
        for name, root in corpora.items():
            runs[name].append(await one_run(base_url, [root]))
    return runs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    C.home()
    project_root = C.home() / "project"
    project_corpus(project_root)
    generated_root = C.home() / "generated"
    generated = write_corpus(generated_root, args.files)
    for i, branch in enumerate(load("research").branches):
        for f in generated[i * 3:i * 3 + 3]:
            plant(f, f"{branch.title} in quantum computing in 2026: planted finding {i}.")
    corpora = {"project Markdown": str(project_root), f"generated ({args.files} files)": str(generated_root)}
    with C.ServerProcess() as server:
        runs = asyncio.run(measure(server.base_url, corpora, args.rounds))
    base_wall = statistics.median(r["wall"] for r in runs["none"])
    base_tokens = statistics.median(r["input_tokens"] for r in runs["none"])
    rows = []
    for name in corpora:
        rs = runs[name]
        per = sorted(t for r in rs for t in r["retrievals"])
        rows.append([
            name,
            f"{rs[0]['index'] * 1000:.0f}",
            f"{statistics.median(r['index'] for r in rs[1:]) * 1000:.1f}" if len(rs) > 1 else "-",
            f"{statistics.median(per) * 1000:.2f} / {per[-1] * 1000:.2f}",
            f"{statistics.median(r['input_tokens'] for r in rs) / base_tokens:.1f}×",
            f"{statistics.median(r['wall'] for r in rs) / base_wall:.3f}",
        ])
    print(f"\n`research` with --sources, {args.rounds} rounds; machine: {C.machine_line()}\n")
    print(C.table(["corpus", "first index ms", "unchanged ms", "retrieval per branch median / max ms",
                   "input tokens vs none", "wall vs none"], rows))
    C.save("sources_run", {"args": vars(args), "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
