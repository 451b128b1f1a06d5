"""The third-party internals fanout leans on (providers/compat_*.py): each exists as fanout expects, and each
compatibility module falls back to the library's plain behaviour when it does not.

A failure here after an upgrade is the signal to read the library's change, adapt the compat module, and only then
raise its upper bound in pyproject.toml.
"""

from __future__ import annotations

import anthropic
import httpx2
import openai
import pytest

from fanout.providers import compat_httpx2, compat_llama, compat_sdks


@pytest.mark.parametrize("client_class", [openai.AsyncOpenAI, anthropic.AsyncAnthropic])
def test_the_sdks_still_join_urls_where_fanout_remembers_them(client_class):
    assert compat_sdks.remembers_urls(client_class), f"{client_class.__module__}: _prepare_url(self, url) changed"
    remembered = compat_sdks.with_remembered_urls(client_class)
    assert remembered is not client_class and issubclass(remembered, client_class)
    client = remembered(api_key="k", base_url="http://127.0.0.1:1/v1")
    assert client.base_url is client.base_url, "the SDK makes its base URL anew on each read: the memo never hits"
    first = client._prepare_url("/chat/completions")
    assert client._prepare_url("/chat/completions") is first  # remembered
    plain = client_class(api_key="k", base_url="http://127.0.0.1:1/v1")
    assert str(first) == str(plain._prepare_url("/chat/completions"))
    client.base_url = "http://127.0.0.1:2/v2"  # a new base URL: what was remembered is stale
    assert str(client._prepare_url("/chat/completions")) == "http://127.0.0.1:2/v2/chat/completions"


def test_httpx2_still_merges_urls_where_fanout_remembers_them():
    assert compat_httpx2.remembers_merged_urls(), "httpx2: AsyncClient._merge_url(self, url) changed"
    assert compat_httpx2.AsyncClient is not httpx2.AsyncClient
    client = compat_httpx2.AsyncClient(base_url="http://127.0.0.1:1/v1/")
    assert "_base_url" in client.__dict__, "httpx2 no longer keeps its base URL where the memo looks"
    assert client._merge_url("chat") is client._merge_url("chat")
    assert str(client._merge_url("chat")) == str(httpx2.AsyncClient(base_url="http://127.0.0.1:1/v1/")._merge_url("chat"))


def test_llama_cpp_can_still_be_silenced():
    pytest.importorskip("llama_cpp")
    assert compat_llama.quiet_llama(), "llama_cpp._logger.set_verbose is gone: llama.cpp would log over the app"


def test_an_sdk_without_the_internal_is_used_as_it_is():
    class Reshaped:
        def _prepare_url(self, url, options):  # another signature: not what the memo overrides
            return url

    class Gone:
        pass

    assert compat_sdks.with_remembered_urls(Reshaped) is Reshaped
    assert compat_sdks.with_remembered_urls(Gone) is Gone


def test_a_client_without_its_base_url_where_expected_is_never_cached():
    class Client:
        calls = 0

        def _prepare_url(self, url):
            Client.calls += 1
            return f"joined {url}"

    remembered = compat_sdks.with_remembered_urls(Client)
    client = remembered()
    assert [client._prepare_url("/x"), client._prepare_url("/x")] == ["joined /x", "joined /x"]
    assert Client.calls == 2


def test_llama_cpp_without_the_switch_is_left_verbose(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "llama_cpp._logger", None)  # as if the module were gone: import fails
    assert compat_llama.quiet_llama() is False


def test_llama_cpp_still_writes_the_loose_string_rule_fanout_makes_strict():
    """llama-cpp-python's JSON-schema converter lets a string hold raw control characters; fanout narrows the rule
    (providers/json_output.strict_strings). If the converter changes its rule, the narrowing must follow."""
    import json

    from llama_cpp.llama_grammar import json_schema_to_gbnf

    from fanout.providers.json_output import _LOOSE_CHAR, strict_strings

    gbnf = json_schema_to_gbnf(json.dumps({"type": "object", "properties": {"a": {"type": "string"}}}))
    assert _LOOSE_CHAR in gbnf, "llama-cpp-python's string rule changed: see providers/json_output.py"
    assert "\\x00-\\x1F" in strict_strings(gbnf) and _LOOSE_CHAR not in strict_strings(gbnf)
