"""The `fanout` command: parse, dispatch to one command module, turn bad input into one line and exit 2.

Each command is a function in the module named for what it works on (run.py, sessions.py, catalog.py, ...), its
flags a subparser in parser.py, and its entry in COMMANDS below: the one dispatch table. A handler returns an exit
code, or a coroutine that does (run here on a fresh event loop). Nothing imports this package (import-linter).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import os
import sys
from typing import Any, Callable, Sequence

from fanout.core.errors import UserError

from . import catalog, completion, run, serve, sessions
from .exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .parser import build_parser

Handler = Callable[[argparse.Namespace], Any]  # returns an exit code, or a coroutine that does

COMMANDS: dict[str | None, Handler] = {
    None: run.cmd_app,  # `fanout` alone: the app on the default recipe and provider
    "run": run.cmd_run,
    "resume": run.cmd_resume,
    "bench": run.cmd_bench,
    "tui": run.cmd_tui,
    "serve": serve.cmd_serve,
    "replay": sessions.cmd_replay,
    "sessions": sessions.cmd_sessions,
    "export": sessions.cmd_export,
    "import": sessions.cmd_import,
    "recipes": catalog.cmd_recipes,
    "config": catalog.cmd_config,
    "cache": catalog.cmd_cache,
    "completion": completion.cmd_completion,
}


def main(argv: Sequence[str] | None = None) -> int:
    # Everything fanout writes (sessions, cache, exports, config) holds prompts and answers: user-only.
    os.umask(0o077)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        code = COMMANDS[args.command](args)
        return asyncio.run(code) if inspect.iscoroutine(code) else code
    except UserError as err:
        print(f"fanout: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fanout: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


def entry() -> None:
    code = main()
    # Whatever is still alive is freed as the process exits; frozen, the interpreter's last garbage collections skip
    # walking it (the SDKs' type modules alone made that walk 0.2-0.4 s at the end of every command).
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
