"""The `fanout` command. Exit codes: 0 ok, 1 a run that failed or partly failed, 2 bad input, 130 interrupted."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .launch import RunOptions

from . import __version__
from .errors import UserError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit 2, but in our words and without usage noise
        raise UserError(f"{self.prog}: {message}")


def _run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", nargs="?", default="research", help="a shipped recipe's name or a path (default: research)")
    p.add_argument("--strategy", choices=("sequential", "parallel", "hybrid"), help="default: the recipe's")
    p.add_argument("--provider", help="a configured provider's name (default: the config's, else the embedded model)")
    p.add_argument("--model", help="the model to ask (default: the provider's)")
    p.add_argument("--base-url", help="an ad-hoc OpenAI-compatible server; key from OPENAI_API_KEY if set")
    p.add_argument("--concurrency", type=int, help="at most N calls at once per provider")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a recipe input (repeatable)")
    p.add_argument("--max-tokens", type=int, help="cap every call's output")
    p.add_argument("--temperature", type=float)
    p.add_argument("--on-error", choices=("continue", "fail"), help="default: the recipe's")
    p.add_argument("--cache", choices=("use", "refresh", "off", "only"),
                   help="use (default), refresh (call and store), off, only (offline: a miss fails the branch)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fanout", description="Run LLM fan-outs sequentially, in parallel or as a DAG.")
    parser.add_argument("--version", action="version", version=f"fanout {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="run a recipe headless: progress on stderr, the report on stdout")
    _run_flags(run)
    run.add_argument("--json", action="store_true", help="print one JSON document instead of Markdown")

    tui = sub.add_parser("tui", help="the app: the recipe's form, or --run to start at once")
    _run_flags(tui)
    tui.add_argument("--run", action="store_true", help="start the run at once instead of showing the form")

    bench = sub.add_parser("bench", help="run a recipe under all three strategies, cache off, and compare")
    _run_flags(bench)
    bench.add_argument("--repeat", type=int, default=1, help="rounds; the table shows medians and the spread")
    bench.add_argument("--json", action="store_true")

    sub.add_parser("recipes", help="list the shipped recipes")

    sessions = sub.add_parser("sessions", help="list past runs (sessions rm ID removes one)")
    sessions.add_argument("--json", action="store_true")
    sessions_sub = sessions.add_subparsers(dest="sessions_command", parser_class=_Parser)
    rm = sessions_sub.add_parser("rm", help="remove a session")
    rm.add_argument("id")

    replay = sub.add_parser("replay", help="replay a session offline: in the app, or --headless")
    replay.add_argument("id")
    replay.add_argument("--speed", type=float, default=1.0, help="1 original pace (default), 10 faster, 0 instant")
    replay.add_argument("--headless", action="store_true", help="print it as `fanout run` would")
    replay.add_argument("--json", action="store_true", help="with --headless: the JSON document")

    export = sub.add_parser("export", help="write a session as Markdown or JSON to stdout or a file")
    export.add_argument("id")
    export.add_argument("--format", choices=("md", "json"), default="md")
    export.add_argument("-o", "--output", help="a file to write (default: stdout)")

    imp = sub.add_parser("import", help="add an exported JSON session to your sessions")
    imp.add_argument("file")

    cache = sub.add_parser("cache", help="the response cache")
    cache.add_argument("cache_command", choices=("stats", "clear"))

    config = sub.add_parser("config", help="the configuration file")
    config_sub = config.add_subparsers(dest="config_command", parser_class=_Parser)
    init = config_sub.add_parser("init", help="write a starter config file")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    config_sub.add_parser("path", help="print where the config file is read from")
    return parser


def parse_sets(pairs: Sequence[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {pair!r}: expected KEY=VALUE")
        values[key.strip()] = value
    return values


def run_options(args: argparse.Namespace) -> "RunOptions":
    from .launch import RunOptions

    return RunOptions(
        recipe=args.recipe,
        strategy=args.strategy,
        provider=args.provider,
        model=args.model,
        base_url=args.base_url,
        concurrency=args.concurrency,
        inputs=parse_sets(args.set),
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        on_error=args.on_error,
        cache=getattr(args, "cache", None),
    )


def cancel_on_signals(engine) -> None:
    """ctrl+c (or SIGTERM) cancels the run, which still ends with its events, its session and its report."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, engine.cancel)
        except (NotImplementedError, RuntimeError):
            pass


def status_exit(status: str) -> int:
    return {"ok": EXIT_OK, "cancelled": EXIT_INTERRUPTED}.get(status, EXIT_FAILED)


async def cmd_run(args: argparse.Namespace) -> int:
    from .headless import Printer
    from .launch import execute, prepare
    from .report import to_json, to_markdown
    from .state import RunState

    prepared = prepare(run_options(args))
    state = RunState()
    printer = Printer()
    refresher = asyncio.create_task(printer.keep_fresh())
    try:
        await execute(prepared, [state.apply, printer.handle], on_engine=cancel_on_signals)
    finally:
        refresher.cancel()
        await prepared.aclose()
    if args.json:
        sys.stdout.write(json.dumps(to_json(state), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(to_markdown(state))
    sys.stdout.flush()
    return status_exit(state.status)


def cmd_recipes(args: argparse.Namespace) -> int:
    from .strategies import recipe as recipes

    for name, path in sorted(recipes.shipped_recipes().items()):
        try:
            r = recipes.load(str(path))
            print(f"{name:<14} {len(r.branches):>3} branches  {r.strategy:<10} {r.description}")
        except UserError as err:
            print(f"{name:<14} invalid: {err}")
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from .config_init import write_starter
    from .paths import config_file

    if args.config_command == "path":
        print(config_file())
        return EXIT_OK
    if args.config_command == "init":
        path = write_starter(config_file(), force=args.force)
        print(f"wrote {path}")
        return EXIT_OK
    raise UserError("fanout config: say `init` or `path`")


def cmd_sessions(args: argparse.Namespace) -> int:
    from . import sessions
    from .report import fmt_cost, fmt_seconds

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
    print(f"{'id':<24} {'when':<16} {'recipe':<12} {'strategy':<10} {'br':>3} {'status':<10} {'wall':>9} {'tokens':>7} {'cost':>9}")
    for s in found:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created))
        tokens = "-" if s.tokens is None else str(s.tokens)
        cost = "-" if s.cost is None else fmt_cost(s.cost)
        print(f"{s.id:<24} {when:<16} {s.recipe[:12]:<12} {s.strategy:<10} {s.branches:>3} {s.status:<10} "
              f"{fmt_seconds(s.wall):>9} {tokens:>7} {cost:>9}")
    return EXIT_OK


async def cmd_replay_headless(args: argparse.Namespace) -> int:
    from . import sessions
    from .headless import Printer
    from .report import to_json, to_markdown
    from .state import RunState

    if args.speed < 0:
        raise UserError(f"--speed must be 0 or more, not {args.speed}")
    session = sessions.load(args.id)
    state = RunState()
    printer = Printer()
    async for event in sessions.replay(session.events, args.speed):
        state.apply(event)
        printer.handle(event)
    state.end()
    if args.json:
        sys.stdout.write(json.dumps(to_json(state), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(to_markdown(state))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from . import sessions
    from .report import to_markdown
    from .state import RunState

    session = sessions.load(args.id)
    if args.format == "json":
        text = json.dumps(sessions.export_json(session), indent=2, ensure_ascii=False) + "\n"
    else:
        state = RunState()
        for event in session.events:
            state.apply(event)
        state.end()
        text = to_markdown(state)
    if args.output:
        from pathlib import Path

        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import sessions

    header = sessions.import_file(Path(args.file))
    print(f"imported {header.id} ({header.recipe}, {header.strategy}); replay it with: fanout replay {header.id}")
    return EXIT_OK


def cmd_cache(args: argparse.Namespace) -> int:
    from . import config as config_mod
    from .cache import ResponseCache

    cache = ResponseCache("use", size_limit_mb=config_mod.load().cache.size_limit_mb)
    try:
        if args.cache_command == "clear":
            print(f"removed {cache.clear()} cached responses")
        else:
            st = cache.stats()
            print(f"{st.get('directory', '-')}: {st['entries']} responses, {st['bytes'] / 2**20:.1f} MiB "
                  f"of {int(st.get('size_limit', 0)) / 2**20:.0f} MiB")
    finally:
        cache.close()
    return EXIT_OK


async def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import bench, render, to_json

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
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError("the app needs a terminal; `fanout run` runs headless, `fanout replay ID --headless` replays")
    from .tui.launch import run_tui

    return run_tui(options, start=start, replay_id=replay_id, replay_speed=replay_speed)


def cmd_tui(args: argparse.Namespace) -> int:
    return open_app(run_options(args), start=args.run)


COMMANDS = {
    "tui": cmd_tui,
    "recipes": cmd_recipes,
    "config": cmd_config,
    "sessions": cmd_sessions,
    "export": cmd_export,
    "import": cmd_import,
    "cache": cmd_cache,
}


def main(argv: Sequence[str] | None = None) -> int:
    # Everything fanout writes (sessions, cache, exports, config) holds prompts and answers: user-only.
    os.umask(0o077)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        command = args.command
        if command is None:
            from .launch import RunOptions

            return open_app(RunOptions(), start=False)
        if command == "run":
            return asyncio.run(cmd_run(args))
        if command == "bench":
            return asyncio.run(cmd_bench(args))
        if command == "replay":
            if args.headless or args.json:
                return asyncio.run(cmd_replay_headless(args))
            from .launch import RunOptions

            if args.speed < 0:
                raise UserError(f"--speed must be 0 or more, not {args.speed}")
            return open_app(RunOptions(), start=False, replay_id=args.id, replay_speed=args.speed)
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
