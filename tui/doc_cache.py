"""Rendered block groups, kept so that an unchanged answer is never rendered twice.

Keyed by the group's text, the width and the look (`md_render.Look.name`): a pane read again, a pane focused after
its stream ended, the groups of a streaming document before its last one, a replay of the same answers — all hits.
Bounded by lines (least recently used out first): 20 panes of 3,000-token answers at 100 columns are ~15,000.
The counters are what the tests check (work done, not time taken).
"""

from __future__ import annotations

from collections import OrderedDict

from textual.strip import Strip

MAX_LINES = 200_000

Key = tuple[str, int, str]  # group text, width, look name


class DocCache:
    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self.max_lines = max_lines
        self._groups: OrderedDict[Key, tuple[Strip, ...]] = OrderedDict()
        self._lines = 0
        self.renders = 0  # block groups rendered (each one Markdown parse)
        self.hits = 0

    def get(self, key: Key) -> tuple[Strip, ...] | None:
        lines = self._groups.get(key)
        if lines is not None:
            self._groups.move_to_end(key)
            self.hits += 1
        return lines

    def __contains__(self, key: Key) -> bool:
        return key in self._groups

    def put(self, key: Key, lines: tuple[Strip, ...]) -> None:
        self.renders += 1
        old = self._groups.pop(key, None)
        if old is not None:
            self._lines -= len(old)
        self._groups[key] = lines
        self._lines += len(lines)
        while self._lines > self.max_lines and len(self._groups) > 1:
            _, dropped = self._groups.popitem(last=False)
            self._lines -= len(dropped)
