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

Deadlines and cancellation: every await on pyreqwest goes through ``guarded``, because
pyreqwest's own awaitables lose a cancellation whose data arrived meanwhile (see there).
The whole of a non-streamed call is bounded by pyreqwest's per-request timeout and the
gaps of every read by the client's read timeout: Rust timers, which a busy event loop
cannot delay. A stream's first-chunk deadline, and a stall bound shorter than the
client's, are ``guarded``'s timer (one ``call_at`` per read that has to wait). Closing a
stream (``DirectResponse.aclose``) drops its connection at once. pyreqwest 0.15.1 runs
each send as a Rust task of its own that a cancellation does not stop: a send
abandoned before the response headers keeps its connection until they come (then it
is dropped at the first body chunk) or until the client's read timeout.

httpx logs one INFO line per request ("HTTP Request: POST ..."); ``quiet_httpx_logging``
raises the ``httpx`` and ``httpcore`` loggers to WARNING unless the application has
set their level itself, so that line stays off the hot path.
"""

from __future__ import annotations

import asyncio
import logging
import types
from datetime import timedelta
from typing import TYPE_CHECKING, Any, AsyncIterator, Generator, Literal, Mapping

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


class ResponseTooLarge(Exception):
    """An upstream answer is longer than the configured cap (the caller maps it to
    ``UpstreamProtocolError``)."""


# --- awaiting pyreqwest ---------------------------------------------------------------------
#
# pyreqwest's awaitables are pyo3 coroutines that race a cancellation against the
# operation (``tokio::select!``, random branch order) and do not look at it at all when
# the data is already buffered: a ``CancelledError`` thrown into one whose data arrived
# meanwhile is swallowed and the data returned. That is exactly what happens when the
# event loop is busy across a deadline: the data and the timer are both due in the same
# loop iteration. Measured (bench/upstream_client.py --busy, and a bare pyreqwest probe):
# an ``asyncio.timeout`` around ``read_chunk()`` never fired in 10 of 20 tries, and a
# cancelled task went on reading. ``guarded`` drives the coroutine itself and, when
# anything is thrown in, drops it (``close()``, which drops the Rust future) and
# re-raises: a cancellation always wins.


class _Watch:
    """The timer of one ``guarded`` await: cancels the future the coroutine waits on."""

    __slots__ = ("waiter", "expired")

    def __init__(self, waiter: Any) -> None:
        self.waiter = waiter
        self.expired = False

    def __call__(self) -> None:
        self.expired = True
        waiter = self.waiter
        # done: the data came in before the timer ran (the loop was busy); let it in
        if waiter is not None and not waiter.done():
            waiter.cancel()


@types.coroutine
def guarded(coro: Any, deadline: float | None = None) -> Generator[Any, None, Any]:
    """``await coro`` (a pyreqwest coroutine) so that a cancellation always wins.

    ``deadline`` (event-loop time, or None): raise ``TimeoutError`` when the result has
    not arrived by then. It costs nothing when the result is there at once (no timer is
    armed) and one ``call_at`` otherwise; it fires at its time, or as soon as a busy
    loop gets to it, and a result that arrived before the timer ran is kept.
    """
    try:
        waiter = coro.send(None)
    except StopIteration as stop:
        return stop.value
    watch = timer = None
    if deadline is not None:
        watch = _Watch(waiter)
        timer = asyncio.get_running_loop().call_at(deadline, watch)
    try:
        while True:
            try:
                yield waiter
            except BaseException as exc:  # a cancellation (ours or anyone's), GeneratorExit
                coro.close()
                if watch is not None and watch.expired and isinstance(exc, asyncio.CancelledError):
                    task = asyncio.current_task()
                    if task is None or not task.cancelling():  # ours alone
                        raise TimeoutError from None
                raise
            try:
                waiter = coro.send(None)
            except StopIteration as stop:
                return stop.value
            if watch is not None:
                if watch.expired:
                    coro.close()
                    raise TimeoutError
                watch.waiter = waiter
    finally:
        if timer is not None:
            timer.cancel()


class DirectResponse:
    """What the provider reads of an upstream answer, straight from pyreqwest.

    The hot path (chat completions) skips httpx's request and response objects (they
    cost more CPU than the call itself). It shares the httpx client's pyreqwest client,
    pool and limits, and raises httpx's exceptions (``as_httpx_error``), so error
    mapping and retries are one code path for both. A non-streamed answer is read whole
    (``content``) and its connection released before the object exists; a streamed one
    is read with ``read()`` and holds its connection until ``aclose()``.
    """

    __slots__ = ("_request", "_reader", "_stall_s", "status_code", "headers", "content")

    def __init__(self, response: Any, content: bytes = b"", request: Any = None, stall_s: float | None = None) -> None:
        self._request = request
        self._reader = response.body_reader if request is not None else None
        self._stall_s = stall_s
        self.status_code: int = response.status
        self.headers = response.headers
        self.content = content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    async def read(self, deadline: float | None = None) -> bytes | None:
        """The next chunk of a streamed body (None at its end).

        Raises ``TimeoutError`` past ``deadline`` (event-loop time) or after the
        stream's own stall bound without data, an httpx error when the read fails.
        """
        stall_s = self._stall_s
        if stall_s is not None:
            by = asyncio.get_running_loop().time() + stall_s
            if deadline is None or by < deadline:
                deadline = by
        try:
            chunk = await guarded(self._reader.read_chunk(), deadline)
        except rq.PyreqwestError as exc:
            raise as_httpx_error(exc) from exc
        return None if chunk is None else bytes(chunk)

    async def aclose(self) -> None:
        """Release the connection now: a body not read to its end drops the connection
        (pyreqwest stops its reader task at once, even while the upstream is silent)."""
        request, self._request = self._request, None
        if request is not None:
            await guarded(request.__aexit__(None, None, None))


class HttpxResponse:
    """The same reading interface over an httpx response (any transport but pyreqwest's)."""

    __slots__ = ("_response", "_chunks", "status_code", "headers", "content")

    def __init__(self, response: httpx.Response, content: bytes = b"") -> None:
        self._response = response
        self._chunks: AsyncIterator[bytes] | None = None
        self.status_code: int = response.status_code
        self.headers = response.headers
        self.content = content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    async def read(self, deadline: float | None = None) -> bytes | None:
        """As ``DirectResponse.read`` (the stall bound is the httpx client's read timeout)."""
        chunks = self._chunks
        if chunks is None:
            chunks = self._chunks = self._response.aiter_bytes()
        if deadline is None:
            return await anext(chunks, None)
        async with asyncio.timeout_at(deadline):
            return await anext(chunks, None)

    async def aclose(self) -> None:
        await self._response.aclose()


UpstreamResponse = DirectResponse | HttpxResponse


async def read_capped(response: UpstreamResponse, limit: int) -> bytes:
    """At most ``limit`` bytes of a streamed response's body (an error body, say)."""
    parts: list[bytes] = []
    size = 0
    while size < limit and (part := await response.read()) is not None:
        parts.append(part)
        size += len(part)
    return b"".join(parts)[:limit]


def _declared_length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _too_large(limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(f"response larger than {limit} bytes (SYNAXIS_MAX_UPSTREAM_RESPONSE_BYTES)")


async def direct_send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    content: bytes | None,
    headers: Mapping[str, str],
    *,
    stream: bool,
    read_timeout_s: float,
    deadline: float | None = None,
    max_bytes: int | None = None,
    error_bytes: int = 64 * 1024,
) -> DirectResponse | None:
    """Send with the pyreqwest client behind ``client``; None when ``client`` is not on one.

    The client's timeouts apply (``create_client``: connect, and its read timeout
    between reads, kept by pyreqwest's own timers, which a busy event loop cannot
    delay). ``deadline`` (event-loop time): for a call that is not streamed, the end of
    the whole call (pyreqwest's total timeout); for a stream, the time by which the
    response headers must be in (``TimeoutError``). A ``read_timeout_s`` shorter than
    the client's bounds the wait for a stream's headers and each gap in it (the
    stream's own timer). A non-streamed body is read whole, at most ``max_bytes`` of a
    2xx answer (``ResponseTooLarge`` beyond) and ``error_bytes`` of any other; a
    streamed answer holds its connection until ``aclose()``.
    """
    transport = getattr(client, "_transport", None)
    if type(transport) is not ReqwestTransport:
        return None
    builder = transport.reqwest.request(method, url).headers(headers)
    if content is not None:
        builder = builder.body_bytes(content)
    try:
        if stream:
            # 0: the response comes back with its headers, and each chunk is handed over
            # as it arrives (the default 64 KiB buffer held a stream's first chunk until
            # the buffer filled; 1 held the response until the first body byte, which a
            # cancellation cannot interrupt: see ``guarded``)
            request = builder.streamed_read_buffer_limit(0).build_streamed()
            stall_s = read_timeout_s if read_timeout_s < transport.read_timeout_s else None
            if stall_s is not None:
                by = asyncio.get_running_loop().time() + stall_s
                deadline = by if deadline is None or by < deadline else deadline
            # pyreqwest runs the send as a task of its own, which a cancelled or timed-out
            # await leaves running: it drops its connection when the headers come (at
            # the first body chunk) or at the client's read timeout, whichever is first
            response = await guarded(request.__aenter__(), deadline)
            return DirectResponse(response, request=request, stall_s=stall_s)
        if deadline is not None:
            builder = builder.timeout(timedelta(seconds=max(0.001, deadline - asyncio.get_running_loop().time())))
        request = builder.build_streamed()  # streamed, to read at most max_bytes
        response = await guarded(request.__aenter__())
        read_whole = False
        try:
            success = 200 <= response.status < 300
            limit = (max_bytes if success else error_bytes) or None
            declared = _declared_length(response.get_header("content-length"))
            if declared is not None and (limit is None or declared <= limit):
                # the usual answer: one read (hyper stops at the declared length), and
                # nothing left to release once it is read
                content = bytes(await guarded(response.bytes()))
                read_whole = True
                return DirectResponse(response, content)
            if success and declared is not None:
                raise _too_large(limit)
            reader = response.body_reader
            parts: list[Any] = []
            size = 0
            while (chunk := await guarded(reader.read_chunk())) is not None:
                parts.append(chunk)
                size += len(chunk)
                if limit is not None and size > limit:
                    if success:
                        raise _too_large(limit)
                    break
            body = bytes(parts[0]) if len(parts) == 1 else b"".join(parts)
            return DirectResponse(response, body[:limit] if limit is not None else body)
        finally:
            if not read_whole:
                await guarded(request.__aexit__(None, None, None))
    except rq.PyreqwestError as exc:
        raise as_httpx_error(exc) from exc


async def httpx_send(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    stream: bool,
    deadline: float | None = None,
    max_bytes: int | None = None,
    error_bytes: int = 64 * 1024,
) -> HttpxResponse:
    """``direct_send`` for any other transport: the same deadlines and caps, through httpx."""
    async with asyncio.timeout_at(deadline):
        response = await client.send(request, stream=True)
        if stream:
            return HttpxResponse(response)
        try:
            success = response.is_success
            limit = (max_bytes if success else error_bytes) or None
            if limit is not None and success:
                declared = _declared_length(response.headers.get("content-length"))
                if declared is not None and declared > limit:
                    raise _too_large(limit)
            parts: list[bytes] = []
            size = 0
            async for part in response.aiter_bytes():
                parts.append(part)
                size += len(part)
                if limit is not None and size > limit:
                    if success:
                        raise _too_large(limit)
                    break
            body = b"".join(parts)
            return HttpxResponse(response, body[:limit] if limit is not None else body)
        finally:
            await response.aclose()


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
