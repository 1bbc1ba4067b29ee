"""The one HTTP client factory for upstream calls.

Every provider gets its own ``httpx.AsyncClient`` from ``create_client``: pooled
keep-alive connections (``settings.max_connections``), a connect timeout from
``settings.connect_timeout_s`` and a read/write/pool timeout from the provider's
per-attempt timeout. The rest of the code speaks only the httpx API.

Transport: httpx's API on aiohttp's connection pool (``httpx_aiohttp.AiohttpTransport``).
Measured on this machine (2 CPUs, 32 concurrent clients against a local aiohttp server,
4,000 small JSON POSTs, client and server in one process): httpx's default transport
540 requests/s (p50 30.9 ms, p95 203 ms), the aiohttp transport 2,526 requests/s
(p50 11.1 ms, p95 18.6 ms). ``transport="httpx"`` selects the default transport, and
any ``httpx.AsyncBaseTransport`` (``httpx.MockTransport`` in tests) can be passed in.

httpx logs one INFO line per request ("HTTP Request: POST ..."); ``quiet_httpx_logging``
raises the ``httpx`` and ``httpcore`` loggers to WARNING unless the application has
set their level itself, so that line stays off the hot path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, AsyncIterator, Literal, Mapping

import httpx

if TYPE_CHECKING:
    from synaxis_core.settings import Settings

TransportChoice = Literal["aiohttp", "httpx"]
DEFAULT_TRANSPORT: TransportChoice = "aiohttp"
KEEPALIVE_EXPIRY_S = 15.0
"""Idle pooled connections are closed after this long (upstream load balancers
commonly keep idle connections for 60 s; a stale connection is retried anyway)."""


def quiet_httpx_logging() -> None:
    """Keep httpx's per-request INFO log line off the hot path (unless configured)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def timeout_for(settings: Settings, timeout_s: float) -> httpx.Timeout:
    """The httpx timeout of one attempt: connect from settings, the rest ``timeout_s``."""
    return httpx.Timeout(timeout_s, connect=min(settings.connect_timeout_s, timeout_s))


def create_client(
    settings: Settings,
    *,
    timeout_s: float | None = None,
    transport: TransportChoice | httpx.AsyncBaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """A new pooled ``httpx.AsyncClient`` for one provider; close it with ``aclose()``.

    :param settings: connection limits and timeouts.
    :param timeout_s: the default per-request timeout (default ``settings.timeout_s``).
    :param transport: ``"aiohttp"`` (default), ``"httpx"``, or a transport instance.
    :param headers: default headers sent with every request.
    """
    quiet_httpx_logging()
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY_S,
    )
    timeout = timeout_for(settings, timeout_s if timeout_s is not None else settings.timeout_s)
    choice = transport if transport is not None else DEFAULT_TRANSPORT
    if isinstance(choice, httpx.AsyncBaseTransport):
        return httpx.AsyncClient(transport=choice, timeout=timeout, headers=headers)
    if choice == "httpx":
        return httpx.AsyncClient(limits=limits, timeout=timeout, headers=headers)
    if choice == "aiohttp":
        from httpx_aiohttp import HttpxAiohttpClient

        # HttpxAiohttpClient builds an AiohttpTransport for direct connections and for
        # proxies taken from the environment alike.
        return HttpxAiohttpClient(limits=limits, timeout=timeout, headers=headers)
    raise ValueError(f"unknown HTTP transport {choice!r} (expected 'aiohttp' or 'httpx')")


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of a streamed response's body (an error body, say)."""
    parts: list[bytes] = []
    size = 0
    async for part in response.aiter_bytes():
        parts.append(part)
        size += len(part)
        if size >= limit:
            break
    return b"".join(parts)[:limit]


class DirectResponse:
    """What the provider reads of an upstream answer, straight from aiohttp.

    The hot path (chat completions) skips httpx's request and response objects, which
    cost about 190 µs of CPU per call on this machine (measured: 332 µs through the
    httpx API on the aiohttp transport, 144 µs on the aiohttp session directly). It
    shares the httpx client's aiohttp session, pool and limits, and raises the same
    httpx exceptions (``httpx_aiohttp.transport.map_aiohttp_exceptions``), so error
    mapping and retries are one code path for both.
    """

    __slots__ = ("_response", "status_code", "headers", "content")

    def __init__(self, response: Any, content: bytes = b"") -> None:
        self._response = response
        self.status_code: int = response.status
        self.headers = response.headers
        self.content = content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        from httpx_aiohttp.transport import map_aiohttp_exceptions

        with map_aiohttp_exceptions():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


async def direct_send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    content: bytes | None,
    headers: Mapping[str, str],
    *,
    timeout: Any,
    stream: bool,
) -> DirectResponse | None:
    """Send on the aiohttp session behind ``client``; None when ``client`` is not on it.

    ``timeout`` is an ``aiohttp.ClientTimeout`` (``direct_timeout``). aiohttp's errors
    are mapped to httpx's (``map_aiohttp_exceptions``) on the way out.
    """
    session_type, transport_type = _AIOHTTP or _aiohttp_types()
    transport = getattr(client, "_transport", None)
    if type(transport) is not transport_type:
        return None
    session = transport.client
    if not isinstance(session, session_type):
        session = transport.client = transport.get_client()
    try:  # the context manager only when something failed: it costs ~2 µs a call
        response = await session.request(
            method, url, data=content, headers=headers, allow_redirects=False, timeout=timeout
        )
        if stream:
            return DirectResponse(response)
        try:
            body = await response.read()
        finally:
            response.release()
    except Exception:
        from httpx_aiohttp.transport import map_aiohttp_exceptions

        with map_aiohttp_exceptions():
            raise
    return DirectResponse(response, body)


_AIOHTTP: tuple[type, type] | None = None


def _aiohttp_types() -> tuple[type, type]:
    """aiohttp's session and httpx-aiohttp's transport classes, imported on first use
    (not at import time: the CLI does not need aiohttp) and then kept (an import
    statement in the hot path costs ~1 µs)."""
    global _AIOHTTP
    from aiohttp import ClientSession
    from httpx_aiohttp.transport import AiohttpTransport

    _AIOHTTP = (ClientSession, AiohttpTransport)
    return _AIOHTTP


def direct_timeout(connect_s: float, read_s: float) -> Any:
    """The ``aiohttp.ClientTimeout`` of a ``direct_send`` (cache it: ~2 µs to build)."""
    from aiohttp import ClientTimeout

    return ClientTimeout(sock_connect=connect_s, sock_read=read_s)
