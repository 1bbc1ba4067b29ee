"""SSE parsing: events, comments, CRLF, multi-line data, [DONE], any split of the bytes."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synaxis_core.sse import DEFAULT_MAX_EVENT_BYTES, DONE, SSEDecoder, SSEError, aiter_sse

STREAM = (
    b": keep-alive\n\n"
    b'data: {"a": 1}\n\n'
    b'data:{"b": 2}\r\n\r\n'
    b"event: error\n"
    b'data: {"error": "x"}\n\n'
    b"id: 7\nretry: 100\n"
    b'data: {"c":\n'
    b"data: 3}\n\n"
    b": another comment\n"
    b"\n"
    b"data: [DONE]\n\n"
)
EVENTS = [
    (None, b'{"a": 1}'),
    (None, b'{"b": 2}'),
    (b"error", b'{"error": "x"}'),
    (None, b'{"c":\n3}'),
    (None, DONE),
]


def decode_all(pieces: list[bytes]) -> list[tuple[bytes | None, bytes]]:
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.close()


def test_whole_stream():
    assert decode_all([STREAM]) == EVENTS


def test_byte_by_byte():
    assert decode_all([STREAM[i : i + 1] for i in range(len(STREAM))]) == EVENTS


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=20))
def test_any_split_gives_the_same_events(cuts):
    points = sorted(set(cuts))
    pieces = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert decode_all(pieces) == EVENTS


def test_done_without_final_blank_line():
    assert decode_all([b'data: {"a": 1}\n\ndata: [DONE]']) == [(None, b'{"a": 1}'), (None, DONE)]
    assert decode_all([b"data: [DONE]\n"]) == [(None, DONE)]


def test_incomplete_event_at_the_end_is_dropped():
    assert decode_all([b'data: {"a": 1}\n\ndata: {"b": ']) == [(None, b'{"a": 1}')]
    assert decode_all([b'data: {"a": 1}\n']) == []


def test_comments_only_yield_nothing():
    assert decode_all([b": ping\n\n: ping\n\n"]) == []


def test_aiter_sse():
    async def chunks():
        for piece in (b"data: 1\n", b"\ndata: 2\n\n", b"data: [DONE]"):
            yield piece

    async def collect():
        return [event async for event in aiter_sse(chunks())]

    assert asyncio.run(collect()) == [(None, b"1"), (None, b"2"), (None, DONE)]


# --- bounded work ------------------------------------------------------------------------------


def test_a_line_without_newline_past_the_cap_raises():
    decoder = SSEDecoder(max_event_bytes=1000)
    decoder.feed(b"data: ")
    with pytest.raises(SSEError, match="line longer than 1000 bytes"):
        for _ in range(100):
            decoder.feed(b"x" * 100)


def test_an_event_past_the_cap_raises_however_it_is_split():
    many_lines = b"data: " + b"\ndata: ".join([b"x" * 10] * 200) + b"\n\n"  # 200 data lines, 2.2 KB
    with pytest.raises(SSEError, match="event longer than 1000 bytes"):
        SSEDecoder(max_event_bytes=1000).feed(many_lines)
    with pytest.raises(SSEError, match="event longer than 1000 bytes"):
        SSEDecoder(max_event_bytes=1000).feed(b"data: " + b"y" * 2000 + b"\n\n")  # one read, one line
    with pytest.raises(SSEError, match="line longer"):
        SSEDecoder(max_event_bytes=1000).feed(b": " + b"z" * 2000 + b"\n")  # a comment too
    assert SSEDecoder(max_event_bytes=None).feed(many_lines) == [(None, b"\n".join([b"x" * 10] * 200))]
    assert SSEDecoder(max_event_bytes=2500).feed(many_lines) == [(None, b"\n".join([b"x" * 10] * 200))]


def test_the_default_cap():
    assert DEFAULT_MAX_EVENT_BYTES == 4 * 1024 * 1024
    decoder = SSEDecoder()
    with pytest.raises(SSEError):
        for _ in range(70):
            decoder.feed(b"a" * 65536)


def test_a_long_line_costs_linear_time():
    """50 MB of one line in 16 KiB reads, then its newline: one join, not one per read
    (appending each read to the tail copied ~80 GB for this input)."""
    piece = b"x" * 16384
    decoder = SSEDecoder(max_event_bytes=None)
    start = time.perf_counter()
    decoder.feed(b"data: ")
    for _ in range(50 * 1024 * 1024 // len(piece)):
        decoder.feed(piece)
    (event,) = decoder.feed(b"\n\n")
    assert len(event[1]) == 50 * 1024 * 1024
    assert time.perf_counter() - start < 2.0


def test_many_data_lines_cost_linear_time():
    lines = b"data: x\n" * 200_000 + b"\n"
    start = time.perf_counter()
    ((_, data),) = SSEDecoder(max_event_bytes=None).feed(lines)
    assert data == b"\n".join([b"x"] * 200_000)
    assert time.perf_counter() - start < 1.0
