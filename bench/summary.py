"""Every figure in bench/results/*.json as one Markdown table: figure, value, goal, verdict, command, machine.

    python bench/summary.py > bench/results/summary.md
    python bench/summary.py --update-readme    # also rewrites the table between the markers in bench/README.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def per_call_ms(cpu: float, branches: int) -> str:
    return f"{cpu / (branches + 1) * 1e3:.1f}"  # the branches' calls and the aggregate's


def vs_goal(d: dict, r: dict) -> float:
    goals = d.get("goals") or {}
    return goals.get("5" if r["branches"] <= 5 else "large", d.get("goal", 1.02))


def ok(value: float, goal: float, below: bool = True) -> str:
    return "✅ met" if (value <= goal if below else value >= goal) else "❌ missed"


def main() -> int:
    rows: list[tuple[str, str, str, str, str]] = []
    machines: dict[str, str] = {}

    def add(figure: str, value: str, goal: str = "", verdict: str = "", cmd: str = "") -> None:
        rows.append((figure, value, goal, verdict, cmd))

    def note(doc: dict) -> str:
        m, c = doc["machine"], doc.get("contention", {})
        busy = c.get("other_busy_cores")
        changed = m.get("fanout_modified_files") or []
        line = (f"{m['nproc']} × {m['cpu_model']}, {m['mem_total_gib']} GiB, Python {m['python']}, {m['date']}, "
                f"fanout {m['fanout_commit']}"
                + (f" + uncommitted changes to {', '.join(changed)}" if changed else
                   (" + uncommitted changes" if m["fanout_worktree_dirty"] else "")))
        if busy is not None:
            line += f"; other processes busy {busy} cores on average during the run"
        machines[doc["command"]] = line
        return f"`{doc['command']}`"

    d = load("overhead")
    if d:
        cmd = note(d)
        call = d["server"]["call_seconds"]
        for s in d["small"]:
            name = s["name"].replace("research 5 ", "")
            v = s["wall_over_cp"]
            label = f"5 branches (research), {name}: wall / critical path"
            if s["strategy"] == "sequential":
                label += " (= wall / sum of calls)"
            add(label, f"{v['median']:.3f} (max {v['max']:.3f}; wall {s['wall']['median']:.3f} s)",
                "≤ 1.03", ok(v["median"], 1.03), cmd)
        for s in d["small"]:
            name = s["name"].replace("research 5 ", "")
            add(f"5 branches, {name}: wall / server floor ({call:.2f} s a call × depth)",
                f"{s['wall_over_floor']['median']:.3f}", "(context)", "", cmd)
        iss = d["issue"]
        add("Issue: parallel wall within 5 % of its critical path (branches + aggregate)",
            f"{iss['parallel_wall_over_critical_path']['median']:.3f} (max {iss['parallel_wall_over_critical_path']['max']:.3f})",
            "≤ 1.05", ok(iss["parallel_wall_over_critical_path"]["max"], 1.05), cmd)
        add("Issue: sequential wall within 5 % of the sum of its calls",
            f"{iss['sequential_wall_over_sum_of_calls']['median']:.3f} (max {iss['sequential_wall_over_sum_of_calls']['max']:.3f})",
            "≤ 1.05", ok(iss["sequential_wall_over_sum_of_calls"]["max"], 1.05), cmd)
        for s in d["large"]:
            add(f"{s['name']}: wall / slot-bound critical path (measured call latencies)",
                f"{s['wall_over_slot_path']['median']:.3f} (max {s['wall_over_slot_path']['max']:.3f}; wall / "
                f"RunMetrics.critical_path, which ignores the 100-slot limit: {s['wall_over_cp']['median']:.2f})",
                "≤ 1.10", ok(s["wall_over_slot_path"]["median"], 1.10), cmd)
            floor_goal = d["goals"]["wall_over_floor_at_1000"]
            add(f"{s['name']}: wall / server floor ({call:.2f} s a call, 100 slots)",
                f"{s['wall_over_floor']['median']:.2f} (max {s['wall_over_floor']['max']:.2f}; wall {s['wall']['median']:.2f} s, "
                f"client CPU {s['cpu']['median']:.1f} s, {per_call_ms(s['cpu']['median'], s['branches'])} ms a call)",
                f"≤ {floor_goal:.2f}", ok(s["wall_over_floor"]["median"], floor_goal), cmd)
        for b in d["baselines"]:
            add(f"baseline {b['name']}: wall / server floor",
                f"{b['wall_over_floor']['median']:.2f} (wall {b['wall']['median']:.2f} s, CPU {b['cpu']['median']:.1f} s, "
                f"{per_call_ms(b['cpu']['median'], b['branches'])} ms a call)", "(context)", "", cmd)

    d = load("vs_plain")
    if d:
        cmd = note(d)
        for r in d["results"]:
            add(f"fanout parallel / plain AsyncOpenAI + gather, {r['name']} (median of per-round ratios)",
                f"{r['ratio']['median']:.3f} (max {r['ratio']['max']:.3f}; ratio of medians {r['ratio_of_medians']:.3f}; "
                f"{r['fanout_e2e']['median']:.3f} s vs {r['plain_wall']['median']:.3f} s, {r['ratio']['n']} rounds; "
                f"CPU {r['fanout_cpu']['median']:.2f} s vs {r['plain_cpu']['median']:.2f} s)",
                f"≤ {vs_goal(d, r):.2f}", ok(r["ratio"]["median"], vs_goal(d, r)), cmd)

    d = load("eager_vs_phases")
    if d:
        cmd = note(d)
        for r in d["results"]:
            add(f"eager DAG vs phase-by-phase, software ×{r['factor']:g}: gain in wall time",
                f"{r['gain_seconds']:+.3f} s ({r['gain_fraction']:.1%}); eager {r['eager_e2e']['median']:.3f} s, "
                f"phases {r['phases_wall']['median']:.3f} s", f"ideal {r['ideal']['gain']:+.3f} s", "", cmd)

    d = load("replay")
    if d:
        cmd = note(d)
        e = d["end_to_end"]
        add(f"`fanout replay ID --headless --speed 0`, end to end ({d['session']['events']} events)",
            f"{e['median'] * 1000:.0f} ms (max {e['max'] * 1000:.0f} ms; python start {d['python_startup']['median'] * 1000:.0f} ms, "
            f"imports {d['imports']['median'] * 1000:.0f} ms)", "< 300 ms", ok(e["median"], d["goal_seconds"]), cmd)
        i = d["in_process"]
        add("replay in-process: load + RunState.apply every event + to_markdown",
            f"{i['total']['median'] * 1000:.1f} ms (apply {i['apply']['median'] * 1000:.1f} ms)", "", "", cmd)

    d = load("local_model")
    if d:
        cmd = note(d)
        for r in d["throughput"]:
            for kind in ("fresh", "warm"):
                f = r[kind]
                add(f"embedded model, {r['name']}, {kind}: aggregate / per-branch tok/s",
                    f"{f['aggregate_tok_s']['median']:.1f} / {f['per_branch_tok_s']['median']:.1f} tok/s "
                    f"(decode {f['decode_tok_s']['median']:.1f}, ttft {f['ttft']['median'] * 1000:.0f} ms)", "", "", cmd)
        b = d.get("fanout_bench_research_max_tokens_48")
        if b:
            for row in b["rows"]:
                add(f"`fanout bench research --max-tokens 48` (embedded), {row['strategy']}",
                    f"{row['latency'] * 1000:.0f} ms, {row['tokens']} tokens, speed-up vs sequential {row['speedup_vs_sequential']:.2f}×",
                    "", "", cmd)

    d = load("load")
    if d:
        cmd = note(d)
        for r in d["results"]:
            n = r["runs"][0]["branches"]
            add(f"load {r['name']} ({n} branches): peak RSS of `fanout run`",
                f"{r['peak_rss_mib']['max']:.0f} MiB", "< 300 MB" if r["name"] != "baseline" else "",
                ok(r["peak_rss_mib"]["max"], 300) if r["name"] != "baseline" else "", cmd)
            if r["name"] == "baseline":
                continue
            add(f"load {r['name']}: all branches done / max requests in flight",
                f"{'yes' if r['all_complete'] else 'NO'} / {r['max_in_flight']}", "all / ≤ 100",
                "✅ met" if r["all_complete"] and r["max_in_flight"] <= d["concurrency"] else "❌ missed", cmd)
            add(f"load {r['name']}: wall / slot-bound critical path",
                f"{r['wall_over_slot_path']['median']:.3f}", "< 1.10", ok(r["wall_over_slot_path"]["median"], 1.10), cmd)
            add(f"load {r['name']}: wall / server floor",
                f"{r['wall_over_floor']['median']:.2f} (wall {r['wall']['median']:.2f} s, CPU {r['cpu_seconds']['median']:.1f} s)",
                "< 1.10", ok(r["wall_over_floor"]["median"], 1.10), cmd)

    d = load("engine_cpu")
    if d:
        cmd = note(d)
        add("fanout's own CPU per call, no network (engine + RunState − bare gather)",
            f"{d['own_ms_per_call']:.2f} ms ({d['own_us_per_chunk']:.1f} µs a chunk)", "", "", cmd)
        c = d["consume_us_per_chunk"]
        add("Caller._consume per chunk: as is / no timeout / wait_for a chunk / asyncio.timeout rescheduled / watchdog timer",
            f"{c['as_is']:.1f} / {c['none']:.1f} / {c.get('wait_for', float('nan')):.1f} / "
            f"{c.get('reschedule', float('nan')):.1f} / {c['watchdog']:.1f} µs", "", "", cmd)
        rm = d["run_metrics_seconds"]
        (n1, s1), (n4, s4) = sorted(rm.items(), key=lambda kv: int(kv[0]))
        add("run_metrics() after the run (critical path)", f"{s1 * 1000:.0f} ms at {n1} branches, {s4 * 1000:.0f} ms at {n4}",
            "", "", cmd)

    d = load("loop_fairness")
    if d:
        cmd = note(d)
        for name, r in d["results"].items():
            add(f"{d['branches']} branches / {d['concurrency']} slots, Caller._consume {name}: slot occupancy, loop stall p99",
                f"{r['occupancy']['median']:.3f}, {r['lag_p99_ms']['median']:.0f} ms (wall {r['wall']['median']:.2f} s, "
                f"CPU {r['cpu']['median']:.2f} s)", "", "", cmd)

    tui = RESULTS / "tui_stream.txt"
    if tui.exists():
        add("TUI streaming benchmark", "see bench/results/tui_stream.txt", "", "", "`python bench/tui_stream.py`")
    else:
        add("TUI streaming benchmark", "not run", "", "", "")

    out = ["| Figure | Value | Goal | | Command |", "|---|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {v} | {cmd} |" for a, b, c, v, cmd in rows]
    out.append("")
    out.append("Machine and conditions per command:")
    out.append("")
    out += [f"- {cmd}: {line}" for cmd, line in machines.items()]
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if "--update-readme" in sys.argv[1:]:
        readme = RESULTS.parent / "README.md"
        doc = readme.read_text(encoding="utf-8")
        start, end = "<!-- figures:start -->", "<!-- figures:end -->"
        if start in doc and end in doc:
            head, rest = doc.split(start, 1)
            _, tail = rest.split(end, 1)
            readme.write_text(f"{head}{start}\n{text}{end}{tail}", encoding="utf-8")
            print(f"updated {readme}", file=sys.stderr)
        else:
            print(f"{readme}: no {start} … {end} markers", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
