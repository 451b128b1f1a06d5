"""One numbering of a run's sources, and every citation checked against what its author read."""

from __future__ import annotations

from fanout.strategies.citations import (Grounded, Passage, aggregate_citations, branch_citations, given_numbers,
                                         marked_text, marks, normal_url, number_sources)
from fanout.strategies.events import Cited, Source


def web(url: str, title: str = "") -> Source:
    return Source("web", url, title)


def file(path: str, title: str = "") -> Source:
    return Source("file", path, title, "lines 1-9")


A = "https://a.example/x"
B = "https://b.example/y?page=2"
FOREIGN = "https://unsearched.example/z"
RUN = [
    Grounded("one", given=(file("/n/tides.md", "Tides"), file("/n/tides.md", "Tides"), file("/n/moon.md")),
             received=(web(B, "B"), web(A + "?utm_source=openai")), cited=(Cited(A + "?utm_source=openai", "A"),)),
    Grounded("two", given=(file("/n/coast.md"), file("/n/moon.md", "Moon")), received=(web(A, "A page"),),
             cited=(Cited(FOREIGN, "Unsearched"),)),
]


def test_utm_source_is_no_part_of_a_pages_identity():
    assert normal_url(A + "?utm_source=openai") == A
    assert normal_url(B + "&utm_source=openai") == B
    assert normal_url(B) == B


def test_files_first_then_pages_then_pages_only_cited_each_once_in_the_runs_order():
    n = number_sources(RUN)
    assert [(s.n, s.kind, s.ref) for s in n.sources] == [
        (1, "file", "/n/tides.md"), (2, "file", "/n/moon.md"), (3, "file", "/n/coast.md"),
        (4, "web", B), (5, "web", A), (6, "web", FOREIGN),
    ]
    assert n.sources[1].branches == ("one", "two") and n.sources[1].title == "Moon"  # a later mention names it
    assert n.sources[4].branches == ("one", "two") and n.sources[4].title == "A page"  # the first title given
    assert [s.retrieved for s in n.sources] == [True] * 5 + [False]  # cited, but no search returned it
    assert n.read == {"one": (1, 2, 4, 5), "two": (3, 2, 5)}
    assert n.number("web", A + "?utm_source=openai") == 5


def test_the_numbers_in_the_prompts_are_the_runs():
    passages = {"one": [Passage("/n/tides.md", "Tides", "t", 1, 9), Passage("/n/moon.md", "", "m", 1, 9)],
                "two": [Passage("/n/coast.md", "", "c", 1, 9), Passage("/n/moon.md", "", "m", 1, 9)]}
    numbers = given_numbers(passages.items())
    final = number_sources(RUN)
    assert numbers == {ref: final.by_key[ref] for ref in ("/n/tides.md", "/n/moon.md", "/n/coast.md")}


def test_a_branch_citation_is_verified_only_on_what_that_branch_read():
    n = number_sources(RUN)
    checked = branch_citations(RUN[1], "Tidal ranges [3]; the Moon [2]; the tides [1]; nothing [12].", n)
    assert [(c.n, c.verified) for c in checked] == [(6, False), (3, True), (2, True), (1, False), (12, False)]
    assert checked[0].kind == "web" and checked[0].ref == FOREIGN  # the page no search returned
    assert checked[4].kind == "" and checked[4].ref == ""  # no source has that number
    web_cite = branch_citations(RUN[0], "", n)[0]
    assert (web_cite.n, web_cite.verified, web_cite.ref) == (5, True, A)


def test_an_invented_number_in_the_aggregate_is_unverified():
    n = number_sources(RUN)
    text = "Tides follow the Moon [2][5]. Ranges vary [3, 4]. See [6]. Invented [9]. In [2024]. A [link](x) [7](y)."
    checked = aggregate_citations(text + " Again [2].", n)
    assert [(c.n, c.verified) for c in checked] == [(2, True), (5, True), (3, True), (4, True), (6, False),
                                                    (9, False)]
    assert [m[0] for m in marks("[1] [1,2] [3; 4] [1000] [x]")] == [1, 1, 2, 3, 4]


def test_web_citations_become_the_runs_marks_in_the_answer():
    n = number_sources(RUN)
    link = f"([a.example]({A}?utm_source=openai))"
    openai_text = f"The Moon pulls {link} the sea."
    start = openai_text.index(link)
    cited = (Cited(A + "?utm_source=openai", "A", "", start, start + len(link)),)
    assert marked_text(openai_text, cited, n) == "The Moon pulls [5] the sea."
    anthropic_text = "The Moon pulls the sea. Ranges vary."
    cited = (Cited(A, "A", "quote", 0, 23), Cited(FOREIGN, "U", "quote", 23, 36))
    assert marked_text(anthropic_text, cited, n) == "The Moon pulls the sea. [5] Ranges vary. [6]"
    spaced = "The Moon pulls the sea. Ranges vary."  # a span that ends in a space: the mark follows its last word
    assert marked_text(spaced, (Cited(A, "A", "quote", 0, 24),), n) == "The Moon pulls the sea. [5] Ranges vary."
    assert marked_text("no spans", (Cited(A),), n) == "no spans"
