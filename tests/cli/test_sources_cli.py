"""Research with sources through the `fanout` command: `--search web` against the loopback server on both
provider kinds (searches, sources and citations in the JSON and the report, the same from the cache and from the
session), and `--sources` kept by a session so that `fanout resume` gives the branches the same files."""

from __future__ import annotations

import json
import re

import pytest

from fanout.devserver import Fault
from scripted import task_of

from test_cli import no_traceback

KINDS = {"anthropic": "ant", "openai": "oai"}


def configure(cli, server) -> None:
    cli.home.mkdir(parents=True, exist_ok=True)
    (cli.home / "config.toml").write_text(f'''
[providers.ant]
kind = "anthropic"
base_url = "{server.base_url}"
api_key_env = ""
model = "m"

[providers.oai]
kind = "openai"
base_url = "{server.base_url}/v1"
api_key_env = ""
model = "m"
web_search = true   # a loopback server that plays OpenAI's own endpoint
''')


def run_json(cli, *args: str) -> dict:
    proc = cli.run("run", *args, "--json")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def grounding(doc: dict) -> tuple:
    return (doc["sources"], [(b["id"], b["sources"], b["citations"], [q["query"] for q in b["searches"]])
                             for b in doc["branches"]], doc["aggregate"].get("citations"))


@pytest.mark.parametrize("kind", KINDS)
def test_web_search_research_shows_searches_sources_and_citations(fanout_cli, loopback_thread, kind):
    configure(fanout_cli, loopback_thread)
    args = ("research", "--provider", KINDS[kind], "--search", "web")
    proc = fanout_cli.run("run", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r'hardware: searched "Research the state of quantum computing.*": 3 pages', proc.stderr)
    doc = json.loads(proc.stdout)
    assert [bool(r.body.get("tools")) for r in loopback_thread.requests] == [True] * 5 + [False]  # not the aggregate
    assert all(b["sources"] and b["citations"] and b["metrics"]["searches"] == 1 for b in doc["branches"])
    assert doc["metrics"]["searches"] == 5
    # The loopback engine searches a prompt's first words, the same for every branch here: one set of pages,
    # found by all five (the parallel branches' redundancy, seen in their sources).
    assert [s["branches"] for s in doc["sources"]] == [["hardware", "software", "commercial", "security", "academic"]] * 3
    assert doc["metrics"]["quality"]["shared_sources"] == 1.0
    assert doc["aggregate"]["result"]["cites_sources"] is True
    report = fanout_cli.run("export", doc["session_id"]).stdout
    assert "## Sources" in report and re.search(r"^- \[1\] .* — `https://[^`]+` \(hardware(, \w+)*\)$", report, re.M)

    cached = run_json(fanout_cli, *args)  # the second run is served from the cache...
    assert all(b["cached"] for b in cached["branches"]) and len(loopback_thread.requests) == 6
    assert grounding(cached) == grounding(doc)  # ...with the same searches, sources and citations
    replayed = fanout_cli.run("replay", doc["session_id"], "--headless", "--json", "--speed", "0")
    assert replayed.returncode == 0, replayed.stderr
    assert grounding(json.loads(replayed.stdout)) == grounding(doc)


def test_a_session_keeps_its_files_for_resume(fanout_cli, loopback_thread, tmp_path, monkeypatch):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "qubits.md").write_text("# Qubits\n\nHardware progress in qubit counts doubled in 2025.\n")
    (notes / "funding.md").write_text("# Funding\n\nCommercial adoption and funding rose to four billion.\n")
    monkeypatch.chdir(tmp_path)
    loopback_thread.add_fault(Fault(status=400), match=lambda r: "Commercial adoption" in task_of(r.prompt))
    proc = fanout_cli.run("run", "research", *fanout_cli.net(loopback_thread), "--sources", "notes", "--json")
    doc = json.loads(proc.stdout)
    assert doc["status"] == "partial"
    header = json.loads((fanout_cli.sessions_dir / f"{doc['session_id']}.jsonl").read_text().splitlines()[0])
    assert header["options"]["sources"] == [str(notes)]  # absolute: found again from any folder
    first = next(r.prompt for r in loopback_thread.requests if "Commercial adoption" in task_of(r.prompt))
    loopback_thread.clear_faults()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    seen = len(loopback_thread.requests)
    resumed = fanout_cli.run("resume", doc["session_id"], "--json")
    assert resumed.returncode == 0, resumed.stderr
    again = next(r.prompt for r in loopback_thread.requests[seen:] if "Commercial adoption" in task_of(r.prompt))
    passages = re.findall(r"<<<source [0-9a-f]+ (\[\d+\] [^>]*)>>>", again)
    assert passages and passages == re.findall(r"<<<source [0-9a-f]+ (\[\d+\] [^>]*)>>>", first)
    assert "[2] Funding" in again
