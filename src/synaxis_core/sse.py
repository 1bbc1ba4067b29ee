"""Server-sent events, parsed on bytes with as little work as possible.

Only what chat-completion streams use: ``data:`` lines (several in one event are joined
with ``\\n``), ``event:`` names, comments (lines starting with ``:``, keep-alives) and
blank lines ending an event. ``id:`` and ``retry:`` are ignored. Lines end with ``\\n``
or ``\\r\\n``. The payload stays bytes: the caller decodes JSON straight from them and
compares against ``DONE``.

At the end of the stream, an event not terminated by a blank line is discarded (it may
be cut in half), except ``data: [DONE]``, which some servers send without the blank line.

Bounded work: a line or an event longer than ``max_event_bytes`` raises ``SSEError``
(the provider turns it into ``UpstreamProtocolError``), and the cost stays linear in
the bytes fed however a long line is split: an unterminated line is kept in pieces and
joined once, when its newline arrives (appending each read to the tail made a 50 MB
line without a newline cost seconds of event loop).
"""

from __future__ import annotations

from typing import AsyncIterable, AsyncIterator

import msgspec

DONE = b"[DONE]"
DEFAULT_MAX_EVENT_BYTES = 4 * 1024 * 1024
"""The decoder's default cap on one line and on one event's data (``settings.max_sse_event_bytes``)."""

SSEEvent = tuple[bytes | None, bytes]
"""``(event name or None, data)``."""


class SSEError(ValueError):
    """The stream breaks the decoder's limits (a line or an event too long)."""


class SSEDecoder:
    """Incremental decoder: ``feed`` bytes as they arrive, ``close`` at the end.

    ``max_event_bytes`` caps a line and an event's data (None: no cap).
    """

    __slots__ = ("_parts", "_held", "_data", "_more", "_size", "_event", "_limit")

    def __init__(self, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._parts: list[bytes] = []  # the unterminated last line, in pieces
        self._held = 0  # its length
        self._data: bytes | None = None  # the event's first data line
        self._more: list[bytes] | None = None  # all its data lines, once there are several
        self._size = 0  # the event's data bytes so far
        self._event: bytes | None = None
        self._limit = max_event_bytes if max_event_bytes else 1 << 62

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by ``chunk`` (usually zero or one per network read).

        Raises ``SSEError`` when a line or an event grows past the cap.
        """
        if b"\n" not in chunk:
            if chunk:
                self._hold(chunk)
            return []
        if self._parts:
            self._parts.append(chunk)
            buffer = b"".join(self._parts)
            self._parts = []
            self._held = 0
        else:
            buffer = chunk
        lines = buffer.split(b"\n")
        tail = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            # the usual lines inline: an event's one "data: " line, and the blank line after it
            if not line:
                if self._data is not None and self._more is None:
                    events.append((self._event, self._data))
                    self._data = self._event = None
                    self._size = 0
                    continue
            elif self._data is None and line[:6] == b"data: " and line[-1:] != b"\r" and len(line) <= self._limit:
                self._data = line[6:]
                self._size = len(line) - 5
                continue
            self._line(line, events)
        if tail:
            self._hold(tail)
        return events

    def close(self) -> list[SSEEvent]:
        """The stream ended: a final unterminated ``[DONE]``, or nothing."""
        events: list[SSEEvent] = []
        if self._parts:
            tail = b"".join(self._parts)
            self._parts, self._held = [], 0
            self._line(tail, events)
        data = self._data if self._more is None else b"\n".join(self._more)
        if data is not None and data.strip() == DONE:
            events.append((self._event, DONE))
        self._data = self._more = self._event = None
        self._size = 0
        return events

    def _hold(self, piece: bytes) -> None:
        self._held += len(piece)
        if self._held > self._limit:
            raise SSEError(f"stream line longer than {self._limit} bytes (SYNAXIS_MAX_SSE_EVENT_BYTES)")
        self._parts.append(piece)

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            if self._data is not None:
                data = self._data if self._more is None else b"\n".join(self._more)
                events.append((self._event, data))
                self._data = self._more = None
                self._size = 0
            self._event = None
            return
        if line.startswith(b"data:"):
            value = line[6:] if line[5:6] == b" " else line[5:]
            self._size += len(value) + 1
            if self._size > self._limit:
                raise SSEError(f"stream event longer than {self._limit} bytes (SYNAXIS_MAX_SSE_EVENT_BYTES)")
            if self._data is None:
                self._data = value
            elif self._more is None:
                self._more = [self._data, value]
            else:
                self._more.append(value)
        elif line.startswith(b"event:"):
            self._event = line[6:].strip() or None
        elif len(line) > self._limit:  # one read can hold a whole line: caps comments too
            raise SSEError(f"stream line longer than {self._limit} bytes (SYNAXIS_MAX_SSE_EVENT_BYTES)")
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
