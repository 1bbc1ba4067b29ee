"""Server-sent events, parsed on bytes with as little work as possible.

Only what chat-completion streams use: ``data:`` lines (several in one event are joined
with ``\\n``), ``event:`` names, comments (lines starting with ``:``, keep-alives) and
blank lines ending an event. ``id:`` and ``retry:`` are ignored. Lines end with ``\\n``
or ``\\r\\n``. The payload stays bytes: the caller decodes JSON straight from them and
compares against ``DONE``.

At the end of the stream, an event not terminated by a blank line is discarded (it may
be cut in half), except ``data: [DONE]``, which some servers send without the blank line.
"""

from __future__ import annotations

from typing import AsyncIterable, AsyncIterator

import msgspec

DONE = b"[DONE]"

SSEEvent = tuple[bytes | None, bytes]
"""``(event name or None, data)``."""


class SSEDecoder:
    """Incremental decoder: ``feed`` bytes as they arrive, ``close`` at the end."""

    __slots__ = ("_tail", "_data", "_event")

    def __init__(self) -> None:
        self._tail = b""
        self._data: bytes | None = None
        self._event: bytes | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by ``chunk`` (usually zero or one per network read)."""
        buffer = self._tail + chunk if self._tail else chunk
        lines = buffer.split(b"\n")
        self._tail = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            self._line(line, events)
        return events

    def close(self) -> list[SSEEvent]:
        """The stream ended: a final unterminated ``[DONE]``, or nothing."""
        events: list[SSEEvent] = []
        if self._tail:
            tail, self._tail = self._tail, b""
            self._line(tail, events)
        if self._data is not None and self._data.strip() == DONE:
            events.append((self._event, DONE))
        self._data = self._event = None
        return events

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            if self._data is not None:
                events.append((self._event, self._data))
            self._data = self._event = None
            return
        if line.startswith(b"data:"):
            value = line[6:] if line[5:6] == b" " else line[5:]
            self._data = value if self._data is None else self._data + b"\n" + value
        elif line.startswith(b"event:"):
            self._event = line[6:].strip() or None
        # comments (":..."), "id:", "retry:" and unknown fields are ignored


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[SSEEvent]:
    """Events from an async iterable of byte chunks (for example ``response.aiter_bytes()``)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


# --- encoding: what the gateway sends its clients ----------------------------------------

_encode_json = msgspec.json.Encoder().encode
DONE_EVENT = b"data: [DONE]\n\n"
"""The end of an OpenAI stream."""


def encode_event(data: object, event: str | None = None) -> bytes:
    """One server-sent event: ``data`` as JSON on one ``data:`` line, after an ``event:``
    line when ``event`` is given (Anthropic's streams name every event)."""
    if event is None:
        return b"data: " + _encode_json(data) + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + _encode_json(data) + b"\n\n"
