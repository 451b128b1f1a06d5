"""concat: the units in recipe order, a heading each."""

from __future__ import annotations

from typing import Any

from ..recipe import Aggregate
from .base import Local
from .units import Unit


class Concat(Local):
    name = "concat"
    summary = "the results in recipe order, a heading each"

    def combine(self, units: list[Unit], spec: Aggregate) -> tuple[str, dict[str, Any]]:
        return "\n\n".join(f"## {u.title}\n\n{u.body()}" for u in units), {}
