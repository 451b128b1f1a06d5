"""Model text must never drive the terminal: escape sequences and control characters are removed from it."""

from __future__ import annotations

import re

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
