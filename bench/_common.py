"""Shared plumbing for the benchmark scripts: an isolated FANOUT_HOME, the loopback server in its own process,
generated recipes, the machine description and the JSON result files.

Every script imports this module first: it points FANOUT_HOME at a fresh temporary folder (no user config,
sessions or cache leak into a measurement) before anything from fanout is imported.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PY = sys.executable


def python(*args: str) -> list[str]:
    """`python -P ARGS`: a child that imports the installed fanout, wherever the benchmark was started. Without -P,
    `python -m` and `-c` put the working directory first on the path, and in a checkout its own `fanout/` folder
    (only the CLI: the other packages live beside it) would shadow the package: "No module named
    fanout.devserver". Children also start in `home()`, a folder with no `fanout/` in it."""
    return [PY, "-P", *args]

# One temporary home per script run: config, sessions and cache all live there, and go with it. Created on first
# use (fanout creates its folders itself), so a process that only imports this module leaves nothing behind.
_HOME = Path(tempfile.gettempdir()) / f"fanout-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
os.environ["FANOUT_HOME"] = str(_HOME)
os.environ.pop("FANOUT_CONFIG", None)
os.environ.setdefault("OPENAI_API_KEY", "loopback")  # the loopback server ignores it; the SDK wants one


def _busy_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores), from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


_START = (time.monotonic(), _busy_seconds())


def _loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def contention() -> dict[str, Any]:
    """How busy the rest of the machine was while this script ran: every core's busy time minus this process's
    and its children's, per second. Near 0 on a quiet machine; figures taken next to a busy neighbour are noisy."""
    import resource

    elapsed = time.monotonic() - _START[0]
    busy = _busy_seconds() - _START[1]
    own = cpu_seconds()
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    mine = own + ch.ru_utime + ch.ru_stime
    return {
        "elapsed_seconds": round(elapsed, 2),
        "machine_busy_cores": round(busy / elapsed, 2) if elapsed > 0 else None,
        "own_busy_cores": round(mine / elapsed, 2) if elapsed > 0 else None,
        "other_busy_cores": round(max(0.0, busy - mine) / elapsed, 2) if elapsed > 0 else None,
        "loadavg_end": _loadavg(),
    }


def home() -> Path:
    _HOME.mkdir(mode=0o700, parents=True, exist_ok=True)
    return _HOME


def cleanup_home() -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


atexit.register(cleanup_home)  # also when a script fails half-way


# --------------------------------------------------------------------------------------------------
# The machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": affinity,
        "cpu_model": _cpu_model(),
        "mem_total_gib": _mem_total_gib(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "fanout_commit": _git("rev-parse", "--short", "HEAD"),
        "fanout_worktree_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        # Tracked files with uncommitted changes when this ran (others' work in progress is measured as it was).
        "fanout_modified_files": [line[3:] for line in _git("status", "--porcelain", "--untracked-files=no").splitlines()],
        "loadavg": _loadavg(),
        "versions": {d: _version(d) for d in ("fanout", "openai", "httpx2", "llama_cpp_python", "textual")},
    }


def machine_line(m: Mapping[str, Any] | None = None) -> str:
    m = m or machine()
    return (f"{m['nproc']} × {m['cpu_model']}, {m['mem_total_gib']} GiB, Python {m['python']}, "
            f"{m['date'][:10]}, fanout {m['fanout_commit']}{' (dirty tree)' if m['fanout_worktree_dirty'] else ''}")


def command_line() -> str:
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(ROOT)
    except ValueError:
        pass
    return " ".join(["python", str(script), *sys.argv[1:]])


def save(name: str, data: dict[str, Any]) -> Path:
    """bench/results/<name>.json: the figures, the command that produced them and the machine."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": name, "command": command_line(), "machine": machine(), "contention": contention(), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    busy = doc["contention"].get("other_busy_cores")
    note = f" (other processes kept {busy} cores busy meanwhile: figures are noisy)" if busy and busy > 0.25 else ""
    print(f"\nwrote {path.relative_to(ROOT)}{note}")
    return path


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON: {type(obj).__name__}")


# --------------------------------------------------------------------------------------------------
# Figures


def summary(values: Sequence[float]) -> dict[str, float]:
    vals = list(values)
    return {
        "median": statistics.median(vals),
        "min": min(vals),
        "max": max(vals),
        "stdev": statistics.stdev(vals) if len(vals) > 1 else 0.0,
        "n": len(vals),
        "values": vals,
    }


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [[_cell(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))]
    out.append("  ".join("-" * w for w in widths))
    for r in rows:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def verdict(value: float, goal: float, below: bool = True) -> str:
    ok = value <= goal if below else value >= goal
    return "met" if ok else "MISSED"


def cpu_seconds() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mib() -> float:
    """Current resident set of this process (VmRSS), MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mib() -> float:
    """Peak resident set of this process so far (ru_maxrss is KiB on Linux), MiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of another process, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


# --------------------------------------------------------------------------------------------------
# The loopback server, in its own process so that its CPU is not counted as the client's


_SUMMARY = re.compile(
    r"served (\d+) requests on (\d+) connections; max in flight (\d+); throttled (\d+)"
)


class ServerProcess:
    """`python -m fanout.devserver ...` (or bench/_server.py for per-prompt delays) as a context manager.

    `stats` after exit: requests, connections, max_in_flight, throttled (from the server's own summary line),
    and cpu_seconds (the server process's CPU while it ran)."""

    def __init__(
        self,
        *,
        latency: float = 0.25,
        token_interval: float = 0.005,
        tokens: int = 20,
        slow: Mapping[str, float] | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self.config = {"latency": latency, "token_interval": token_interval, "tokens": tokens,
                       "slow": dict(slow or {})}
        if slow:
            argv = python(str(BENCH / "_server.py"))
            for pattern, seconds in slow.items():
                argv += ["--slow", f"{pattern}={seconds}"]
        else:
            argv = python("-m", "fanout.devserver")
        argv += ["--latency", str(latency), "--token-interval", str(token_interval), "--tokens", str(tokens), *extra]
        self.argv = argv
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.stats: dict[str, Any] = {}

    @property
    def call_seconds(self) -> float:
        """What one call costs on the server side by construction: latency, then one interval per token."""
        return self.config["latency"] + self.config["tokens"] * self.config["token_interval"]

    def __enter__(self) -> "ServerProcess":
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home())
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.proc.kill()
            raise RuntimeError(f"loopback server did not start: {line!r} {err}")
        self.base_url = line
        return self

    def cpu(self) -> float:
        return proc_cpu_seconds(self.proc.pid) if self.proc else float("nan")

    def __exit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is None:
            return
        cpu = self.cpu()
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        self.stats = {"cpu_seconds": cpu}
        m = _SUMMARY.search(err or "")
        if m:
            self.stats.update(requests=int(m[1]), connections=int(m[2]), max_in_flight=int(m[3]), throttled=int(m[4]))
        self.proc = None


# --------------------------------------------------------------------------------------------------
# Recipes


TICKETS = [
    "I was charged twice for my invoice number {i}.",
    "The export button does nothing when I click it on report {i}.",
    "Could you add a dark mode to dashboard {i}?",
    "I can't log in after resetting my password (attempt {i}).",
    "Please change the email address on account {i}.",
    "The mobile app crashes when I open project {i}.",
    "Refund request for order {i}, the item never arrived.",
    "How do I invite teammate number {i} to my workspace?",
]


def write_tickets(path: Path, n: int) -> Path:
    """A batch for the shipped `tickets` recipe (`--set tickets=PATH`): n support tickets, one a line."""
    path.write_text("\n".join(TICKETS[i % len(TICKETS)].format(i=i + 1) for i in range(n)) + "\n", encoding="utf-8")
    return path


RESEARCH_ANGLES = (
    ("hardware", "Hardware progress and qubit counts"),
    ("software", "Software and algorithm breakthroughs"),
    ("commercial", "Commercial adoption and funding"),
    ("security", "Security implications (post-quantum cryptography)"),
    ("academic", "Academic research landscape"),
)
TOPIC = "the state of quantum computing in 2026"
BRANCH_PROMPT = (
    "Research {topic} focusing on: {title}.\nProvide 3-5 specific findings with data points.\n"
    "Focus only on your assigned angle."
)
AGGREGATE_PROMPT = (
    "Synthesise the research reports below into one unified summary of {topic}.\nOutput:\n"
    "1. Overall state (3 sentences)\n2. Key findings by angle (1 paragraph each)\n"
    "3. Contradictions or tensions between findings\n4. What is missing from this research"
)


def _q(text: str) -> str:
    return json.dumps(text)  # a TOML basic string is JSON-compatible for our text


def write_recipe(
    path: Path,
    n: int,
    *,
    strategy: str = "parallel",
    layers: int = 1,
    fan_in: int = 2,
    aggregate: str = "synthesize",
    prompt: str = BRANCH_PROMPT,
    max_tokens: int = 256,
    aggregate_max_tokens: int = 400,
    temperature: float | None = 0.3,
) -> dict[str, tuple[str, ...]]:
    """A generated research-shaped recipe with `n` branches; returns each branch's dependencies.

    layers > 1: the branches are split into that many layers; branch i of layer k waits for `fan_in` branches of
    layer k-1 (i and its neighbours), a DAG with a few dependency layers and no global barrier."""
    per = -(-n // layers)
    ids = [f"b{i:04d}" for i in range(n)]
    deps: dict[str, tuple[str, ...]] = {}
    lines = [f"name = {_q(path.stem)}", f"strategy = {_q(strategy)}", 'on_error = "continue"',
             f"prompt = {_q(prompt)}", "", "[inputs]", f"topic = {_q(TOPIC)}", "", "[defaults]",
             f"max_tokens = {max_tokens}"]
    if temperature is not None:
        lines.append(f"temperature = {temperature}")
    lines.append("")
    for i, bid in enumerate(ids):
        layer, pos = divmod(i, per)
        after: tuple[str, ...] = ()
        if layer > 0:
            prev = [ids[(layer - 1) * per + ((pos + k) % per)] for k in range(fan_in)]
            after = tuple(dict.fromkeys(p for p in prev if p in ids))
        deps[bid] = after
        lines += ["[[branches]]", f"id = {_q(bid)}", f"title = {_q(f'Angle {i + 1}')}"]
        if after:
            lines.append("after = [" + ", ".join(_q(a) for a in after) + "]")
        lines.append("")
    lines += ["[aggregate]", f"kind = {_q(aggregate)}"]
    if aggregate in ("synthesize", "judge"):
        lines += [f"max_tokens = {aggregate_max_tokens}", f"prompt = {_q(AGGREGATE_PROMPT)}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return deps


# --------------------------------------------------------------------------------------------------
# What an ideal scheduler would take


def ideal_makespan(
    order: Sequence[str],
    deps: Mapping[str, Sequence[str]],
    latency: Mapping[str, float],
    slots: int,
) -> float:
    """The makespan of eager list scheduling with `slots` calls at once and zero overhead: each branch starts the
    moment its dependencies are done and a slot is free (ties in recipe order), and takes `latency[id]`.

    With measured latencies this is the run's critical path once the concurrency limit is taken into account
    (RunMetrics.critical_path ignores the limit: it is what the run would take with unlimited slots)."""
    import heapq

    index = {bid: i for i, bid in enumerate(order)}
    waiting = {bid: len(deps.get(bid, ())) for bid in order}
    children: dict[str, list[str]] = {bid: [] for bid in order}
    for bid in order:
        for d in deps.get(bid, ()):
            children[d].append(bid)
    ready: list[tuple[float, int, str]] = [(0.0, index[b], b) for b in order if waiting[b] == 0]
    heapq.heapify(ready)
    free = [0.0] * max(1, slots)  # when each slot is next free
    heapq.heapify(free)
    finish: dict[str, float] = {}
    # Events in time order: pop the earliest-ready branch, give it the earliest free slot.
    pending = list(ready)
    heapq.heapify(pending)
    while pending:
        ready_at, _, bid = heapq.heappop(pending)
        slot_free = heapq.heappop(free)
        start = max(ready_at, slot_free)
        end = start + latency[bid]
        finish[bid] = end
        heapq.heappush(free, end)
        for c in children[bid]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(pending, (max(finish[d] for d in deps[c]), index[c], c))
    return max(finish.values(), default=0.0)


def wait_port_free(seconds: float = 0.2) -> None:
    time.sleep(seconds)


# --------------------------------------------------------------------------------------------------
# One fanout run, as a front end makes it (prepare, execute, aclose), with its figures


def options(
    recipe: str,
    base_url: str,
    *,
    strategy: str | None = None,
    concurrency: int | None = None,
    inputs: Mapping[str, str] | None = None,
    **extra: Any,
):
    """RunOptions for a run against the loopback server (base_url given) or the embedded model (base_url "")."""
    from fanout.wiring.launch import RunOptions

    return RunOptions(
        recipe=recipe,
        strategy=strategy,
        base_url=(base_url + "/v1") if base_url else None,
        model="m" if base_url else None,
        cache="off",
        concurrency=concurrency,
        inputs=dict(inputs or {}),
        **extra,
    )


async def fanout_run(
    recipe: str,
    base_url: str,
    *,
    strategy: str | None = None,
    concurrency: int | None = None,
    record: bool = False,
    inputs: Mapping[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A fresh run as a front end makes it: prepare() (which builds the HTTP client), execute(), aclose().

    `e2e` runs from before prepare() to the end of the event stream, the same span as the plain scripts' wall;
    `wall` is fanout's own RunMetrics.wall (from the engine's start to the end of the aggregate)."""
    from fanout.wiring.launch import prepare

    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    prepared = prepare(options(recipe, base_url, strategy=strategy, concurrency=concurrency, inputs=inputs, **extra))
    try:
        return await run_prepared(prepared, record=record, t0=t0, cpu0=cpu0)
    finally:
        await prepared.aclose()


async def run_prepared(prepared: Any, *, record: bool = False, t0: float | None = None,
                       cpu0: float | None = None) -> dict[str, Any]:
    from fanout.wiring.launch import execute
    from fanout.frontends.state import RunState

    cpu0 = cpu_seconds() if cpu0 is None else cpu0
    t1 = time.perf_counter()
    t0 = t1 if t0 is None else t0
    state = RunState()
    await execute(prepared, [state.apply], record=record)
    t2 = time.perf_counter()
    cpu1 = cpu_seconds()
    m = state.metrics
    assert m is not None, "the run did not finish"
    branches = state.branch_list()
    agg = state.aggregate.metrics
    return {
        "session_id": state.started.session_id if state.started else "",
        "status": state.status,
        "strategy": state.started.strategy if state.started else "",
        "wall": m.wall,
        "e2e": t2 - t0,
        "prepare": t1 - t0,
        "after_wall": (t2 - t1) - m.wall,  # execute() time outside RunMetrics.wall (warm-up, metrics, RunDone)
        "critical_path": m.critical_path,
        "critical_path_ids": list(m.critical_path_ids),
        "calls_sum": m.calls_sum,
        "aggregate_latency": agg.latency if agg else 0.0,
        "calls": m.calls,
        "failed": m.failed,
        "retries": m.retries,
        "output_tokens": m.output_tokens,
        "input_tokens": m.input_tokens,
        "cpu": cpu1 - cpu0,
        "branches_done": sum(1 for b in branches if b.status == "done"),
        "branches": len(branches),
        "latency": {b.id: (b.metrics.latency if b.metrics else 0.0) for b in branches},
        "ttft": {b.id: (b.metrics.ttft if b.metrics else None) for b in branches},
        "branch_output_tokens": {b.id: (b.metrics.output_tokens if b.metrics else 0) for b in branches},
        "deps": {b.id: tuple(b.info.after) for b in branches},  # the edges the strategy enforced
        "order": [b.id for b in branches],
    }
