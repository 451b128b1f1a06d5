"""The server plays a search engine and a model that searches and cites what it found, the same for both APIs.

A request that carries a web search tool (Anthropic's ``web_search_20250305``, OpenAI's Responses ``web_search``)
gets a grounded answer: the model makes ``searches`` searches (queries taken from the prompt), each returning up to
``results`` pages from the corpus, then answers with the responder's text split into parts, the first parts each
citing one page it received (``cited_text`` is the page's first sentence, as a real citation quotes its source).

The corpus is either pages a test gives (ranked by how many of the query's words they contain, ties in the order
given), a function of the query, or, by default, pages generated from the query. Everything is deterministic: the
same request gets the same searches, results and citations.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence, Union

from .faults import Fault, Request
from .texts import default_text

_FACETS = ("latest figures", "history", "criticism", "examples", "outlook")
_SITES = ("almanac.example", "bulletin.example", "chronicle.example", "digest.example", "encyclopedia.example")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
CITED_TEXT_MAX = 150  # Anthropic quotes at most this many characters of a result
INVENTED_TEXT = "A sentence that no search result contains."


@dataclass(frozen=True)
class Page:
    """One page the search engine knows."""

    url: str
    title: str
    text: str
    page_age: str | None = None


Corpus = Union[Sequence[Union[Page, dict]], Callable[[str], Sequence[Union[Page, dict]]], None]


def page_from(obj: object, where: str) -> Page:
    """A Page from a JSON object; ValueError naming `where` and the field at fault."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected an object with url, title and text")
    for key in ("url", "title", "text"):
        if not isinstance(obj.get(key), str):
            raise ValueError(f"{where}.{key}: expected a string")
    age = obj.get("page_age")
    if age is not None and not isinstance(age, str):
        raise ValueError(f"{where}.page_age: expected a string or null")
    unknown = sorted(set(obj) - {"url", "title", "text", "page_age"})
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r} (known: url, title, text, page_age)")
    return Page(obj["url"], obj["title"], obj["text"], age)


def load_pages(path: str | Path) -> list[Page]:
    """The pages in a JSON file (a list of {url, title, text, page_age?}); ValueError naming the file and field."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of pages")
    return [page_from(item, f"{path}: [{i}]") for i, item in enumerate(data)]


def generated_pages(query: str, k: int) -> list[Page]:
    """`k` pages made up for `query`: the same query always finds the same pages."""
    rng = random.Random(hashlib.blake2b(query.encode("utf-8", "surrogatepass"), digest_size=8).digest())
    slug = "-".join(_WORD.findall(query.lower()))[:48] or "page"
    pages = []
    for j in range(k):
        site = _SITES[rng.randrange(len(_SITES))]
        first = default_text(f"{query}\x00{j}", site, 8).capitalize()
        second = default_text(f"{query}\x00{j}\x00more", site, 10).capitalize()
        age = f"{_MONTHS[rng.randrange(12)]} {rng.randrange(1, 29)}, {rng.randrange(2019, 2027)}"
        pages.append(Page(f"https://{site}/{slug}/{j + 1}", f"{query} — {site}", f"{first}. {second}.", age))
    return pages


def ranked(pages: Sequence[Page], query: str, k: int) -> list[Page]:
    """The `k` pages containing most of the query's words (title and text), ties in the order given."""
    words = set(_WORD.findall(query.lower()))
    scores = [len(words & set(_WORD.findall(f"{p.title} {p.text}".lower()))) for p in pages]
    order = sorted(range(len(pages)), key=lambda i: -scores[i])
    return [pages[i] for i in order[:k]]


def as_pages(items: Sequence[Page | dict], where: str) -> list[Page]:
    return [p if isinstance(p, Page) else page_from(p, f"{where}[{i}]") for i, p in enumerate(items)]


def find(corpus: Corpus, query: str, k: int) -> list[Page]:
    """What a search for `query` finds: a function's pages as they are, else the `k` best of the corpus."""
    if corpus is None:
        return generated_pages(query, k)
    if callable(corpus):
        return as_pages(corpus(query), "search_pages()")
    return ranked(as_pages(corpus, "search_pages"), query, k)


def cited_text(page: Page) -> str:
    """What a citation of `page` quotes: its first sentence, at most CITED_TEXT_MAX characters."""
    sentence = _SENTENCE_END.split(page.text.strip(), 1)[0]
    if len(sentence) <= CITED_TEXT_MAX:
        return sentence
    return sentence[:CITED_TEXT_MAX].rsplit(" ", 1)[0]


def opaque(*parts: object) -> str:
    """A stand-in for the providers' encrypted fields: opaque to a client, stable for a test."""
    return base64.b64encode(json.dumps(parts).encode()).decode()


@dataclass
class Search:
    query: str
    results: list[Page]
    error: str | None = None  # an error_code: the search failed


@dataclass(frozen=True)
class Citation:
    url: str
    title: str
    cited_text: str


@dataclass
class Part:
    """A run of the answer's words, citing at most one page."""

    words: list[str]
    citation: Citation | None = None


@dataclass
class Grounded:
    searches: list[Search]
    parts: list[Part]

    @property
    def searches_made(self) -> int:
        """Searches that ran (a failed search is not billed)."""
        return sum(1 for s in self.searches if s.error is None)

    @property
    def result_words(self) -> int:
        """The words of every result received: they are input the model reads."""
        return sum(len(f"{p.title} {p.text}".split()) for s in self.searches for p in s.results)


def web_search_tool(body: dict) -> dict | None:
    """The request's web search tool (Anthropic `web_search_2025…`, OpenAI `web_search`, `web_search_preview`)."""
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        if isinstance(tool, dict) and str(tool.get("type", "")).startswith("web_search"):
            return tool
    return None


def queries(prompt: str, n: int) -> list[str]:
    """What the model searches for: the first words of its task, which follows whatever fenced material the
    prompt shows first (earlier steps' reports, passages of files), as a model would search for its task."""
    task = prompt[prompt.rfind("<<<end"):].split("\n", 1)[-1] if "<<<end" in prompt else prompt
    base = " ".join(task.split()[:8]) or "loopback search"
    return [base] + [f"{base} {_FACETS[(i - 1) % len(_FACETS)]}" for i in range(1, n)]


@dataclass
class SearchSettings:
    corpus: Corpus = None
    searches: int = 1  # searches the model makes per call
    results: int = 3  # results per search at most
    citations: int = 2  # pages the answer cites at most


def run_searches(req: Request, settings: SearchSettings, fault: Fault | None) -> list[Search]:
    """The searches the model makes. Past Anthropic's `max_uses` a search fails with max_uses_exceeded; past
    OpenAI's `max_tool_calls` none is made."""
    tool = web_search_tool(req.body) or {}
    cap = tool.get("max_uses") if req.api == "anthropic" else req.body.get("max_tool_calls")
    done: list[Search] = []
    for i, query in enumerate(queries(req.prompt, settings.searches)):
        if isinstance(cap, int) and i >= cap:
            if req.api != "anthropic":
                break
            done.append(Search(query, [], "max_uses_exceeded"))
        elif fault is not None and fault.search_error:
            done.append(Search(query, [], fault.search_error))
        elif fault is not None and fault.empty_search:
            done.append(Search(query, []))
        else:
            done.append(Search(query, find(settings.corpus, query, settings.results)))
    return done


def foreign(prompt: str) -> Citation:
    slug = "-".join(_WORD.findall(prompt.lower())[:6]) or "page"
    return Citation(f"https://unsearched.example/{slug}", "A page no search returned",
                    "A sentence from a page that no search returned.")  # fmt: skip


def citations(searches: list[Search], n: int, fault: Fault | None, prompt: str) -> list[Citation]:
    """The pages the answer cites: the first `n` distinct results, in the order received."""
    pages: dict[str, Page] = {}
    for search in searches:
        for page in search.results:
            pages.setdefault(page.url, page)
    cites = [Citation(p.url, p.title, cited_text(p)) for p in list(pages.values())[:n]]
    if fault is not None and fault.invented_citation:
        cites[:1] = [replace(cites[0] if cites else foreign(prompt), cited_text=INVENTED_TEXT)]
    return cites


def split_cited(words: list[str], cites: list[Citation]) -> list[Part]:
    """`words` as one part per citation, then an uncited rest (if any words are left)."""
    c = min(len(cites), len(words))
    if c == 0:
        return [Part(words)] if words else []
    size = max(1, len(words) // (c + 1))
    parts = [Part(words[j * size:(j + 1) * size], cites[j]) for j in range(c)]
    if c * size < len(words):
        parts.append(Part(words[c * size:]))
    return parts


def ground(req: Request, words: list[str], settings: SearchSettings, fault: Fault | None) -> Grounded:
    """The searches and the cited answer for a request with a web search tool."""
    searches = run_searches(req, settings, fault)
    parts = split_cited(words, citations(searches, settings.citations, fault, req.prompt))
    if fault is not None and fault.foreign_citation and parts:
        parts[-1].citation = foreign(req.prompt)
    return Grounded(searches, parts)
