"""The response cache and the sessions, through the real `fanout` command and a real FANOUT_HOME.

The loopback server counts every request, so "served from the cache" means exactly zero requests; replay and
`--cache only` are checked with the server stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import stat
import subprocess
from pathlib import Path

import diskcache
import pytest

from fanout.devserver import Fault, default_text

SECRET = "sk-test-SECRET-1234567890"
# Five calls, no aggregate call, no context between branches: the cheapest full run.
QUICK = ("pipeline", "--strategy", "parallel")


def texts(doc: dict) -> dict[str, str]:
    return {**{b["id"]: b["text"] for b in doc["branches"]}, "aggregate": doc["aggregate"]["text"]}


def stored(cli) -> int:
    """The number of cached responses, read directly (cheaper than `fanout cache stats`)."""
    folder = cli.home / "cache" / "responses"
    if not (folder / "cache.db").exists():
        return 0
    with diskcache.Cache(str(folder)) as store:
        return len(store)


def cache_entries(cli) -> int:
    proc = cli.run("cache", "stats")
    assert proc.returncode == 0, proc.stderr
    found = re.search(r": (\d+) responses, ", proc.stdout)
    assert found, proc.stdout
    return int(found.group(1))


def run_json(cli, server, *args: str, code: int = 0, **kw) -> tuple[dict, subprocess.CompletedProcess]:
    proc = cli.run("run", *args, *cli.net(server), "--json", **kw)
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout), proc


# --------------------------------------------------------------------------------------------------
# The cache modes


@pytest.mark.parametrize(
    "recipe",
    [QUICK, ("research",), ("research", "--strategy", "sequential")],
    ids=["pipeline-parallel", "research-hybrid", "research-sequential"],
)
def test_rerun_is_served_from_cache(fanout_cli, loopback_thread, recipe):
    server = loopback_thread
    first, _ = run_json(fanout_cli, server, *recipe)
    made = len(server.requests)
    assert made == first["metrics"]["calls"] > 0 and first["metrics"]["cached"] == 0

    again, proc = run_json(fanout_cli, server, *recipe)
    assert len(server.requests) == made, [r.prompt[:60] for r in server.requests[made:]]  # not one request
    assert again["session_id"] != first["session_id"]
    assert texts(again) == texts(first)
    assert all(b["cached"] is True and b["status"] == "done" for b in again["branches"])
    m = again["metrics"]
    assert m["calls"] == 0 and m["cached"] == made  # 5 branches, plus the aggregate when it is a call
    assert m["saved_tokens"] == first["metrics"]["input_tokens"] + first["metrics"]["output_tokens"] > 0
    assert m["cost"] == 0 and m["input_tokens"] == m["output_tokens"] == 0
    assert "· cached" in proc.stderr
    # timings from the cache are said to be cached, with what the calls took when made, and never measured
    assert m["concurrency"] is None and m["critical_path"] is None and m["calls_sum"] == 0
    assert all(b["metrics"]["cached_latency"] > 0 for b in again["branches"])
    assert m["cached_latency"] > 0
    assert "cached (took " in proc.stderr and "concurrency not measured (cached calls)" in proc.stderr
    assert cache_entries(fanout_cli) == made


def test_cache_refresh_calls_again_and_off_stores_nothing(fanout_cli, loopback_thread):
    server = loopback_thread
    off, _ = run_json(fanout_cli, server, *QUICK, "--cache", "off")
    assert len(server.requests) == 5 and off["metrics"]["calls"] == 5
    assert cache_entries(fanout_cli) == 0  # nothing stored

    first, _ = run_json(fanout_cli, server, *QUICK)
    assert len(server.requests) == 10 and stored(fanout_cli) == 5
    assert texts(first) == texts(off)

    refreshed, _ = run_json(fanout_cli, server, *QUICK, "--cache", "refresh")
    assert len(server.requests) == 15  # every call made again, even though all five were stored
    assert refreshed["metrics"]["calls"] == 5 and refreshed["metrics"]["cached"] == 0
    assert not any(b["cached"] for b in refreshed["branches"])
    assert stored(fanout_cli) == 5  # replaced, not duplicated

    off, _ = run_json(fanout_cli, server, *QUICK, "--cache", "off")
    assert len(server.requests) == 20 and not any(b["cached"] for b in off["branches"])
    assert cache_entries(fanout_cli) == 5


def test_cache_only_works_with_the_server_stopped(fanout_cli, loopback_thread):
    first, _ = run_json(fanout_cli, loopback_thread, *QUICK)
    loopback_thread.stop_thread()
    offline, _ = run_json(fanout_cli, loopback_thread, *QUICK, "--cache", "only")
    assert offline["status"] == "ok" and texts(offline) == texts(first)
    assert offline["metrics"]["calls"] == 0 and offline["metrics"]["cached"] == 5


def test_cache_only_with_an_empty_cache_fails_every_branch(fanout_cli, loopback_thread):
    proc = fanout_cli.run("run", *QUICK, *fanout_cli.net(loopback_thread), "--cache", "only")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert loopback_thread.requests == []
    assert "status **failed**" in proc.stdout
    failed = proc.stdout.split("**Failed branches:** ", 1)[1].split("\n", 1)[0]
    for bid in ("intent", "entities", "summary", "translation", "respond"):
        assert f"(`{bid}`): not in the cache" in failed, failed
        assert re.search(rf"\] {bid}: failed: .*cache", proc.stderr), proc.stderr
    assert "--cache only" in failed


# --------------------------------------------------------------------------------------------------
# Replay


def test_replay_needs_no_server(fanout_cli, loopback_thread):
    doc, _ = run_json(fanout_cli, loopback_thread, "research")
    loopback_thread.stop_thread()
    sid = doc["session_id"]
    for speed in ("0", "10"):
        replayed = fanout_cli.json("replay", sid, "--headless", "--speed", speed, "--json")
        assert replayed["session_id"] == sid and replayed["status"] == "ok"
        assert texts(replayed) == texts(doc)
        assert replayed["metrics"] == doc["metrics"]
        assert [b["metrics"] for b in replayed["branches"]] == [b["metrics"] for b in doc["branches"]]
    proc = fanout_cli.run("replay", sid, "--headless", "--speed", "0")
    assert proc.returncode == 0 and doc["aggregate"]["text"] in proc.stdout
    assert "hardware: done" in proc.stderr and "run ok" in proc.stderr
    proc = fanout_cli.run("replay", sid, "--headless", "--speed", "-1")
    assert proc.returncode == 2 and "--speed" in proc.stderr


# --------------------------------------------------------------------------------------------------
# The cache key


async def test_cache_key_counts_samples_and_ignores_api_keys(loopback):
    from fanout.stores.cache import request_key
    from fanout.providers.base import GenerationRequest, Limits, Message
    from fanout.providers.openai_compat import OpenAIProvider
    from fanout.strategies.calls import Target
    from fanout.strategies.limits import ProviderLimiter

    def provider(key: str, url: str = loopback.base_url + "/v1") -> OpenAIProvider:
        return OpenAIProvider("custom", model="m", base_url=url, api_key=key, timeout=5, concurrency=1)

    one, two = provider("sk-one-AAAA"), provider("sk-two-BBBB")
    other_host, slash = provider("sk-one-AAAA", loopback.base_url + "/v2"), provider("sk-x", loopback.base_url + "/v1/")
    try:
        def target(p):
            return Target(p, Limits(), ProviderLimiter(1), "m", 0.3, 64)

        messages = (Message("system", "be brief"), Message("user", "hi"))
        base = GenerationRequest("m", messages, max_tokens=64, temperature=0.3, sample=0)
        key = request_key(target(one), base)

        assert request_key(target(one), GenerationRequest("m", messages, 64, 0.3, sample=1)) != key
        assert len({request_key(target(one), GenerationRequest("m", messages, 64, 0.3, sample=i)) for i in range(5)}) == 5
        assert request_key(target(two), base) == key  # the API key is not part of it
        assert request_key(target(slash), base) == key  # nor a trailing slash
        assert request_key(target(one), GenerationRequest("m", messages, 64, 0.3, sample=0)) == key  # stable

        changed = [
            GenerationRequest("m2", messages, 64, 0.3),
            GenerationRequest("m", (Message("system", "be brief"), Message("user", "hi!")), 64, 0.3),
            GenerationRequest("m", (Message("user", "be brief"), Message("user", "hi")), 64, 0.3),  # the role
            GenerationRequest("m", messages[1:], 64, 0.3),
            GenerationRequest("m", messages, 65, 0.3),
            GenerationRequest("m", messages, 64, 0.4),
            GenerationRequest("m", messages, 64, None),
            GenerationRequest("m", messages, 64, 0.3, seed=1),
        ]
        keys = [request_key(target(one), r) for r in changed]
        assert key not in keys and len(set(keys)) == len(keys)
        assert request_key(target(other_host), base) != key  # another server, another answer
    finally:
        for p in (one, two, other_host, slash):
            await p.aclose()


def test_voters_are_cached_one_entry_each(fanout_cli, loopback_thread):
    """moderation's "hate" check is three voters with the very same prompt: three calls, three entries, and a
    rerun replays each voter's own answer (one entry replayed three times would be a fake consensus)."""
    server = loopback_thread
    hate_calls = []

    def responder(request):
        if "hate speech" in request.prompt:
            hate_calls.append(request.index)
            return "hate" if len(hate_calls) == 1 else "ok"  # voters disagree: 2 to 1
        return "ok"

    server.responder = responder
    first, _ = run_json(fanout_cli, server, "moderation")
    assert len(hate_calls) == 3 and len(server.requests) == 6
    assert len({r.prompt for r in server.requests if r.index in hate_calls}) == 1  # identical requests
    vote = first["aggregate"]["result"]["votes"]["hate"]
    assert vote["tally"] == {"ok": 2.0, "hate": 1.0} and sorted(vote["voters"].values()) == ["hate", "ok", "ok"]
    assert stored(fanout_cli) == 6

    again, _ = run_json(fanout_cli, server, "moderation")
    assert len(server.requests) == 6  # all six from the cache
    assert again["metrics"]["cached"] == 6 and again["metrics"]["calls"] == 0
    assert again["aggregate"]["result"]["votes"]["hate"]["voters"] == vote["voters"]  # each voter its own answer
    assert again["aggregate"]["result"]["votes"]["hate"]["tally"] == vote["tally"]


# --------------------------------------------------------------------------------------------------
# Sharing one FANOUT_HOME between processes


def test_two_processes_share_one_home(fanout_cli, loopback_thread):
    server = loopback_thread
    server.token_interval = 0.01  # calls take a while: the two runs overlap
    procs = [fanout_cli.popen("run", *QUICK, *fanout_cli.net(server), "--json") for _ in range(2)]
    docs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0 and "Traceback" not in err, err
        docs.append(json.loads(out))
    assert docs[0]["session_id"] != docs[1]["session_id"]
    assert texts(docs[0]) == texts(docs[1])
    assert 5 <= len(server.requests) <= 10

    listed = fanout_cli.json("sessions", "--json")
    assert sorted(s["id"] for s in listed) == sorted(d["session_id"] for d in docs)
    assert {s["status"] for s in listed} == {"ok"}
    for doc in docs:
        replayed = fanout_cli.json("replay", doc["session_id"], "--headless", "--speed", "0", "--json")
        assert texts(replayed) == texts(doc)
    assert cache_entries(fanout_cli) == 5  # one entry per distinct request, whoever stored it


# --------------------------------------------------------------------------------------------------
# Damage


def test_a_damaged_cache_entry_is_a_miss(fanout_cli, loopback_thread):
    server = loopback_thread
    first, _ = run_json(fanout_cli, server, *QUICK)
    assert len(server.requests) == 5
    store = diskcache.Cache(str(fanout_cli.home / "cache" / "responses"))
    try:
        keys = sorted(store)
        assert len(keys) == 5
        victim = keys[2]
        store.set(victim, "{not json")
    finally:
        store.close()

    again, proc = run_json(fanout_cli, server, *QUICK)
    assert "fanout: warning: damaged cache entry" in proc.stderr, proc.stderr
    assert len(server.requests) == 6  # that branch, and only it, asked again
    assert texts(again) == texts(first)
    fresh = [b for b in again["branches"] if not b["cached"]]
    assert len(fresh) == 1 and fresh[0]["text"] == default_text(server.requests[-1].prompt, "m", server.tokens)
    assert again["metrics"]["calls"] == 1 and again["metrics"]["cached"] == 4

    store = diskcache.Cache(str(fanout_cli.home / "cache" / "responses"))
    try:
        assert sorted(store) == keys  # stored again, under the same key
        json.loads(store[victim])
    finally:
        store.close()


async def test_a_damaged_cache_row_of_another_kind_is_a_miss(loopback, tmp_path, capsys):
    from fanout.stores.cache import ResponseCache
    from fanout.providers.base import GenerationRequest, Limits, Message
    from fanout.providers.openai_compat import OpenAIProvider
    from fanout.strategies.calls import Target
    from fanout.strategies.limits import ProviderLimiter

    provider = OpenAIProvider("custom", model="m", base_url=loopback.base_url + "/v1", api_key="k", timeout=5,
                              concurrency=1)
    target = Target(provider, Limits(), ProviderLimiter(1), "m", None, 64)
    request = GenerationRequest("m", (Message("user", "hello"),), 64)
    folder = tmp_path / "responses"
    cache = ResponseCache("use", directory=folder)
    try:
        assert await cache.lookup(target, request) is None
        async for _ in cache.stream(target, request):  # a real response, stored the real way
            pass
        cache.done(target, request)
        assert (await cache.lookup(target, request)) is not None
    finally:
        cache.close()
        await provider.aclose()
    # the row now claims to be a pickle and holds garbage (a bad sector, an older or foreign writer)
    db = sqlite3.connect(folder / "cache.db")
    with db:
        assert db.execute("UPDATE Cache SET mode = 4, value = ?", (b"\x80\x05garbage",)).rowcount == 1
    db.close()

    cache = ResponseCache("use", directory=folder)
    try:
        assert await cache.lookup(target, request) is None  # a miss, not an exception
    finally:
        cache.close()
    err = capsys.readouterr().err
    assert err.startswith("fanout: warning: ") and "cache" in err and "miss" in err, err


class _FailingSource:
    """A response source that breaks in a way no one planned for (as the cache does above)."""

    async def lookup(self, target, request):
        raise RuntimeError("the cache broke")

    def stream(self, target, request):
        return target.provider.stream(request)

    def done(self, target, request):
        pass


async def test_an_unexpected_failure_ends_the_run_instead_of_hanging():
    from fanout.strategies.engine import Engine, RunSpec
    from fanout.strategies.recipe import from_data

    from scripted import ScriptedProvider, Step, resolver

    provider = ScriptedProvider(lambda key, attempt: Step(latency=0.0))
    rec = from_data({"prompt": "[{id}] go", "branches": [{"id": "a"}, {"id": "b"}]}, "broken.toml")
    provider.keys = ["a", "b"]
    engine = Engine(RunSpec(rec, {}, "parallel", resolver(provider), source=_FailingSource()))
    events = []

    async def collect():
        async for e in engine.events():
            events.append(e)

    task = asyncio.create_task(collect())
    finished, _ = await asyncio.wait({task}, timeout=1.5)  # two instant calls: this is only a hang guard
    if not finished:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise TimeoutError(f"the run hung after {[e.kind for e in events]}")
    task.result()
    assert events[-1].kind == "run_done" and events[-1].status == "failed"
    failures = [e for e in events if e.kind == "branch_failed"]
    assert {e.branch for e in failures} == {"a", "b"} and all("the cache broke" in e.error for e in failures)


def test_a_damaged_session_file_still_lists_and_replays(fanout_cli, loopback_thread):
    doc, _ = run_json(fanout_cli, loopback_thread, *QUICK)
    sid = doc["session_id"]
    path = fanout_cli.sessions_dir / f"{sid}.jsonl"
    whole = path.read_bytes()

    with path.open("ab") as fh:  # a torn half line at the end
        fh.write(b'{"t":9.5,"type":"branch_token","branch":"intent","te')
    assert sid in [s["id"] for s in fanout_cli.json("sessions", "--json")]
    proc = fanout_cli.run("sessions")
    assert proc.returncode == 0 and sid in proc.stdout
    proc = fanout_cli.run("replay", sid, "--headless", "--speed", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "warning" in proc.stderr and "damaged line" in proc.stderr and str(path) in proc.stderr
    assert texts(json.loads(proc.stdout)) == texts(doc)

    # killed while writing its last line: the run_done line cut in half
    lines = whole.splitlines(keepends=True)
    assert b'"type":"run_done"' in lines[-1]
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    listed = {s["id"]: s for s in fanout_cli.json("sessions", "--json")}
    assert listed[sid]["status"] == "incomplete"
    proc = fanout_cli.run("replay", sid, "--headless", "--speed", "0", "--json")
    assert proc.returncode == 0 and "damaged line" in proc.stderr, proc.stderr
    replayed = json.loads(proc.stdout)
    assert {b["id"]: b["text"] for b in replayed["branches"]} == {b["id"]: b["text"] for b in doc["branches"]}

    path.write_bytes(b"not a session\n")  # no header at all: skipped by the list, an error to replay
    assert sid not in [s["id"] for s in fanout_cli.json("sessions", "--json")]
    proc = fanout_cli.run("replay", sid, "--headless", "--speed", "0")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and str(path) in proc.stderr


# --------------------------------------------------------------------------------------------------
# Export and import


def test_export_then_import_elsewhere(fanout_cli, loopback_thread, tmp_path):
    doc, _ = run_json(fanout_cli, loopback_thread, "research")
    sid = doc["session_id"]
    exported = tmp_path / "f.json"
    proc = fanout_cli.run("export", sid, "--format", "json", "-o", str(exported))
    assert proc.returncode == 0 and proc.stdout == "" and str(exported) in proc.stderr
    data = json.loads(exported.read_text())
    assert data["fanout_session"] == 1 and data["header"]["id"] == sid
    assert data["events"][0]["type"] == "run_started" and data["events"][-1]["type"] == "run_done"
    to_stdout = fanout_cli.run("export", sid, "--format", "json")
    assert json.loads(to_stdout.stdout) == data

    md = fanout_cli.run("export", sid, "--format", "md")
    assert md.returncode == 0
    assert doc["aggregate"]["text"] in md.stdout and "## Result (synthesize)" in md.stdout
    assert f"Session `{sid}`" in md.stdout and "## Metrics" in md.stdout

    loopback_thread.stop_thread()
    other = fanout_cli.with_home(tmp_path / "elsewhere")
    proc = other.run("import", str(exported))
    assert proc.returncode == 0, proc.stderr
    assert f"imported {sid}" in proc.stdout
    listed = other.json("sessions", "--json")
    assert [(s["id"], s["status"], s["recipe"]) for s in listed] == [(sid, "ok", "research")]
    proc = other.run("replay", sid, "--headless", "--speed", "0")
    assert proc.returncode == 0 and doc["aggregate"]["text"] in proc.stdout
    replayed = other.json("replay", sid, "--headless", "--speed", "0", "--json")
    assert texts(replayed) == texts(doc) and replayed["metrics"] == doc["metrics"]

    proc = other.run("import", str(exported))
    assert proc.returncode == 2 and "already exists" in proc.stderr and sid in proc.stderr
    assert "Traceback" not in proc.stderr

    for name, content in [("plain.json", '{"hello": 1}'), ("list.json", "[1, 2]"), ("broken.json", '{"fanout'),
                          ("headerless.json", '{"fanout_session": 1, "header": {"id": "x"}, "events": []}')]:
        bogus = tmp_path / name
        bogus.write_text(content)
        proc = other.run("import", str(bogus))
        assert proc.returncode == 2, (name, proc.stderr)
        assert str(bogus) in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    proc = other.run("import", str(tmp_path / "absent.json"))
    assert proc.returncode == 2 and "absent.json" in proc.stderr
    # an id that is a path: refused, and nothing is written outside the sessions folder
    escape = dict(data, header={**data["header"], "id": "../../escaped"})
    (tmp_path / "escape.json").write_text(json.dumps(escape))
    proc = other.run("import", str(tmp_path / "escape.json"))
    assert proc.returncode == 2 and "not a session id" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("escaped*"))
    assert [s["id"] for s in other.json("sessions", "--json")] == [sid]  # nothing half-imported


# --------------------------------------------------------------------------------------------------
# What is on disk: no secrets, user-only


def every_file(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_the_api_key_is_never_written(fanout_cli, loopback_thread, tmp_path):
    server = loopback_thread
    secret = {"OPENAI_API_KEY": SECRET}
    # one branch's call is refused by a server that quotes the key back, as real providers do
    server.add_fault(Fault(status=401, message=f"Incorrect API key provided: {SECRET}."),
                     match=lambda r: "Hardware" in r.prompt and "Synthesise" not in r.prompt)
    doc, proc = run_json(fanout_cli, server, "research", code=1, extra_env=secret)
    assert doc["status"] == "partial" and "401" in doc["branches"][0]["error"]
    assert SECRET not in proc.stdout + proc.stderr
    # the key was in play: the server saw it on every call
    assert server.requests and {r.headers.get("authorization") for r in server.requests} == {f"Bearer {SECRET}"}
    run_json(fanout_cli, server, "research", extra_env=secret)  # a rerun: cache reads and writes, and it succeeds
    exports = [tmp_path / "s.json", tmp_path / "s.md"]
    for path, fmt in zip(exports, ("json", "md")):
        proc = fanout_cli.run("export", doc["session_id"], "--format", fmt, "-o", str(path), extra_env=secret)
        assert proc.returncode == 0, proc.stderr
    for command in (("sessions", "--json"), ("cache", "stats")):
        proc = fanout_cli.run(*command, extra_env=secret)
        assert SECRET not in proc.stdout + proc.stderr

    files = every_file(fanout_cli.home) + exports
    assert any(p.parent.name == "sessions" for p in files) and any("cache" in p.parts for p in files)
    for path in files:
        data = path.read_bytes()
        for needle in (SECRET.encode(), b"SECRET-1234567890", b"SECRET"):
            assert needle not in data, f"{needle!r} in {path}"


def test_everything_written_is_user_only(fanout_cli, loopback_thread, tmp_path):
    doc, _ = run_json(fanout_cli, loopback_thread, "research")  # the test process's umask is 022
    assert fanout_cli.run("config", "init").returncode == 0
    exported = tmp_path / "out.json"
    assert fanout_cli.run("export", doc["session_id"], "--format", "json", "-o", str(exported)).returncode == 0
    other = fanout_cli.with_home(tmp_path / "second")
    assert other.run("import", str(exported)).returncode == 0

    paths = [fanout_cli.home, *fanout_cli.home.rglob("*"), other.home, *other.home.rglob("*"), exported]
    kinds = {p.name for p in paths}
    assert {"config.toml", "sessions", "cache", "responses", f"{doc['session_id']}.jsonl"} <= kinds
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}


# --------------------------------------------------------------------------------------------------
# sessions rm


def test_sessions_rm(fanout_cli, loopback_thread):
    doc, _ = run_json(fanout_cli, loopback_thread, *QUICK)
    sid = doc["session_id"]
    proc = fanout_cli.run("sessions")
    assert proc.returncode == 0 and sid in proc.stdout and "ok" in proc.stdout

    proc = fanout_cli.run("sessions", "rm", sid)
    assert proc.returncode == 0 and f"removed {sid}" in proc.stdout
    assert not (fanout_cli.sessions_dir / f"{sid}.jsonl").exists()
    assert fanout_cli.json("sessions", "--json") == []
    assert "no sessions yet" in fanout_cli.run("sessions").stdout

    for bad_id in (sid, "../../config"):  # gone now; not an id at all
        proc = fanout_cli.run("sessions", "rm", bad_id)
        assert proc.returncode == 2 and bad_id in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert (fanout_cli.home / "cache").is_dir() and stored(fanout_cli) == 5  # the cache is left alone
