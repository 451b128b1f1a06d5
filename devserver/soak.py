"""The soak: a storm run through the real `fanout` command, SIGKILLed in the middle, then `fanout resume`.

Shared by the suite's shorter test and `bench/soak.py`. It drives `python -m fanout` as subprocesses (it imports
nothing of fanout) against a LoopbackServer with a Storm installed, and reaps each process with os.wait4 for its
peak memory. The caller audits the final document (`storm.audit`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .storm import Storm, storm_recipe


@dataclass
class Soak:
    session_id: str = ""
    killed_after: int = 0  # branches done in the session when the first process was killed
    killed_at: float = 0.0  # time.monotonic() once it was reaped: every later request is the resume's
    kill_exit: int = 0
    exit: int = 0  # the resume's
    doc: dict = field(default_factory=dict)
    peak_rss_mib: tuple[float, float] = (0.0, 0.0)  # the killed run's, the resume's
    seconds: tuple[float, float] = (0.0, 0.0)
    stderr: str = ""  # the resume's, for a failure message


def config(base_url: str, concurrency: int) -> str:
    # adaptive = false: the storm's 10 % of 429s would otherwise halve concurrency again and again; the soak is
    # of the scheduler at 100 calls at once. A stall is abandoned after 10 s: a shorter timeout also fires on a
    # machine so loaded that a healthy stream pauses for a second or two, and that retry was not injected.
    return (
        f'default_provider = "loop"\n[providers.loop]\nkind = "openai"\nbase_url = "{base_url}"\n'
        f'api_key_env = ""\nmodel = "m"\nconcurrency = {concurrency}\nadaptive = false\nstall_timeout = 10\n'
        "max_retries = 5\n"
    )


def _reap(proc: subprocess.Popen, *, block: bool = True) -> tuple[int, float] | None:
    """(exit code, peak RSS in MiB) of a process that ended, or None if it is still running (block=False). Reaped
    here with os.wait4, never by Popen.poll / wait, which would lose its rusage."""
    pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


class _Peak:
    """The peak RSS of the process itself, from /proc/PID/status's VmHWM while it runs. The rusage of wait4 is
    not enough on Linux: a child made by vfork (as subprocess does) starts on its parent's memory, and the
    high-water mark survives exec, so a large parent (a long test session) becomes the child's figure."""

    def __init__(self, pid: int) -> None:
        self.path, self.mib = Path(f"/proc/{pid}/status"), 0.0

    def sample(self) -> None:
        try:
            for line in self.path.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.mib = max(self.mib, int(line.split()[1]) / 1024)
        except (OSError, ValueError, IndexError):
            pass

    def of(self, rusage_mib: float) -> float:
        return self.mib or rusage_mib  # no /proc (not Linux): the rusage figure is all there is


def _done_lines(folder: Path) -> tuple[Path | None, int]:
    files = list(folder.glob("*.jsonl")) if folder.is_dir() else []
    if len(files) != 1:
        return None, 0
    return files[0], files[0].read_bytes().count(b'"type":"branch_done"')


def soak(home: Path, env: dict[str, str], server, storm: Storm, *, branches: int, concurrency: int,
         kill_fraction: float | None = 0.5, timeout: float = 600.0) -> Soak:
    """kill_fraction: SIGKILL once that share of the branches is done, then resume; None: one run, never killed
    (a baseline: its document and figures are the run's own)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config(server.base_url + "/v1", concurrency))
    recipe = home / "storm.toml"
    recipe.write_text(storm_recipe(branches))
    env = {**env, "FANOUT_HOME": str(home), "FANOUT_CONFIG": str(home / "config.toml")}
    cmd = [sys.executable, "-m", "fanout"]
    out = Soak()
    storm.install(server)

    t0 = time.monotonic()
    with open(home / "run.out", "wb") as fo, open(home / "run.err", "wb") as fe:
        proc = subprocess.Popen([*cmd, "run", str(recipe), "--cache", "off", "--json"], env=env,
                                stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
        ended, peak = None, _Peak(proc.pid)
        while ended is None and time.monotonic() - t0 < timeout:
            peak.sample()
            path, done = _done_lines(home / "sessions")
            if kill_fraction is not None and done >= branches * kill_fraction:
                out.session_id, out.killed_after = path.stem, done
                break
            time.sleep(0.05)
            ended = _reap(proc, block=False)
        if ended is None:
            proc.send_signal(signal.SIGKILL)
            ended = _reap(proc)
            # Counted again once the process is dead: between the count that decided the kill and the kill
            # itself, more branches may have finished and been written (CI saw 150 counted, 152 kept).
            out.killed_after = _done_lines(home / "sessions")[1]
    (out.kill_exit, peak1), t1 = ended, time.monotonic()
    peak1 = peak.of(peak1)
    out.killed_at = t1
    if not out.session_id:  # never killed (a baseline), or it ended before the middle: nothing to resume
        out.exit, out.peak_rss_mib, out.seconds = out.kill_exit, (peak1, 0.0), (t1 - t0, 0.0)
        out.stderr = (home / "run.err").read_text(errors="replace")[-3000:]
        out.doc = _document(home / "run.out")
        return out
    storm.phase += 1  # from here on, what the server injects is the resume's

    with open(home / "resume.out", "wb") as fo, open(home / "resume.err", "wb") as fe:
        proc = subprocess.Popen([*cmd, "resume", out.session_id, "--cache", "off", "--json"], env=env,
                                stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        peak = _Peak(proc.pid)
        try:
            while (ended := _reap(proc, block=False)) is None:
                peak.sample()
                time.sleep(0.05)
        finally:
            timer.cancel()
        out.exit, peak2 = ended[0], peak.of(ended[1])
    t2 = time.monotonic()
    out.peak_rss_mib, out.seconds = (peak1, peak2), (t1 - t0, t2 - t1)
    out.stderr = (home / "resume.err").read_text(errors="replace")[-3000:]
    out.doc = _document(home / "resume.out")
    return out


def _document(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
