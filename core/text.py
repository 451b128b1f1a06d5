"""Model text must never drive the terminal: escape sequences and control characters are removed from it."""

from __future__ import annotations

import re
from typing import Iterable

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC strings, two-byte ESC sequences, C1 controls,
# and every C0 control but newline and tab.
_SEQUENCES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?  # OSC, ended by BEL or ST (or cut off)
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?       # DCS, SOS, PM, APC
  | \x1b[@-Z\\-_]                       # other two-byte sequences
  | \x9b[0-?]*[ -/]*[@-~]               # 8-bit CSI
  | [\x00-\x08\x0b-\x1f\x7f-\x9f]        # remaining controls (\t and \n are kept)
    """,
    re.VERBOSE,
)


def strip_controls(text: str) -> str:
    return _SEQUENCES.sub("", text.replace("\r\n", "\n"))


# Shapes of common API keys, for text that may quote one back (an error message echoing a header, say).
_KEY_SHAPES = re.compile(r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{12,}|sk_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_\-]{30,})")


def redact(text: str, secrets: Iterable[str] = (), *, shapes: bool = True) -> str:
    """Removes every given secret, and (with `shapes`) anything shaped like an API key, from text fanout is about
    to keep or show. Model output is only scrubbed of the exact secrets: a key-shaped string in a code review is
    the user's data."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return _KEY_SHAPES.sub("[redacted]", text) if shapes else text


_PAIRS = {"(": ")", "[": "]", "{": "}"}


def shorten(text: str, width: int) -> str:
    """`text` on one line in at most `width` characters: cut at a word with an ellipsis, and every bracket the
    cut leaves open closed again, so "(ConnectError: All connection atte" reads "(ConnectError: All connection…)".
    The whole text stays where it is kept (the report, the JSON): this is only for a progress line."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: max(1, width - 1)]
    if " " in cut and not text[len(cut)].isspace():
        cut = cut[: cut.rindex(" ")]
    cut = cut.rstrip(" ,;:.-(")
    while True:  # room for the closing brackets too
        open_ = []
        for ch in cut:
            if ch in _PAIRS:
                open_.append(_PAIRS[ch])
            elif open_ and ch == open_[-1]:
                open_.pop()
        closing = "".join(reversed(open_))
        if len(cut) + 1 + len(closing) <= width or " " not in cut:
            return cut + "…" + closing
        cut = cut[: cut.rindex(" ")].rstrip(" ,;:.-(")
