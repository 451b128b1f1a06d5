"""The app opens on deep-research: the form's topic box is all a new user fills in, and the planner picks the
angles of that topic (research's five angles are about quantum computing whatever the topic)."""

from __future__ import annotations

from fanout import cli
from fanout.cli.parser import build_parser


def test_the_app_opens_on_deep_research(monkeypatch):
    opened = []
    monkeypatch.setattr(cli.run, "open_app", lambda options, **kw: opened.append((options.recipe, kw)) or 0)
    assert cli.main([]) == 0
    assert opened == [("deep-research", {"start": False})]
    parser = build_parser()
    assert parser.parse_args(["tui"]).recipe == parser.parse_args(["serve"]).recipe == "deep-research"


def test_headless_commands_keep_research_as_their_default():
    parser = build_parser()
    assert parser.parse_args(["run"]).recipe == parser.parse_args(["bench"]).recipe == "research"
