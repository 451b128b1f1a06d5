"""`fanout run`, `fanout bench` and the app's entry (`fanout`, `fanout tui`): the commands that start runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

from fanout.core.errors import UserError

from .exits import EXIT_OK, status_exit
from .parser import run_options


def cancel_on_signals(engine) -> None:
    """ctrl+c (or SIGTERM) cancels the run, which still ends with its events, its session and its report."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, engine.cancel)
        except (NotImplementedError, RuntimeError):
            pass


async def cmd_run(args: argparse.Namespace) -> int:
    from fanout.wiring.launch import prepare

    return await run_headless(prepare(run_options(args)), as_json=args.json)


async def cmd_resume(args: argparse.Namespace) -> int:
    from fanout.wiring.resume import prepare_resume

    return await run_headless(prepare_resume(args.id, cache=args.cache), as_json=args.json)


async def run_headless(prepared, *, as_json: bool) -> int:
    """Live progress on stderr, then the report (Markdown or the JSON document) on stdout; the exit code is the
    run's own outcome, whether or not its session could be saved."""
    from fanout.frontends.headless import Printer
    from fanout.frontends.report import to_json, to_markdown
    from fanout.wiring.launch import execute

    printer = Printer()
    state = printer.state  # the one fold of this run's events: the printer draws it, the report reads it
    refresher = asyncio.create_task(printer.keep_fresh())
    try:
        executed = await execute(prepared, [printer.handle], on_engine=cancel_on_signals)
    finally:
        refresher.cancel()
        await prepared.aclose()
    if as_json:
        doc = to_json(state, unsaved=executed.error)
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(to_markdown(state, unsaved=executed.error))
    sys.stdout.flush()
    return status_exit(state.status)


async def cmd_bench(args: argparse.Namespace) -> int:
    from fanout.wiring.bench import bench, render, to_json

    if args.repeat < 1:
        raise UserError(f"--repeat must be at least 1, not {args.repeat}")
    if args.strategy:
        raise UserError("fanout bench runs every strategy; drop --strategy")

    def progress(n, strategy, state):
        m = state.metrics
        wall = f"{m.wall:.2f} s" if m else "-"
        print(f"round {n}: {strategy:<10} {state.status:<9} {wall}", file=sys.stderr)

    options = run_options(args)
    rounds = await bench(options, args.repeat, progress)
    if args.json:
        print(json.dumps(to_json(rounds, options), indent=2))
    else:
        print(render(rounds))
    return EXIT_OK


def open_app(options, *, start: bool, replay_id: str | None = None, replay_speed: float = 1.0) -> int:
    # Served to a browser (fanout serve), the app talks to textual-serve's web driver, not to a terminal.
    served = os.environ.get("TEXTUAL_DRIVER", "").endswith("WebDriver")
    if not served and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError("the app needs a terminal; `fanout run` runs headless, `fanout replay ID --headless` replays")
    from fanout.tui.entry import run_tui

    return run_tui(options, start=start, replay_id=replay_id, replay_speed=replay_speed)


def cmd_tui(args: argparse.Namespace) -> int:
    return open_app(run_options(args), start=args.run)
