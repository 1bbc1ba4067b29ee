"""The one HTTP client factory for upstream calls.

Every provider gets its own ``httpx.AsyncClient`` from ``create_client``: pooled
keep-alive connections (``settings.max_connections``), a connect timeout from
``settings.connect_timeout_s`` and a read timeout (the longest wait for the next bytes)
from the provider's per-attempt timeout. The rest of the code speaks the httpx API.

Transport: httpx's API on pyreqwest (Rust's reqwest and hyper), whose own httpx
transport we use, and for chat calls ``direct_send`` goes to the pyreqwest client
itself. Measured on this machine (one core, 32 concurrent POSTs to a local nginx, CPU
time of the client process per request): aiohttp 47.5 µs, pyreqwest 23.8 µs; httpx's
default transport collapsed under the same load (540 against aiohttp's 2,526 requests/s
in an earlier run). ``transport="httpx"`` selects httpx's default transport, and any
``httpx.AsyncBaseTransport`` (``httpx.MockTransport`` in tests) can be passed in.

httpx logs one INFO line per request ("HTTP Request: POST ..."); ``quiet_httpx_logging``
raises the ``httpx`` and ``httpcore`` loggers to WARNING unless the application has
set their level itself, so that line stays off the hot path.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any, AsyncIterator, Literal, Mapping

import httpx
from pyreqwest import exceptions as rq
from pyreqwest.client import Client, ClientBuilder
from pyreqwest.compatibility.httpx import HttpxTransport

if TYPE_CHECKING:
    from synaxis_core.settings import Settings

TransportChoice = Literal["pyreqwest", "httpx"]
DEFAULT_TRANSPORT: TransportChoice = "pyreqwest"
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


class ReqwestTransport(HttpxTransport):
    """pyreqwest's httpx transport, keeping its client at hand for ``direct_send``, and
    raising httpx's errors through ``as_httpx_error`` as ``direct_send`` does (pyreqwest's
    own mapping lets errors it has no httpx class for out unmapped)."""

    def __init__(self, client: Client, read_timeout_s: float) -> None:
        super().__init__(client, close_client=True)
        self.reqwest = client
        self.read_timeout_s = read_timeout_s

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except rq.PyreqwestError as exc:
            raise as_httpx_error(exc) from exc


def create_client(
    settings: Settings,
    *,
    timeout_s: float | None = None,
    transport: TransportChoice | httpx.AsyncBaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """A new pooled ``httpx.AsyncClient`` for one provider; close it with ``aclose()``.

    :param settings: connection limits and timeouts.
    :param timeout_s: the read timeout (default ``settings.timeout_s``).
    :param transport: ``"pyreqwest"`` (default), ``"httpx"``, or a transport instance.
    :param headers: default headers sent with every request.
    """
    quiet_httpx_logging()
    timeout_s = timeout_s if timeout_s is not None else settings.timeout_s
    timeout = timeout_for(settings, timeout_s)
    choice = transport if transport is not None else DEFAULT_TRANSPORT
    if isinstance(choice, httpx.AsyncBaseTransport):
        return httpx.AsyncClient(transport=choice, timeout=timeout, headers=headers)
    if choice == "httpx":
        limits = httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
            keepalive_expiry=KEEPALIVE_EXPIRY_S,
        )
        return httpx.AsyncClient(limits=limits, timeout=timeout, headers=headers)
    if choice == "pyreqwest":
        reqwest = (
            ClientBuilder()
            .max_connections(settings.max_connections)
            .connect_timeout(timedelta(seconds=min(settings.connect_timeout_s, timeout_s)))
            .read_timeout(timedelta(seconds=timeout_s))
            .pool_idle_timeout(timedelta(seconds=KEEPALIVE_EXPIRY_S))
            .follow_redirects(False)
            .build()
        )
        transport = ReqwestTransport(reqwest, timeout_s)
        return httpx.AsyncClient(transport=transport, timeout=timeout, headers=headers)
    raise ValueError(f"unknown HTTP transport {choice!r} (expected 'pyreqwest' or 'httpx')")


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
    """What the provider reads of an upstream answer, straight from pyreqwest.

    The hot path (chat completions) skips httpx's request and response objects (they
    cost more CPU than the call itself). It shares the httpx client's pyreqwest client,
    pool and limits, and raises httpx's exceptions (``as_httpx_error``), so error
    mapping and retries are one code path for both.
    """

    __slots__ = ("_response", "_stream", "_stall_s", "status_code", "headers", "content")

    def __init__(self, response: Any, content: bytes = b"", stream: Any = None, stall_s: float | None = None) -> None:
        self._response = response
        self._stream = stream
        self._stall_s = stall_s
        self.status_code: int = response.status
        self.headers = response.headers
        self.content = content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        reader, stall_s = self._response.body_reader, self._stall_s
        try:
            while True:
                if stall_s is None:
                    chunk = await reader.read_chunk()
                else:
                    async with asyncio.timeout(stall_s):
                        chunk = await reader.read_chunk()
                if chunk is None:
                    return
                yield bytes(chunk)
        except rq.PyreqwestError as exc:
            raise as_httpx_error(exc) from exc
        except TimeoutError:
            raise httpx.ReadTimeout(f"no data for {stall_s:g} s") from None

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.__aexit__(None, None, None)


async def direct_send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    content: bytes | None,
    headers: Mapping[str, str],
    *,
    stream: bool,
    read_timeout_s: float,
    total_s: float | None = None,
) -> DirectResponse | None:
    """Send with the pyreqwest client behind ``client``; None when ``client`` is not on one.

    The client's timeouts apply (``create_client``); a shorter ``read_timeout_s`` also
    bounds the wait for a stream's headers and each gap in it, and ``total_s`` the
    whole of a call that is not streamed. A streamed answer holds its connection until
    ``aclose()``.
    """
    transport = getattr(client, "_transport", None)
    if type(transport) is not ReqwestTransport:
        return None
    builder = transport.reqwest.request(method, url).headers(headers)
    if content is not None:
        builder = builder.body_bytes(content)
    try:
        if not stream:
            if total_s is not None:
                builder = builder.timeout(timedelta(seconds=total_s))
            response = await builder.build().send()
            return DirectResponse(response, bytes(await response.bytes()))
        # hand over each chunk as it arrives: with the default 64 KiB read buffer a
        # stream's first chunk waited for the buffer to fill (a whole short answer)
        request = builder.streamed_read_buffer_limit(1).build_streamed()
        stall_s = read_timeout_s if read_timeout_s < transport.read_timeout_s else None
        try:
            async with asyncio.timeout(stall_s):
                response = await request.__aenter__()
        except TimeoutError:  # the cancelled request gives its connection back by itself
            raise httpx.ReadTimeout(f"no response headers within {stall_s:g} s") from None
        return DirectResponse(response, stream=request, stall_s=stall_s)
    except rq.PyreqwestError as exc:
        raise as_httpx_error(exc) from exc


_ERRORS: tuple[tuple[type[rq.PyreqwestError], type[httpx.TransportError]], ...] = (
    (rq.ConnectTimeoutError, httpx.ConnectTimeout),
    (rq.ReadTimeoutError, httpx.ReadTimeout),
    (rq.WriteTimeoutError, httpx.WriteTimeout),
    (rq.PoolTimeoutError, httpx.PoolTimeout),
    (rq.RequestTimeoutError, httpx.ReadTimeout),
    (rq.ConnectError, httpx.ConnectError),
    (rq.ReadError, httpx.ReadError),
    (rq.WriteError, httpx.WriteError),
    (rq.NetworkError, httpx.NetworkError),
    (rq.DecodeError, httpx.DecodingError),
)
"""pyreqwest's errors as httpx's, most specific first; anything else is a protocol error."""


def as_httpx_error(exc: rq.PyreqwestError) -> httpx.TransportError:
    for kind, mapped in _ERRORS:
        if isinstance(exc, kind):
            return mapped(str(exc))
    return httpx.RemoteProtocolError(str(exc))
