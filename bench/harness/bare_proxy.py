"""The floor: a pass-through written as a bare ASGI app on pyreqwest.

No framework, no auth, no routing: the request body goes to ``UPSTREAM_URL`` with the
client's ``Accept``, the upstream's answer comes back whole, or chunk by chunk as it is
read when the upstream answers ``text/event-stream``. Served by uvicorn with uvloop and
httptools (what ``synaxis serve`` runs on), one shared pyreqwest client (the HTTP client
Synaxis uses). Whatever Synaxis costs above this is its own work.

Usage: python bare_proxy.py PORT UPSTREAM_URL
"""

from __future__ import annotations

import gc
import resource
import sys

import uvicorn
from pyreqwest.client import ClientBuilder

UPSTREAM = sys.argv[2].rstrip("/") + "/chat/completions" if len(sys.argv) > 2 else ""
JSON = {"content-type": "application/json"}
state: dict = {}


async def _body(receive) -> bytes:  # type: ignore[no-untyped-def]
    message = await receive()
    body = message.get("body", b"")
    while message.get("more_body"):
        message = await receive()
        body += message.get("body", b"")
    return body


async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                state["client"] = ClientBuilder().max_connections(20_000).build()
                gc.collect()
                gc.freeze()  # as Synaxis does: the start-up objects are never scanned again,
                gc.set_threshold(10_000, *gc.get_threshold()[1:])  # and young collections are rarer
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await state["client"].close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    accept = next((v for k, v in scope["headers"] if k == b"accept"), b"application/json").decode()
    builder = state["client"].post(UPSTREAM).headers({**JSON, "accept": accept}).body_bytes(await _body(receive))
    if accept != "text/event-stream":
        upstream = await builder.build().send()
        body = bytes(await upstream.bytes())
        await send({"type": "http.response.start", "status": upstream.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    async with builder.streamed_read_buffer_limit(0).build_streamed() as upstream:
        await send({"type": "http.response.start", "status": upstream.status,
                    "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
        reader = upstream.body_reader
        while (part := await reader.read_chunk()) is not None:
            await send({"type": "http.response.body", "body": bytes(part), "more_body": True})
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
                log_level="warning", access_log=False, lifespan="on", proxy_headers=False, server_header=False)
