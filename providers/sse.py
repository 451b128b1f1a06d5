"""Server-sent events read straight from the bytes of an HTTP response, for the OpenAI and Anthropic adapters.

The SDKs build a typed object for every streamed chunk, which was most of the client's CPU at a thousand
branches; the adapters only need a few fields of each event, so they get the event's raw data and pick those
out themselves. Decoding follows the WHATWG event-stream rules the APIs rely on: lines end in LF, CRLF or CR
(split anywhere, even between the CR and the LF), `:` starts a comment, a field's value loses one leading
space, `data` lines join with LF, a blank line dispatches the event, an event with no data is not dispatched,
and `id` / `retry` / unknown fields are ignored. At the end of the body a partial last line is dropped (the
body was cut), and a last event whose lines are whole is dispatched even without its blank line.
"""

from __future__ import annotations

from typing import AsyncIterator

Event = tuple[str, bytes]  # (the `event` field, "" when absent; the data, still bytes: json.loads takes them)


class SSEDecoder:
    """Incremental: `feed` it the body in pieces split anywhere, then call `end` once; each returns the events
    completed so far, in order."""

    __slots__ = ("_tail", "_cr", "_bom", "_name", "_data")

    def __init__(self) -> None:
        self._tail = b""  # the start of a line whose end has not arrived
        self._cr = False  # the last piece ended in CR: an LF opening the next one ends no second line
        self._bom = True  # a UTF-8 byte-order mark may still open the stream (and is not part of it)
        self._name = ""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[Event]:
        if not chunk:
            return []
        if self._bom:
            chunk = self._strip_bom(chunk)
            if not chunk:
                return []
        if self._cr:
            self._cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            if chunk[-1:] == b"\r":
                self._cr = True  # the line ends here; an LF at the start of the next piece belongs to it
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        if self._tail:
            lines[0] = self._tail + lines[0]
        self._tail = lines.pop()  # after the last LF: not a whole line yet (b"" when the piece ended on one)
        return self._lines(lines) if lines else []

    def end(self) -> list[Event]:
        """The body is over. A last line with no line end is dropped: the body was cut inside it (a whole
        event's data never ends without one). A last event whose lines are whole but which has no blank line
        after it is dispatched: some servers close the stream without one."""
        self._tail = b""
        return self._lines([b""])

    def _strip_bom(self, chunk: bytes) -> bytes:
        """Drops a leading BOM, which may itself arrive split: until three bytes are in, hold them back."""
        head = self._tail + chunk
        if len(head) < 3 and b"\xef\xbb\xbf".startswith(head):
            self._tail = head
            return b""
        self._bom = False
        self._tail = b""
        return head[3:] if head.startswith(b"\xef\xbb\xbf") else head

    def _lines(self, lines: list[bytes]) -> list[Event]:
        events: list[Event] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    joined = data[0] if len(data) == 1 else b"\n".join(data)
                    if joined:  # `data:` alone makes an empty event, which the spec does not dispatch
                        events.append((self._name, joined))
                    data.clear()
                self._name = ""
                continue
            # The common case first: one `data: ` line per event.
            if line[:6] == b"data: ":
                data.append(line[6:])
                continue
            field, colon, value = line.partition(b":")
            if not field:
                continue  # a comment (keep-alives are often sent this way)
            if value[:1] == b" ":
                value = value[1:]
            if field == b"data":
                data.append(value)
            elif field == b"event":
                self._name = value.decode("utf-8", "replace")
        return events


async def read_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[Event]]:
    """The events of a body, a batch per network read: one step of the loop per read, not per event."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        events = decoder.feed(chunk)
        if events:
            yield events
    events = decoder.end()
    if events:
        yield events
