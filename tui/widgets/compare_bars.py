"""Bars for latency, tokens, cost and redundancy, one per strategy, each figure scaled to its largest value:
the comparison's numbers as lengths (the same bars as the exported Markdown, `frontends.compare.bar_groups`)."""

from __future__ import annotations

from typing import Sequence

from textual.content import Content
from textual.widget import Widget

from fanout.frontends.compare import Row, bar, bar_groups

from ..fmt import strategy_style

LABEL = 12


class CompareBars(Widget):
    DEFAULT_CSS = """
    CompareBars { height: auto; }
    """

    def __init__(self, rows: Sequence[Row], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows = list(rows)

    def render(self) -> Content:
        width = max(10, min(60, self.content_size.width - LABEL - 14))
        lines: list[Content] = []
        for figure, values in bar_groups(self.rows):
            top = max((v for _, v, _ in values), default=0.0)
            lines.append(Content.styled(figure, "bold"))
            for strategy, value, label in values:
                lines.append(Content.assemble(
                    f"  {strategy[:LABEL - 1]:<{LABEL}}", (f"{bar(value, top, width):<{width}}", strategy_style(strategy)),
                    f" {label}",
                ))
        return Content("\n").join(lines)
