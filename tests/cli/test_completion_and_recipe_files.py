"""Shell completion, run in a real bash; `recipes show` and `recipes new` through the real command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = str(Path(sys.executable).parent)


def complete(words: list[str], home: Path) -> list[str]:
    script = ('eval "$(fanout completion bash)"; COMP_WORDS=(' + " ".join(f"'{w}'" for w in words) + ");"
              f" COMP_CWORD={len(words) - 1}; _fanout; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "FANOUT_HOME": str(home), "HOME": str(home)}
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_bash_completes_commands_recipes_flags_and_choices(tmp_path):
    assert complete(["fanout", "re"], tmp_path) == ["resume", "recipes", "replay"]
    assert "research" in complete(["fanout", "run", "res"], tmp_path)  # asked of `fanout recipes names`
    assert complete(["fanout", "run", "--str"], tmp_path) == ["--strategy"]
    assert complete(["fanout", "bench", "--strategy", "p"], tmp_path) == ["parallel"]
    assert complete(["fanout", "sessions", ""], tmp_path) == ["rm"]
    assert complete(["fanout", "serve", "--po"], tmp_path) == ["--port"]


def test_zsh_and_fish_scripts_name_the_same_commands(fanout_cli):
    zsh = fanout_cli.run("completion", "zsh").stdout
    assert "bashcompinit" in zsh and "complete -F _fanout fanout" in zsh
    fish = fanout_cli.run("completion", "fish").stdout
    assert "-l strategy -xa 'sequential parallel hybrid'" in fish and "(fanout recipes names" in fish


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_for_real(tmp_path):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "FANOUT_HOME": str(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.run(["fish", "-c", "fanout completion fish | source; complete -C 'fanout run --str'"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.stdout.startswith("--strategy"), proc.stdout + proc.stderr


def test_recipes_show_prints_the_file_as_it_is(fanout_cli):
    from fanout.strategies import recipe as recipes

    proc = fanout_cli.run("recipes", "show", "research")
    assert proc.returncode == 0 and proc.stdout == recipes.resolve("research").read_text()
    missing = fanout_cli.run("recipes", "show", "nope")
    assert missing.returncode == 2 and "unknown recipe 'nope'" in missing.stderr


def test_recipes_new_writes_a_starter_that_runs(fanout_cli, loopback_thread, tmp_path):
    target = tmp_path / "mine.toml"
    proc = fanout_cli.run("recipes", "new", "mine", "-o", str(target))
    assert proc.returncode == 0, proc.stderr
    doc = fanout_cli.json("run", str(target), "--json", "--cache", "off", *fanout_cli.net(loopback_thread))
    assert doc["status"] == "ok" and [b["id"] for b in doc["branches"]] == ["science", "industry", "outlook"]
    again = fanout_cli.run("recipes", "new", "mine", "-o", str(target))
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    bad = fanout_cli.run("recipes", "new", "../x")
    assert bad.returncode == 2 and "not a recipe name" in bad.stderr
