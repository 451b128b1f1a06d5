"""Reading a user's own text file as an input: checked, so a wrong path or a binary file is a message, not a crash."""

from __future__ import annotations

from pathlib import Path

from fanout.core.errors import UserError

DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024  # a few MB: a long document, not a data dump sent to a model


def read_text_file(name: str, what: str, limit: int = DEFAULT_MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the file `name`, for `what` (e.g. "input 'doc'"); every failure names both."""
    path = Path(name).expanduser()
    try:
        if path.is_dir():
            raise UserError(f"{name}: is a directory, not a file (for {what})")
        if not path.exists():
            raise UserError(f"{name}: no such file (for {what})")
        size = path.stat().st_size
        if size > limit:
            raise UserError(
                f"{name}: {size:,} bytes, above the {limit:,}-byte limit for a file input (for {what}; "
                "raise [inputs] max_file_mb in the config)"
            )
        data = path.read_bytes()
    except OSError as err:
        raise UserError(f"{name}: cannot read ({err.strerror or err}) (for {what})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{name}: not UTF-8 text (byte {err.start}) (for {what})") from None
    if "\0" in text:  # valid UTF-8 yet binary (an image with no high bytes, a NUL-padded file)
        raise UserError(f"{name}: a binary file, not text (for {what})")
    return text.removeprefix("\ufeff")
