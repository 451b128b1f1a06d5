"""What a run may cost, on the command line: `--estimate` (printed, no call made) and `--confirm-above` (asked
on a terminal; refused without one unless `--yes`)."""

from __future__ import annotations

import argparse
import json
import sys

from .exits import EXIT_OK


async def estimate_of(prepared: list, strategies=None, repeat: int = 1):
    """The estimate of runs already prepared (summed), made on stand-ins: no call."""
    from fanout.wiring.estimate import Estimate, estimate

    total = Estimate()
    for p in prepared:
        total = total + await estimate(p, strategies, repeat)
    return total


async def bench_estimate(options, across, values: list[str], repeat: int):
    """`fanout bench`'s runs: every strategy (or the one strategy across models or providers), every round."""
    from dataclasses import replace

    from fanout.strategies.recipe import load
    from fanout.strategies.recipe.model import STRATEGIES
    from fanout.wiring.bench import across_options
    from fanout.wiring.launch import prepare

    options = replace(options, cache="off")
    if across:
        strategy = options.strategy or load(options.recipe).strategy
        prepared = [prepare(across_options(replace(options, strategy=strategy), across[0], v)) for v in values]
        strategies = [strategy]
    else:
        prepared, strategies = [prepare(options)], list(STRATEGIES)
    try:
        return await estimate_of(prepared, strategies, repeat)
    finally:
        for p in prepared:
            await p.aclose()


def show_estimate(est, *, as_json: bool, note: str = "") -> int:
    """The table on stderr, and with --json the document on stdout."""
    from fanout.wiring.estimate import render

    print(render(est) + (f"\n  {note}" if note else ""), file=sys.stderr)
    if as_json:
        print(json.dumps({"estimate": est.as_dict()}, indent=2))
    return EXIT_OK


def confirm_limit(args: argparse.Namespace) -> float | None:
    if args.confirm_above is not None:
        return args.confirm_above
    from fanout.wiring import config

    return config.load().cost.confirm_above


def wants_confirmation(args: argparse.Namespace) -> bool:
    return not args.yes and confirm_limit(args) is not None


def ask_on_terminal(question: str) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


async def confirmed(est, args: argparse.Namespace, prepared=None) -> None:
    """Raises UserError (exit 2) unless the run may go on; closes `prepared` when it may not."""
    from fanout.wiring.estimate import check_confirm

    limit = confirm_limit(args)
    if limit is None:
        return
    terminal = sys.stdin.isatty() and sys.stderr.isatty()
    try:
        check_confirm(est, limit, ask=ask_on_terminal if terminal else None, yes=args.yes)
    except BaseException:
        if prepared is not None:
            await prepared.aclose()
        raise
