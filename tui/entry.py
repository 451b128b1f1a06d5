"""How the `fanout` command starts the TUI."""

from __future__ import annotations

import sys

from fanout.wiring import config as config_mod
from fanout.core.errors import UserError
from fanout.wiring.launch import RunOptions, prepare
from fanout.stores.sessions import load


def run_tui(options: RunOptions, *, start: bool, replay_id: str | None = None, replay_speed: float = 1.0) -> int:
    """Opens the app on `options`' recipe: on the form, or running at once (`start`), or replaying a session.

    Bad input (a recipe, the config, a missing key, an unknown session) is reported here, on the terminal, with
    exit code 2, before the screen is taken over. The terminal is restored however the app ends.
    """
    from .app import FanoutApp  # Textual is imported only when the TUI is wanted

    try:
        keymap = config_mod.load().keymap
        prepared = prepare(options) if start and not replay_id else None
        if replay_id:
            load(replay_id)
    except UserError as err:
        print(f"fanout: error: {err}", file=sys.stderr)
        return UserError.exit_code
    app = FanoutApp(options, start=start, prepared=prepared, replay_id=replay_id, replay_speed=replay_speed,
                    keymap=keymap)
    app.run()
    return app.return_code or 0
