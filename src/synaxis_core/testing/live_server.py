"""Serve an ASGI app with uvicorn on a free loopback port, inside the running event loop.

    async with gateway_harness(fake, database_url=url) as h, live_server(h.app) as base_url:
        httpx.AsyncClient(base_url=base_url)  # real sockets, real HTTP parsing (h11)

For what the in-process ASGI client cannot show: the HTTP server's own limits (request
line and header sizes), a client that disconnects mid-stream, real streaming. uvicorn
gets the options ``synaxis serve`` gives it; the app's lifespan is not run (the
harness already opened the gateway).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

START_TIMEOUT_S = 10.0


@asynccontextmanager
async def live_server(app: Any, *, host: str = "127.0.0.1", **options: Any) -> AsyncIterator[str]:
    """Run ``app`` on ``host`` and a free port; yields ``http://host:port``."""
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=0, lifespan="off", access_log=False, log_config=None, **options
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            while not server.started:
                if task.done():
                    await task  # raises what stopped it
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
