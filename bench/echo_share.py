"""The embedded model's first runs: how many results only repeat their own prompt.

    python bench/echo_share.py [--out echo_share] [--topics "a;b;c;d;e"]

Runs the README's Quick start on the embedded model (SmolLM2-135M via llama.cpp), cache off, in this process:
`research` under sequential, parallel and hybrid, `summarize` (its built-in document), and `deep-research` on
five topics. For every run it reports
- whether the aggregate is flagged by the engine's own echo flag (strategies/echoes.py: half or more of its runs
  of six words repeat its prompt) or came back empty;
- for every branch, the same flag computed here over the branch's text and the prompt it was sent;
- for deep-research, the planner's titles and how many repeat an earlier title of the same plan (casefolded);
- fence markers, whole or partial, that reached a final text (`<<<`, `<‹`, `report`/`end` + hex);
- texts that loop (not a flag fanout raises; a readability figure for this benchmark only): a third or more of
  their runs of four words, or of their characters, repeat what they already wrote (a sentence or a phrase
  repeated until max_tokens, a line of `>`).
The provider's `stream` is wrapped to see each call's prompt and raw answer; nothing else is changed.
Writes bench/results/<out>.json with every text, so the outputs can be read, not only counted.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from dataclasses import dataclass

import _common as C

TOPICS = ("solid-state batteries", "tidal power", "the history of the printing press", "urban beekeeping",
          "CRISPR gene editing in agriculture")
# What a leaked marker looks like in a final text: the fence syntax, a look-alike, or a marker word and a nonce.
_NONCE = re.compile(r"<<<report ([0-9a-f]{16}) ")
_LEAK = re.compile(r"<<<|<‹|‹‹|\b(?:report|end)\s+[0-9a-f]{5,16}\b")


def loops(text: str) -> bool:
    from fanout.strategies.echoes import loop_share, repeated_share

    return len(text) >= 200 and (loop_share(text) >= 1 / 3 or repeated_share(text) >= 1 / 3)


@dataclass
class Call:
    prompt: str
    schema: bool
    output: str


def record_calls() -> list[Call]:
    """Wraps the embedded provider's stream so every call's prompt and raw answer is kept, in the order the calls
    ended."""
    from fanout.providers import local
    from fanout.providers.base import TextDelta

    calls: list[Call] = []
    original = local.LocalProvider.stream

    async def stream(self, request):
        pieces: list[str] = []
        try:
            async for item in original(self, request):
                if isinstance(item, TextDelta):
                    pieces.append(item.text)
                yield item
        finally:
            prompt = "\n\n".join(m.content for m in request.messages)
            calls.append(Call(prompt, request.json_schema is not None, "".join(pieces)))

    local.LocalProvider.stream = stream
    return calls


def nonce_of(prompt: str) -> str:
    m = _NONCE.search(prompt)
    return m.group(1) if m else ""


def duplicate_titles(titles: list[str]) -> int:
    seen: set[str] = set()
    dups = 0
    for t in titles:
        key = " ".join(t.casefold().split())
        dups += key in seen
        seen.add(key)
    return dups


def branch_flags(state, calls: list[Call]) -> dict[str, str]:
    """Each branch's echo flag over its own prompt. A branch's call is the one whose raw answer, less any marker,
    is its text; the answers are near-unique, so the nearest is taken when scrubbing changed a few characters."""
    from difflib import SequenceMatcher

    from fanout.strategies.echoes import echo_flag

    flags = {}
    branch_calls = [c for c in calls if not c.schema]
    for b in state.branch_list():
        if b.status != "done":
            flags[b.id] = f"not done: {b.status}"
            continue
        best = max(branch_calls, key=lambda c: SequenceMatcher(None, c.output, b.text).quick_ratio(), default=None)
        flags[b.id] = echo_flag(b.text, best.prompt) if best else "no call recorded"
    return flags


async def one_run(calls: list[Call], label: str, recipe: str, strategy: str | None, inputs: dict) -> dict:
    from fanout.frontends.state import RunState
    from fanout.wiring.launch import RunOptions, execute, prepare

    calls.clear()
    prepared = prepare(RunOptions(recipe=recipe, strategy=strategy, inputs=dict(inputs), cache="off"))
    state = RunState()
    t0 = time.perf_counter()
    try:
        await execute(prepared, [state.apply], record=False)
    finally:
        await prepared.aclose()
    wall = time.perf_counter() - t0
    agg = state.aggregate
    flags = branch_flags(state, calls)
    titles = [b.title for b in state.branch_list()] if state.plan else []
    texts = {"aggregate": agg.text, **{b.id: b.text for b in state.branch_list()}}
    if state.plan:
        texts["plan"] = state.plan.text
    leaks = {k: _LEAK.findall(v) for k, v in texts.items() if _LEAK.search(v)}
    row = {
        "run": label,
        "status": state.status,
        "wall": round(wall, 1),
        "aggregate_flag": agg.result.get("flagged", ""),
        "aggregate_empty": agg.status == "done" and not agg.text.strip(),
        "branch_flags": flags,
        "plan_titles": titles,
        "plan_duplicates": duplicate_titles(titles),
        "plan_warnings": list(state.plan.warnings) if state.plan else [],
        "marker_leaks": leaks,
        "looping": sorted(k for k, v in texts.items() if k != "plan" and loops(v)),
        "texts": texts,
        # Every call's answer as the model wrote it, before any marker was cut, with the nonce its prompt's
        # fences carried: what tests/strategies/test_echoes.py's recorded outputs come from.
        "raw": [{"nonce": nonce_of(c.prompt), "output": c.output} for c in calls],
    }
    flagged_branches = sum(bool(f) for f in flags.values())
    flag = row["aggregate_flag"]
    shown = "FLAGGED " + flag[:16] if flag else "EMPTY" if row["aggregate_empty"] else "ok"
    print(f"  {label:<40} {state.status:<8} {wall:6.1f} s  aggregate {shown}"
          f"  branches flagged {flagged_branches}/{len(flags)}"
          + (f"  duplicate titles {row['plan_duplicates']}/{len(titles)}" if titles else "")
          + (f"  marker leaks {sum(len(v) for v in leaks.values())}" if leaks else "")
          + (f"  looping {len(row['looping'])}" if row["looping"] else ""), file=sys.stderr)
    return row


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="echo_share", help="bench/results/<out>.json (default echo_share)")
    p.add_argument("--topics", default=";".join(TOPICS), help="deep-research topics, ';'-separated")
    args = p.parse_args()
    topics = [t.strip() for t in args.topics.split(";") if t.strip()]

    calls = record_calls()
    plan = [(f"research --strategy {s}", "research", s, {}) for s in ("sequential", "parallel", "hybrid")]
    plan.append(("summarize", "summarize", None, {}))
    plan += [(f"deep-research topic={t!r}", "deep-research", None, {"topic": t}) for t in topics]
    rows = [await one_run(calls, *args_) for args_ in plan]

    aggregates = [r for r in rows if r["status"] != "failed"]
    agg_bad = sum(bool(r["aggregate_flag"]) or r["aggregate_empty"] for r in rows)
    branch_all = [f for r in rows for f in r["branch_flags"].values()]
    branch_bad = sum(f.startswith("echo") for f in branch_all)
    titles = sum(len(r["plan_titles"]) for r in rows)
    dups = sum(r["plan_duplicates"] for r in rows)
    leaks = sum(len(v) for r in rows for v in r["marker_leaks"].values())
    looping = sum(len(r["looping"]) for r in rows)
    texts = sum(len(r["texts"]) - ("plan" in r["texts"]) for r in rows)
    print(f"\nThe embedded model, cache off: {len(rows)} runs ({len(aggregates)} with an aggregate)")
    print(f"machine: {C.machine_line()}\n")
    print(C.table(
        ["figure", "value"],
        [
            ["runs that failed", str(sum(r["status"] == "failed" for r in rows))],
            ["aggregates flagged (echo) or empty", f"{agg_bad} of {len(rows)} ({agg_bad / len(rows):.0%})"],
            ["branches flagged (echo)",
             f"{branch_bad} of {len(branch_all)} ({branch_bad / max(1, len(branch_all)):.0%})"],
            ["planner titles repeating an earlier one", f"{dups} of {titles}"],
            ["fence markers leaked into final texts", str(leaks)],
            ["texts that loop (aggregates and branches)", f"{looping} of {texts}"],
            ["wall per run (s)", ", ".join(f"{r['wall']:.0f}" for r in rows)],
        ],
    ))
    C.save(args.out, {
        "runs": rows,
        "aggregates_flagged_or_empty": agg_bad,
        "runs_total": len(rows),
        "branches_flagged": branch_bad,
        "branches_total": len(branch_all),
        "plan_duplicate_titles": dups,
        "plan_titles": titles,
        "marker_leaks": leaks,
        "looping": looping,
        "texts": texts,
    })
    C.cleanup_home()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
