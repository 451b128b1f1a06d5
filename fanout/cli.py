"""The `fanout` command. Exit codes: 0 ok, 1 a run that failed or partly failed, 2 bad input, 130 interrupted."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Callable, Sequence

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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fanout", description="Run LLM fan-outs sequentially, in parallel or as a DAG.")
    parser.add_argument("--version", action="version", version=f"fanout {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="run a recipe headless: progress on stderr, the report on stdout")
    _run_flags(run)
    run.add_argument("--json", action="store_true", help="print one JSON document instead of Markdown")

    sub.add_parser("recipes", help="list the shipped recipes")

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


def _check_numbers(args: argparse.Namespace) -> None:
    if getattr(args, "concurrency", None) is not None and args.concurrency < 1:
        raise UserError(f"--concurrency must be at least 1, not {args.concurrency}")
    if getattr(args, "max_tokens", None) is not None and args.max_tokens < 1:
        raise UserError(f"--max-tokens must be at least 1, not {args.max_tokens}")
    if getattr(args, "temperature", None) is not None and not 0 <= args.temperature <= 2:
        raise UserError(f"--temperature must be between 0 and 2, not {args.temperature}")


def prepare(args: argparse.Namespace):
    """Everything a run needs, validated before anything starts: recipe, inputs, config, providers and keys."""
    from . import config as config_mod
    from .strategies import recipe as recipes
    from .strategies.engine import RunSpec
    from .targets import Overrides, Targets

    _check_numbers(args)
    recipe = recipes.load(args.recipe)
    values = recipe.with_inputs(parse_sets(args.set))
    strategy = args.strategy or recipe.strategy
    cfg = config_mod.load()
    targets = Targets(
        cfg,
        Overrides(
            provider=args.provider,
            model=args.model,
            base_url=args.base_url,
            concurrency=args.concurrency,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
        ),
    )
    for branch in recipe.branches:  # a missing key or unknown provider is reported now, not mid-run
        targets.resolve(branch.settings)
    provider, model = targets.label(recipe.aggregate.settings)
    spec = RunSpec(
        recipe=recipe,
        values=values,
        strategy=strategy,
        resolve=targets.resolve,
        provider_label=provider,
        model_label=model,
        on_error=args.on_error,
    )
    return spec, targets


async def _consume(engine, handlers: Sequence[Callable]) -> None:
    """Feeds every event to every front end. The first ctrl+c cancels the run, which still ends with its events."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, engine.cancel)
        loop.add_signal_handler(signal.SIGTERM, engine.cancel)
    except (NotImplementedError, RuntimeError):
        pass
    try:
        async for event in engine.events():
            for handle in handlers:
                handle(event)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass


def status_exit(status: str) -> int:
    return {"ok": EXIT_OK, "cancelled": EXIT_INTERRUPTED}.get(status, EXIT_FAILED)


async def cmd_run(args: argparse.Namespace) -> int:
    from .headless import Printer
    from .report import to_json, to_markdown
    from .state import RunState
    from .strategies.engine import Engine

    spec, targets = prepare(args)
    state = RunState()
    printer = Printer()
    try:
        await _consume(Engine(spec), [state.apply, printer.handle])
    finally:
        await targets.aclose()
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        command = args.command
        if command is None:
            parser.print_help()
            return EXIT_OK
        if command == "run":
            return asyncio.run(cmd_run(args))
        if command == "recipes":
            return cmd_recipes(args)
        if command == "config":
            return cmd_config(args)
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
