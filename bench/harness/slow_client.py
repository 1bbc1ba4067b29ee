"""The slow-stream client: many concurrent streaming requests, each connection a bare
asyncio ``Protocol`` on uvloop (aiohttp's per-request objects would make the client the
bottleneck long before 10,000 connections on one core).

Each connection sends ``rounds`` streaming chat requests back to back (one by default),
each paced by ``slow_upstream`` (``slow:GAPS`` in its message), decodes the chunked
response and its events, and for every content event records its delay: arrival minus
the moment the upstream wrote it (``@<µs>``, ``CLOCK_MONOTONIC``). A stream counts as
complete when every content event and ``[DONE]`` arrived with status 200; anything
else (an error status, a connection lost or refused, a stream still open at the
deadline) is a lost stream.
"""

from __future__ import annotations

import array
import asyncio
import json
import random
import re
import time
from dataclasses import dataclass, field

STAMP = re.compile(rb'"content":"@(\d+) ')


@dataclass
class Tally:
    """What one run's streams did."""

    started: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    complete: int = 0
    lost: int = 0
    refused: int = 0
    statuses: dict = field(default_factory=dict)
    events: int = 0
    delays_us: array.array = field(default_factory=lambda: array.array("q"))
    arrivals_us: array.array = field(default_factory=lambda: array.array("q"))
    """When each delay was seen (``CLOCK_MONOTONIC`` µs), to find when the delays happen."""
    first_event_us: array.array = field(default_factory=lambda: array.array("q"))
    """Per stream, from sending the request to its first content event: what a gateway
    too busy to start new streams delays (the per-event delay does not show it)."""


class Plan:
    """The requests: each stream's gaps drawn from ``events`` and ``gap_ms`` (seeded)."""

    def __init__(self, port: int, token: str | None, events: tuple[int, int], gap_ms: tuple[int, int],
                 seed: int = 18) -> None:
        self.port, self.token, self.events, self.gap_ms = port, token, events, gap_ms
        self.random = random.Random(seed)

    def request(self) -> tuple[bytes, int]:
        """One request and how many content events its stream will have."""
        n = self.random.randint(*self.events)
        gaps = ",".join(str(self.random.randint(*self.gap_ms)) for _ in range(n))
        body = json.dumps({"model": "bench-model", "stream": True, "max_tokens": 64,
                           "messages": [{"role": "user", "content": f"slow:{gaps}"}]}, separators=(",", ":")).encode()
        auth = f"Authorization: Bearer {self.token}\r\n" if self.token else ""
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Content-Type: application/json\r\nAccept: text/event-stream\r\n{auth}"
                f"Content-Length: {len(body)}\r\n\r\n")
        return head.encode() + body, n


class StreamClient(asyncio.Protocol):
    """One connection: ``rounds`` streams back to back."""

    def __init__(self, plan: Plan, tally: Tally, rounds: int, done: asyncio.Future) -> None:
        self.plan, self.tally, self.rounds, self.done = plan, tally, rounds, done
        self.transport: asyncio.Transport | None = None
        self.in_stream = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        request, self.expected = self.plan.request()
        self.head: bytes | None = b""  # None once the status line and headers are read
        self.raw = b""  # chunked body not yet decoded
        self.sse = b""  # decoded body after the last complete event
        self.contents = 0
        self.finished = False
        self.status = 0
        self.sent_us = time.monotonic_ns() // 1000
        self.in_stream = True
        self.rounds -= 1
        tally = self.tally
        tally.started += 1
        tally.in_flight += 1
        if tally.in_flight > tally.peak_in_flight:
            tally.peak_in_flight = tally.in_flight
        self.transport.write(request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns() // 1000
        if self.head is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = int(self.head[9:12])
            if self.status != 200 or b"chunked" not in self.head[:end].lower():
                self._end(False)
                return
            data, self.head = self.head[end + 4:], None
        self.raw += data
        payload, ended = self._dechunk()
        if payload:
            self.sse += payload
            cut = self.sse.rfind(b"\n\n")
            if cut >= 0:
                events, self.sse = self.sse[:cut], self.sse[cut + 2:]
                stamps = STAMP.findall(events)
                delays, arrivals = self.tally.delays_us, self.tally.arrivals_us
                for stamp in stamps:
                    delays.append(now - int(stamp))
                    arrivals.append(now)
                if stamps and not self.contents:
                    self.tally.first_event_us.append(now - self.sent_us)
                self.contents += len(stamps)
                if b"data: [DONE]" in events:
                    self.finished = True
        if ended:
            self._end(self.finished and self.contents == self.expected)

    def _dechunk(self) -> tuple[bytes, bool]:
        """The chunk payloads complete in ``self.raw``, and whether the last chunk came."""
        raw, out, at = self.raw, [], 0
        while True:
            line = raw.find(b"\r\n", at)
            if line < 0:
                break
            size = int(raw[at:line].split(b";", 1)[0], 16)
            if size == 0:
                if len(raw) < line + 4:
                    break
                self.raw = b""
                return b"".join(out), True
            if len(raw) < line + 2 + size + 2:
                break
            out.append(raw[line + 2:line + 2 + size])
            at = line + 2 + size + 2
        self.raw = raw[at:]
        return b"".join(out), False

    def _end(self, ok: bool) -> None:
        tally = self.tally
        self.in_stream = False
        tally.in_flight -= 1
        tally.statuses[self.status] = tally.statuses.get(self.status, 0) + 1
        tally.events += self.contents
        if ok:
            tally.complete += 1
        else:
            tally.lost += 1
        if ok and self.rounds > 0:
            self._send()
        else:
            self.transport.close()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_stream:
            self.in_stream = False
            self.tally.in_flight -= 1
            self.tally.lost += 1
            self.tally.events += self.contents
        if not self.done.done():
            self.done.set_result(None)


async def run(plan: Plan, connections: int, rounds: int, ramp_s: float, deadline_s: float) -> Tally:
    """``connections`` concurrent connections (opened over ``ramp_s``), each with
    ``rounds`` streams; streams still open ``deadline_s`` after the last connection
    opened are lost."""
    loop = asyncio.get_running_loop()
    tally = Tally()
    waits: list[asyncio.Future] = []
    clients: list[StreamClient] = []
    batch = max(1, connections // max(1, int(ramp_s / 0.02)))
    opening: list[asyncio.Task] = []

    async def open_one() -> None:
        done = loop.create_future()
        try:
            _, client = await loop.create_connection(lambda: StreamClient(plan, tally, rounds, done), "127.0.0.1",
                                                     plan.port)
        except OSError:
            tally.refused += 1
            tally.lost += 1
            return
        clients.append(client)
        waits.append(done)

    for i in range(0, connections, batch):
        opening += [asyncio.ensure_future(open_one()) for _ in range(min(batch, connections - i))]
        await asyncio.sleep(0.02)
    await asyncio.gather(*opening)
    if waits:
        await asyncio.wait(waits, timeout=deadline_s)
    for client in clients:  # still streaming at the deadline: lost
        if client.in_stream:
            client.transport.close()  # type: ignore[union-attr]
    await asyncio.sleep(0.1)
    return tally


def percentile(values: list[int], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")
