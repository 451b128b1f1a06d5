"""`fanout recipes`, `fanout config` and `fanout cache`: what is on this machine."""

from __future__ import annotations

import argparse
import json
import sys

from fanout.core.errors import UserError

from .exits import EXIT_OK


def cmd_recipes(args: argparse.Namespace) -> int:
    from fanout.strategies import recipe as recipes

    command = getattr(args, "recipes_command", None)
    if command in ("show", "new"):
        from . import recipe_files

        return recipe_files.cmd_show(args) if command == "show" else recipe_files.cmd_new(args)
    if command == "names":
        print("\n".join(sorted(recipes.shipped_recipes())))
        return EXIT_OK
    if command == "schema":
        from fanout.strategies.recipe.schema import json_schema

        print(json.dumps(json_schema(), indent=2))
        return EXIT_OK
    for name, path in sorted(recipes.shipped_recipes().items()):
        try:
            r = recipes.load(str(path))
            print(f"{name:<14} {shape(r):<24} {r.strategy:<10} {r.description}")
        except UserError as err:
            print(f"{name:<14} invalid: {err}")
    return EXIT_OK


def shape(recipe) -> str:
    """How many branches a recipe runs, as it will run them: a batch has one per item, a vote one per voter."""
    if any(b.items or b.items_file for b in recipe.branches):
        return "batch: 1 branch per item"
    n = len(recipe.branches)
    text = f"{n} branch" + ("" if n == 1 else "es")
    voters = sum(b.vote.voters for b in recipe.branches if b.vote)
    if voters:
        text += f", {voters} voters"
    return text


def cmd_config(args: argparse.Namespace) -> int:
    from fanout.wiring.starter_config import write_starter
    from fanout.core.paths import config_file

    if args.config_command == "path":
        path = config_file()
        print(path)
        if not path.exists():  # on stderr: stdout stays the bare path for scripts
            print(f"fanout: {path} does not exist yet (the built-in defaults apply); `fanout config init` writes it",
                  file=sys.stderr)
        return EXIT_OK
    if args.config_command == "schema":
        from fanout.wiring.config_schema import json_schema

        print(json.dumps(json_schema(), indent=2))
        return EXIT_OK
    if args.config_command == "init":
        path = write_starter(config_file(), force=args.force)
        print(f"wrote {path}")
        return EXIT_OK
    raise UserError("fanout config: say `init`, `path` or `schema`")


def cmd_cache(args: argparse.Namespace) -> int:
    from fanout.wiring import config as config_mod
    from fanout.stores.cache import ResponseCache

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
