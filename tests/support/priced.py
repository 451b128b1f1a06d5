"""A config whose provider `lb` is a loopback server with a price for its model `m` (US dollars per million
tokens), for the tests of estimates, budgets and batches."""

from __future__ import annotations

INPUT, OUTPUT = 3.0, 15.0


def priced_config(server, **extra: str) -> str:
    """`extra`: more keys of the provider's table, as TOML values (`batch_api="true"`)."""
    keys = "\n".join(f"{k} = {v}" for k, v in extra.items())
    return f"""
[providers.lb]
kind = "openai"
base_url = "{server.base_url}/v1"
model = "m"
{keys}
[providers.lb.prices.m]
input = {INPUT}
output = {OUTPUT}
"""
