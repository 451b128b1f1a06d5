"""`fanout recipes show NAME` and `fanout recipes new NAME`: a recipe's text to copy, and a starter to edit."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from fanout.core.errors import UserError

from .exits import EXIT_OK

STARTER = '''\
# A fanout recipe: branches that run sequentially, in parallel or as a DAG, then one aggregate.
# Run it with:  fanout run {path} --set topic="..."   (every key: fanout recipes schema)
name = "{name}"
description = "Three angles on a topic, the last one building on the first two, then a synthesis"
strategy = "hybrid"          # sequential | parallel | hybrid (the `after` edges below)

# A shared prompt for every branch; {{title}} is the branch's title, {{topic}} an input.
prompt = "Write 3 short numbered findings about {{topic}}, from this angle: {{title}}."

[inputs]
topic = "solid-state batteries"

[[branches]]
id = "science"
title = "the science and its open problems"

[[branches]]
id = "industry"
title = "who is building it, and how far along they are"

[[branches]]
id = "outlook"
title = "what the next five years may bring"
after = ["science", "industry"]   # under hybrid, starts when both are done and sees what they found

[aggregate]
kind = "synthesize"
prompt = """Combine the reports on {{topic}} into one answer. List every contradiction between them under a
heading "Contradictions"."""
'''


def cmd_show(args: argparse.Namespace) -> int:
    from fanout.strategies import recipe as recipes

    path = recipes.resolve(args.name)
    sys.stdout.write(path.read_text(encoding="utf-8"))
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from fanout.strategies import recipe as recipes

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", args.name):
        raise UserError(f"recipes new: {args.name!r} is not a recipe name (letters, digits, '_', '-', '.')")
    path = Path(args.output) if args.output else Path(f"{args.name}.toml")
    if path.exists():
        raise UserError(f"recipes new: {path} already exists (choose another name or --output)")
    text = STARTER.format(name=args.name, path=path)
    recipes.parse(text, str(path))  # the starter is a valid recipe, or this is a bug worth a traceback
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}: edit it, then `fanout run {path}`")
    return EXIT_OK
