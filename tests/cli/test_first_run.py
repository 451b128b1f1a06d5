"""What a new user meets in the first ten minutes (issue 10): each stumble, as the `fanout` command shows it.

A real subprocess with its own FANOUT_HOME, as in test_cli.py.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
from pathlib import Path

import pytest

from fanout.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
JSON_DOC = ROOT / "docs" / "json.md"


def bad(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again before use: nothing listens there


# --------------------------------------------------------------------------------------------------
# A server that is not there


def test_a_server_that_is_not_there_fails_at_once_with_one_message(fanout_cli):
    url = f"http://127.0.0.1:{free_port()}/v1"
    proc = fanout_cli.run("run", "research", "--base-url", url, "--json", timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    # the run's one message names the URL, what happened and what to check
    assert url in doc["error"] and "connection refused" in doc["error"] and "check" in doc["error"]
    assert all(b["status"] == "failed" and url in b["error"] for b in doc["branches"])
    assert all(b["metrics"]["retries"] == 0 for b in doc["branches"])  # no attempt was retried
    assert doc["metrics"]["calls"] <= 3  # the first hybrid wave at most, never 6 attempts a branch
    assert doc["metrics"]["concurrency"] is None  # every branch failed: no concurrency to report
    assert "retrying" not in proc.stderr  # it was 30 attempts over 41 s


def test_a_base_url_without_a_scheme_is_bad_input(fanout_cli):
    err = bad(fanout_cli.run("run", "research", "--base-url", "localhost:8080"))
    assert "--base-url" in err and "'localhost:8080'" in err and "http://localhost:8080" in err
    assert not fanout_cli.sessions_dir.exists() or not list(fanout_cli.sessions_dir.iterdir())


def test_a_config_base_url_without_a_scheme_names_the_field(fanout_cli):
    fanout_cli.home.mkdir()
    config = fanout_cli.home / "config.toml"
    config.write_text('[providers.mine]\nkind = "openai"\nmodel = "m"\nbase_url = "localhost:8080/v1"\n')
    err = bad(fanout_cli.run("run", "research", "--provider", "mine"))
    assert str(config) in err and "providers.mine.base_url" in err and "localhost:8080/v1" in err


# --------------------------------------------------------------------------------------------------
# Smaller ones


def test_a_bad_flag_names_the_error_once(fanout_cli):
    err = bad(fanout_cli.run("run", "--strategy", "fastest"))
    assert err.startswith("fanout: error: argument --strategy"), err
    assert err.count("fanout") == 2 and "`fanout run --help`" in err  # the prefix, then the hint: never doubled


def test_recipes_count_branches_in_words_that_fit(fanout_cli):
    proc = fanout_cli.run("recipes")
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert "1 branches" not in proc.stdout
    assert "1 branch per item" in rows["tickets"]  # a batch: its branch count is the file's
    assert "9 voters" in rows["code-review"]


def walk(parser, name="fanout"):
    """(command line, parser) for the parser and every subcommand under it."""
    yield name, parser
    for sub_name, sub in parser.commands.items():
        yield from walk(sub, f"{name} {sub_name}")


def test_every_flag_has_help():
    for name, parser in walk(build_parser()):
        for action in parser.arguments:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help text"


def test_every_command_has_one_handler_and_every_handler_a_command():
    from fanout.cli import COMMANDS

    parsed = set(build_parser().commands)
    assert parsed == set(COMMANDS) - {None}, "a command is a subparser in parser.py and an entry in COMMANDS"


def test_the_parser_records_every_argument_argparse_was_given():
    """`arguments` is what completion and the help test read: it must hold what argparse holds (checked here
    through argparse's help text, its public view), mutually exclusive flags included."""
    for name, parser in walk(build_parser()):
        shown = parser.format_help()
        for action in parser.arguments:
            for flag in action.option_strings:
                assert flag in shown, f"{name}: {flag}"
        assert ("--models" in shown) == (name == "fanout bench")
        assert any("--models" in a.option_strings for a in parser.arguments) == (name == "fanout bench")


def test_fanout_config_naming_a_missing_file_is_an_error(fanout_cli, tmp_path):
    missing = tmp_path / "nosuch.toml"
    err = bad(fanout_cli.run("run", "research", extra_env={"FANOUT_CONFIG": str(missing)}))
    assert "FANOUT_CONFIG" in err and str(missing) in err
    # `config init` may still create it, and `config path` show it
    proc = fanout_cli.run("config", "init", extra_env={"FANOUT_CONFIG": str(missing)})
    assert proc.returncode == 0 and missing.exists(), proc.stderr


def test_help_says_a_bare_fanout_opens_the_app(fanout_cli):
    proc = fanout_cli.run("--help")
    assert proc.returncode == 0
    assert re.search(r"`fanout`\s+alone\s+opens\s+the\s+app", proc.stdout), proc.stdout


def test_config_path_says_when_the_file_does_not_exist_yet(fanout_cli):
    config = fanout_cli.home / "config.toml"
    proc = fanout_cli.run("config", "path")
    assert proc.returncode == 0 and proc.stdout.strip() == str(config)  # stdout stays the bare path
    assert "does not exist yet" in proc.stderr and "fanout config init" in proc.stderr
    fanout_cli.run("config", "init")
    proc = fanout_cli.run("config", "path")
    assert proc.stdout.strip() == str(config) and proc.stderr == ""


# --------------------------------------------------------------------------------------------------
# The README's Quick start, as written


def quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Quick start")
    return text[start:text.index("\n## ", start + 1)]


def test_the_quick_start_puts_fanout_on_the_path_before_calling_it():
    section = quick_start()
    first_call = re.search(r"^fanout ", section, re.MULTILINE)
    activate = section.find(". .venv/bin/activate")
    assert first_call and 0 <= activate < first_call.start(), "the Quick start calls `fanout` before activating"


def test_every_quick_start_command_parses():
    parser = build_parser()
    blocks = re.findall(r"```sh\n(.*?)```", quick_start(), re.DOTALL)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    commands = [c for c in commands if c and "fanout " in c]
    assert len(commands) >= 5
    for command in commands:
        argv = shlex.split(command.split(" > ")[0])
        argv = argv[[i for i, word in enumerate(argv) if word == "fanout"][0] + 1:]
        parser.parse_args(argv)  # raises (a UserError) on a flag the README invents


def test_the_readme_json_document_names_every_figure_as_the_code_does():
    """One definition: the documented example (docs/json.md) has exactly RunMetrics' and BranchMetrics' fields."""
    import dataclasses

    from fanout.strategies.events import BranchMetrics, RunMetrics

    text = JSON_DOC.read_text(encoding="utf-8")
    block = text[text.index("# The JSON document"):].split("```json\n", 1)[1].split("```", 1)[0]
    doc = json.loads(re.sub(r"(?<=\s)//[^\n]*", "", block))  # comments, not a URL's //
    # the JSON's metrics are RunMetrics plus the fold's quality figures (frontends/report.py adds them)
    assert set(doc["metrics"]) == {f.name for f in dataclasses.fields(RunMetrics)} | {"quality"}
    assert set(doc["branches"][0]["metrics"]) == {f.name for f in dataclasses.fields(BranchMetrics)}
    assert "branch_sum" not in text and "sum of branches" not in text
