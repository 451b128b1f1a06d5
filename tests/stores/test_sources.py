"""The local sources index (fanout.stores.sources) on generated corpora: the right file found among 2,000, updates
that read only what changed, binary, empty and missing inputs, free text that is never query syntax, and a home
that cannot be written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from corpus import backdate, plant, write_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanout.core.errors import UserError
from fanout.stores import sources
from fanout.stores.sources import BINARY, EMPTY, OTHER_TYPE, PDF, SourceIndex, split_passages

PHRASE = "The quokka ledger reconciles its brass abacus at midnight."


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("FANOUT_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """2,000 generated files, the phrase planted in one, indexed once for every test that searches it."""
    root = tmp_path_factory.mktemp("big")
    paths = write_corpus(root / "notes")
    line = plant(paths[1234], PHRASE)
    index = SourceIndex.open([str(root / "notes")], folder=root / "store")
    report = index.update()
    yield index, report, paths[1234], line
    index.close()


def small(root: Path, files: int = 12) -> list[Path]:
    return write_corpus(root, files, per_folder=5)


def ids_of(index: SourceIndex, path: Path) -> set[int]:
    return {p.id for p in index.search(path.read_text(), top_k=1000) if p.path == str(path)}


# ---- finding the right file ---------------------------------------------------------------------------------------


def test_the_planted_phrase_is_found_among_2000_files(big):
    index, report, planted, line = big
    assert (report.files, report.added, report.files_read) == (2000, 2000, 2000)
    assert report.persisted and Path(report.store).is_file()
    hits = index.search("Branch: ledger audits. Brief: when does the quokka reconcile the abacus?")
    best = hits[0]
    assert best.path == str(planted)
    assert best.start_line <= line <= best.end_line and PHRASE in best.text
    assert planted.read_text().split("\n")[line - 1] == PHRASE
    assert best.score > 0 and all(best.score > other.score for other in hits[1:])


def test_top_k_and_a_query_of_common_words(big):
    index, _, planted, _ = big
    text = planted.read_text()
    assert len(index.search(text, top_k=3)) == 3
    assert len(index.search(text, top_k=50)) == 50
    assert index.search(text, top_k=0) == []


WEIRD = [
    '"', '""', '"quokka', 'quokka"', "AND", "OR NOT", "*", "quokka*", "NEAR(quokka ledger)", "^quokka", "title:quokka",
    "(((", ")", "{quokka}", "'; DROP TABLE files; --", "-quokka", "quokka + ledger", "quokka\x00ledger", "\x1b[31m",
    "", "   ", "...", "🦘 quokka", "quokka_ledger", "QUOKKA", "the and of", "a", "日本語", "café",
]


@pytest.mark.parametrize("text", WEIRD)
def test_user_text_is_never_query_syntax(big, text):
    index, _, planted, _ = big
    hits = index.search(text)
    wants_quokka = "quokka" in text.lower()
    assert [h.path for h in hits[:1]] == ([str(planted)] if wants_quokka else [])


def test_operators_are_words_and_terms_are_ored(big):
    index, _, planted, _ = big
    # "AND"/"NOT" would be operators and "ledger NOT quokka" would exclude the file: both are words here
    assert index.search("quokka NOT ledger")[0].path == str(planted)
    assert index.search("quokka zzzunknownword")[0].path == str(planted)  # OR: one missing word excludes nothing


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_any_text_searches_without_error(big, text):
    hits = big[0].search(text)
    if not sources.query_terms(text):
        assert hits == []
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_accents_and_other_scripts(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "trip.md").write_text("# Trip\n\nWe met at the Café Zürich near the station.\n")
    (notes / "jp.txt").write_text("東京 の 日本語 教室 について\n")
    index = SourceIndex.open([str(notes)])
    index.update()
    assert [h.path for h in index.search("cafe zurich")] == [str(notes / "trip.md")]
    assert [h.path for h in index.search("日本語")] == [str(notes / "jp.txt")]


# ---- passages -------------------------------------------------------------------------------------------------


def test_passages_follow_headings_and_paragraphs():
    para = " ".join(["word"] * 50)
    text = "\n".join([
        "```sh", "# not a heading: a comment in a fence", "```", "",
        "# Title", "", para, "", para, "",
        "## Second", para, "", para, "", "## Third", "", "A short closing paragraph of ten words, no more.", "",
    ])
    chunks = split_passages(text, markdown=True, max_words=120)
    lines = text.split("\n")
    starts = [lines[c.start - 1] for c in chunks]
    assert starts == ["```sh", "## Second", "## Third"]  # the 60-word floor joins the fence to the first section
    for c in chunks:
        assert c.text.replace("\n\n", "\n") == "\n".join(x for x in lines[c.start - 1 : c.end] if x)
    assert sources.title_of(lines, sources._markdown_headings(lines), "x.md") == "Title"
    assert split_passages(text, markdown=False, max_words=120)[0].start == 1  # no headings in plain text


def test_long_paragraphs_and_lines_are_cut():
    block = "\n".join(" ".join([f"w{i}"] * 30) for i in range(10))  # one 300-word paragraph of 10 lines
    chunks = split_passages(block + "\n\n" + " ".join(["long"] * 250), markdown=False, max_words=100)
    assert [(c.start, c.end) for c in chunks] == [(1, 3), (4, 6), (7, 9), (10, 10), (12, 12), (12, 12), (12, 12)]
    assert all(c.words <= 100 for c in chunks) and sum(c.words for c in chunks) == 550


def test_a_heading_is_not_left_at_the_end_of_a_passage():
    short, long = " ".join(["word"] * 50), " ".join(["word"] * 60)
    text = f"{short}\n\n## Next\n\n{long}\n"
    chunks = split_passages(text, markdown=True, max_words=100)  # the heading comes under the 60-word floor
    assert [c.text.split("\n")[0] for c in chunks] == [short, "## Next"]


def test_terminal_controls_never_reach_a_passage(tmp_path):
    notes = tmp_path / "log.txt"
    notes.write_text("build \x1b[31mfailed\x1b[0m on the \x1b]0;title\x07zebra host\n")
    index = SourceIndex.open([str(notes)])
    index.update()
    [hit] = index.search("zebra")
    assert "\x1b" not in hit.text and "\x07" not in hit.text and "failed" in hit.text


# ---- incremental updates --------------------------------------------------------------------------------------


def test_updates_read_only_what_changed(tmp_path):
    paths = small(tmp_path / "notes")
    index = SourceIndex.open([str(tmp_path / "notes")])
    first = index.update()
    assert (first.added, first.files, first.files_read) == (12, 12, 12)

    again = index.update()
    assert (again.added, again.changed, again.removed, again.unchanged, again.files_read) == (0, 0, 0, 12, 0)

    before = ids_of(index, paths[0])
    backdate(paths[0], ago_ns=2 * 3600 * 10**9)  # touched: read to compare hashes, not re-indexed
    touched = index.update()
    assert (touched.changed, touched.unchanged, touched.files_read) == (0, 12, 1)
    assert ids_of(index, paths[0]) == before and before

    plant(paths[1], PHRASE)
    gone = paths[2].read_text()
    paths[2].unlink()
    new = tmp_path / "notes" / "part000" / "new.md"
    new.write_text("# New\n\nA wombat registry appeared.\n")
    backdate(new)
    moved = index.update()
    assert (moved.added, moved.changed, moved.removed, moved.unchanged, moved.files_read) == (1, 1, 1, 10, 2)
    assert [h.path for h in index.search("quokka")] == [str(paths[1])]
    assert [h.path for h in index.search("wombat")] == [str(new)]
    assert index.search(gone) and all(h.path != str(paths[2]) for h in index.search(gone, top_k=100))
    assert moved.files == 12


def test_a_removed_file_leaves_the_index(tmp_path):
    notes = tmp_path / "notes"
    small(notes, 3)
    extra = notes / "gone.md"
    extra.write_text("# Gone\n\nThe platypus archive.\n")
    backdate(extra)
    index = SourceIndex.open([str(notes)])
    index.update()
    assert index.search("platypus")
    extra.unlink()
    assert index.update().removed == 1
    assert index.search("platypus") == []


def test_a_reopened_index_is_not_rebuilt(tmp_path):
    small(tmp_path / "notes")
    with SourceIndex.open([str(tmp_path / "notes")]) as index:
        index.update()
    with SourceIndex.open([str(tmp_path / "notes")]) as index:
        report = index.update()
    assert (report.unchanged, report.files_read, report.added) == (12, 0, 0)


def test_an_edit_in_the_same_tick_as_the_index_is_caught(tmp_path):
    """Same size, same mtime, other content: only possible when the file was written just before it was indexed,
    which is why such an mtime is not trusted until a later update has read the file again."""
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe heron sleeps.\n")
    mtime = note.stat().st_mtime_ns
    index = SourceIndex.open([str(note)])
    index.update()
    note.write_text("# Note\n\nThe egret sleeps.\n")
    os.utime(note, ns=(mtime, mtime))
    assert note.stat().st_size == len("# Note\n\nThe heron sleeps.\n")
    report = index.update()
    assert report.changed == 1
    assert index.search("egret") and not index.search("heron")


def test_changed_settings_rebuild_the_index(tmp_path):
    small(tmp_path / "notes", 3)
    SourceIndex.open([str(tmp_path / "notes")]).update()
    report = SourceIndex.open([str(tmp_path / "notes")], max_words=50).update()
    assert (report.added, report.files_read) == (3, 3)


def test_two_corpora_never_mix(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.md").write_text("The ibis index.\n")
    (tmp_path / "b" / "y.md").write_text("The kudu catalogue.\n")
    a = SourceIndex.open([str(tmp_path / "a")])
    b = SourceIndex.open([str(tmp_path / "b")])
    a.update()
    b.update()
    assert a.store != b.store
    assert a.search("kudu") == [] and b.search("ibis") == []
    both = SourceIndex.open([str(tmp_path / "b"), str(tmp_path / "a"), str(tmp_path / "b") + "/"])
    assert both.store == SourceIndex.open([str(tmp_path / "a"), str(tmp_path / "b")]).store
    assert both.store not in (a.store, b.store)


def test_globs_files_and_overlapping_roots(tmp_path):
    paths = small(tmp_path / "notes", 6)  # part000: note 0.md 1.txt 2.py 3.md 4.txt; part001: note 5.py
    for path, animal in zip(paths, ["ant", "bee", "cat", "dog", "eel", "fox"]):
        plant(path, f"The {animal}{animal} marker.")
    index = SourceIndex.open([
        str(tmp_path / "notes" / "**" / "*.md"), str(paths[1]), str(tmp_path / "notes" / "part001"), str(paths[5]),
    ])
    report = index.update()  # the last root lies inside the folder before it: both hold a file to index
    assert report.files == 4
    found = {animal for animal in ["ant", "bee", "cat", "dog", "eel", "fox"] if index.search(animal * 2)}
    assert found == {"ant", "bee", "dog", "fox"}


# ---- what is not indexed --------------------------------------------------------------------------------------------


def test_binary_empty_and_other_files_are_skipped_and_counted(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "real.md").write_text("# Real\n\nThe gecko notes.\n")
    (notes / "nul.txt").write_bytes(b"gecko\x00\x01\x02 binary")
    (notes / "latin1.md").write_bytes("gecko café".encode("latin-1"))
    (notes / "empty.md").write_text("")
    (notes / "blank.txt").write_text("  \n\n\t\n")
    (notes / "paper.pdf").write_bytes(b"%PDF-1.7 gecko")
    (notes / "photo.png").write_bytes(b"\x89PNG gecko")
    (notes / ".env").write_text("GECKO_KEY=secret\n")
    (notes / ".git").mkdir()
    (notes / ".git" / "HEAD.md").write_text("gecko\n")
    (notes / "node_modules").mkdir()
    (notes / "node_modules" / "x.md").write_text("gecko\n")
    backdate(*notes.rglob("*"))  # an mtime as recent as the index is not trusted: these are older
    index = SourceIndex.open([str(notes)])
    report = index.update()
    assert report.files == 1 and report.skipped_binary == 2
    assert dict(report.skipped) == {BINARY: 2, EMPTY: 2, PDF: 1, OTHER_TYPE: 1}
    assert [h.path for h in index.search("gecko")] == [str(notes / "real.md")]
    again = index.update()  # remembered, not read again
    assert again.files_read == 0 and dict(again.skipped) == dict(report.skipped)


def test_a_named_file_is_judged_by_its_content(tmp_path):
    odd = tmp_path / "notes.weird"
    odd.write_text("The tapir protocol.\n")
    index = SourceIndex.open([str(odd)])
    assert index.update().files == 1 and index.search("tapir")[0].path == str(odd)


def test_a_too_large_file_is_skipped(tmp_path):
    small(tmp_path / "notes", 2)
    big = tmp_path / "notes" / "dump.txt"
    big.write_text("the okapi " * 20_000)
    index = SourceIndex.open([str(tmp_path / "notes")], max_file_bytes=100_000)
    report = index.update()
    assert report.skipped == {sources.TOO_LARGE: 1} and index.search("okapi") == []


@pytest.mark.parametrize("make, message", [
    (lambda d: [str(d), str(d / "nowhere")], "nowhere: no such file or folder"),
    (lambda d: [str(d / "*.nothing")], "*.nothing: matches no file"),
    (lambda d: [], "no sources given"),
])
def test_a_missing_path_is_named_when_opening(tmp_path, make, message):
    with pytest.raises(UserError, match=re.escape(message)) as err:
        SourceIndex.open(make(tmp_path))
    assert err.value.exit_code == 2


def test_a_glob_that_no_longer_matches_is_named(tmp_path):
    (tmp_path / "a.md").write_text("The lemur note.\n")
    index = SourceIndex.open([str(tmp_path / "*.md")])
    (tmp_path / "a.md").unlink()
    with pytest.raises(UserError, match=re.escape("*.md: matches no file")):
        index.update()


def test_a_path_that_disappears_before_the_update_is_named(tmp_path):
    small(tmp_path / "notes", 2)
    index = SourceIndex.open([str(tmp_path / "notes")])
    shutil.rmtree(tmp_path / "notes")
    with pytest.raises(UserError, match="notes: no such file or folder"):
        index.update()


def test_a_corpus_with_nothing_to_index_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "a.txt").write_bytes(b"\x00\x01")
    (tmp_path / "bin" / "b.png").write_bytes(b"\x89PNG")
    small(tmp_path / "good", 2)
    with pytest.raises(UserError, match=r"empty: nothing to index \(it holds no file"):
        SourceIndex.open([str(tmp_path / "empty")]).update()
    with pytest.raises(UserError, match=r"bin: nothing to index \(of its 2 files: 1 binary, 1 not a text type;"):
        SourceIndex.open([str(tmp_path / "good"), str(tmp_path / "bin")]).update()


def test_without_fts5_opening_says_so(tmp_path, monkeypatch):
    assert sources._fts5_problem() is None  # this Python has it
    monkeypatch.setattr(sources, "FTS5_PROBLEM", "no FTS5 here")
    with pytest.raises(UserError, match="no FTS5 here"):
        SourceIndex.open([str(tmp_path)])


# ---- a home that cannot be written -----------------------------------------------------------------------------------


def test_a_home_that_is_a_file_indexes_in_memory(tmp_path, home):
    small(tmp_path / "notes", 3)
    plant(tmp_path / "notes" / "part000" / "note00001.txt", PHRASE)
    home.write_text("not a folder")
    index = SourceIndex.open([str(tmp_path / "notes")])
    report = index.update()
    assert not report.persisted and report.store is None
    assert str(home / "cache" / "sources") in report.store_note and "in memory" in report.store_note
    assert report.files == 3 and index.search("quokka")[0].path.endswith("note00001.txt")
    assert home.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_home_indexes_in_memory(tmp_path, home):
    small(tmp_path / "notes", 3)
    home.mkdir()
    home.chmod(0o500)
    try:
        report = SourceIndex.open([str(tmp_path / "notes")]).update()
    finally:
        home.chmod(0o700)
    assert not report.persisted and "in memory" in report.store_note and report.files == 3


def test_a_full_disk_mid_update_falls_back_to_memory(tmp_path, home):
    """Files may not grow past 128 KiB (RLIMIT_FSIZE, as a full disk would refuse them; the index of these 60
    files takes about 320 KiB): the database opens, its writes then fail part-way, and the update finishes in
    memory and says so."""
    small(tmp_path / "notes", 60)
    script = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (128 * 1024, 128 * 1024))
        from fanout.stores.sources import SourceIndex
        index = SourceIndex.open([{str(tmp_path / "notes")!r}])
        print(index.store is not None)
        report = index.update()
        print(report.persisted, report.files, len(index.search(open({str(tmp_path / "notes" / "part000" / "note00000.md")!r}).read())))
        print(report.store_note)
    """)
    env = {**os.environ, "FANOUT_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    opened, first, note = proc.stdout.splitlines()
    assert opened == "True" and first == "False 60 6"
    assert str(home / "cache" / "sources") in note and "in memory" in note


def test_a_damaged_database_is_rebuilt(tmp_path):
    small(tmp_path / "notes", 3)
    store = sources.store_path([str(tmp_path / "notes")])
    store.parent.mkdir(parents=True)
    store.write_bytes(b"this is not SQLite\x00" * 400)
    report = SourceIndex.open([str(tmp_path / "notes")]).update()
    assert report.persisted and report.files == 3 and report.added == 3


def test_two_processes_updating_one_corpus_at_once(tmp_path, home):
    """Both open the index, then both update it at once: both finish on disk. The second waits for the first's
    transaction and reads the rows it wrote (had it read them before waiting, it would insert the same files
    again and fail)."""
    small(tmp_path / "notes", 600)
    script = textwrap.dedent(f"""
        import sys
        from fanout.stores.sources import SourceIndex
        index = SourceIndex.open([{str(tmp_path / "notes")!r}])
        print("open", flush=True)
        sys.stdin.readline()
        report = index.update()
        print(report.persisted, report.added, report.unchanged, report.store_note)
    """)
    env = {**os.environ, "FANOUT_HOME": str(home)}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    assert [p.stdout.readline() for p in procs] == ["open\n"] * 2
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted(out.split()[:3] for out, _ in outs) == [["True", "0", "600"], ["True", "600", "0"]]


def test_a_file_two_roots_hold_is_counted_once(tmp_path):
    small(tmp_path / "notes", 6)
    (tmp_path / "notes" / "part001" / "photo.png").write_bytes(b"\x89PNG")
    (tmp_path / "notes" / "part001" / "zero.md").write_text("")
    backdate(tmp_path / "notes" / "part001" / "zero.md")
    report = SourceIndex.open([str(tmp_path / "notes"), str(tmp_path / "notes" / "part001")]).update()
    assert report.files == 6 and dict(report.skipped) == {OTHER_TYPE: 1, EMPTY: 1}
