"""Provider kinds come from one table, and a separate package can add one through the `fanout.providers`
entry-point group: here a real distribution on sys.path, used by a real `fanout run`."""

from __future__ import annotations

import json
import textwrap

import pytest

from fanout.core.errors import UserError
from fanout.providers import registry

PLUGIN = '''
from fanout.providers.base import StreamEnd, TextDelta


class EchoProvider:
    kind = "echo"

    def __init__(self, spec):
        self.name, self.model, self.base_url, self.concurrency = spec.name, spec.model, "", spec.concurrency

    async def stream(self, request):
        words = request.messages[-1].content.split()[:3]
        for w in words:
            yield TextDelta(w + " ")
        yield StreamEnd(1, len(words), "stop", self.model)

    async def aclose(self):
        pass


def make(spec):
    return EchoProvider(spec)
'''


@pytest.fixture
def plugin_path(tmp_path):
    (tmp_path / "fanout_echo.py").write_text(PLUGIN)
    info = tmp_path / "fanout_echo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fanout-echo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[fanout.providers]\necho = fanout_echo:make\n")
    return tmp_path


def test_the_builtin_kinds_are_the_table():
    assert registry.kinds()[:3] == ("local", "openai", "anthropic")
    with pytest.raises(UserError, match="unknown provider kind 'grpc'"):
        registry.factory("grpc")


def test_a_missing_key_names_the_variable():
    with pytest.raises(UserError, match="set SOME_KEY in the environment"):
        registry.build("x", "openai", model="m", api_key_env="SOME_KEY", env={})


def test_a_plugin_package_adds_a_kind_that_runs(fanout_cli, plugin_path):
    fanout_cli.home.mkdir(parents=True, exist_ok=True)
    config = fanout_cli.home / "config.toml"
    config.write_text(textwrap.dedent('''
        default_provider = "echo"
        [providers.echo]
        kind = "echo"
        model = "parrot"
    '''))
    proc = fanout_cli.run("run", "research", "--json", "--cache", "off",
                          extra_env={"PYTHONPATH": str(plugin_path)})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "ok"
    assert (doc["provider"], doc["model"]) == ("echo", "parrot")
    assert {b["metrics"]["model"] for b in doc["branches"]} == {"parrot"}
    assert all(b["text"].strip() for b in doc["branches"])


def test_without_the_plugin_its_kind_is_bad_input(fanout_cli):
    fanout_cli.home.mkdir(parents=True, exist_ok=True)
    (fanout_cli.home / "config.toml").write_text('[providers.echo]\nkind = "echo"\nmodel = "parrot"\n')
    proc = fanout_cli.run("run", "research", "--provider", "echo")
    assert proc.returncode == 2
    assert "providers.echo.kind: must be one of local, openai, anthropic, not 'echo'" in proc.stderr
    assert "Traceback" not in proc.stderr
