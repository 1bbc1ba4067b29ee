"""One provider's connection to its upstream: the pooled client and the one way to send.

``Exchange`` belongs to one ``OpenAICompatibleProvider`` (``provider.exchange``): it
creates the provider's ``httpx.AsyncClient`` on first use in the running event loop
(``providers.http.create_client``, the key in its headers) and ``send`` makes a request
with the quick-retry policy (``providers.retry``), within the deadline, and returns a
2xx response or raises the provider's ``UpstreamError`` (``normalize_error`` applied).
The provider's settings, ``transport`` and ``retry_wait`` are read when used, so a test
may set them on the provider at any time before the first call.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Mapping

import httpx

from synaxis_core import __version__
from synaxis_core.errors import UpstreamProtocolError
from synaxis_core.providers.headers import UpstreamReply, request_id
from synaxis_core.providers.http import (
    ResponseTooLarge,
    UpstreamResponse,
    create_client,
    direct_send,
    httpx_send,
    read_capped,
    timeout_for,
)
from synaxis_core.providers.retry import RETRY_STATUSES, RetryableStatus, call_with_retries
from synaxis_core.providers.upstream_errors import error_from_exception

if TYPE_CHECKING:
    from synaxis_core.providers.base import OpenAICompatibleProvider

ERROR_BODY_LIMIT = 64 * 1024
"""At most this much of an error answer's body is read (to map it to an error)."""


class Exchange:
    """A provider's pooled upstream client, and ``send`` on it."""

    __slots__ = ("provider", "_client", "_client_loop", "_urls", "_base_headers")

    def __init__(self, provider: OpenAICompatibleProvider) -> None:
        self.provider = provider
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._urls: dict[str, httpx.URL] = {}  # parsed once: saves ~12 us per request
        self._base_headers: dict[str, str] = {}

    def client(self) -> httpx.AsyncClient:
        """The provider's pooled client, created on first use in the running event loop."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop or self._client.is_closed:
            provider = self.provider
            headers = {"user-agent": f"synaxis/{__version__}", "accept": "application/json"}
            key = provider.api_key
            if key is not None:
                headers["authorization"] = f"Bearer {key.get_secret_value()}"
            self._client = create_client(
                provider.settings, timeout_s=provider.timeout_s, transport=provider.transport, headers=headers
            )
            self._client_loop = loop
            self._base_headers = dict(self._client.headers)
        return self._client

    async def aclose(self) -> None:
        """Close the client; the next call opens a new one."""
        client, self._client, self._client_loop = self._client, None, None
        if client is not None:
            await client.aclose()

    async def send(
        self,
        method: str,
        path: str,
        content: bytes | None,
        timeout_s: float,
        *,
        stream: bool,
        deadline: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
        reply: UpstreamReply | None = None,
    ) -> UpstreamResponse:
        """Send with the quick-retry policy; return a 2xx response or raise.

        On the default pyreqwest transport the request goes straight to the pyreqwest
        client (``providers.http.direct_send``, with the client's timeouts: connect, and
        the provider's ``timeout_s`` between reads); on any other transport through httpx
        (``httpx_send``). ``timeout_s`` bounds each gap between reads. ``deadline``
        (event-loop time) bounds every try, the waits between them included
        (``TimeoutError`` when it has passed): the whole call when not streamed, on
        pyreqwest's own timer; the response headers of a stream. A non-streamed body is
        read whole, at most ``settings.max_upstream_response_bytes``. ``extra_headers`` are
        sent too; ``reply`` (when given) gets the request id of the 2xx response.
        """
        provider = self.provider
        settings = provider.settings
        client = self.client()
        headers = {"content-type": "application/json"} if content is not None else {}
        if stream:
            headers["accept"] = "text/event-stream"
        if extra_headers:
            headers.update(extra_headers)
        target = provider.base_url + path
        direct_headers = {**self._base_headers, **headers}
        max_bytes = settings.max_upstream_response_bytes

        loop = asyncio.get_running_loop()

        async def send() -> UpstreamResponse:
            if deadline is not None and deadline <= loop.time():
                raise TimeoutError
            response: UpstreamResponse | None = await direct_send(
                client, method, target, content, direct_headers, stream=stream, read_timeout_s=timeout_s,
                deadline=deadline, max_bytes=max_bytes, error_bytes=ERROR_BODY_LIMIT,
            )
            if response is None:  # a transport other than pyreqwest's (httpx's own, a mock)
                url = self._urls.get(target) or self._urls.setdefault(target, httpx.URL(target))
                request = client.build_request(
                    method, url, content=content, headers=headers, timeout=timeout_for(settings, timeout_s)
                )
                response = await httpx_send(
                    client, request, stream=stream, deadline=deadline, max_bytes=max_bytes, error_bytes=ERROR_BODY_LIMIT
                )
            if response.is_success:
                if reply is not None:
                    reply.request_id = request_id(response.headers, provider.request_id_headers)
                return response
            if stream:
                try:
                    body = await read_capped(response, ERROR_BODY_LIMIT)
                finally:
                    await response.aclose()
            else:
                body = response.content
            if response.status_code in RETRY_STATUSES:
                raise RetryableStatus(response.status_code, response.headers, body)
            raise provider.status_error(response.status_code, response.headers, body)

        try:
            return await call_with_retries(settings, send, wait=provider.retry_wait, deadline=deadline)
        except RetryableStatus as exc:
            raise provider.status_error(exc.status, exc.headers, exc.body) from None
        except httpx.HTTPError as exc:
            raise error_from_exception(exc, provider=provider.name) from exc
        except ResponseTooLarge as exc:
            raise UpstreamProtocolError(f"{provider.name}: {exc}", provider=provider.name) from None
