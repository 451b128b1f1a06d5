"""Typed reads from a parsed TOML table; every failure names the file and the field's dotted path."""

from __future__ import annotations

from typing import Any

from fanout.core.errors import UserError


class Fields:
    """Typed reads from one TOML table, each failure naming the file and the field's path."""

    def __init__(self, table: Any, where: str, source: str) -> None:
        if not isinstance(table, dict):
            raise UserError(f"{source}: {where} must be a table")
        self.table, self.where, self.source = table, where, source

    def fail(self, key: str, problem: str) -> UserError:
        at = f"{self.where}.{key}" if self.where else key
        return UserError(f"{self.source}: {at}: {problem}")

    def only(self, allowed: set[str]) -> None:
        extra = sorted(set(self.table) - allowed)
        if extra:
            at = f" in {self.where}" if self.where else ""
            raise UserError(
                f"{self.source}: unknown field {extra[0]!r}{at} (allowed: {', '.join(sorted(allowed))})"
            )

    def str(self, key: str, default: str | None = None, *, choices: tuple[str, ...] = ()) -> str:
        value = self.table.get(key, default)
        if value is None:
            raise self.fail(key, "is required")
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {type(value).__name__}")
        if choices and value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def opt_str(self, key: str) -> str | None:
        return self.str(key) if key in self.table else None

    def number(self, key: str, *, lo: float, hi: float, integer: bool = False) -> Any:
        if key not in self.table:
            return None
        value = self.table[key]
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise self.fail(key, f"must be {'an integer' if integer else 'a number'}, not {value!r}")
        if not lo <= value <= hi:
            raise self.fail(key, f"must be between {lo:g} and {hi:g}, not {value!r}")
        return value

    def str_list(self, key: str) -> list[str]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value
