"""A vote's verdict: the winning answer, its confidence, the tally as bars, and whether it needs review."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widget import Widget

from fanout.core.text import strip_controls

BAR = 24  # cells for the largest count


def confidence_text(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value * 100:.0f} %" if value <= 1 else f"{value:.0f} %"
    return strip_controls(str(value)) if value is not None else "-"


def has_votes(result: dict[str, Any]) -> bool:
    """A single vote carries its tally at the top; sectioned votes (one per checked or reviewed aspect) under
    `votes`, keyed by the voted branch."""
    return isinstance(result.get("tally"), dict) or bool(result.get("votes"))


def votes_content(result: dict[str, Any]) -> Content:
    if isinstance(result.get("tally"), dict):
        return tally_content(result)
    parts: list[Any] = []
    if "flagged" in result:  # checks: the verdict over all the checks comes first
        flagged = bool(result["flagged"])
        parts += [("FLAGGED" if flagged else "not flagged", "bold $error" if flagged else "bold $success"), "\n"]
    for i, (group, vote) in enumerate((result.get("votes") or {}).items()):
        if i or parts:
            parts.append("\n")
        parts += [(strip_controls(str(group)), "bold underline"), "\n", tally_content(vote), "\n"]
    return Content.assemble(*parts)


def tally_content(result: dict[str, Any]) -> Content:
    """Answers are model text: they go in as plain Content, never as markup."""
    raw_answer = result.get("answer", "")
    if isinstance(raw_answer, list):  # a union vote: its answer is every finding
        raw_answer = f"{len(raw_answer)} findings"
    answer = strip_controls(str(raw_answer if raw_answer is not None else "none"))
    status = strip_controls(str(result.get("status", "")))
    tally = result.get("tally") or {}
    status_style = "bold $success" if status == "confident" else "bold $warning"
    parts: list[Any] = [
        ("answer ", "$text-muted"),
        (answer or "-", "bold"),
        "\n",
        ("confidence ", "$text-muted"),
        confidence_text(result.get("confidence")),
        "   ",
        (status or "-", status_style),
        "\n",
    ]
    counts = {strip_controls(str(k)): v for k, v in tally.items()} if isinstance(tally, dict) else {}
    top = max((v for v in counts.values() if isinstance(v, (int, float))), default=0)
    width = max((len(k) for k in counts), default=0)
    for key, count in sorted(counts.items(), key=lambda kv: -kv[1] if isinstance(kv[1], (int, float)) else 0):
        cells = round(BAR * count / top) if top and isinstance(count, (int, float)) else 0
        style = "$success" if key == answer else "$primary"
        parts += ["\n", f"{key[:40]:<{min(width, 40)}} ", ("█" * cells, style), f" {count:g}"]
    return Content.assemble(*parts)


class VoteTally(Widget):
    DEFAULT_CSS = """
    VoteTally { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.result: dict[str, Any] = {}

    def show(self, result: dict[str, Any]) -> None:
        self.result = dict(result)
        self.refresh(layout=True)

    def render(self) -> Content:
        return votes_content(self.result) if self.result else Content("")
