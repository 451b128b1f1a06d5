"""Replaying a recorded session: `fanout replay ID --headless --speed 0` end to end, and in-process.

    python bench/replay.py [--rounds 10] [--tokens 256]

A five-branch session is recorded first: the research recipe (hybrid) against the loopback server (its own
process, no latency, every call streaming --tokens words: 256 fills research's max_tokens, as a real run would),
through launch.execute(record=True) like `fanout run`. Then:
- end to end: `python -m fanout replay ID --headless --speed 0` as a subprocess, stdout and stderr piped,
  median of --rounds after one untimed run (the first run after an install also compiles .pyc files);
  with the interpreter's own start (`python -c pass`) and the imports (`python -c "import fanout.cli, ..."`)
  timed the same way, so the remainder is the replay's own work.
- in-process: sessions.load(ID), then every event through RunState.apply, then report.to_markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

import _common as C

GOAL = 0.3


def timed(argv: list[str], rounds: int) -> dict:
    env = dict(os.environ)
    first = None
    times = []
    for i in range(rounds + 1):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=C.home())
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-2000:]}")
        if i == 0:
            first = elapsed
        else:
            times.append(elapsed)
    out = C.summary(times)
    out["first_untimed"] = first
    out["stdout_bytes"] = len(proc.stdout)
    return out


async def record(tokens: int) -> tuple[str, dict]:
    with C.ServerProcess(latency=0.0, token_interval=0.0, tokens=tokens) as server:
        run = await C.fanout_run("research", server.base_url, strategy="hybrid", concurrency=8, record=True)
    assert run["status"] == "ok", run["status"]
    return run["session_id"], run


def in_process(session_id: str, rounds: int) -> dict:
    from fanout.stores import sessions
    from fanout.frontends.report import to_markdown
    from fanout.frontends.state import RunState

    loads, applies, reports, totals = [], [], [], []
    n_events = 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        session = sessions.load(session_id)
        t1 = time.perf_counter()
        state = RunState()
        for event in session.events:
            state.apply(event)
        t2 = time.perf_counter()
        to_markdown(state)
        t3 = time.perf_counter()
        n_events = len(session.events)
        loads.append(t1 - t0)
        applies.append(t2 - t1)
        reports.append(t3 - t2)
        totals.append(t3 - t0)
    return {"events": n_events, "load": C.summary(loads), "apply": C.summary(applies),
            "to_markdown": C.summary(reports), "total": C.summary(totals)}


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--tokens", type=int, default=256, help="words per streamed call when recording (default 256)")
    p.add_argument("--in-process-rounds", type=int, default=50)
    args = p.parse_args()

    session_id, run = await record(args.tokens)
    from fanout.core.paths import sessions_dir

    path = sessions_dir() / f"{session_id}.jsonl"
    size = path.stat().st_size
    e2e = timed(C.python("-m", "fanout", "replay", session_id, "--headless", "--speed", "0"), args.rounds)
    e2e_json = timed(C.python("-m", "fanout", "replay", session_id, "--headless", "--speed", "0", "--json"), args.rounds)
    interp = timed(C.python("-c", "pass"), args.rounds)
    imports = timed(C.python("-c", "import fanout.cli, fanout.stores.sessions, fanout.frontends.headless, "
                                   "fanout.frontends.report, fanout.frontends.state"), args.rounds)
    inproc = in_process(session_id, args.in_process_rounds)

    print("\nReplaying a recorded five-branch session (research, hybrid)")
    print(f"machine: {C.machine_line()}")
    print(f"session: {inproc['events']} events, {size / 1024:.0f} KiB on disk, {run['output_tokens']} output tokens\n")
    rows = [
        ["fanout replay ID --headless --speed 0", f"{e2e['median'] * 1000:.0f}", f"{e2e['max'] * 1000:.0f}",
         C.verdict(e2e["median"], GOAL)],
        ["  … --json", f"{e2e_json['median'] * 1000:.0f}", f"{e2e_json['max'] * 1000:.0f}", ""],
        ["  of which: python -c pass", f"{interp['median'] * 1000:.0f}", f"{interp['max'] * 1000:.0f}", ""],
        ["  of which: imports (cli, sessions, headless, report, state)", f"{imports['median'] * 1000:.0f}",
         f"{imports['max'] * 1000:.0f}", ""],
        ["in-process: load + apply every event + to_markdown", f"{inproc['total']['median'] * 1000:.1f}",
         f"{inproc['total']['max'] * 1000:.1f}", ""],
        ["  load (parse JSON lines)", f"{inproc['load']['median'] * 1000:.1f}", f"{inproc['load']['max'] * 1000:.1f}", ""],
        ["  RunState.apply × every event", f"{inproc['apply']['median'] * 1000:.1f}",
         f"{inproc['apply']['max'] * 1000:.1f}", ""],
        ["  to_markdown", f"{inproc['to_markdown']['median'] * 1000:.1f}", f"{inproc['to_markdown']['max'] * 1000:.1f}", ""],
    ]
    print(C.table(["what", "median ms", "max ms", f"goal < {GOAL * 1000:.0f} ms"], rows))
    print(f"(first, untimed end-to-end run: {e2e['first_untimed'] * 1000:.0f} ms)")
    C.save("replay", {
        "goal_seconds": GOAL,
        "session": {"id": session_id, "events": inproc["events"], "bytes": size, "output_tokens": run["output_tokens"],
                    "recorded_with_tokens_per_call": args.tokens},
        "end_to_end": e2e,
        "end_to_end_json": e2e_json,
        "python_startup": interp,
        "imports": imports,
        "in_process": inproc,
    })
    C.cleanup_home()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
