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
