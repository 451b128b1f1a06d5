"""The command line's grammar: every command, flag and help text; `--set` pairs; run flags into RunOptions."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Sequence

from fanout import __version__
from fanout.core.errors import UserError
from fanout.stores.cache_modes import MODES
from fanout.strategies.recipe.model import MAX_DEPTH, ON_ERROR, SEARCH_CHOICES, STRATEGIES

if TYPE_CHECKING:
    from fanout.wiring.launch import RunOptions

# The recipe the app opens on (`fanout`, `fanout tui`, `fanout serve`): the form's topic box is all a new user
# fills in, and a planner picks the angles of whatever topic that is (`research` has five fixed angles, of
# quantum computing, whatever the topic).
APP_RECIPE = "deep-research"


class _Parser(argparse.ArgumentParser):
    """argparse's parser, keeping what it was given where completion and the tests can read it (argparse keeps
    its subcommands and actions only in private fields): `commands`, name -> subparser; `arguments`, the actions
    added, flags and positionals, mutually exclusive ones included."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.commands: dict[str, _Parser] = {}
        self.arguments: list[argparse.Action] = []
        super().__init__(*args, **kwargs)  # adds -h through add_argument: recorded like the rest

    def error(self, message: str) -> None:  # type: ignore[override]  # exit 2, in our words, without usage noise
        # main() prints "fanout: error: "; the command is named once, in the hint, not as a second prefix.
        raise UserError(f"{message} (see `{self.prog} --help`)")

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.arguments.append(action)
        return action

    def add_mutually_exclusive_group(self, **kwargs: Any) -> Any:
        group = super().add_mutually_exclusive_group(**kwargs)
        add = group.add_argument

        def recorded(*args: Any, **kw: Any) -> argparse.Action:
            action = add(*args, **kw)
            self.arguments.append(action)
            return action

        group.add_argument = recorded  # type: ignore[method-assign]
        return group

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", _Parser)
        action = super().add_subparsers(**kwargs)
        add = action.add_parser

        def recorded(name: str, **kw: Any) -> _Parser:
            parser = add(name, **kw)
            self.commands[name] = parser
            return parser

        action.add_parser = recorded
        return action


def _run_flags(p: argparse.ArgumentParser, recipe: str = "research") -> None:
    p.add_argument("recipe", nargs="?", default=recipe, help=f"a shipped recipe's name or a path (default: {recipe})")
    p.add_argument("--strategy", choices=STRATEGIES, help="default: the recipe's")
    p.add_argument("--provider", help="a configured provider's name (default: the config's, else the embedded model)")
    p.add_argument("--model", help="the model to ask (default: the provider's)")
    p.add_argument("--base-url", help="an ad-hoc OpenAI-compatible server; key from OPENAI_API_KEY if set")
    p.add_argument("--concurrency", type=int, help="at most N calls at once per provider")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a recipe input (repeatable); VALUE @PATH reads a file, @- standard input")
    p.add_argument("--max-tokens", type=int, help="cap every call's output")
    p.add_argument("--temperature", type=float, metavar="T",
                   help="sampling temperature, 0 to 2, for every call (default: the recipe's, else the provider's)")
    p.add_argument("--on-error", choices=ON_ERROR, help="default: the recipe's")
    _depth_flag(p)
    p.add_argument("--cache", choices=MODES,
                   help="use (default), refresh (call and store), off, only (offline: a miss fails the branch)")
    _budget_flag(p)
    _source_flags(p)


def _source_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--search", choices=SEARCH_CHOICES,
                   help="web: each branch searches the web with its provider's own search tool (Anthropic, OpenAI); "
                        "off: no web search (default: the recipe's [search] web)")
    p.add_argument("--sources", action="append", default=[], metavar="PATH",
                   help="your own files (a folder, a file or a glob; repeatable): each branch is given the passages "
                        "that match it, numbered, to cite as [n]")


def _budget_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", type=float, metavar="USD",
                   help="spend at most this (US dollars): a call that could take the run past it does not start, "
                        "and the run stops there, resumable (default: the recipe's, else the config's [cost] budget)")


def _batch_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", nargs="?", const="first", choices=("first", "all"),
                   help="send the branches that wait on no other step as one provider batch, at half price "
                        "(answers in minutes to hours); `--batch all`: each later layer as a batch of its own too")


def _confirm_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--confirm-above", type=float, metavar="USD",
                   help="ask first when the estimate's high figure is above this; with no terminal, refuse unless "
                        "--yes (default: the config's [cost] confirm_above)")
    p.add_argument("--yes", action="store_true", help="run without asking, whatever --confirm-above says")


def _estimate_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--estimate", action="store_true",
                   help="print what the run would cost (calls, tokens, low and high cost) and make no call")


def _depth_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--depth", type=int, metavar="N",
                   help=f"a planned recipe: waves of research, 1 to {MAX_DEPTH}; after each, a follow-up planner adds "
                        "angles from what it found (default: the recipe's [plan] depth)")


def build_parser() -> _Parser:
    parser = _Parser(
        prog="fanout",
        description="Run LLM fan-outs sequentially, in parallel or as a DAG. "
        "`fanout` alone opens the app on the default recipe and provider (the embedded model when nothing is "
        "configured).",
    )
    parser.add_argument("--version", action="version", version=f"fanout {__version__}")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run a recipe headless: progress on stderr, the report on stdout")
    _run_flags(run)
    run.add_argument("--json", action="store_true", help="print one JSON document instead of Markdown")
    _estimate_flag(run)
    _confirm_flags(run)
    _batch_flag(run)

    resume = sub.add_parser("resume", help="go on with an interrupted, cancelled or partly failed session")
    resume.add_argument("id", help="the session to go on with (`fanout sessions` lists them)")
    resume.add_argument("--json", action="store_true", help="print one JSON document instead of Markdown")
    resume.add_argument("--cache", choices=("use", "refresh", "off", "only"),
                        help="for the branches that run again (default: the session's)")
    _budget_flag(resume)
    _batch_flag(resume)
    _source_flags(resume)
    _depth_flag(resume)

    tui = sub.add_parser("tui", help="the app: the recipe's form, or --run to start at once")
    _run_flags(tui, APP_RECIPE)
    tui.add_argument("--run", action="store_true", help="start the run at once instead of showing the form")

    serve = sub.add_parser("serve", help="serve the app to a browser (textual-serve), on 127.0.0.1 by default")
    _run_flags(serve, APP_RECIPE)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others warn)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")

    bench = sub.add_parser("bench", help="run a recipe under all three strategies, cache off, and compare")
    _run_flags(bench)
    bench.add_argument("--repeat", type=int, default=1, help="rounds; the table shows medians and the spread")
    bench.add_argument("--json", action="store_true", help="print the table as one JSON document")
    _estimate_flag(bench)
    _confirm_flags(bench)
    _batch_flag(bench)
    bench.add_argument("--judge", action="store_true",
                       help="a blind judge compares the strategies' outputs, every pair in both orders")
    bench.add_argument("--judge-provider", help="the judge's provider (default: the runs')")
    bench.add_argument("--judge-model", help="the judge's model (default: the runs')")
    across = bench.add_mutually_exclusive_group()
    across.add_argument("--models", help="A,B,...: one strategy (--strategy, default the recipe's) across these models")
    across.add_argument("--providers", help="A,B,...: one strategy across these configured providers")

    recipes = sub.add_parser("recipes", help="list the shipped recipes (recipes schema: the file format)")
    recipes_sub = recipes.add_subparsers(dest="recipes_command")
    recipes_sub.add_parser("schema", help="print the JSON schema of a recipe file, for editors")
    recipes_sub.add_parser("names", help="the shipped recipes' names, one a line (for shell completion)")
    show = recipes_sub.add_parser("show", help="print a recipe's file, to copy and edit")
    show.add_argument("name", help="a shipped recipe's name or a path")
    new = recipes_sub.add_parser("new", help="write a starter recipe that runs as it is")
    new.add_argument("name", help="the new recipe's name (its file is NAME.toml)")
    new.add_argument("-o", "--output", help="the file to write (default: NAME.toml here)")

    completion = sub.add_parser("completion", help="print shell completion: eval \"$(fanout completion bash)\"")
    completion.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete for")

    sessions = sub.add_parser("sessions", help="list past runs (sessions rm ID removes one)")
    sessions.add_argument("--json", action="store_true", help="print the list as one JSON document")
    sessions_sub = sessions.add_subparsers(dest="sessions_command")
    rm = sessions_sub.add_parser("rm", help="remove a session")
    rm.add_argument("id", help="the session's id, as `fanout sessions` lists it")

    replay = sub.add_parser("replay", help="replay a session offline: in the app, or --headless")
    replay.add_argument("id", help="the session's id, as `fanout sessions` lists it")
    replay.add_argument("--speed", type=float, default=1.0, help="1 original pace (default), 10 faster, 0 instant")
    replay.add_argument("--headless", action="store_true", help="print it as `fanout run` would")
    replay.add_argument("--json", action="store_true", help="with --headless: the JSON document")

    export = sub.add_parser("export", help="write a session as Markdown or JSON to stdout or a file")
    export.add_argument("id", help="the session's id, as `fanout sessions` lists it")
    export.add_argument("--format", choices=("md", "json"), default="md",
                        help="md, the report (default), or json, the document `fanout import` reads")
    export.add_argument("-o", "--output", help="a file to write (default: stdout)")

    imp = sub.add_parser("import", help="add an exported JSON session to your sessions")
    imp.add_argument("file", help="a JSON file written by `fanout export --format json`")

    cache = sub.add_parser("cache", help="the response cache")
    cache.add_argument("cache_command", choices=("stats", "clear"),
                       help="stats: where it is and how full; clear: remove every cached response")

    config = sub.add_parser("config", help="the configuration file")
    config_sub = config.add_subparsers(dest="config_command")
    init = config_sub.add_parser("init", help="write a starter config file")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    config_sub.add_parser("path", help="print where the config file is read from")
    config_sub.add_parser("schema", help="print the JSON schema of the config file, for editors")
    return parser


def parse_sets(pairs: Sequence[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {pair!r}: expected KEY=VALUE")
        values[key.strip()] = value
    return values


def stdin_inputs(values: dict[str, str]) -> dict[str, str]:
    """`--set NAME=@-`: standard input is read now, once, whatever the command does with the options after."""
    if "@-" not in values.values():
        return values
    import sys

    from fanout.wiring import config
    from fanout.wiring.inputs import read_stdin_inputs

    return read_stdin_inputs(values, sys.stdin.buffer, config.load().inputs.max_file_bytes)


def run_options(args: argparse.Namespace) -> "RunOptions":
    from fanout.wiring.launch import RunOptions

    return RunOptions(
        recipe=args.recipe,
        strategy=args.strategy,
        provider=args.provider,
        model=args.model,
        base_url=args.base_url,
        concurrency=args.concurrency,
        inputs=stdin_inputs(parse_sets(args.set)),
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        on_error=args.on_error,
        cache=getattr(args, "cache", None),
        budget=args.budget,
        batch=getattr(args, "batch", None),
        search=args.search,
        sources=list(args.sources),
        depth=args.depth,
    )
