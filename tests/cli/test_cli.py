"""The `fanout` command end to end: a real subprocess, a real FANOUT_HOME, the loopback server for the model.

Every run goes to the loopback server through `--base-url` (never the embedded model). Expected texts come from
the server's own responder (`default_text` of the prompt it received), so a report is checked word for word.
"""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from fanout.devserver import Fault, default_text

RESEARCH_IDS = ["hardware", "software", "commercial", "security", "academic"]
METRIC_KEYS = {"ttft", "latency", "input_tokens", "output_tokens", "cost", "cached", "retries", "model"}


def answers(server) -> dict[str, str]:
    """What the server answered, by prompt: every text a report may contain."""
    return {r.prompt: default_text(r.prompt, "m", server.tokens) for r in server.requests}


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def session_lines(folder: Path, kind: str, count: int = 1):
    """The (single) session file in `folder` once it holds `count` lines of event `kind`, else None."""
    files = list(folder.glob("*.jsonl")) if folder.is_dir() else []
    if len(files) != 1:
        return None
    text = files[0].read_text(encoding="utf-8", errors="replace")
    return files[0] if text.count(f'"type":"{kind}"') >= count else None


def kill_when(proc: subprocess.Popen, condition, what: str):
    """SIGKILL `proc` once `condition()` holds (it must still be running then); returns what condition gave."""
    try:
        value = wait_for(lambda: condition() or proc.poll() is not None, what=what)
        assert proc.poll() is None, proc.communicate()
        proc.kill()
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return value


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout


# --------------------------------------------------------------------------------------------------
# A run: the JSON document, the Markdown report, the progress lines


@pytest.mark.parametrize("strategy", ["sequential", "parallel", "hybrid"])
def test_run_json_document(fanout_cli, loopback_thread, strategy):
    server = loopback_thread
    if strategy == "parallel":
        server.latency = 0.2  # every call is still open when the next starts: they must overlap
    doc = fanout_cli.json("run", "research", *fanout_cli.net(server), "--strategy", strategy, "--json")

    assert doc["session_id"] and doc["recipe"] == "research" and doc["strategy"] == strategy
    assert (doc["provider"], doc["model"]) == ("custom", "m")
    assert doc["status"] == "ok" and doc["error"] == ""
    assert doc["inputs"] == {"topic": "the state of quantum computing in 2026"}
    assert [b["id"] for b in doc["branches"]] == RESEARCH_IDS
    texts = answers(server)
    assert len(server.requests) == 6 and len(set(texts.values())) == 6
    for b in doc["branches"]:
        assert b["title"] and b["status"] == "done" and b["cached"] is False and b["error"] == ""
        assert b["text"] in texts.values(), b  # the server's answer, word for word
        assert METRIC_KEYS <= set(b["metrics"]) and b["metrics"]["output_tokens"] == server.tokens
        assert b["metrics"]["input_tokens"] > 0 and b["metrics"]["cached"] is False
    agg = doc["aggregate"]
    assert agg["method"] == "synthesize" and agg["status"] == "done" and agg["failed"] == []
    assert agg["text"] == default_text(server.requests[-1].prompt, "m", server.tokens)
    last = server.requests[-1].prompt  # the reports fenced first, the recipe's task after them
    assert last.rindex("<<<end") < last.index("Synthesise the research reports above")
    assert len({b["text"] for b in doc["branches"]} | {agg["text"]}) == 6

    m = doc["metrics"]
    assert m["calls"] == 6 and m["failed"] == 0 and m["cached"] == 0 and m["retries"] == 0
    assert m["output_tokens"] == 6 * server.tokens and m["input_tokens"] > 0
    assert m["cost"] is None  # an ad-hoc server has no known prices: unknown, not free
    assert m["wall"] > 0 and m["calls_sum"] > 0 and m["concurrency"] > 0
    assert 0 < m["critical_path"] and m["critical_path_ids"][-1] == "aggregate"
    # the sum of calls: every call, the aggregate's included, and the concurrency is that over the wall
    calls = [b["metrics"]["latency"] for b in doc["branches"]] + [agg["metrics"]["latency"]]
    assert m["calls_sum"] == pytest.approx(sum(calls))
    assert m["concurrency"] == pytest.approx(m["calls_sum"] / m["wall"])
    if strategy == "sequential":
        assert server.max_in_flight == 1
        assert m["critical_path_ids"] == RESEARCH_IDS + ["aggregate"]
        # each step is shown the earlier ones
        assert doc["branches"][0]["text"] in server.requests[1].prompt
    elif strategy == "parallel":
        assert server.max_in_flight >= 2
        assert all(b["text"] not in r.prompt for b in doc["branches"] for r in server.requests[:5])
    else:
        assert m["critical_path_ids"][-2:] == ["academic", "aggregate"]


def test_run_markdown_report(fanout_cli, loopback_thread):
    server = loopback_thread
    strategy = "sequential"  # the JSON test covers all three; the Markdown is the same code for each
    proc = fanout_cli.run("run", "research", *fanout_cli.net(server), "--strategy", strategy)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    out = proc.stdout
    assert out.startswith(f"# research: {strategy} on custom/m\n")
    assert "status **ok**" in out
    assert "## Result (synthesize)" in out
    assert default_text(server.requests[-1].prompt, "m", server.tokens) in out
    assert "## Metrics" in out and "| branch | status | ttft | latency | tokens in/out | cost | retries |" in out
    assert "| aggregate (synthesize) | done |" in out
    assert "calls 6" in out and "concurrency" in out and "critical path" in out
    for title in ("Hardware progress and qubit counts", "Academic research landscape"):
        assert f"| {title} | done |" in out and f"### {title}" in out
    for text in answers(server).values():
        assert text in out  # every branch and the aggregate, verbatim


def test_progress_is_plain_lines_off_a_terminal(fanout_cli, loopback_thread):
    proc = fanout_cli.run("run", "pipeline", *fanout_cli.net(loopback_thread), "--json")
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "\x1b[" not in err  # no live block, no cursor movement
    lines = err.splitlines()
    assert lines and all(line.startswith("[") and "s] " in line for line in lines), err
    assert "] run " in lines[0] and "pipeline · hybrid · custom/m · 5 branches" in lines[0]
    assert any(line.endswith("] intent: queued") for line in lines)
    assert any("respond: done ·" in line for line in lines)
    assert "run ok" in lines[-1]
    json.loads(proc.stdout)  # the progress never reaches stdout


# --------------------------------------------------------------------------------------------------
# Bad input: exit 2, a message naming what is at fault, never a traceback

CYCLE = """
prompt = "say {id}"
[[branches]]
id = "a"
after = ["c"]
[[branches]]
id = "b"
after = ["a"]
[[branches]]
id = "c"
after = ["b"]
"""

BAD_FIELD = """
prompt = "say {id}"
[[branches]]
id = "first"
[[branches]]
id = "second"
max_tokens = "lots"
"""


def bad(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    no_traceback(proc)
    assert proc.stderr.startswith("fanout: error: "), proc.stderr
    return proc.stderr


def test_bad_recipe_files(fanout_cli, loopback_thread, tmp_path):
    net = fanout_cli.net(loopback_thread)
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\nbranches = [\n')
    err = bad(fanout_cli.run("run", str(broken), *net))
    assert str(broken) in err and "invalid TOML" in err

    cycle = tmp_path / "cycle.toml"
    cycle.write_text(CYCLE)
    err = bad(fanout_cli.run("run", str(cycle), *net))
    assert str(cycle) in err and "cycle" in err
    assert "a -> c -> b -> a" in err  # the cycle itself, in order

    field = tmp_path / "field.toml"
    field.write_text(BAD_FIELD)
    err = bad(fanout_cli.run("run", str(field), *net))
    assert str(field) in err and "'second'" in err and "max_tokens" in err

    err = bad(fanout_cli.run("run", "nosuchrecipe", *net))
    assert "'nosuchrecipe'" in err and "research" in err and "pipeline" in err
    err = bad(fanout_cli.run("run", str(tmp_path / "missing.toml"), *net))
    assert "missing.toml" in err
    assert loopback_thread.requests == []


@pytest.mark.parametrize(
    "flags, expect",
    [
        (["--set", "nosuch=1"], ["research.toml", "nosuch", "topic"]),
        (["--set", "topic="], ["research.toml", "'topic'", "empty"]),
        (["--set", "topic"], ["--set", "KEY=VALUE"]),
        (["--concurrency", "0"], ["--concurrency", "0"]),
        (["--max-tokens", "0"], ["--max-tokens"]),
        (["--temperature", "3"], ["--temperature"]),
        (["--strategy", "fastest"], ["--strategy", "fastest"]),
        (["--cache", "sometimes"], ["--cache", "sometimes"]),
    ],
    ids=["unknown-input", "empty-input", "set-without-equals", "concurrency-0", "max-tokens-0", "temperature-3",
         "bad-strategy", "bad-cache-mode"],
)
def test_bad_flags(fanout_cli, loopback_thread, flags, expect):
    err = bad(fanout_cli.run("run", "research", *fanout_cli.net(loopback_thread), *flags))
    for word in expect:
        assert word in err, err
    assert loopback_thread.requests == []
    assert not fanout_cli.sessions_dir.exists() or not list(fanout_cli.sessions_dir.iterdir())


def test_bad_providers(fanout_cli):
    err = bad(fanout_cli.run("run", "research", "--provider", "nosuch"))
    assert "'nosuch'" in err and "anthropic" in err and "openai" in err
    err = bad(fanout_cli.run("run", "research", "--provider", "anthropic"))
    assert "ANTHROPIC_API_KEY" in err and "'anthropic'" in err
    err = bad(fanout_cli.run("run", "research", "--provider", "openai"))
    assert "OPENAI_API_KEY" in err


@pytest.mark.parametrize(
    "toml, expect",
    [
        ("bogus = 1\n", ["unknown field 'bogus'"]),
        ('[cache]\nsize_limit_mb = "big"\n', ["cache.size_limit_mb", "integer"]),
        ("[providers.openai]\nconcurrency = 1.5\n", ["providers.openai.concurrency"]),
        ('[providers.mine]\nkind = "openai"\nmodel = "m"\n', ["providers.mine.base_url", "required"]),
        ('default_provider = "nowhere"\n', ["default_provider", "names no provider"]),
        ("[cache\n", ["invalid TOML"]),
    ],
    ids=["unknown-field", "wrong-type", "float-for-int", "missing-base-url", "bad-default", "invalid-toml"],
)
def test_bad_config_file(fanout_cli, loopback_thread, toml, expect):
    fanout_cli.home.mkdir()
    config = fanout_cli.home / "config.toml"
    config.write_text(toml)
    err = bad(fanout_cli.run("run", "pipeline", *fanout_cli.net(loopback_thread)))
    assert str(config) in err
    for word in expect:
        assert word in err, err
    assert loopback_thread.requests == []


# --------------------------------------------------------------------------------------------------
# Runs that fail, are interrupted, are killed


def test_every_call_rejected_exits_1(fanout_cli, loopback_thread):
    server = loopback_thread
    server.add_fault(Fault(status=401, message="bad key"), times=1000)
    proc = fanout_cli.run("run", "research", *fanout_cli.net(server), "--json")
    assert proc.returncode == 1, proc.stderr
    no_traceback(proc)
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed"
    assert doc["error"] and "every branch failed" in doc["error"]
    for b in doc["branches"]:
        assert b["status"] == "failed" and "401" in b["error"] and "bad key" in b["error"]
    assert doc["aggregate"]["status"] == "failed"
    assert doc["metrics"]["failed"] == 5
    assert len(server.requests) == 5  # a 401 is never retried, and there is nothing to aggregate
    assert "hardware: failed: 401" in proc.stderr and "run failed" in proc.stderr


def test_one_branch_rejected_is_partial(fanout_cli, loopback_thread):
    server = loopback_thread
    server.add_fault(Fault(status=403, message="no entry"), times=1000, match=lambda r: "Classify" in r.prompt)
    proc = fanout_cli.run("run", "pipeline", *fanout_cli.net(server))
    assert proc.returncode == 1, proc.stderr
    no_traceback(proc)
    assert "status **partial**" in proc.stdout
    assert "**Failed branches:** Classify intent (`intent`): 403" in proc.stdout
    assert "_This branch failed: 403" in proc.stdout  # named in the concatenated result, not dropped


def _sessions_json(cli) -> list[dict]:
    return cli.json("sessions", "--json")


def test_sigint_cancels_the_run_and_records_it(fanout_cli, loopback_thread):
    server = loopback_thread
    server.latency = 30.0  # every call hangs: the run is surely in progress when the signal comes
    proc = fanout_cli.popen("run", "research", *fanout_cli.net(server), "--json")
    try:
        wait_for(lambda: session_lines(fanout_cli.sessions_dir, "branch_started") or proc.poll() is not None,
                 what="a branch to start")
        assert proc.poll() is None, proc.communicate()
        wait_for(lambda: len(server.requests) >= 1, what="the first request")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    doc = json.loads(out)
    assert doc["status"] == "cancelled"
    assert {b["status"] for b in doc["branches"]} <= {"cancelled", "waiting"}
    assert [b["status"] for b in doc["branches"][:3]] == ["cancelled"] * 3
    assert "run cancelled" in err
    listed = _sessions_json(fanout_cli)
    assert [(s["id"], s["status"]) for s in listed] == [(doc["session_id"], "cancelled")]
    assert listed[0]["branches"] == 5


def test_sigkill_leaves_an_incomplete_session_that_replays(fanout_cli, loopback_thread):
    server = loopback_thread
    server.token_interval = 0.1  # 1.2 s a call: killed while tokens are arriving
    proc = fanout_cli.popen("run", "research", *fanout_cli.net(server), "--json")
    path = kill_when(proc, lambda: session_lines(fanout_cli.sessions_dir, "branch_token", 4),
                     what="tokens in the session file")
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert events[-1]["type"] != "run_done"
    streamed: dict[str, str] = {}
    for e in events:
        if e["type"] == "branch_token":
            streamed[e["branch"]] = streamed.get(e["branch"], "") + e["text"]
    assert streamed

    listed = _sessions_json(fanout_cli)
    assert len(listed) == 1 and listed[0]["status"] == "incomplete" and listed[0]["id"] == path.stem
    assert listed[0]["branches"] == 5 and listed[0]["wall"] is None

    loopback_thread.stop_thread()  # replay never needs the server
    doc = fanout_cli.json("replay", path.stem, "--headless", "--speed", "0", "--json")
    assert doc["session_id"] == path.stem and doc["status"] == "incomplete"  # not "running": it never will be
    full = answers(server)
    for b in doc["branches"]:
        assert b["text"] == streamed.get(b["id"], "")
        if b["text"]:  # what had arrived: the start of the server's answer
            assert any(t.startswith(b["text"]) for t in full.values()), b
    assert any(b["text"] and b["text"] not in full.values() for b in doc["branches"])  # cut mid-stream
    assert doc["metrics"] is None


# --------------------------------------------------------------------------------------------------
# recipes, config


def test_recipes_lists_the_shipped_ones(fanout_cli):
    proc = fanout_cli.run("recipes")
    assert proc.returncode == 0 and proc.stderr == ""
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert set(rows) >= {"research", "pipeline"}
    assert "5 branches" in rows["research"] and "hybrid" in rows["research"]
    assert "5 branches" in rows["pipeline"]
    assert "invalid" not in proc.stdout


def test_config_init_path_and_force(fanout_cli, loopback_thread):
    config = fanout_cli.home / "config.toml"
    proc = fanout_cli.run("config", "path")
    assert proc.returncode == 0 and proc.stdout.strip() == str(config)

    proc = fanout_cli.run("config", "init")
    assert proc.returncode == 0, proc.stderr
    assert str(config) in proc.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(fanout_cli.home.stat().st_mode) & 0o077 == 0
    written = config.read_text()
    assert "api_key_env" in written and "[providers.openai]" in written

    config.write_text(written + "\n# mine\n")
    err = bad(fanout_cli.run("config", "init"))
    assert str(config) in err and "--force" in err
    assert config.read_text().endswith("# mine\n")  # left alone

    proc = fanout_cli.run("config", "init", "--force")
    assert proc.returncode == 0, proc.stderr
    assert config.read_text() == written
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    # the starter config is valid: a run reads it (a bad file would exit 2), and it names the real providers
    doc = fanout_cli.json("run", "pipeline", *fanout_cli.net(loopback_thread), "--json")
    assert doc["status"] == "ok"
    err = bad(fanout_cli.run("run", "pipeline", "--provider", "anthropic"))
    assert "ANTHROPIC_API_KEY" in err


def test_no_command_and_unknown_command(fanout_cli):
    proc = fanout_cli.run("--help")
    assert proc.returncode == 0 and "usage" in proc.stdout.lower()
    for command in ("run", "replay", "export", "import", "sessions", "cache", "config", "recipes"):
        assert command in proc.stdout
    # no command opens the app, which needs a terminal: without one, a clear exit 2 and never a hang
    err = bad(fanout_cli.run(timeout=20))
    assert "terminal" in err and "fanout run" in err
    err = bad(fanout_cli.run("frobnicate"))
    assert "frobnicate" in err
    err = bad(fanout_cli.run("replay", "nosuch-session", "--headless"))
    assert "nosuch-session" in err
    err = bad(fanout_cli.run("replay", "../etc/passwd", "--headless"))
    assert "not a session id" in err
