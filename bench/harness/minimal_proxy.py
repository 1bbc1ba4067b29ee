"""The floor for a Python gateway: Litestar + one shared aiohttp session, no auth, no
routing. Forwards the body to ``UPSTREAM_URL`` and returns the upstream's bytes; an
upstream answering ``text/event-stream`` is relayed as it arrives. Served by uvicorn
with the same options as ``synaxis serve``. Usage: python minimal_proxy.py PORT UPSTREAM_URL
"""

import sys

import aiohttp
import uvicorn
from litestar import Litestar, Request, Response, post
from litestar.response import Stream

UPSTREAM = sys.argv[2].rstrip("/") + "/chat/completions" if len(sys.argv) > 2 else ""
state: dict[str, aiohttp.ClientSession] = {}


@post("/v1/chat/completions", status_code=200)
async def chat(request: Request) -> Response[bytes] | Stream:
    headers = {"content-type": "application/json", "accept": request.headers.get("accept", "application/json")}
    upstream = await state["session"].post(UPSTREAM, data=await request.body(), headers=headers)
    media_type = upstream.headers.get("content-type", "application/json")
    if media_type.startswith("text/event-stream"):
        async def relay():
            async with upstream:
                async for part in upstream.content.iter_any():
                    yield part
        return Stream(relay(), media_type=media_type)
    async with upstream:
        return Response(await upstream.read(), status_code=upstream.status, media_type=media_type)


async def open_session() -> None:
    state["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))


async def close_session() -> None:
    await state["session"].close()


app = Litestar([chat], on_startup=[open_session], on_shutdown=[close_session], logging_config=None)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False, lifespan="on")
