"""Exporting what a run screen shows: the Markdown report, or the session as importable JSON.

Files go to FANOUT_HOME/exports (or the platform data directory's `exports`), never the current directory:
the TUI may have been started anywhere, and a report holds prompts and answers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fanout.stores import sessions
from fanout.core.errors import UserError
from fanout.core.paths import data_dir, private_dir
from fanout.frontends import compare
from fanout.frontends.report import to_json, to_markdown
from fanout.frontends.state import RunState


def exports_dir() -> Path:
    return private_dir(data_dir() / "exports")


def _write(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def _name(state: RunState) -> str:
    return state.started.session_id if state.started else "fanout-run"


def export_markdown(state: RunState) -> Path:
    return _write(exports_dir() / f"{_name(state)}.md", to_markdown(state))


def export_json(state: RunState) -> Path:
    """The recorded session (importable with `fanout import`) when there is one, else the run's JSON report."""
    try:
        data = sessions.export_json(sessions.load(_name(state)))
    except UserError:
        data = to_json(state)
    return _write(exports_dir() / f"{_name(state)}.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def export_comparison(states: list[RunState], rows=None, judge_note: str = "") -> Path:
    """The compare screen as Markdown, named for the first run's session."""
    return _write(exports_dir() / f"{_name(states[0]) if states else 'fanout'}-compare.md",
                  compare.to_markdown(states, rows, judge_note))
