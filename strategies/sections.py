"""Cutting a document into sections: by Markdown headings, by blank-line paragraphs, or by size.

Pure text in, sections out; nothing here reads a file or knows about branches. Every section is at most
`max_chars` characters (code points) long, and no text is lost: the sections hold every non-blank line of the
document, in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SPLIT_BY = ("heading", "paragraph", "size")

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")


@dataclass(frozen=True)
class Section:
    title: str
    text: str
    index: int  # 1-based
    count: int


def split(text: str, by: str, max_chars: int) -> list[Section]:
    """The document's sections; titles come from its headings, or are "part 3 of 7"."""
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if by == "heading":
        pieces = _by_heading(text, "", max_chars)
    elif by == "paragraph":
        pieces = [("", p) for p in _pack(_paragraphs(text), max_chars)]
    elif by == "size":
        pieces = [("", p) for p in _by_size(text, max_chars)]
    else:
        raise ValueError(f"unknown split {by!r} (one of {', '.join(SPLIT_BY)})")
    pieces = [(title, body.strip("\n")) for title, body in pieces if body.strip()]
    # A heading line alone longer than the limit is the one thing the cuts above can leave too long.
    pieces = [(t, part) for t, body in pieces for part in (_by_size(body, max_chars) if len(body) > max_chars else [body])]
    count = len(pieces)
    return [
        Section(title or f"part {i + 1} of {count}", body, i + 1, count) for i, (title, body) in enumerate(pieces)
    ]


def _headings(text: str) -> list[tuple[int, int, str]]:
    """(offset, level, title) of every ATX heading outside fenced code."""
    found = []
    fence = ""
    offset = 0
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if m:
            fence = "" if fence == m.group(1) else (fence or m.group(1))
        elif not fence:
            h = _HEADING.match(line)
            if h and h.group(2).strip():
                found.append((offset, len(h.group(1)), h.group(2).strip()))
        offset += len(line) + 1
    return found


def _by_heading(text: str, parent: str, max_chars: int) -> list[tuple[str, str]]:
    """A section for each heading of the shallowest level; one longer than `max_chars` is cut again at its own
    sub-headings, then by paragraphs. A document under a single title is cut at the level below it."""
    heads = _headings(text)
    if not heads:
        return _titled(parent, _pack(_paragraphs(text), max_chars))
    level = min(lv for _, lv, _ in heads)
    tops = [(off, title) for off, lv, title in heads if lv == level]
    pieces: list[tuple[str, str]] = []
    if text[: tops[0][0]].strip():
        pieces.append((parent, text[: tops[0][0]].strip("\n")))
    for n, (off, title) in enumerate(tops):
        end = tops[n + 1][0] if n + 1 < len(tops) else len(text)
        pieces.append((title, text[off:end].strip("\n")))
    if len(pieces) == 1:  # one title over everything: its sections are the ones below it
        title, body = pieces[0]
        head, _, rest = body.partition("\n")
        inner = _by_heading(rest, title, max_chars)
        if inner and len(inner) > 1 or len(body) > max_chars:
            return _keep_heading(head, inner, max_chars)
        return pieces
    out: list[tuple[str, str]] = []
    for title, body in pieces:
        if len(body) <= max_chars:
            out.append((title, body))
            continue
        head, _, rest = body.partition("\n")
        if not _HEADING.match(head):  # the preamble: no heading line of its own
            out += _titled(title, _pack(_paragraphs(body), max_chars))
            continue
        inner = [(f"{title} › {t}" if t and t != title else t, b) for t, b in _by_heading(rest, title, max_chars)]
        out += _keep_heading(head, inner, max_chars)
    return out


def _keep_heading(head: str, inner: list[tuple[str, str]], max_chars: int) -> list[tuple[str, str]]:
    """The heading line goes with the first piece cut from under it, when it still fits."""
    if inner and len(head) + 2 + len(inner[0][1]) <= max_chars:
        inner[0] = (inner[0][0], f"{head}\n\n{inner[0][1]}")
    elif head.strip():
        inner.insert(0, (inner[0][0] if inner else "", head))
    return inner


def _titled(title: str, parts: list[str]) -> list[tuple[str, str]]:
    if not title or len(parts) == 1:
        return [(title, p) for p in parts]
    return [(f"{title} (part {i + 1} of {len(parts)})", p) for i, p in enumerate(parts)]


def _paragraphs(text: str) -> list[str]:
    return [p.strip("\n") for p in _BLANK_LINES.split(text) if p.strip()]


def _pack(paragraphs: list[str], max_chars: int) -> list[str]:
    """Consecutive paragraphs joined by a blank line while they fit; one too long alone is cut by size."""
    out: list[str] = []
    current = ""
    for p in paragraphs:
        if len(p) > max_chars:
            if current:
                out.append(current)
                current = ""
            out += _by_size(p, max_chars)
        elif not current:
            current = p
        elif len(current) + 2 + len(p) <= max_chars:
            current = f"{current}\n\n{p}"
        else:
            out.append(current)
            current = p
    if current:
        out.append(current)
    return out


def _by_size(text: str, max_chars: int) -> list[str]:
    """Pieces of at most `max_chars`, each cut at the last whitespace that fits (mid-word only when a single
    word is longer than the limit)."""
    out = []
    rest = text.strip()
    while rest:
        if len(rest) <= max_chars:
            out.append(rest)
            break
        window = rest[: max_chars + 1]
        cut = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
        if cut <= 0:
            cut = max_chars
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [p for p in out if p]
