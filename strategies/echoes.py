"""What a model's answer may echo of its own prompt: fanout's fence markers, removed before any text is shown, and
an answer that mostly repeats its prompt, recognised so that it is flagged rather than passed off as a result.

A small model (the embedded one especially) often echoes the prompt it was given, markers and all. The markers
are fanout's own syntax, never the user's content: they are cut out of the stream as it arrives, so no front end,
report or JSON document ever shows one. The nonce is known (it fenced this very prompt); a 16-hex-digit look-alike
is cut too, since a model echoing an earlier step's prompt may quote that step's nonce.
"""

from __future__ import annotations

import re

_HELD_MAX = 400  # a marker is one line of an id and a title: longer than this, it was not one
_PREFIX = re.compile(r"<{1,3}(?:[ \t]*(?:r(?:e(?:p(?:o(?:r(?:t)?)?)?)?)?|s(?:o(?:u(?:r(?:c(?:e)?)?)?)?)?|e(?:n(?:d)?)?))?")
_STARTED = re.compile(r"<{1,3}[ \t]*(?:report|source|end)[ \t]+[0-9a-f]{0,16}")


def _body(nonce: str) -> str:
    return rf"<{{1,3}}[ \t]*(?:report|source|end)[ \t]+(?:{re.escape(nonce)}|[0-9a-f]{{16}})\b[^<>\n]*"


class MarkerScrubber:
    """Removes fence markers from a stream of text pieces. A piece that might be the start of a marker is held
    back until the next one settles it, so a marker split across tokens is removed whole."""

    def __init__(self, nonce: str) -> None:
        body = _body(nonce)
        self._complete = re.compile(body + r"(?:>{1,3}|(?=\n))")
        self._final = re.compile(body + r"(?:>{1,3}|(?=\n)|$)")
        self._open = re.compile(body + r">{0,2}")
        self._held = ""

    def feed(self, piece: str) -> str:
        if not self._held and "<" not in piece:  # nearly every piece: nothing that could be a marker
            return piece
        buf = self._held + piece
        self._held = ""
        out: list[str] = []
        i = 0
        while True:
            j = buf.find("<", i)
            if j < 0:
                out.append(buf[i:])
                return "".join(out)
            out.append(buf[i:j])
            m = self._complete.match(buf, j)
            if m and (m.end() < len(buf) or buf.endswith(">>>")):
                i = m.end()
                continue
            tail = buf[j:]
            if len(tail) < _HELD_MAX and "\n" not in tail and self._may_become_marker(tail):
                self._held = tail
                return "".join(out)
            out.append("<")
            i = j + 1

    def flush(self) -> str:
        """The end of the stream: whatever was held back, less any marker in it."""
        held, self._held = self._held, ""
        return self._final.sub("", held)

    def scrub(self, text: str) -> str:
        """A whole text at once (the final answer), with the same result as feeding it piece by piece."""
        return self._final.sub("", text)

    def _may_become_marker(self, tail: str) -> bool:
        return any(p.fullmatch(tail) for p in (_PREFIX, _STARTED, self._open))


_WORDS = re.compile(r"\w+")


def echo_share(text: str, prompt: str, n: int = 6) -> float:
    """The share of `text`'s runs of `n` words that occur word for word in `prompt`: near 1 for an answer that
    only repeats its instructions and the reports it was given, near 0 for one written afresh."""
    words = _WORDS.findall(text.lower())
    if len(words) < n:
        return 0.0
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
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
