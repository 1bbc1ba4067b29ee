"""How the fake upstream's replies leave the socket: whole, cut short, or not at all.

``cut`` closes the connection cleanly (FIN) after part of the body, so the client reads
an incomplete body; ``reset`` aborts with a TCP RST before anything is sent. Both return
a response object to aiohttp, whose failure to finish it is ignored quietly (aiohttp
treats it as a premature client disconnection).
"""

from __future__ import annotations

import asyncio
import socket
import struct

from aiohttp import web

from .chat import BROKEN_LINE, StreamParts
from .formats import JSON, Reply

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def respond(reply: Reply, request_id: str | None = None) -> web.Response:
    """A whole reply, with ``x-request-id`` when given."""
    headers = dict(reply.headers or {})
    if request_id:
        headers["x-request-id"] = request_id
    return web.Response(
        status=reply.status, body=reply.body, content_type=reply.content_type, headers=headers
    )


def drop_connection(request: web.BaseRequest, *, rst: bool) -> None:
    """Close the client connection: after flushing what was written (a clean FIN but an
    incomplete body), or at once with a TCP RST (``rst=True``)."""
    transport = request.transport
    if transport is None:
        return
    if rst:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def reset(request: web.BaseRequest) -> web.Response:
    """Abort the connection before any response (the returned object is never sent)."""
    drop_connection(request, rst=True)
    return web.Response()


async def send_cut_body(
    request: web.Request, payload: bytes, request_id: str
) -> web.StreamResponse:
    """Announce the full ``Content-Length``, send half of ``payload``, then hang up."""
    response = web.StreamResponse(headers={"x-request-id": request_id})
    response.content_type, response.content_length = JSON, len(payload)
    await response.prepare(request)
    await response.write(payload[: len(payload) // 2])
    drop_connection(request, rst=False)
    return response


async def send_stream(
    request: web.Request,
    request_id: str,
    kind: str,
    parts: StreamParts,
    error_line: bytes = b"",
    chunk_delay_s: float = 0.0,
) -> web.StreamResponse:
    """Send an SSE stream, broken the way ``kind`` says: "cut" (half the chunks, then
    hang up), "no_done" (no ``[DONE]``), "invalid_json" (a broken ``data:`` line after
    the role chunk), "stream_error" (half the chunks, then ``error_line``); else whole.
    With ``chunk_delay_s``, a whole stream is sent chunk by chunk at that pace."""
    response = web.StreamResponse(headers={**SSE_HEADERS, "x-request-id": request_id})
    await response.prepare(request)
    if chunk_delay_s > 0 and kind not in ("cut", "no_done", "invalid_json", "stream_error"):
        await response.write(b"".join(parts.head))
        for part in parts.body + parts.tail:
            await asyncio.sleep(chunk_delay_s)
            await response.write(part)
        await response.write(parts.done)
        return response
    half = parts.body[: max(1, len(parts.body) // 2)]
    if kind == "cut":
        await response.write(b"".join(parts.head + half))
        drop_connection(request, rst=False)
    elif kind == "no_done":
        await response.write(b"".join(parts.head + parts.body + parts.tail))
    elif kind == "invalid_json":
        broken = parts.head + [BROKEN_LINE] + parts.body + parts.tail
        await response.write(b"".join(broken) + parts.done)
    elif kind == "stream_error":
        await response.write(b"".join(parts.head + half) + error_line)
    else:
        await response.write(parts.full())
    return response
