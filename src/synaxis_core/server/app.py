"""The app: plain ASGI routes on the hot path, Litestar for the rest.

``GatewayApp`` sends every request for a hot path (``HOT_ROUTES``: chat completions)
straight to its ASGI endpoint, whatever the method, before Litestar's routing; every
other route is a Litestar handler that gets the running ``Gateway`` by dependency
injection (``dependencies.py``). The lifespan opens the gateway (``runtime``), or
starts demo mode when no provider has a key.
"""

from __future__ import annotations

import gc
import logging
import sys
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from litestar import Litestar, Request
from litestar.openapi import OpenAPIConfig
from litestar.types import Receive, Scope, Send

from synaxis_core import __version__
from synaxis_core.console import console_routes, template_config
from synaxis_core.console.demo import DemoTraffic, console_banner, demo_settings
from synaxis_core.plugins import Extensions, load_extensions
from synaxis_core.server.admin import AdminController
from synaxis_core.server.asgi import check_header_size
from synaxis_core.runtime.accounting import new_request_id
from synaxis_core.runtime.demo import banner, demo_key_path, demo_tenant_key, start_fake_upstream, wants_demo
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.server.chat import CHAT_PATH, ChatEndpoint
from synaxis_core.server.completions import COMPLETIONS_PATH, CompletionsEndpoint
from synaxis_core.server.embeddings import EMBEDDINGS_PATH, EmbeddingsEndpoint
from synaxis_core.server.responses import RESPONSES_PATH, ResponsesEndpoint
from synaxis_core.server.dependencies import DEPENDENCIES
from synaxis_core.server.errors import EXCEPTION_HANDLERS, REQUEST_ID_HEADER
from synaxis_core.server.messages import COUNT_TOKENS_PATH, MESSAGES_PATH, CountTokensEndpoint, MessagesEndpoint
from synaxis_core.server.openapi import chat_completions, create_response
from synaxis_core.server.openapi import count_message_tokens, create_message
from synaxis_core.server.openapi_completions import create_completion
from synaxis_core.server.openapi_embeddings import create_embedding
from synaxis_core.server.routes import health, list_models, metrics, own_usage, retrieve_model
from synaxis_core.settings import Settings

log = logging.getLogger("synaxis.server")
REQUEST_ID = REQUEST_ID_HEADER.encode()


async def limit_headers(request: Request) -> None:
    """Refuse oversized header blocks with an OpenAI-shaped 431 before any work is done.

    ``async`` on purpose: Litestar runs a sync hook in a thread pool (~30 µs a request).
    """
    check_header_size(request.scope["headers"])


class GatewayApp(Litestar):
    """The Litestar app, with the hot paths sent straight to their plain ASGI endpoints
    (see ``server.asgi``) without Litestar's routing and hooks: one entrance per route."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot_routes = {CHAT_PATH: ChatEndpoint(self.state), RESPONSES_PATH: ResponsesEndpoint(self.state)}
        self.hot_routes[MESSAGES_PATH] = MessagesEndpoint(self.state)
        self.hot_routes[COUNT_TOKENS_PATH] = CountTokensEndpoint(self.state)
        self.hot_routes[COMPLETIONS_PATH] = CompletionsEndpoint(self.state)
        self.hot_routes[EMBEDDINGS_PATH] = EmbeddingsEndpoint(self.state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.hot_routes.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)  # type: ignore[arg-type]
                return
            send = _with_request_id(send)
        await super().__call__(scope, receive, send)


YOUNG_GC_THRESHOLD = 10_000
"""Allocations between two young collections (CPython's default is 700). A request
allocates hundreds of objects, nearly all freed by reference counting, so a young
collection every 700 mostly found nothing to free: with 5,000 slow streams open they
cost 8% of the CPU (1.74 against 1.59 ms a stream, docs/performance.md)."""


def _with_request_id(send: Send) -> Send:
    """Every response carries ``x-request-id``: a cold route writes no ledger row, so a fresh id."""
    request_id = new_request_id().encode()

    async def sending(message: Any) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), (REQUEST_ID, request_id)]
        await send(message)

    return sending  # type: ignore[return-value]


def create_app(
    settings: Settings | None = None,
    *,
    ext: Extensions | None = None,
    gateway: Gateway | None = None,
    prepare: bool = True,
) -> GatewayApp:
    """A gateway app. Its lifespan opens the ``Gateway`` (unless one is given) and closes it.
    ``prepare=False``: without migrating and syncing (``Gateway.open``; a worker of
    ``synaxis serve --workers N``, whose parent did both once).

    With no provider key configured the app runs in demo mode (see ``server.demo``):
    answers come from a built-in fake upstream, a ``demo`` tenant key is printed, and
    every response carries ``x-synaxis-demo: true``.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if gateway is not None:
            app.state.gateway = gateway
            yield
            return
        extensions = ext or load_extensions(settings)
        fake = None
        effective = settings
        if ext is None and wants_demo(settings, extensions):
            await extensions.aclose()
            fake, effective = await start_fake_upstream(settings, extensions)
            effective = demo_settings(effective)  # an admin key for the console
            extensions = load_extensions(effective)
        opened = await Gateway.open(effective, ext=extensions, prepare=prepare)
        opened.demo = fake is not None
        gc.collect()
        gc.freeze()  # the start-up objects (~100 MB of imports) are never scanned again
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
        app.state.gateway = opened
        if fake is not None:
            key = await demo_tenant_key(opened, demo_key_path(effective))
            print(banner(effective, extensions, key), file=sys.stderr, flush=True)
            print(console_banner(effective), file=sys.stderr, flush=True)
            traffic = DemoTraffic(app, opened)
            traffic.start()
        try:
            yield
        finally:
            if fake is not None:
                await traffic.stop()
            await opened.close()
            if fake is not None:
                await fake.astop()

    return GatewayApp(
        route_handlers=[chat_completions, create_response, create_message, count_message_tokens, create_completion,
                        create_embedding,
                        list_models, retrieve_model, own_usage, health, metrics, AdminController, *console_routes()],
        template_config=template_config(),
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_request=limit_headers,
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="Synaxis", version=__version__, path="/schema"),
        logging_config=None,
    )
