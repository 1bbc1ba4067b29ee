"""The provider contract and its OpenAI-compatible base class.

A provider plugin subclasses ``OpenAICompatibleProvider``, sets the class attributes
(name, default base URL, API-key variable, static model catalog) and overrides only
what its upstream does differently: ``normalize_response`` / ``normalize_chunk``
(vendor quirks in answers) and ``parse_model_entry`` / ``parse_models`` (the shape of
``GET /models``). The calls themselves live here:

- ``await chat(body, timeout=...)`` -> the OpenAI response dict;
- ``async for chunk in stream(body, timeout=..., first_chunk_by=...)`` -> chunk dicts
  until ``[DONE]``; ``await embed(body, timeout=...)`` -> the ``/embeddings`` answer;
- ``await discover()`` -> the chat models ``/models`` lists;
- ``await aclose()`` on shutdown.
Failures raise ``synaxis_core.errors.UpstreamError`` subclasses (see
``upstream_errors``). Connection failures and 502/503/504 are retried quickly inside
the call (``retry``); nothing else is.

Every deadline (a call's, a stream's first chunk, a stall) fires at its time, or as
soon as a busy event loop gets to it, and cancelling or closing a call drops its
upstream connection at once (``providers.http.guarded``). Answers are validated
cheaply (a type check per field the gateway reads) and bounded
(``settings.max_upstream_response_bytes``, ``settings.max_sse_event_bytes``): bad or
oversized data is an ``UpstreamProtocolError``, a failure that counts for health.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, AsyncIterator, ClassVar, Mapping, Sequence

import httpx
import msgspec
from pydantic import SecretStr
from tenacity.wait import wait_base

from synaxis_core.errors import (
    ProviderAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from synaxis_core.providers.discovery import generic_entry, parse_model_list
from synaxis_core.providers.exchange import Exchange
from synaxis_core.providers.headers import REQUEST_ID_HEADERS, UpstreamReply, with_request_id
from synaxis_core.providers.http import TransportChoice
from synaxis_core.providers.shape import chunk_problem, embedding_problem, response_problem
from synaxis_core.sse import DONE, SSEDecoder, SSEError
from synaxis_core.providers.upstream_errors import (
    as_model_unavailable,
    error_from_event,
    error_from_exception,
    error_from_status,
)
from synaxis_core.types import DiscoveredModel, ModelSpec

if TYPE_CHECKING:
    from synaxis_core.settings import Settings

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class OpenAICompatibleProvider:
    """A provider that speaks the OpenAI chat-completions API.

    Class attributes give the defaults; the constructor lets the config-file provider
    (``SYNAXIS_CONFIG``) build instances without subclassing.
    """

    name: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    api_key_env: ClassVar[str | None] = None
    base_url_env: ClassVar[str | None] = None
    """Variable that overrides the base URL (``SYNTHETIC_BASE_URL``...)."""
    catalog_provider: ClassVar[str | None] = None
    """This provider's id in model catalogs (models.dev: ``synthetic``, ``togetherai``...)."""
    static_models: ClassVar[Sequence[ModelSpec]] = ()
    discovery_needs_key: ClassVar[bool] = True
    """False when ``GET /models`` answers without a key (NVIDIA): discovery runs anyway."""
    model_missing_phrases: ClassVar[tuple[str, ...]] = ()
    """Phrases (any letter case) by which this vendor's 4xx errors say the model cannot
    be served here, beyond the generic ones: such an error is ``ModelUnavailable`` (a
    failure of the deployment), not ``UpstreamBadRequest`` (see ``normalize_error``)."""
    transport: TransportChoice | httpx.AsyncBaseTransport | None = None
    """HTTP transport for this provider's client (None: the factory's default)."""
    retry_wait: wait_base | None = None
    """Backoff between quick retries (None: the default policy; tests use ``wait_none()``)."""
    forward_account_headers: ClassVar[bool] = False
    """True: the clients' ``OpenAI-Organization``/``-Project`` are sent on (``providers.headers``)."""
    request_id_headers: ClassVar[tuple[str, ...]] = REQUEST_ID_HEADERS
    """Where this upstream puts its own id of a request (the first one sent is used)."""

    def __init__(
        self,
        settings: Settings,
        *,
        name: str | None = None,
        base_url: str | None = None,
        api_key_env: str | None = None,
        models: Sequence[ModelSpec] | None = None,
        timeout_s: float | None = None,
        catalog_provider: str | None = None,
        forward_account_headers: bool | None = None,
    ) -> None:
        self.settings = settings
        if forward_account_headers is not None:
            self.forward_account_headers = forward_account_headers  # type: ignore[misc]
        if name is not None:
            self.name = name  # type: ignore[misc]
        if api_key_env is not None:
            self.api_key_env = api_key_env  # type: ignore[misc]
        if catalog_provider is not None:
            self.catalog_provider = catalog_provider  # type: ignore[misc]
        override = settings.env(self.base_url_env) if self.base_url_env else None
        self.base_url: str = (override or base_url or self.default_base_url).rstrip("/")
        self.models: tuple[ModelSpec, ...] = tuple(models if models is not None else self.static_models)
        self.timeout_s: float = timeout_s if timeout_s is not None else settings.timeout_s
        self.exchange = Exchange(self)
        """The pooled client and the one way to send on it (``providers.exchange``)."""

    @property
    def api_key(self) -> SecretStr | None:
        """The provider's key from its variable (None: not set, or no key needed)."""
        return self.settings.secret(self.api_key_env) if self.api_key_env else None

    @property
    def missing_key(self) -> str | None:
        """The variable to set when this provider needs a key and has none, else None."""
        if self.api_key_env and self.settings.env(self.api_key_env) is None:  # no SecretStr built: hot path
            return self.api_key_env
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.base_url} ({len(self.models)} models)>"

    # --- what subclasses override ----------------------------------------------------

    def normalize_response(self, data: dict[str, Any]) -> dict[str, Any]:
        """Fix vendor quirks in a chat completion (default: none)."""
        return data

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        """Fix vendor quirks in one stream chunk (default: none)."""
        return chunk

    def normalize_error(self, error: UpstreamError) -> UpstreamError:
        """Adjust an error mapped from an upstream answer. The default makes a bad
        request carrying one of ``model_missing_phrases`` a ``ModelUnavailable``; an
        override should start with ``error = super().normalize_error(error)``."""
        return as_model_unavailable(error, self.model_missing_phrases)

    def parse_models(self, payload: Any) -> list[DiscoveredModel]:
        """Every model of a ``/models`` answer, non-chat ones with ``chat=False``.

        Raises ``ValueError`` when the answer has no recognisable shape.
        """
        return parse_model_list(payload, self.parse_model_entry)

    def parse_model_entry(self, entry: Mapping[str, Any]) -> DiscoveredModel | None:
        """One ``/models`` entry (None: skip it). Default: usual field names, no prices."""
        return generic_entry(entry)

    # --- calls --------------------------------------------------------------------------

    async def chat(
        self, body: dict[str, Any], *, timeout: float | None = None, headers: Mapping[str, str] | None = None,
        reply: UpstreamReply | None = None,
    ) -> dict[str, Any]:
        """POST ``/chat/completions`` (non-streaming); ``body["model"]`` is the upstream id.
        ``headers`` are sent too (the trace context, the client's forwarded headers);
        ``reply`` gets the upstream's request id (``providers.headers``).

        Every field is sent as given, except that ``stream``/``stream_options`` are
        dropped when ``stream`` is true. ``timeout`` (default ``self.timeout_s``) bounds
        the whole call, quick retries included, on pyreqwest's own timer (it fires on
        time even while the event loop is busy). Returns the response normalised to the
        OpenAI shape; raises an ``UpstreamError`` subclass on failure
        (``UpstreamTimeout`` past the deadline, ``UpstreamProtocolError`` for an answer
        that is not JSON, has the wrong shape or is longer than
        ``settings.max_upstream_response_bytes``).
        """
        self._require_key()
        if body.get("stream"):
            body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        limit = timeout or self.timeout_s
        try:
            response = await self.exchange.send(
                "POST", "/chat/completions", self._body(body), limit, stream=False,
                deadline=asyncio.get_running_loop().time() + limit, extra_headers=headers, reply=reply,
            )
        except TimeoutError:
            raise UpstreamTimeout(f"{self.name}: no answer within {limit:g} s", provider=self.name) from None
        data = self._json(response.content)
        if data.__class__ is not dict or data.get("choices").__class__ is not list:
            if isinstance(data, dict) and data.get("error"):
                error = self.normalize_error(error_from_event(data, provider=self.name, secrets=self._secrets()))
                raise with_request_id(error, response.headers, self.request_id_headers)
            raise UpstreamProtocolError(f"{self.name}: response has no 'choices'", provider=self.name)
        data = self.normalize_response(data)
        problem = response_problem(data)
        if problem is not None:
            raise UpstreamProtocolError(f"{self.name}: malformed response: {problem}", provider=self.name)
        return data

    async def stream(
        self, body: dict[str, Any], *, timeout: float | None = None, first_chunk_by: float | None = None,
        headers: Mapping[str, str] | None = None, reply: UpstreamReply | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """POST ``/chat/completions`` with ``stream: true``; yield each chunk as a dict.
        ``headers`` are sent too (the trace context, the client's forwarded headers);
        ``reply`` gets the upstream's request id before the first chunk.

        The request is made on the first ``__anext__``, so HTTP errors surface there.
        ``timeout`` (default ``self.timeout_s``) bounds the wait for the response
        headers and each gap between reads (a stall), not the whole stream.
        ``first_chunk_by`` (``asyncio.get_running_loop().time()``, or None) is when the
        first chunk must have arrived (quick retries included). Every deadline fires on
        time, or as soon as a busy event loop gets to it, as ``UpstreamTimeout``.

        Raises an ``UpstreamError`` subclass for an error event; ``UpstreamProtocolError``
        for invalid JSON, a malformed chunk, an event longer than
        ``settings.max_sse_event_bytes``, a stream that ends without ``[DONE]`` or a cut
        connection. Closing the generator (``aclose()``, ``contextlib.aclosing``) or
        cancelling a task blocked in ``__anext__`` drops the upstream connection at once.
        """
        self._require_key()
        payload = body if body.get("stream") is True else {**body, "stream": True}
        limit = timeout or self.timeout_s
        loop = asyncio.get_running_loop()
        first_by = first_chunk_by
        started = loop.time()
        try:
            response = await self.exchange.send(
                "POST", "/chat/completions", self._body(payload), limit, stream=True, deadline=first_by,
                extra_headers=headers, reply=reply,
            )
        except TimeoutError:
            raise self._stream_timeout(first_by, started, limit, loop) from None
        decoder = SSEDecoder(self.settings.max_sse_event_bytes)
        try:
            try:
                while (raw := await response.read(first_by)) is not None:
                    for event, data in decoder.feed(raw):
                        if data.startswith(DONE):
                            return
                        chunk = self._chunk(event, data)
                        first_by = None
                        yield chunk
                    if first_by is not None and loop.time() >= first_by:  # data, but no chunk yet
                        raise TimeoutError
                for _event, data in decoder.close():
                    if data.startswith(DONE):
                        return
            except httpx.HTTPError as exc:
                raise error_from_exception(exc, provider=self.name, in_stream=True) from exc
            except TimeoutError:
                raise self._stream_timeout(first_by, started, limit, loop) from None
            except SSEError as exc:
                raise UpstreamProtocolError(f"{self.name}: {exc}", provider=self.name) from None
            except UpstreamError as exc:  # an error event: the client may be shown it as is
                raise with_request_id(exc, response.headers, self.request_id_headers)
            raise UpstreamProtocolError(f"{self.name}: stream ended without [DONE]", provider=self.name)
        finally:
            await response.aclose()

    async def embed(
        self, body: dict[str, Any], *, timeout: float | None = None, headers: Mapping[str, str] | None = None,
        reply: UpstreamReply | None = None,
    ) -> dict[str, Any]:
        """POST ``/embeddings``: ``chat``'s deadline, retries and error mapping; every field sent
        as given. Returns the answer (``data`` a list of ``{"embedding", "index"}``)."""
        self._require_key()
        limit = timeout or self.timeout_s
        try:
            response = await self.exchange.send(
                "POST", "/embeddings", self._body(body), limit, stream=False, reply=reply,
                deadline=asyncio.get_running_loop().time() + limit, extra_headers=headers,
            )
        except TimeoutError:
            raise UpstreamTimeout(f"{self.name}: no answer within {limit:g} s", provider=self.name) from None
        data = self._json(response.content)
        if isinstance(data, dict) and data.get("error") and not isinstance(data.get("data"), list):
            error = self.normalize_error(error_from_event(data, provider=self.name, secrets=self._secrets()))
            raise with_request_id(error, response.headers, self.request_id_headers)
        problem = embedding_problem(data)
        if problem is not None:
            raise UpstreamProtocolError(f"{self.name}: malformed embeddings answer: {problem}", provider=self.name)
        return data

    async def discover(self) -> list[DiscoveredModel]:
        """GET ``/models``: the chat models the provider lists now, and its embedding models.

        Non-chat entries (``parse_models`` marks them ``chat=False``) are dropped, except
        the upstream ids of this provider's ``kind="embedding"`` deployments. A key
        is sent when one is set. Raises ``UpstreamProtocolError`` for an unreadable
        answer, and the usual ``UpstreamError`` subclasses for HTTP failures.
        """
        response = await self.exchange.send("GET", "/models", None, self.timeout_s, stream=False)
        try:
            models = self.parse_models(self._json(response.content))
        except ValueError as exc:
            raise UpstreamProtocolError(f"{self.name}: unreadable /models answer: {exc}", provider=self.name) from exc
        embedding = {spec.upstream_id for spec in self.models if spec.kind == "embedding"}
        return [model for model in models if model.chat or model.upstream_id in embedding]

    async def aclose(self) -> None:
        """Close the HTTP client (called on shutdown); the next call opens a new one."""
        await self.exchange.aclose()

    # --- internals ------------------------------------------------------------------------

    def client(self) -> httpx.AsyncClient:
        """This provider's pooled client, created on first use in the running event loop."""
        return self.exchange.client()

    def _require_key(self) -> None:
        if self.missing_key:
            raise ProviderAuthError(f"{self.name}: {self.missing_key} is not set", provider=self.name)

    def _secrets(self) -> tuple[str, ...]:
        key = self.api_key
        return (key.get_secret_value(),) if key is not None else ()

    def _body(self, body: dict[str, Any]) -> bytes:
        try:
            return _encode(body)
        except RecursionError:  # a client's body nested about as deep as the decoder allows
            raise UpstreamBadRequest(
                f"{self.name}: the request is nested too deeply to forward", provider=self.name
            ) from None

    def _json(self, content: bytes) -> Any:
        try:
            return _decode(content)
        except msgspec.DecodeError:
            raise UpstreamProtocolError(f"{self.name}: invalid JSON from upstream", provider=self.name) from None

    def _chunk(self, event: bytes | None, data: bytes) -> dict[str, Any]:
        chunk = self._json(data)
        if chunk.__class__ is not dict:
            raise UpstreamProtocolError(f"{self.name}: stream event is not a JSON object", provider=self.name)
        if event == b"error" or chunk.get("error"):
            raise self.normalize_error(error_from_event(chunk, provider=self.name, secrets=self._secrets()))
        chunk = self.normalize_chunk(chunk)
        problem = chunk_problem(chunk)
        if problem is not None:
            raise UpstreamProtocolError(f"{self.name}: malformed stream chunk: {problem}", provider=self.name)
        return chunk

    def _stream_timeout(
        self, first_by: float | None, started: float, limit: float, loop: asyncio.AbstractEventLoop
    ) -> UpstreamTimeout:
        if first_by is not None and loop.time() >= first_by:
            message = f"{self.name}: no first chunk within {max(0.0, first_by - started):.3g} s"
        else:
            message = f"{self.name}: stream stalled (no data for {limit:g} s)"
        return UpstreamTimeout(message, provider=self.name)

    def status_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        """The ``UpstreamError`` of a non-2xx answer (``normalize_error`` applied, the upstream's request id on it)."""
        cap = self.settings.retry_after_cap_s
        error = error_from_status(
            status, body, provider=self.name, headers=headers, retry_after_cap=cap, secrets=self._secrets()
        )
        return with_request_id(self.normalize_error(error), headers, self.request_id_headers)


Provider = OpenAICompatibleProvider
