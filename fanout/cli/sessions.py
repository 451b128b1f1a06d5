"""`fanout sessions`, `replay --headless`, `export` and `import`: past runs, read back from the session store."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fanout.core.errors import UserError

from .exits import EXIT_OK


def cmd_sessions(args: argparse.Namespace) -> int:
    from fanout.stores import sessions
    from fanout.frontends.sessions_table import render_text

    if args.sessions_command == "rm":
        sessions.remove(args.id)
        print(f"removed {args.id}")
        return EXIT_OK
    found = sessions.list_sessions()
    if args.json:
        print(json.dumps([s.__dict__ for s in found], indent=2))
        return EXIT_OK
    if not found:
        print("no sessions yet: `fanout run` records one per run")
        return EXIT_OK
    sys.stdout.write(render_text(found))
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> Any:
    """In the app, or printed as `fanout run` would (--headless, --json)."""
    if args.speed < 0:
        raise UserError(f"--speed must be 0 or more, not {args.speed}")
    if args.headless or args.json:
        return replay_headless(args)
    from fanout.wiring.launch import RunOptions

    from .run import open_app

    return open_app(RunOptions(), start=False, replay_id=args.id, replay_speed=args.speed)


async def replay_headless(args: argparse.Namespace) -> int:
    from fanout.stores import sessions
    from fanout.frontends.headless import Printer
    from fanout.frontends.report import to_json, to_markdown

    session = sessions.load(args.id)
    printer = Printer()
    state = printer.state  # one fold: the printer draws it, the report reads it
    async for event in sessions.replay(session.events, args.speed):
        printer.handle(event)
    state.end()
    if args.json:
        sys.stdout.write(json.dumps(to_json(state), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(to_markdown(state))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from fanout.stores import sessions
    from fanout.frontends.report import to_markdown
    from fanout.frontends.state import RunState

    session = sessions.load(args.id)
    if args.format == "json":
        text = json.dumps(sessions.export_json(session), indent=2, ensure_ascii=False) + "\n"
    else:
        text = to_markdown(RunState.from_events(session.events, ended=True))
    if args.output:
        from pathlib import Path

        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fanout.stores import sessions

    header = sessions.import_file(Path(args.file))
    print(f"imported {header.id} ({header.recipe}, {header.strategy}); replay it with: fanout replay {header.id}")
    return EXIT_OK
