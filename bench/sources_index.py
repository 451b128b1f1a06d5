"""The local sources index (fanout.stores.sources): index time and retrieval time per query.

    python bench/sources_index.py [--files 2000] [--rounds 5] [--queries 100]

Two corpora, each copied into the benchmark's temporary FANOUT_HOME with mtimes an hour old (a user's files are
older than their index; an mtime as recent as the scan is read again on purpose):
- generated: --files files (Markdown with headings, plain text, Python; tests/support/corpus.py, seed 0);
- project: this repository's own Markdown files (README.md, bench/README.md, the recipes' notes, ...).
For each, every round starts from no index: first build (open + update), a second update on the unchanged
corpus, then an update after changing 10 files (1 for the project's few files). Then --queries searches
(top_k 6), each a sentence of one of the corpus's files with a branch prompt's boilerplate around it, as
a branch's title, brief and prompt would be: the time per query (median, p95) and how often that file is
among the six passages returned (hit@6).
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

import _common as C

sys.path.insert(0, str(C.ROOT / "tests" / "support"))
from corpus import backdate, plant, write_corpus  # noqa: E402

from fanout.stores.sources import SourceIndex  # noqa: E402

PROMPT = "Research this angle: {title}. Brief: {sentence} Give 3-5 specific findings with data points."
_SENTENCE = re.compile(r"[A-Z][^.!?\n]{30,200}[.!?]")


def project_corpus(dest: Path) -> list[Path]:
    files = []
    for src in sorted(C.ROOT.glob("**/*.md")):
        rel = src.relative_to(C.ROOT)
        if rel.parts[0].startswith(".") or rel.parts[:2] == ("bench", "results"):
            continue  # the venv's and generated results' Markdown are not the project's writing
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        files.append(target)
    backdate(*files)
    return files


def queries(files: list[Path], n: int, rng: random.Random) -> list[tuple[str, Path]]:
    """`n` (query, the file its sentence came from) pairs."""
    out: list[tuple[str, Path]] = []
    sentences = {f: _SENTENCE.findall(f.read_text(encoding="utf-8")) for f in files}
    usable = [f for f in files if sentences[f]]
    while len(out) < n:
        f = rng.choice(usable)
        out.append((PROMPT.format(title=f.stem.replace("_", " "), sentence=rng.choice(sentences[f])), f))
    return out


def timed_update(index: SourceIndex) -> tuple[float, object]:
    t0 = time.perf_counter()
    report = index.update()
    return time.perf_counter() - t0, report


def one_round(root: Path, files: list[Path], changed: int, rng: random.Random) -> dict:
    store = C.home() / "store"
    shutil.rmtree(store, ignore_errors=True)
    t0 = time.perf_counter()
    index = SourceIndex.open([str(root)], folder=store)
    build, first = timed_update(index)
    build_total = time.perf_counter() - t0
    again, second = timed_update(index)
    for f in rng.sample(files, changed):
        plant(f, f"A benchmark edit {rng.random()} changes this file.")
    after, third = timed_update(index)
    assert second.files_read == 0 and second.unchanged == first.files, second
    assert third.changed == changed and third.files_read == changed, third
    index.close()
    return {"first": build_total, "first_update_only": build, "unchanged": again, "after_change": after,
            "files": first.files, "passages": first.passages, "skipped": dict(first.skipped),
            "db_bytes": sum(p.stat().st_size for p in store.iterdir())}


def search_times(root: Path, qs: list[tuple[str, Path]]) -> dict:
    index = SourceIndex.open([str(root)], folder=C.home() / "store")
    index.update()
    times, hits = [], 0
    for text, source in qs:
        t0 = time.perf_counter()
        found = index.search(text, top_k=6)
        times.append(time.perf_counter() - t0)
        hits += any(p.path == str(source) for p in found)
    index.close()
    times.sort()
    return {"median": statistics.median(times), "p95": times[max(0, int(len(times) * 0.95) - 1)],
            "max": times[-1], "n": len(times), "hit_at_6": hits / len(qs)}


def measure(name: str, root: Path, files: list[Path], args: argparse.Namespace, changed: int) -> dict:
    rng = random.Random(1)
    rounds = [one_round(root, files, changed, rng) for _ in range(args.rounds)]
    per = {k: C.summary([r[k] for r in rounds]) for k in ("first", "unchanged", "after_change")}
    search = search_times(root, queries(files, args.queries, random.Random(2)))
    last = rounds[-1]
    return {"corpus": name, "files": last["files"], "passages": last["passages"], "skipped": last["skipped"],
            "changed": changed, "db_bytes": last["db_bytes"], "rounds": rounds, "index": per, "search": search}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--queries", type=int, default=100)
    args = p.parse_args()

    generated_root = C.home() / "generated"
    generated = write_corpus(generated_root, args.files)
    project_root = C.home() / "project"
    project = project_corpus(project_root)
    results = [
        measure(f"generated ({args.files} files)", generated_root, generated, args, changed=10),
        measure("project Markdown", project_root, project, args, changed=1),
    ]

    print(f"\nThe local sources index, {args.rounds} rounds each; machine: {C.machine_line()}\n")
    rows = []
    for r in results:
        ix, s = r["index"], r["search"]
        size = sum(f.stat().st_size for f in (generated if r is results[0] else project))
        rows.append([f"{r['corpus']}: {r['files']} files, {size / 2**20:.1f} MiB, {r['passages']} passages",
                     f"{ix['first']['median'] * 1000:.0f} (max {ix['first']['max'] * 1000:.0f})",
                     f"{ix['unchanged']['median'] * 1000:.0f} (max {ix['unchanged']['max'] * 1000:.0f})",
                     f"{ix['after_change']['median'] * 1000:.0f} ({r['changed']} changed)",
                     f"{s['median'] * 1000:.2f} / {s['p95'] * 1000:.2f}", f"{s['hit_at_6']:.0%}"])
    print(C.table(["corpus", "first build ms", "unchanged ms", "after change ms", "query median / p95 ms",
                   "hit@6"], rows))
    C.save("sources_index", {"args": vars(args), "results": results})
    C.cleanup_home()
    return 0


if __name__ == "__main__":
    sys.exit(main())
