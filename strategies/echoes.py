"""What a model's answer may echo of its own prompt: fanout's fence markers, removed before any text is shown, and
an answer that mostly repeats its prompt, recognised so that it is flagged rather than passed off as a result.

A small model (the embedded one especially) often echoes the prompt it was given, markers and all. The markers
are fanout's own syntax, never the user's content: they are cut out of the stream as it arrives, so no front end,
report or JSON document ever shows one. A small model copies them badly: a prefix of the nonce (`<<<end 6ac084e`),
look-alike brackets (`<‹report`), no brackets at all ("report 81ef8c3911c752c1"); each form is cut. The nonce is
known (it fenced this very prompt); any 16 hex digits are cut too, since a model echoing an earlier step's prompt
may quote that step's nonce.
"""

from __future__ import annotations

import re

_HELD_MAX = 400  # a marker is one line of an id and a title: longer than this, it was not one
# What a small model writes for the markers' angle brackets: the brackets themselves and their look-alikes.
_OPEN, _CLOSE = "<‹«＜〈⟨", ">›»＞〉⟩"
_O, _C = f"[{_OPEN}]", f"[{_CLOSE}]"
_REST = f"[^{_OPEN}{_CLOSE}\\n]*"  # the rest of a marker's line: its id and title
_WORD = r"(?:report|source|end)(?![a-z])"  # the fences' words: a report, a passage of a file, an end
_PARTIAL_WORD = r"(?:r(?:e(?:p(?:o(?:r(?:t)?)?)?)?)?|s(?:o(?:u(?:r(?:c(?:e)?)?)?)?)?|e(?:n(?:d)?)?)"
_BARE = rf"(?<!\w){_WORD}[ \t]+(?P<hex>[0-9a-f]{{6,16}})(?![0-9a-z])(?:[ \t]+id=[^\s{_OPEN}{_CLOSE}]*)?"
# A whole marker as a small model copies it: with two or three brackets (or look-alikes) and the word, whatever
# follows; with one bracket, the word and at least four hex digits; with none, the word and six or more hex digits
# (kept only when they are this prompt's nonce's first digits, or 16 of them: an earlier step's nonce) and what a
# marker carries. Compiled once: the nonce is checked in _is_marker, so a scrubber costs nothing to make.
_MARKER = re.compile(
    rf"{_O}{{2,3}}[ \t]*{_WORD}{_REST}(?:{_C}{{1,3}})?"
    rf"|{_O}[ \t]*{_WORD}[ \t]+[0-9a-f]{{4,16}}(?![0-9a-z]){_REST}(?:{_C}{{1,3}})?"
    rf"|{_BARE}(?:[ \t]+title={_REST})?(?:{_C}{{1,3}})?"
)
# What may still grow into a marker when more text comes: the start of one, up to its hex digits, and a bare one
# up to the start of its title.
_BEGINNING = re.compile(
    rf"{_O}{{1,3}}[ \t]*(?:{_PARTIAL_WORD}|{_WORD}[ \t]*[0-9a-f]{{0,16}})?"
    rf"|{_PARTIAL_WORD}|{_WORD}[ \t]*[0-9a-f]{{0,16}}"
    rf"|{_BARE}[ \t]*(?:t(?:i(?:t(?:l(?:e)?)?)?)?|i(?:d)?)?"
)
_CANDIDATE = re.compile(rf"{_O}|(?<!\w)(?:r(?:e(?:p(?:o(?:r(?:t)?)?)?)?)?$|report|s(?:o(?:u(?:r(?:c(?:e)?)?)?)?)?$|source|en?d?$|end)")
_SUSPECT = re.compile(rf"{_O}|(?:report|source|end)[ \t]+[0-9a-f]")  # in every marker; in most text, neither
# Where a marker could start: a bracket, or the marker's word (or its beginning, ending the piece) starting a word.
# Most pieces have no such place.
_QUICK = re.compile(rf"{_O}|\b(?:{_WORD}|{_PARTIAL_WORD}$)")


class MarkerScrubber:
    """Removes fence markers from a stream of text pieces, copied whole or in part: a small model copies a prefix
    of the nonce, drops the brackets or writes look-alikes (`<‹`). A piece that might be the start of a marker
    is held back until the next one settles it, so a marker split across tokens is removed whole."""

    def __init__(self, nonce: str) -> None:
        self._nonce = nonce
        self._held = ""
        self._before = ""  # the last character let through: a bare marker's word must start a word

    def feed(self, piece: str) -> str:
        if not self._held and not _QUICK.search(piece):  # nearly every piece
            if piece:
                self._before = piece[-1]
            return piece
        buf = self._held + piece
        cut = self._hold_from(buf)
        self._held = buf[cut:]
        return self._release(buf[:cut])

    def flush(self) -> str:
        """The end of the stream: whatever was held back, less any marker in it."""
        held, self._held = self._held, ""
        return self._release(held)

    def scrub(self, text: str) -> str:
        """A whole text at once (the final answer), with the same result as feeding it piece by piece."""
        return self._cut(text, 0)

    def _is_marker(self, m: re.Match) -> bool:
        digits = m.group("hex")
        return digits is None or len(digits) == 16 or self._nonce.startswith(digits)

    def _cut(self, text: str, start: int) -> str:
        out, i = [], start
        for m in _MARKER.finditer(text, start):
            if self._is_marker(m):
                out.append(text[i:m.start()])
                i = m.end()
        out.append(text[i:])
        return "".join(out)

    def _release(self, text: str) -> str:
        if not text:
            return ""
        before, self._before = self._before, text[-1]
        if not _SUSPECT.search(text):  # nearly every piece: no marker can be in it
            return text
        return self._cut(before + text, len(before))  # the character before is context, never cut

    def _hold_from(self, buf: str) -> int:
        """Where the part that may still become a marker starts (len(buf): none). Only the last line counts."""
        start = max(buf.rfind("\n") + 1, len(buf) - _HELD_MAX)
        seen = self._before + buf
        for m in _CANDIDATE.finditer(seen, start + len(self._before)):
            i = m.start() - len(self._before)
            if self._may_become_marker(buf[i:]):
                return i
        return len(buf)

    def _may_become_marker(self, tail: str) -> bool:
        if _BEGINNING.fullmatch(tail):
            return True
        m = _MARKER.match(tail)  # a marker that reaches the end so far may go on (more title, its close)
        return m is not None and m.end() == len(tail) and not tail.endswith((">>>", "›››", "»»»"))


_WORDS = re.compile(r"\w+")


def echo_share(text: str, prompt: str, n: int = 6) -> float:
    """The share of `text`'s runs of `n` words that occur word for word in `prompt`: near 1 for an answer that
    only repeats its instructions and the reports it was given, near 0 for one written afresh."""
    words = _WORDS.findall(text.lower())
    if len(words) < n:
        return 0.0
    grams = _grams(words, n)
    wanted = set(grams)
    firsts = {g[0] for g in grams}
    source = _WORDS.findall(prompt.lower())
    # The prompt can be every branch's report (a thousand of them): only its runs that start with a word the
    # text's runs start with are built, not one tuple per word of the prompt.
    known = {
        gram for i, word in enumerate(source[:len(source) - n + 1]) if word in firsts
        and (gram := tuple(source[i:i + n])) in wanted
    }
    return sum(g in known for g in grams) / len(grams)


def loop_share(text: str, n: int = 4) -> float:
    """The share of `text`'s runs of `n` words that it already wrote earlier: near 0 for prose, near 1 for a small
    model's loop ("quantum computing, quantum computing, ..."). A measure for benchmarks and tests, not a flag."""
    grams = _grams(_WORDS.findall(text.lower()), n)
    seen: set[tuple[str, ...]] = set()
    again = 0
    for g in grams:
        again += g in seen
        seen.add(g)
    return again / len(grams) if grams else 0.0


def _grams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


ECHO_THRESHOLD = 0.5
_RUNS = re.compile(r"(\S)\1{7,}")  # one character eight times or more in a row: "<<<<<<<<", "========"


def repeated_share(text: str) -> float:
    """The share of `text` (spaces aside) that is one character repeated: a small model echoing the fences'
    `<<<` sometimes emits nothing but a line of `<`."""
    body = "".join(text.split())
    return sum(len(m.group(0)) for m in _RUNS.finditer(body)) / len(body) if body else 0.0


def echo_flag(text: str, prompt: str) -> str:
    """The flag an aggregate carries when most of it is its own prompt repeated (or one character repeated, its
    echo of the fence syntax), or "" when it is not."""
    share = echo_share(text, prompt)
    if share >= ECHO_THRESHOLD:
        return (f"echo: {share:.0%} of this result repeats its own prompt (the instructions and the reports) word "
                "for word; the model did not write a result of its own")
    runs = repeated_share(text)
    if runs >= ECHO_THRESHOLD:
        return (f"echo: {runs:.0%} of this result is one character repeated (as from echoing the prompt's "
                "markers); the model did not write a result of its own")
    return ""


def result_flag(text: str, raw: str, prompt: str) -> str:
    """The flag a result carries when it is no result of the model's own: empty once fanout's markers were cut
    from what the model wrote (`raw`), or mostly its prompt repeated (echo_flag); "" when it is its own."""
    if not text.strip():
        if raw.strip():
            return ("empty: all this result held was copies of fanout's fence markers from its prompt, which are "
                    "cut from every text; the model did not write a result of its own")
        return "empty: the model wrote nothing"
    return echo_flag(text, prompt)
