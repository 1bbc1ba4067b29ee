"""SSE parsing: events, comments, CRLF, multi-line data, [DONE], any split of the bytes."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from synaxis_core.sse import DONE, SSEDecoder, aiter_sse

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
