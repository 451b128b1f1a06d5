"""`fanout run`, `fanout bench` and the app's entry (`fanout`, `fanout tui`): the commands that start runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

from fanout.core.errors import UserError

from .cost import bench_estimate, confirmed, estimate_of, show_estimate, wants_confirmation
from .exits import EXIT_FAILED, EXIT_OK, status_exit
from .parser import APP_RECIPE, run_options


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

    prepared = prepare(run_options(args))
    if args.estimate or wants_confirmation(args):
        try:
            est = await estimate_of([prepared])
        except BaseException:
            await prepared.aclose()
            raise
        if args.estimate:
            await prepared.aclose()
            return show_estimate(est, as_json=args.json)
        await confirmed(est, args, prepared)
    return await run_headless(prepared, as_json=args.json)


async def cmd_resume(args: argparse.Namespace) -> int:
    from fanout.wiring.resume import prepare_resume

    prepared = prepare_resume(args.id, cache=args.cache, budget=args.budget, batch=args.batch, search=args.search,
                              sources=args.sources, depth=args.depth)
    return await run_headless(prepared, as_json=args.json)


async def run_headless(prepared, *, as_json: bool) -> int:
    """Live progress on stderr, then the report (Markdown or the JSON document) on stdout; the exit code is the
    run's own outcome, whether or not its session could be saved."""
    from fanout.frontends.headless import Printer
    from fanout.frontends.report import to_json, to_markdown
    from fanout.wiring.launch import execute

    printer = Printer()
    state = printer.state  # the one fold of this run's events: the printer draws it, the report reads it
    if prepared.corpus is not None:
        print(f"sources: {prepared.corpus.report.summary()}", file=sys.stderr)
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
    from fanout.core.text import strip_controls
    from fanout.wiring.bench import PlanFailed, bench, bench_across, judge_medians, render, to_json
    from fanout.wiring.judge import check_judge

    if args.repeat < 1:
        raise UserError(f"--repeat must be at least 1, not {args.repeat}")
    across = ("model", args.models) if args.models else ("provider", args.providers) if args.providers else None
    if args.strategy and not across:
        raise UserError("fanout bench runs every strategy; drop --strategy (or compare --models on it)")
    if across:
        values = [v.strip() for v in across[1].split(",") if v.strip()]
        if len(values) < 2 or len(set(values)) < len(values):
            raise UserError(f"--{across[0]}s needs two or more different names, comma-separated: {across[1]!r}")
        if across[0] == "model" and args.model:
            raise UserError("--models names the models; drop --model")
        if across[0] == "provider" and args.provider:
            raise UserError("--providers names the providers; drop --provider")
    if (args.judge_provider or args.judge_model) and not args.judge:
        raise UserError("--judge-provider and --judge-model choose the judge; add --judge")

    def progress(n, strategy, state):
        m = state.metrics
        wall = f"{m.wall:.2f} s" if m else "-"
        print(f"round {n}: {strategy:<10} {state.status:<9} {wall}", file=sys.stderr)

    def planned(state):
        from fanout.frontends.report import fmt_cost, fmt_seconds, fmt_tokens, plan_section

        m = state.plan.lane.metrics
        tokens = fmt_tokens(m.input_tokens + m.output_tokens, m.tokens_estimated)
        print(f"{plan_section(state)}\nThe planner's call, made once and given to every strategy (not counted in "
              f"their rows): {fmt_seconds(m.latency)}, {tokens} tokens, {fmt_cost(m.cost)}"
              f"{', cached' if m.cached else ''}.\n", file=sys.stderr)

    options = run_options(args)
    if args.estimate or wants_confirmation(args):
        est = await bench_estimate(options, across, values if across else [], args.repeat)
        if args.estimate:
            return show_estimate(est, as_json=args.json, note="the judge's calls are not counted" if args.judge else "")
        await confirmed(est, args)
    if args.judge:
        await check_judge(options, provider=args.judge_provider, model=args.judge_model)
    try:
        if across:
            from dataclasses import replace

            from fanout.strategies.recipe import load

            options = replace(options, strategy=options.strategy or load(options.recipe).strategy)
            rounds = await bench_across(options, across[0], values, args.repeat, progress)
        else:
            rounds = await bench(options, args.repeat, progress, planned)
    except PlanFailed as err:
        print(f"fanout bench: {strip_controls(str(err))}", file=sys.stderr)
        return EXIT_FAILED
    rows, judged = None, None
    if args.judge:
        print("judging the median round's outputs...", file=sys.stderr)
        rows, judged = await judge_medians(rounds, options, provider=args.judge_provider, model=args.judge_model)
    if args.json:
        print(json.dumps(to_json(rounds, options, rows, judged, across[0] if across else ""), indent=2))
    else:
        print(render(rounds, rows, judged, across[0] if across else ""))
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


def cmd_app(args: argparse.Namespace) -> int:
    from fanout.wiring.launch import RunOptions

    return open_app(RunOptions(recipe=APP_RECIPE), start=False)
