"""The user's own sources: a full-text index of their files (SQLite FTS5, BM25 ranking), updated, not rebuilt.

`SourceIndex.open(paths)` names a corpus (folders, files, globs), `update()` brings its index up to date and
`search(text)` returns the passages that best match free text. The index is derived data, so it lives under
the cache folder: one database per distinct set of roots (the set, normalised, is hashed into the file name),
so two corpora never mix, and dropping one corpus's index is deleting one file.

An update reads a file only when its size or mtime changed since it was indexed (then its hash says whether it
really did), or when its mtime was too recent to trust (a file written in the same tick as the index, as git's
"racily clean" rule has it). A store that cannot be written never stops a run: the index is then built in memory
and the report says why.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import sqlite3
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping, NamedTuple, Sequence

from fanout.core.errors import UserError
from fanout.core.paths import cache_dir, private_dir
from fanout.core.text import strip_controls

SCHEMA = 1
PASSAGE_WORDS = 240  # a passage's most words: six of them still fit the embedded model's 4,096-token context
_MIN_SECTION_WORDS = 60  # below this a heading does not close a passage: tiny sections join the next
MAX_FILE_BYTES = 4 * 1024 * 1024
_RACY_NS = 2_000_000_000  # an mtime this close to the scan is not trusted (FAT and some network mounts: 2 s)
_MAX_QUERY_TERMS = 64
_TOKENIZER = "porter unicode61 remove_diacritics 2"
_BM25 = "bm25(passages, 4.0, 2.0, 1.0)"  # column weights: title, name (the path in its folder), body

MARKDOWN = frozenset({".md", ".markdown", ".mdx", ".mkd"})
TEXT_SUFFIXES = MARKDOWN | frozenset(
    ".txt .text .rst .adoc .org .tex .csv .tsv .log .ini .cfg .conf .toml .yaml .yml .json .jsonl .xml .html .htm"
    " .css .scss .sql .graphql .proto .py .pyi .ipynb .js .jsx .mjs .cjs .ts .tsx .vue .svelte .go .rs .java .kt"
    " .kts .scala .swift .c .h .cc .cpp .cxx .hh .hpp .cs .m .mm .rb .php .pl .pm .lua .r .jl .ex .exs .erl .hs"
    " .ml .mli .fs .clj .dart .zig .nim .sh .bash .zsh .fish .ps1 .bat .make .mk .cmake .gradle .tf .nix".split()
)
TEXT_NAMES = frozenset({"readme", "license", "changelog", "makefile", "dockerfile", "notes", "todo"})
_PRUNED_DIRS = frozenset({"node_modules", "__pycache__"})  # and every hidden folder (.git, .venv, ...)

# Why a file is not indexed: the keys of IndexReport.skipped.
BINARY, EMPTY, PDF, TOO_LARGE, UNREADABLE, OTHER_TYPE = (
    "binary", "empty", "pdf (no PDF reader installed)", "too large", "unreadable", "not a text type",
)

_STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just let me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up use
    used using very was we were what when where which while who whom why will with would you your yours
    yourself yourselves give given list make may might must per shall via etc""".split()
)
_TERM = re.compile(r"[^\W_]+")  # letters and digits: underscores and punctuation split, as FTS5's tokenizer does


def _fts5_problem() -> str | None:
    try:
        with closing(sqlite3.connect(":memory:")) as con:
            con.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{_TOKENIZER}')")
    except sqlite3.Error as err:
        return (
            f"this Python's SQLite ({sqlite3.sqlite_version}) has no FTS5 full-text search ({err}), which the "
            "sources index needs: use a Python whose sqlite3 has it (python.org, Debian and Homebrew builds do)"
        )
    return None


FTS5_PROBLEM = _fts5_problem()  # checked once, at import; SourceIndex.open raises it as a UserError


@dataclass(frozen=True)
class Passage:
    """A chunk of one file that matched a query. `score` is BM25's, higher is better (FTS5's bm25() negated)."""

    id: int  # the passage's row: stable while its file is unchanged, so two branches' hits can be deduplicated
    path: str  # absolute
    title: str  # the file's first Markdown heading, or its file name
    text: str  # the passage, terminal controls removed
    start_line: int
    end_line: int
    score: float
    name: str = ""  # the path in its folder (as given in the corpus): what a prompt names it by, wherever it runs


@dataclass(frozen=True)
class IndexReport:
    """What an update did. The counts are of files; `skipped` counts every file of the corpus left out, by reason,
    whether it was looked at this time or remembered."""

    roots: tuple[str, ...]
    files: int  # files in the index now
    passages: int
    added: int
    changed: int
    removed: int
    unchanged: int
    files_read: int  # contents read this update (0 on an unchanged corpus)
    skipped: Mapping[str, int]
    seconds: float
    store: str | None  # the database file; None when the index is in memory
    store_note: str | None = None  # why it is in memory

    @property
    def skipped_binary(self) -> int:
        return self.skipped.get(BINARY, 0)

    @property
    def persisted(self) -> bool:
        return self.store is not None

    def summary(self) -> str:
        parts = [f"{self.files:,} files, {self.passages:,} passages in {self.seconds:.2f} s",
                 f"{self.added} added, {self.changed} changed, {self.removed} removed, {self.unchanged} unchanged"]
        if self.skipped:
            parts.append("skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())))
        if self.store_note:
            parts.append(self.store_note)
        return "; ".join(parts)


# ---- the corpus: which files, from which roots ---------------------------------------------------------------


@dataclass(frozen=True)
class _Root:
    given: str  # as the user wrote it: what messages name
    spec: str  # absolute: what the database key is made of
    is_glob: bool


@dataclass
class _Corpus:
    files: dict[str, str] = field(default_factory=dict)  # path -> its name for search (relative to its folder)
    left_out: dict[str, str] = field(default_factory=dict)  # path -> why, decided by its name (PDFs, other types)
    members: dict[str, list[str]] = field(default_factory=dict)  # root as given -> every file it holds

    def add(self, root: _Root, path: str, name: str, left_out: str | None = None) -> None:
        self.members.setdefault(root.given, []).append(path)
        if left_out or path.lower().endswith(".pdf"):
            self.left_out[path] = left_out or PDF
        else:
            self.files.setdefault(path, name)


def _roots(paths: Iterable[str]) -> list[_Root]:
    roots: dict[str, _Root] = {}
    for given in paths:
        spec = os.path.abspath(os.path.expanduser(given))
        roots.setdefault(spec, _Root(given, spec, glob.has_magic(given)))
    if not roots:
        raise UserError("no sources given: name a folder, a file or a glob")
    return sorted(roots.values(), key=lambda r: r.spec)


def _is_text_name(name: str) -> bool:
    stem, suffix = os.path.splitext(name.lower())
    return suffix in TEXT_SUFFIXES or (not suffix and stem in TEXT_NAMES)


def _walk(corpus: _Corpus, root: _Root, folder: str) -> None:
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _PRUNED_DIRS)
        for name in sorted(names):
            if name.startswith("."):
                continue  # hidden files (.env, .DS_Store) are not the user's writing, and may hold secrets
            path = os.path.join(here, name)
            known = name.lower().endswith(".pdf") or _is_text_name(name)
            corpus.add(root, path, os.path.relpath(path, folder), None if known else OTHER_TYPE)


def _collect(roots: Sequence[_Root]) -> _Corpus:
    """Every file of the corpus. A file named directly (or matched by a glob) is judged by its content, whatever
    its extension; inside a folder, by its extension first."""
    corpus = _Corpus()
    for root in roots:
        matches = sorted(glob.glob(root.spec, recursive=True)) if root.is_glob else [root.spec]
        if root.is_glob and not matches:
            raise UserError(f"{root.given}: matches no file (for the sources)")
        for match in matches:
            if os.path.isdir(match):
                _walk(corpus, root, match)
            elif os.path.isfile(match):
                corpus.add(root, match, os.path.basename(match))
            elif not root.is_glob:
                raise UserError(f"{root.given}: no such file or folder (for the sources)")
    return corpus


# ---- a file's text: read, sniffed, titled and cut into passages ----------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """A passage as cut from a file: lines `start`..`end` (1-based, inclusive)."""

    start: int
    end: int
    text: str
    words: int
    heading: bool = False


def decode_text(data: bytes) -> str | None:
    """The text of a file's bytes, or None for a binary file (a NUL byte, or not UTF-8)."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None


_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _markdown_headings(lines: Sequence[str]) -> list[bool]:
    """Which lines are ATX headings (not the `# comment` lines inside a code fence)."""
    flags, fenced = [], False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        flags.append(not fenced and bool(_HEADING.match(line)))
    return flags


def title_of(lines: Sequence[str], headings: Sequence[bool], path: str) -> str:
    for line, heading in zip(lines, headings):
        if heading:
            title = _HEADING.match(line).group(1).strip()  # type: ignore[union-attr]
            if title:
                return strip_controls(title)[:200]
    return os.path.basename(path)


def _blocks(lines: Sequence[str], headings: Sequence[bool]) -> list[Chunk]:
    """Paragraphs (runs of non-blank lines), a heading always starting its own."""
    blocks: list[Chunk] = []
    start = None
    for i, line in enumerate([*lines, ""]):
        is_heading = i < len(lines) and headings[i]
        if start is not None and (not line.strip() or is_heading):
            body = lines[start:i]
            blocks.append(Chunk(start + 1, i, "\n".join(body), sum(len(x.split()) for x in body), headings[start]))
            start = None
        if start is None and line.strip():
            start = i
    return blocks


def _fit(block: Chunk, max_words: int) -> Iterable[Chunk]:
    """A block cut to at most `max_words`: at line ends, and a line longer than that (minified code) at words."""
    if block.words <= max_words:
        yield block
        return
    piece: list[str] = []
    count = 0
    for number, line in enumerate(block.text.split("\n"), block.start):
        words = line.split()
        if piece and (count + len(words) > max_words or len(words) > max_words):
            yield Chunk(number - len(piece), number - 1, "\n".join(piece), count)
            piece, count = [], 0
        if len(words) > max_words:
            yield from _fit_words(words, number, max_words)
        else:
            piece.append(line)
            count += len(words)
    if piece:
        yield Chunk(block.end - len(piece) + 1, block.end, "\n".join(piece), count)


def _fit_words(words: Sequence[str], line: int, max_words: int) -> Iterable[Chunk]:
    for i in range(0, len(words), max_words):
        part = words[i : i + max_words]
        yield Chunk(line, line, " ".join(part), len(part))


def _lines(text: str, markdown: bool) -> tuple[list[str], list[bool]]:
    """The lines as an editor numbers them (at \\n only), and which are headings."""
    lines = text.replace("\r\n", "\n").split("\n")
    return lines, _markdown_headings(lines) if markdown else [False] * len(lines)


def split_passages(text: str, *, markdown: bool, max_words: int = PASSAGE_WORDS) -> list[Chunk]:
    """Passages of about `max_words` at most, cut at paragraph ends and (in Markdown) before a heading, a heading
    kept with what follows it."""
    lines, headings = _lines(text, markdown)
    passages: list[Chunk] = []
    current: list[Chunk] = []

    def flush(keep: list[Chunk]) -> None:
        if current:
            passages.append(Chunk(current[0].start, current[-1].end, "\n\n".join(c.text for c in current),
                                   sum(c.words for c in current)))
        current[:] = keep

    for block in (piece for b in _blocks(lines, headings) for piece in _fit(b, max_words)):
        words = sum(c.words for c in current)
        if current and words + block.words > max_words:
            tail = [current.pop()] if current[-1].heading and len(current) > 1 else []  # no heading left orphaned
            flush(tail)
        elif current and block.heading and words >= _MIN_SECTION_WORDS:
            flush([])
        current.append(block)
    flush([])
    return passages


# ---- queries ---------------------------------------------------------------------------------------------------


def query_terms(text: str) -> list[str]:
    """The distinct words of free text worth searching for: stop words and single letters dropped."""
    seen: dict[str, None] = {}
    for term in _TERM.findall(text.lower()):
        if term not in _STOP_WORDS and (len(term) > 1 or term.isdigit()):
            seen.setdefault(term, None)
    return list(seen)[:_MAX_QUERY_TERMS]


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression for free text: each term quoted (so `AND`, `*`, `"` or `NEAR(` are words, never
    syntax), ORed so that BM25 ranks by how many and how rare; None when nothing is left to search for."""
    terms = query_terms(text)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms) if terms else None


# ---- the database ------------------------------------------------------------------------------------------------

_TABLES = f"""
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, title TEXT NOT NULL, skipped TEXT, trusted INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY AUTOINCREMENT, file_id INTEGER NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_id);
CREATE VIRTUAL TABLE IF NOT EXISTS passages USING fts5(title, name, body, tokenize='{_TOKENIZER}');
"""


def _settings(max_words: int) -> str:
    return f"schema {SCHEMA}; tokenizer {_TOKENIZER}; passage words {max_words}"


def _prepare(con: sqlite3.Connection, max_words: int) -> None:
    """Creates the tables, or empties them when they were built with other settings (the index is derived)."""
    con.executescript(_TABLES)
    row = con.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
    if row is None or row[0] != _settings(max_words):
        with con:
            for table in ("files", "chunks", "passages"):
                con.execute(f"DELETE FROM {table}")
            con.execute("INSERT OR REPLACE INTO meta VALUES ('settings', ?)", (_settings(max_words),))


# How long an update waits for another process updating the same corpus before it indexes in memory instead: that
# process's whole transaction (thousands of files on a busy machine), not a moment.
LOCK_WAIT = 120.0


def _connect_file(path: Path, roots: Sequence[_Root], max_words: int) -> sqlite3.Connection:
    private_dir(path.parent)
    for attempt in (1, 2):
        con = sqlite3.connect(path, timeout=LOCK_WAIT, check_same_thread=False, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            _prepare(con, max_words)
            with con:
                con.execute("INSERT OR REPLACE INTO meta VALUES ('roots', ?)", ("\n".join(r.spec for r in roots),))
            return con
        except sqlite3.DatabaseError as err:
            con.close()
            if attempt == 2 or not ("not a database" in str(err) or "malformed" in str(err)):
                raise
            for suffix in ("", "-wal", "-shm"):  # a damaged index is derived data: start it again
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    raise AssertionError("unreachable")


def _connect_memory(max_words: int) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    _prepare(con, max_words)
    return con


def store_path(paths: Sequence[str], folder: Path | None = None) -> Path:
    """The database that holds the index of this set of roots (order and repeats do not matter)."""
    key = hashlib.sha256("\n".join(r.spec for r in _roots(paths)).encode()).hexdigest()[:20]
    return (folder or cache_dir() / "sources") / f"{key}.sqlite3"


# ---- the index -----------------------------------------------------------------------------------------------------


class _Known(NamedTuple):
    """A file's row in the index: what it was when last read."""

    path: str
    id: int
    size: int
    mtime_ns: int
    sha256: str
    skipped: str | None  # why it is not indexed (binary, empty); None when it is
    trusted: int  # 0: its mtime was too recent to trust, so the next update reads it again


@dataclass
class _Tally:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    files_read: int = 0
    outcomes: dict[str, str | None] = field(default_factory=dict)  # path -> why it is skipped; None: indexed


class SourceIndex:
    """The index of one corpus. Safe to search from several threads (one connection, behind a lock)."""

    def __init__(self, roots: list[_Root], store: Path, max_words: int, max_file_bytes: int) -> None:
        self.roots = tuple(r.given for r in roots)
        self._roots = roots
        self._max_words = max_words
        self._max_file_bytes = max_file_bytes
        self._lock = threading.Lock()
        self.store: Path | None = store
        self.store_note: str | None = None
        try:
            self._con = _connect_file(store, roots, max_words)
        except (sqlite3.Error, OSError) as err:
            self._to_memory(err)

    @classmethod
    def open(
        cls, paths: Sequence[str], *, folder: Path | None = None, max_words: int = PASSAGE_WORDS,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> "SourceIndex":
        """The index of the corpus `paths` (folders, files, globs) under `folder` (default: the cache's
        `sources/`). Nothing is read yet: `update()` does that. A missing path is a UserError naming it."""
        if FTS5_PROBLEM:
            raise UserError(FTS5_PROBLEM)
        roots = _roots(paths)
        for root in roots:
            if root.is_glob and next(glob.iglob(root.spec, recursive=True), None) is None:
                raise UserError(f"{root.given}: matches no file (for the sources)")
            if not root.is_glob and not os.path.exists(root.spec):
                raise UserError(f"{root.given}: no such file or folder (for the sources)")
        return cls(roots, store_path(paths, folder), max_words, max_file_bytes)

    def _to_memory(self, err: BaseException) -> None:
        if getattr(self, "_con", None) is not None:
            self._con.close()
        self.store_note = f"source index {self.store} unavailable ({err}); indexed in memory for this run"
        self.store = None
        self._con = _connect_memory(self._max_words)

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> "SourceIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- update --

    def update(self) -> IndexReport:
        """Brings the index up to date with the files: new ones added, changed ones re-indexed, gone ones removed.
        A corpus root with no text file in it is a UserError naming it."""
        started = time.perf_counter()
        corpus = _collect(self._roots)
        with self._lock:
            try:
                tally = self._update(corpus)
            except sqlite3.DatabaseError as err:
                if self.store is None:
                    raise
                self._to_memory(err)  # a disk that filled up or a folder made read-only mid-way
                tally = self._update(corpus)
            files, passages = self._con.execute(
                "SELECT (SELECT count(*) FROM files WHERE skipped IS NULL), (SELECT count(*) FROM chunks)"
            ).fetchone()
        outcomes = {**corpus.left_out, **tally.outcomes}
        self._check_roots(corpus, outcomes)
        return IndexReport(
            roots=self.roots, files=files, passages=passages, added=tally.added, changed=tally.changed,
            removed=tally.removed, unchanged=tally.unchanged, files_read=tally.files_read,
            skipped=MappingProxyType(dict(Counter(why for why in outcomes.values() if why))),
            seconds=time.perf_counter() - started, store=str(self.store) if self.store else None,
            store_note=self.store_note,
        )

    def _check_roots(self, corpus: _Corpus, outcomes: Mapping[str, str | None]) -> None:
        for root in self._roots:
            held = corpus.members.get(root.given, [])
            reasons = Counter(outcomes[path] for path in held)
            if None not in reasons:
                why = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
                what = f"of its {len(held)} files: {why}" if held else "it holds no file"
                raise UserError(f"{root.given}: nothing to index ({what}; for the sources)")

    def _update(self, corpus: _Corpus) -> _Tally:
        con, tally = self._con, _Tally()
        scan_ns = time.time_ns()
        con.execute("BEGIN IMMEDIATE")  # another process updating the same corpus finishes first; we see its rows
        try:
            known = {row[0]: _Known(*row) for row in con.execute(
                f"SELECT {', '.join(_Known._fields)} FROM files")}
            for path, name in corpus.files.items():
                tally.outcomes[path] = self._refresh(path, name, known.get(path), scan_ns, tally)
            for path in known.keys() - corpus.files.keys():
                self._forget(known[path].id)
                tally.removed += 1
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:  # SQLite may have rolled back already (a full disk does)
                con.execute("ROLLBACK")
            raise
        return tally

    def _refresh(self, path: str, name: str, row: _Known | None, scan_ns: int, tally: _Tally) -> str | None:
        """Brings one file's rows up to date; returns why it is skipped, or None when it is indexed."""
        try:
            st = os.stat(path)
        except OSError:
            return UNREADABLE
        if st.st_size > self._max_file_bytes:
            if row:
                self._forget(row.id)
            return TOO_LARGE
        trusted = int(st.st_mtime_ns < scan_ns - _RACY_NS)
        if row and row.size == st.st_size and row.mtime_ns == st.st_mtime_ns and row.trusted:
            tally.unchanged += row.skipped is None
            return row.skipped
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return UNREADABLE
        tally.files_read += 1
        digest = hashlib.sha256(data).hexdigest()
        if row and row.sha256 == digest:  # touched, or its mtime was not trusted: same content, not re-indexed
            self._con.execute("UPDATE files SET size = ?, mtime_ns = ?, trusted = ? WHERE id = ?",
                              (st.st_size, st.st_mtime_ns, trusted, row.id))
            tally.unchanged += row.skipped is None
            return row.skipped
        if row:
            self._forget(row.id)
        skipped = self._index(path, name, data, digest, st, trusted)
        if skipped is None:
            if row and row.skipped is None:
                tally.changed += 1
            else:
                tally.added += 1
        return skipped

    def _index(self, path: str, name: str, data: bytes, digest: str, st: os.stat_result, trusted: int) -> str | None:
        text = decode_text(data)
        passages = [] if text is None else split_passages(text, markdown=_is_markdown(path), max_words=self._max_words)
        skipped = BINARY if text is None else (EMPTY if not passages else None)
        title = title_of(*_lines(text, _is_markdown(path)), path) if text is not None and passages else ""
        file_id = self._con.execute(
            "INSERT INTO files(path, size, mtime_ns, sha256, title, skipped, trusted) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (path, st.st_size, st.st_mtime_ns, digest, title, skipped, trusted),
        ).lastrowid
        for chunk in passages:
            chunk_id = self._con.execute(
                "INSERT INTO chunks(file_id, start_line, end_line) VALUES (?, ?, ?)", (file_id, chunk.start, chunk.end)
            ).lastrowid
            self._con.execute("INSERT INTO passages(rowid, title, name, body) VALUES (?, ?, ?, ?)",
                              (chunk_id, title, name, strip_controls(chunk.text)))
        return skipped

    def _forget(self, file_id: int) -> None:
        self._con.execute("DELETE FROM passages WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?)", (file_id,))
        self._con.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
        self._con.execute("DELETE FROM files WHERE id = ?", (file_id,))

    # -- search --

    def search(self, query: str, top_k: int = 6) -> list[Passage]:
        """The `top_k` passages that best match free text (a branch's title, brief and prompt), best first. Text
        with no searchable word (only stop words or punctuation) finds nothing."""
        match = fts_query(query)
        if match is None or top_k <= 0:
            return []
        with self._lock:
            rows = self._con.execute(
                f"""SELECT p.rowid, f.path, f.title, p.body, c.start_line, c.end_line, {_BM25} AS s, p.name
                    FROM passages p JOIN chunks c ON c.id = p.rowid JOIN files f ON f.id = c.file_id
                    WHERE passages MATCH ? ORDER BY s LIMIT ?""",
                (match, top_k),
            ).fetchall()
        return [Passage(id, path, title, text, start, end, -score, name)
                for id, path, title, text, start, end, score, name in rows]


def _is_markdown(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in MARKDOWN
