"""Stream time to first byte: sequential stream requests on one keep-alive connection,
timing from sending the request to the first ``data:`` byte of the body."""

from __future__ import annotations

import socket
import statistics
import time


def _request(port: int, body: bytes, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nAccept: text/event-stream\r\n{auth}"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _one(sock: socket.socket, request: bytes) -> tuple[float, float]:
    """(seconds to the first ``data:`` byte, seconds to the end of the response)."""
    started = time.perf_counter()
    sock.sendall(request)
    buffer = b""
    first = None
    while b"\r\n\r\n" not in buffer:
        buffer += _recv(sock)
    head, _, body = buffer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"stream request failed: {head.decode(errors='replace')[:200]}")
    lower = head.lower()
    length = None
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while True:
        if first is None and b"data:" in body:
            first = time.perf_counter()
        if length is not None and len(body) >= length:
            break
        if length is None and body.endswith(b"0\r\n\r\n") and b"[DONE]" in body:
            break
        body += _recv(sock)
    return first - started, time.perf_counter() - started  # type: ignore[operator]


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise RuntimeError("the server closed the connection")
    return data


def measure(port: int, body: bytes, token: str | None = None, n: int = 200, warmup: int = 20) -> dict[str, float]:
    """Median and p90 time to first byte and to the end, in ms, over ``n`` requests."""
    request = _request(port, body, token)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(warmup):
            _one(sock, request)
        samples = [_one(sock, request) for _ in range(n)]
    first = sorted(s[0] * 1000 for s in samples)
    total = sorted(s[1] * 1000 for s in samples)
    return {"ttfb_p50_ms": statistics.median(first), "ttfb_p90_ms": first[int(n * 0.9)],
            "stream_total_p50_ms": statistics.median(total)}
