"""Inputs given as files: `--set doc=@notes.md` reads the file, `--set doc=@-` standard input.

Read once, when the run's options are made, so every strategy of a bench and every rerun sees the same text and
the session records the text itself (a replay needs no file). `@@text` is the literal `@text`.
"""

from __future__ import annotations

from typing import BinaryIO, Mapping

from fanout.core.errors import UserError
from fanout.core.files import DEFAULT_MAX_FILE_BYTES, read_text_file


def read_file_inputs(values: Mapping[str, str], limit: int = DEFAULT_MAX_FILE_BYTES) -> dict[str, str]:
    """`values` with every `@path` replaced by that file's text (and `@@` by a literal `@`)."""
    out: dict[str, str] = {}
    for name, value in values.items():
        what = f"input {name!r}"
        if value.startswith("@@"):
            out[name] = value[1:]
        elif value == "@-":
            raise UserError(f"@- reads standard input, which only `fanout run` and `fanout bench` have (for {what}); "
                            "give @PATH")
        elif value.startswith("@") and len(value) > 1:
            out[name] = read_text_file(value[1:], what, limit)
        else:
            out[name] = value
    return out


def read_stdin_inputs(values: Mapping[str, str], stdin: BinaryIO, limit: int = DEFAULT_MAX_FILE_BYTES) -> dict[str, str]:
    """`values` with an `@-` replaced by standard input's text, kept literal (escaped) for `read_file_inputs`.
    Standard input is read once, when the command starts: a bench's three runs all see the same text."""
    out = dict(values)
    for name, value in values.items():
        if value == "@-":
            text = _read_stdin(stdin, f"input {name!r}", limit)
            out[name] = "@" + text if text.startswith("@") else text
    return out


def _read_stdin(stdin: BinaryIO, what: str, limit: int) -> str:
    data = stdin.read(limit + 1)
    if len(data) > limit:
        raise UserError(f"standard input: above the {limit:,}-byte limit for a file input (for {what})")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise UserError(f"standard input: not UTF-8 text (byte {err.start}) (for {what})") from None
