"""Configuration: the documented example loads, bad files name the file and field, keys come from the env."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import tomli_w

from fanout.wiring import config, config_schema
from fanout.wiring.starter_config import starter, write_starter
from fanout.core.errors import UserError
from fanout.wiring.launch import RunOptions, prepare
from fanout.strategies.recipe import CallSettings
from fanout.wiring.routing import Overrides, Targets

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def test_the_example_documents_a_loadable_config():
    cfg = config.load(EXAMPLE)
    assert cfg.default_provider == "local"
    assert set(cfg.providers) >= {"local", "openai", "anthropic", "ollama", "openrouter"}
    assert cfg.providers["openrouter"].limits.rpm == 200
    assert cfg.providers["openai"].limits.prices["gpt-4o"].output == 10.0
    assert cfg.providers["ollama"].api_key_env == ""


@pytest.mark.parametrize("table", [config_schema.ConfigFile, config_schema.ProviderTable,
                                   config_schema.PricesTable, config_schema.CacheTable])
def test_every_key_of_every_table_is_documented_in_the_example(table):
    text = EXAMPLE.read_text()
    for key in table.model_fields:
        # a key (`concurrency = 8`, commented or not, or inside an inline table) or a table of its own
        assert re.search(rf"^#? ?{key} =|[{{,] {key} =|\.{key}[.\]]|^\[{key}[.\]]", text, re.M), key


def bad(tmp_path, text, *parts):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        config.load(path)
    message = str(info.value)
    assert str(path) in message
    for part in parts:
        assert part in message, message


def test_bad_configs_name_the_file_and_field(tmp_path):
    bad(tmp_path, "default_provider = ", "invalid TOML")
    bad(tmp_path, 'colour = "red"', "unknown field 'colour'")
    bad(tmp_path, '[providers.openai]\nconcurrency = "lots"', "providers.openai.concurrency", "integer")
    bad(tmp_path, '[providers.openai]\nconcurrency = 0', "providers.openai.concurrency", "between 1")
    bad(tmp_path, '[providers.x]\nkind = "grpc"', "providers.x.kind", "local, openai, anthropic")
    bad(tmp_path, '[providers.x]\nkind = "openai"\nmodel = "m"', "providers.x.base_url", "required")
    bad(tmp_path, 'default_provider = "nope"', "default_provider", "names no provider")
    bad(tmp_path, '[cache]\nmode = "maybe"', "cache.mode")


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    targets = Targets(config.Config("x", "local", config.builtin_providers()), Overrides(provider="anthropic"))
    with pytest.raises(UserError, match="set ANTHROPIC_API_KEY in the environment"):
        targets.resolve(CallSettings())


def test_key_is_read_from_the_environment_only(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    targets = Targets(config.Config("x", "local", config.builtin_providers()), Overrides(provider="openai"))
    target = targets.resolve(CallSettings())
    assert target.provider._client.api_key == "sk-from-env"


def test_flags_override_recipe_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path))
    prepared = prepare(RunOptions(recipe="research", base_url="http://127.0.0.1:9/v1", model="m", max_tokens=7,
                                  temperature=1.5, cache="off"))
    target = prepared.spec.resolve(prepared.spec.recipe.branches[0].settings)
    assert (target.provider.name, target.model, target.max_tokens, target.temperature) == ("custom", "m", 7, 1.5)
    default = prepare(RunOptions(recipe="research", base_url="http://127.0.0.1:9/v1", cache="off"))
    t = default.spec.resolve(default.spec.recipe.branches[0].settings)
    assert (t.max_tokens, t.temperature) == (256, 0.3)  # the recipe's [defaults]


def test_config_init_writes_a_loadable_private_file(tmp_path):
    path = write_starter(tmp_path / "sub" / "config.toml")
    assert path.stat().st_mode & 0o077 == 0
    cfg = config.load(path)
    assert cfg.providers["openai"].api_key_env == "OPENAI_API_KEY"
    assert "sk-" not in path.read_text()
    with pytest.raises(UserError, match="already exists"):
        write_starter(path)
    assert tomllib.loads(tomli_w.dumps(starter())) == starter()


def test_fanout_config_env_var_wins(monkeypatch, tmp_path):
    path = tmp_path / "elsewhere.toml"
    path.write_text('default_provider = "openai"')
    monkeypatch.setenv("FANOUT_CONFIG", str(path))
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path / "home"))
    assert config.load().default_provider == "openai"


def test_prices_and_limits_are_validated_by_their_tables(tmp_path):
    bad(tmp_path, '[providers.openai.prices]\n"gpt-4o" = { input = -1 }', "providers.openai.prices.gpt-4o.input",
        "between 0")
    bad(tmp_path, '[providers.openai]\nadaptive = "yes"', "providers.openai.adaptive", "true or false")
    bad(tmp_path, '[providers.openai]\ntimeout = 0.01', "providers.openai.timeout", "between 0.1 and 3600")


def test_config_schema_command_prints_the_tables(fanout_cli):
    import json

    proc = fanout_cli.run("config", "schema")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert {"default_provider", "providers", "cache", "keymap"} <= set(schema["properties"])
    assert "concurrency" in schema["$defs"]["ProviderTable"]["properties"]
