"""A generated corpus of a user's files for the sources index (tests/stores/test_sources.py, bench/sources_index.py).

Markdown notes with headings, plain text and Python files in nested folders, written from a fixed seed over a
made-up vocabulary (so a phrase planted in one file is found nowhere else), their mtimes an hour in the past:
a user's corpus is older than the index, and an mtime that recent would not be trusted.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from pathlib import Path

_SYLLABLES = "ka lo mi ne ru sa te vo zu pi da fe go hu ji ma no pe ri so tu va wi xe yo".split()
AN_HOUR_NS = 3600 * 1_000_000_000


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))))
    return sorted(words)


def _sentence(rng: random.Random, words: list[str], weights: list[float]) -> str:
    return " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(6, 18))).capitalize() + "."


def _paragraph(rng: random.Random, words: list[str], weights: list[float]) -> str:
    return " ".join(_sentence(rng, words, weights) for _ in range(rng.randint(2, 6)))


def _markdown(rng: random.Random, words: list[str], weights: list[float]) -> str:
    parts = [f"# {' '.join(rng.choices(words, k=3)).title()}"]
    for _ in range(rng.randint(2, 6)):
        parts.append(f"## {' '.join(rng.choices(words, k=2)).title()}")
        parts.extend(_paragraph(rng, words, weights) for _ in range(rng.randint(1, 4)))
    return "\n\n".join(parts) + "\n"


def _python(rng: random.Random, words: list[str], weights: list[float]) -> str:
    parts = [f'"""{_sentence(rng, words, weights)}"""']
    for _ in range(rng.randint(2, 6)):
        name, arg = rng.sample(words, 2)
        parts.append(f'def {name}({arg}):\n    """{_sentence(rng, words, weights)}"""\n    return {arg} * 2')
    return "\n\n\n".join(parts) + "\n"


def _text(rng: random.Random, words: list[str], weights: list[float]) -> str:
    return "\n\n".join(_paragraph(rng, words, weights) for _ in range(rng.randint(2, 8))) + "\n"


_KINDS = ((".md", _markdown), (".txt", _text), (".py", _python))


def write_corpus(root: Path, files: int = 2000, *, seed: int = 0, per_folder: int = 100) -> list[Path]:
    """`files` files under `root` (folders of `per_folder`), a third each Markdown, text and Python."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))  # Zipf, cumulative
    paths = []
    for i in range(files):
        suffix, make = _KINDS[i % len(_KINDS)]
        path = root / f"part{i // per_folder:03d}" / f"note{i:05d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make(rng, words, weights), encoding="utf-8")
        paths.append(path)
    backdate(*paths)
    return paths


def backdate(*paths: Path, ago_ns: int = AN_HOUR_NS) -> None:
    """Sets each file's mtime `ago_ns` in the past (a different past time makes a touch)."""
    when = time.time_ns() - ago_ns
    for path in paths:
        os.utime(path, ns=(when, when))


def plant(path: Path, sentence: str) -> int:
    """Inserts `sentence` as a paragraph in the middle of the file; returns its line number (1-based)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    at = len(lines) // 2
    lines[at:at] = ["", sentence, ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    backdate(path)
    return at + 2
