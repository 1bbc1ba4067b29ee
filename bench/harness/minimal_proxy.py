"""The floor for a Python gateway: Litestar + one shared HTTP client, no auth, no
routing. Forwards the body to ``UPSTREAM_URL`` and returns the upstream's bytes; an
upstream answering ``text/event-stream`` is relayed as it arrives. Served by uvicorn
with the same options as ``synaxis serve`` (before Synaxis dropped X-Forwarded-For
handling and the Server header).

Usage: python minimal_proxy.py PORT UPSTREAM_URL [aiohttp|pyreqwest]

``aiohttp`` (default) is the floor the performance budget is set against; ``pyreqwest``
is the same proxy on the HTTP client Synaxis uses, to show what the gateway's own work
costs on top of a pass-through with the same client.
"""

import sys

import uvicorn
from litestar import Litestar, Request, Response, post
from litestar.response import Stream

UPSTREAM = sys.argv[2].rstrip("/") + "/chat/completions" if len(sys.argv) > 2 else ""
CLIENT = sys.argv[3] if len(sys.argv) > 3 else "aiohttp"
state: dict = {}


@post("/v1/chat/completions", status_code=200)
async def chat(request: Request) -> Response[bytes] | Stream:
    headers = {"content-type": "application/json", "accept": request.headers.get("accept", "application/json")}
    if CLIENT == "pyreqwest":
        builder = state["client"].post(UPSTREAM).headers(headers).body_bytes(await request.body())
        if headers["accept"] != "text/event-stream":
            upstream = await builder.build().send()
            media_type = upstream.headers.get("content-type", "application/json")
            return Response(bytes(await upstream.bytes()), status_code=upstream.status, media_type=media_type)
        streamed = builder.streamed_read_buffer_limit(1).build_streamed()
        upstream = await streamed.__aenter__()

        async def relay_reqwest():
            try:
                while (part := await upstream.body_reader.read_chunk()) is not None:
                    yield bytes(part)
            finally:
                await streamed.__aexit__(None, None, None)
        return Stream(relay_reqwest(), media_type=upstream.headers.get("content-type", "text/event-stream"))
    upstream = await state["client"].post(UPSTREAM, data=await request.body(), headers=headers)
    media_type = upstream.headers.get("content-type", "application/json")
    if media_type.startswith("text/event-stream"):
        async def relay():
            async with upstream:
                async for part in upstream.content.iter_any():
                    yield part
        return Stream(relay(), media_type=media_type)
    async with upstream:
        return Response(await upstream.read(), status_code=upstream.status, media_type=media_type)


async def open_client() -> None:
    if CLIENT == "pyreqwest":
        from pyreqwest.client import ClientBuilder

        state["client"] = ClientBuilder().max_connections(512).build()
    else:
        import aiohttp

        state["client"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))


async def close_client() -> None:
    await state["client"].close()


app = Litestar([chat], on_startup=[open_client], on_shutdown=[close_client], logging_config=None)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False, lifespan="on")
