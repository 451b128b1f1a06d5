"""The few HTTP/1.1 pieces the server writes by hand: chunked framing, reason phrases, header values."""

from __future__ import annotations

import http
import json
from typing import Any


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def http_chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunked-encoding chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


def reason_phrase(status: int) -> str:
    if status == 529:
        return "Site Overloaded"
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def header_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))

