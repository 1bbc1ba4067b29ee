"""The one error writer of the HTTP edge: a ``SynaxisError`` becomes a status, headers and
the OpenAI shape ``{"error": {message, type, param, code}}``.

Both ways of serving use it: the plain ASGI routes with ``send_error``, the Litestar
routes through ``EXCEPTION_HANDLERS`` (which first turn Litestar's own exceptions, such
as an unknown route, a wrong method, an oversized or invalid body, into the matching
``SynaxisError``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from synaxis_core.errors import InvalidRequest, NotFound, SynaxisError
from synaxis_core.server.asgi import RawHeaders, Send, send_bytes, too_large

log = logging.getLogger("synaxis.server")
REQUEST_ID_HEADER = "x-request-id"
UPSTREAM_REQUEST_ID_HEADER = "x-upstream-request-id"
_encode = msgspec.json.encode
_JSON = (b"content-type", b"application/json")


class InternalError(SynaxisError):
    """A bug in the gateway: logged with its traceback, answered without details."""

    code = "internal_error"

    def __init__(self) -> None:
        super().__init__("Internal error in the gateway")


def error_headers(exc: SynaxisError, request_id: str | None = None) -> dict[str, str]:
    """``Retry-After`` of a rate limit, the request id of the request's ledger row, and
    for an upstream's answer passed on as it is, who gave it and the upstream's own id."""
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["retry-after"] = str(max(1, round(exc.retry_after)))
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    deployment = getattr(exc, "deployment", None)  # an upstream's own answer, passed on
    if deployment:
        headers["x-synaxis-model"] = deployment
        headers["x-synaxis-provider"] = exc.provider or ""  # type: ignore[attr-defined]
        upstream_id = getattr(exc, "upstream_request_id", None)
        if upstream_id:
            headers[UPSTREAM_REQUEST_ID_HEADER] = upstream_id
    return headers


ErrorShape = Callable[[SynaxisError], dict[str, Any]]
"""How a dialect writes an error body; OpenAI's ``{"error": {...}}`` unless it says otherwise."""


def openai_shape(exc: SynaxisError) -> dict[str, Any]:
    return exc.to_dict()


async def send_error(
    send: Send, exc: SynaxisError, request_id: str | None = None, shape: ErrorShape = openai_shape
) -> None:
    """Answer a plain ASGI request with ``exc``: its status, headers and ``shape(exc)``."""
    headers: RawHeaders = [_JSON, *((k.encode(), v.encode()) for k, v in error_headers(exc, request_id).items())]
    await send_bytes(send, exc.status, headers, _encode(shape(exc)))


def error_response(exc: SynaxisError) -> Response[bytes]:
    """Answer a Litestar request with ``exc``."""
    return Response(
        _encode(exc.to_dict()), status_code=exc.status, media_type="application/json",
        headers=error_headers(exc) or None,
    )


def from_http_exception(request: Request, exc: HTTPException) -> SynaxisError:
    """Litestar's exception as the ``SynaxisError`` a client of the OpenAI API expects."""
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        return NotFound(f"Unknown route {request.method} {request.url.path}")
    if status == 413:
        return too_large(request.app.request_max_body_size or 0)
    if status == 405:
        return InvalidRequest(f"Method {request.method} is not allowed on {request.url.path}",
                              status=405, code="method_not_allowed")
    if isinstance(exc, ValidationException):
        return _invalid_body(exc)
    error = InvalidRequest(exc.detail or "request failed", status=status)
    if status >= 500:
        error.type, error.code = "server_error", None
    return error


def _invalid_body(exc: ValidationException) -> InvalidRequest:
    """A body that did not decode into the route's type: the first problem, with its field."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    key = first.get("key")
    detail = first.get("message") or exc.detail
    if key:
        return InvalidRequest(f"Invalid request: `{key}`: {detail}", param=str(key))
    return InvalidRequest(f"Invalid request: {detail}")


def _synaxis_error_handler(_: Request, exc: SynaxisError) -> Response[bytes]:
    return error_response(exc)


def _http_error_handler(request: Request, exc: HTTPException) -> Response[bytes]:
    return error_response(from_http_exception(request, exc))


def _too_deep_handler(_: Request, __: RecursionError) -> Response[bytes]:
    return error_response(InvalidRequest("The request body is nested too deeply"))


def _unexpected_error_handler(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(InternalError())


EXCEPTION_HANDLERS = {
    SynaxisError: _synaxis_error_handler,
    HTTPException: _http_error_handler,
    RecursionError: _too_deep_handler,  # a body nested deeper than the JSON decoder goes
    Exception: _unexpected_error_handler,
}
