"""The `fanout` command: parse, dispatch to one command module, turn bad input into one line and exit 2.

Each command lives in the module named for what it works on; nothing imports this package (import-linter checks it).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Sequence

from fanout.core.errors import UserError

from . import catalog, completion, run, serve, sessions
from .exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .parser import APP_RECIPE, build_parser

COMMANDS = {
    "tui": run.cmd_tui,
    "serve": serve.cmd_serve,
    "completion": completion.cmd_completion,
    "recipes": catalog.cmd_recipes,
    "config": catalog.cmd_config,
    "sessions": sessions.cmd_sessions,
    "export": sessions.cmd_export,
    "import": sessions.cmd_import,
    "cache": catalog.cmd_cache,
}


def main(argv: Sequence[str] | None = None) -> int:
    # Everything fanout writes (sessions, cache, exports, config) holds prompts and answers: user-only.
    os.umask(0o077)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        command = args.command
        if command is None:
            from fanout.wiring.launch import RunOptions

            return run.open_app(RunOptions(recipe=APP_RECIPE), start=False)
        if command == "run":
            return asyncio.run(run.cmd_run(args))
        if command == "resume":
            return asyncio.run(run.cmd_resume(args))
        if command == "bench":
            return asyncio.run(run.cmd_bench(args))
        if command == "replay":
            if args.headless or args.json:
                return asyncio.run(sessions.cmd_replay_headless(args))
            from fanout.wiring.launch import RunOptions

            if args.speed < 0:
                raise UserError(f"--speed must be 0 or more, not {args.speed}")
            return run.open_app(RunOptions(), start=False, replay_id=args.id, replay_speed=args.speed)
        if command in COMMANDS:
            return COMMANDS[command](args)
        raise UserError(f"unknown command {command!r}")
    except UserError as err:
        print(f"fanout: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fanout: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
