"""A run's sources, from its flags and its recipe's `[search]` table: the provider's own web search, checked
against what each provider can do, and the user's files, indexed (stores/sources.py) and handed to the engine as a
retrieval function of plain data."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from fanout.core.errors import UserError
from fanout.stores.sources import IndexReport, SourceIndex
from fanout.strategies.citations import Passage
from fanout.strategies.recipe import Recipe
from fanout.strategies.recipe.model import SEARCH_CHOICES

from .routing import Targets


@dataclass
class Corpus:
    """The user's files of a run, indexed: `retrieve` is what the engine calls for each branch."""

    index: SourceIndex
    report: IndexReport

    def retrieve(self, query: str, top_k: int) -> list[Passage]:
        return [Passage(p.path, p.title, p.text, p.start_line, p.end_line, p.name)
                for p in self.index.search(query, top_k)]

    def close(self) -> None:
        self.index.close()


def wants_web(search: str | None, recipe: Recipe) -> bool:
    """`--search web|off` over the recipe's `[search] web`."""
    if search is not None and search not in SEARCH_CHOICES:
        raise UserError(f"--search must be one of {', '.join(SEARCH_CHOICES)}, not {search!r}")
    return recipe.search.web if search is None else search == "web"


def check_web(targets: Targets, recipe: Recipe, asked_by: str) -> None:
    """Every call that would search goes to a provider that can: else exit 2, naming it."""
    settings = [b.settings for b in recipe.branches if b.search]
    if recipe.plan is not None:
        settings.append(recipe.plan.branch_settings)
    for s in settings:
        name = targets.resolve(s).provider.name
        pc = targets.provider(name)[1]
        if not pc.searches_web:
            raise UserError(
                f"{asked_by}: provider {name!r} cannot search the web (only the anthropic kind and OpenAI's own "
                f"endpoint can, or a provider whose config says web_search = true); give the branches your own "
                f"files with --sources PATH instead, or choose another --provider"
            )


def corpus_paths(flags: Sequence[str], recipe: Recipe) -> list[str]:
    """`--sources` (as given, from the working folder) and the recipe's `sources` (from the recipe's folder), as
    absolute paths, each once."""
    recipe_file = Path(recipe.source)
    base = recipe_file.parent if recipe_file.is_file() else Path.cwd()
    paths = [os.path.abspath(os.path.expanduser(p)) for p in flags]
    paths += [os.path.abspath(base / os.path.expanduser(p)) for p in recipe.search.sources]
    return list(dict.fromkeys(paths))


def open_corpus(paths: Sequence[str]) -> Corpus | None:
    """The index of the files, brought up to date (a missing path or one with nothing to index is a UserError)."""
    if not paths:
        return None
    index = SourceIndex.open(paths)
    try:
        return Corpus(index, index.update())
    except BaseException:
        index.close()
        raise
