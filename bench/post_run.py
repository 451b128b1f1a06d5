"""What a `fanout run` costs outside its run, and what its quality figures cost, at 5 / 60 / 300 / 1,000 branches:
the shipped `tickets` recipe's batch against the loopback server, every run a whole process.

    python bench/post_run.py [--sizes 5,60,300,1000] [--rounds 3] [--baseline DIR]
    python bench/post_run.py --make-baseline COMMIT DIR     # lays a commit out as installed, for --baseline

Each round, for each size, one `python -m fanout run tickets --set tickets=FILE --base-url URL --model m
--cache off --concurrency 100 --json` (its session recorded, its progress lines read from stderr as they come):
- outside the run: the process's wall time less the run's own (RunMetrics.wall): start-up, preparing the batch, and
  everything after the last call;
- end of run: from the arrival of the progress line of the run's last event ("run ok · wall ...") to the process's
  exit: the quality figures, the JSON report, the session's last writes, closing the client, the exit itself;
- quality: `measure()` of that run's finished branches in a process of its own, its first call (the imports it
  makes on first use included, as at the end of a run).
With --baseline DIR (an earlier checkout laid out as installed: DIR/fanout/cli, DIR/fanout/strategies, ...), each
round runs the baseline's processes and then this code's, size by size, so both see the same neighbours. The
loopback server (`python -m fanout.devserver`, 0.25 s before headers, 20 tokens 5 ms apart) runs in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import _common as C

SIZES = (5, 60, 300, 1000)
CONCURRENCY = 100
QUALITY_GOAL, END_GOAL = 0.3, 0.5  # seconds, at 1,000 branches
OUTSIDE_GOALS = {60: 1.0, 300: 1.5}  # seconds more than at 5 items
_LAST_EVENT = re.compile(r"^\[\s*[\d.]+s\] run \w+ · wall ")

QUALITY_CHILD = """
import json, sys, time
doc = json.load(open(sys.argv[1], encoding="utf-8"))
outputs = [(b["id"], b["text"]) for b in doc["branches"] if b["status"] == "done" and not b.get("stage")]
aggregate = doc["aggregate"]["text"] if doc["aggregate"]["status"] == "done" else ""
from fanout.frontends.quality import measure
start = time.perf_counter()
q = measure(outputs, aggregate)
print(json.dumps({"seconds": time.perf_counter() - start, "findings": q.findings, "distinct": q.distinct,
                  "redundancy": q.redundancy, "skipped": getattr(q, "skipped", "")}))
"""


def env_for(baseline: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if baseline:
        env["PYTHONPATH"] = baseline + os.pathsep + env.get("PYTHONPATH", "")
    return env


def one_run(tickets: Path, url: str, out: Path, baseline: str | None) -> dict[str, Any]:
    """One `fanout run` as a whole process: its wall, the run's own wall, and when its last event's line came."""
    argv = C.python("-m", "fanout", "run", "tickets", "--set", f"tickets={tickets}", "--base-url", f"{url}/v1",
                    "--model", "m", "--cache", "off", "--concurrency", str(CONCURRENCY), "--json")
    last_event = None
    with out.open("wb") as stdout:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, cwd=C.home(), env=env_for(baseline))
        assert proc.stderr is not None
        tail: list[bytes] = []
        for line in proc.stderr:
            if _LAST_EVENT.match(line.decode("utf-8", "replace")):
                last_event = time.perf_counter()
            tail = (tail + [line])[-20:]
        _, status, usage = os.wait4(proc.pid, 0)
        end = time.perf_counter()
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or last_event is None:
        raise SystemExit(f"`fanout run` exited {code}: {b''.join(tail).decode('utf-8', 'replace')}")
    doc = json.loads(out.read_text(encoding="utf-8"))
    return {
        "process_seconds": end - start,
        "run_wall": doc["metrics"]["wall"],
        "outside_run": end - start - doc["metrics"]["wall"],
        "end_of_run": end - last_event,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "status": doc["status"],
        "branches_done": sum(1 for b in doc["branches"] if b["status"] == "done"),
    }


def quality_time(report: Path, baseline: str | None) -> dict[str, Any]:
    proc = subprocess.run(C.python("-c", QUALITY_CHILD, str(report)), capture_output=True, text=True,
                          cwd=C.home(), env=env_for(baseline), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"measuring quality failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def which_fanout(baseline: str | None) -> str:
    """Where the processes of one side import fanout from (the baseline's folder, or this installation)."""
    proc = subprocess.run(C.python("-c", "import fanout.frontends.quality as q; print(q.__file__)"),
                          capture_output=True, text=True, cwd=C.home(), env=env_for(baseline), check=True)
    return proc.stdout.strip()


def rounds(sizes: list[int], count: int, baseline: str | None) -> tuple[dict[str, dict[int, list[dict[str, Any]]]],
                                                                       dict[str, Any]]:
    """Every round's runs, by side and size; and the loopback server's settings."""
    work = C.home() / "post_run"
    work.mkdir(exist_ok=True)
    files = {n: C.write_tickets(work / f"tickets-{n}.txt", n) for n in sizes}
    sides = ([("before", baseline)] if baseline else []) + [("after", None)]
    results: dict[str, dict[int, list[dict[str, Any]]]] = {name: {n: [] for n in sizes} for name, _ in sides}
    with C.ServerProcess(latency=0.25, token_interval=0.005, tokens=20) as server:
        for r in range(count):
            for n in sizes:
                for name, path in sides:
                    report = work / f"{name}-{n}-{r}.json"
                    run = one_run(files[n], server.base_url, report, path)
                    run["quality"] = quality_time(report, path)
                    results[name][n].append(run)
                    q = run["quality"]
                    print(f"round {r + 1} {name:<6} {n:>5} items: process {run['process_seconds']:.2f} s, run "
                          f"{run['run_wall']:.2f} s, outside {run['outside_run']:.2f} s, end {run['end_of_run']:.3f} s,"
                          f" quality {q['seconds']:.3f} s ({q['findings']} findings, {q['distinct']} distinct"
                          f"{', ' + q['skipped'] if q['skipped'] else ''})", file=sys.stderr, flush=True)
    return results, {**server.config, "process": "its own, one for every run"}


def medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "outside_run": statistics.median(r["outside_run"] for r in runs),
        "end_of_run": statistics.median(r["end_of_run"] for r in runs),
        "quality": statistics.median(r["quality"]["seconds"] for r in runs),
        "process_seconds": statistics.median(r["process_seconds"] for r in runs),
        "run_wall": statistics.median(r["run_wall"] for r in runs),
    }


def summary(results: dict[str, dict[int, list[dict[str, Any]]]]) -> tuple[str, dict[str, Any]]:
    rows, figures = [], {}
    for name, by_size in results.items():
        base = medians(by_size[min(by_size)])["outside_run"]
        for n, runs in by_size.items():
            m = medians(runs)
            q = runs[-1]["quality"]
            more = m["outside_run"] - base
            goals = []
            if n in OUTSIDE_GOALS:
                goals.append(f"{more:+.2f} s ≤ {OUTSIDE_GOALS[n]} s: {C.verdict(more, OUTSIDE_GOALS[n])}")
            if n == 1000:
                goals.append("quality not measured" if q["skipped"] else
                             f"quality < {QUALITY_GOAL} s: {C.verdict(m['quality'], QUALITY_GOAL)}")
                goals.append(f"end < {END_GOAL} s: {C.verdict(m['end_of_run'], END_GOAL)}")
            measured = "not measured" if q["skipped"] else f"{q['findings']}/{q['distinct']}"
            rows.append([name, n, f"{m['process_seconds']:.2f}", f"{m['run_wall']:.2f}", f"{m['outside_run']:.2f}",
                         f"{more:+.2f}", f"{m['end_of_run']:.3f}", f"{m['quality']:.3f}", measured,
                         "; ".join(goals)])
            figures[f"{name} {n}"] = {**m, "outside_over_5": more, "findings": q["findings"],
                                      "distinct": q["distinct"], "skipped": q["skipped"]}
    table = C.table(["code", "items", "process s", "run s", "outside s", "vs 5", "end of run s", "quality s",
                     "findings/distinct", "goals"], rows)
    return table, figures


def make_baseline(commit: str, target: Path) -> None:
    """The commit's packages laid out as installed (its pyproject's package-dir table): target/fanout/..."""
    pyproject = tomllib.loads(subprocess.run(["git", "show", f"{commit}:pyproject.toml"], cwd=C.ROOT, check=True,
                                             capture_output=True, text=True).stdout)
    layout = pyproject["tool"]["setuptools"]["package-dir"]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "src.tar"
        subprocess.run(["git", "archive", "-o", str(archive), commit], cwd=C.ROOT, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(Path(tmp) / "src", filter="data")
        for package, folder in sorted(layout.items(), key=lambda kv: kv[0].count(".")):
            shutil.copytree(Path(tmp) / "src" / folder, target / package.replace(".", "/"), dirs_exist_ok=True)
    print(f"{target}: {commit} laid out as installed ({', '.join(sorted(layout))})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default=",".join(map(str, SIZES)), help="batch sizes, comma-separated")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--baseline", metavar="DIR", help="an earlier checkout laid out as installed, run side by side")
    p.add_argument("--make-baseline", nargs=2, metavar=("COMMIT", "DIR"), help="lay COMMIT out as installed in DIR")
    args = p.parse_args()
    if args.make_baseline:
        make_baseline(args.make_baseline[0], Path(args.make_baseline[1]).resolve())
        return 0
    baseline = str(Path(args.baseline).resolve()) if args.baseline else None
    sizes = sorted(int(n) for n in args.sizes.split(","))
    results, server = rounds(sizes, args.rounds, baseline)
    table, figures = summary(results)
    print(f"\nOutside the run, at the end of it, and the quality figures: `fanout run tickets` as a whole process, "
          f"medians of {args.rounds} rounds")
    print(f"machine: {C.machine_line()}\n")
    print(table)
    imports = {"after": which_fanout(None), **({"before": which_fanout(baseline)} if baseline else {})}
    goals = {"quality_1000": QUALITY_GOAL, "end_of_run_1000": END_GOAL, "outside_over_5": OUTSIDE_GOALS}
    C.save("post_run", dict(server=server, concurrency=CONCURRENCY, goals=goals, imports=imports, baseline=baseline,
                            figures=figures, results=results))
    C.cleanup_home()
    return 0


if __name__ == "__main__":
    sys.exit(main())
