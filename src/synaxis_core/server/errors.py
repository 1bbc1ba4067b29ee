"""The one place that writes OpenAI-shaped errors: ``{"error": {message, type, param, code}}``."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException

from synaxis_core.errors import RateLimitExceeded, SynaxisError

log = logging.getLogger("synaxis.server")

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
          415: "invalid_request_error", 429: "rate_limit_error"}


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers
    )


def error_headers(exc: SynaxisError) -> dict[str, str]:
    """``Retry-After`` of a rate limit, and the request id the chat route gave the error."""
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitExceeded) and exc.retry_after is not None:
        headers["retry-after"] = str(max(1, round(exc.retry_after)))
    request_id = getattr(exc, "request_id", None)  # set by the chat route: the request's ledger row
    if request_id:
        headers["x-synaxis-request-id"] = request_id
    return headers


def synaxis_error_handler(_: Request, exc: SynaxisError) -> Response[bytes]:
    return error_response(exc.status, exc.to_dict(), error_headers(exc) or None)


def http_error_handler(request: Request, exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if isinstance(exc, NotFoundException) and request.url.path.startswith("/"):
        message = f"Unknown route {request.method} {request.url.path}"
    else:
        message = exc.detail or "request failed"
    code = {413: "request_too_large", 404: "not_found", 405: "method_not_allowed"}.get(status)
    body = error_body(message, _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"), code)
    return error_response(status, body, {k: v for k, v in (exc.headers or {}).items()} or None)


INTERNAL_ERROR = error_body("Internal error in the gateway", "server_error", "internal_error")


def unexpected_error_handler(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, INTERNAL_ERROR)


EXCEPTION_HANDLERS = {
    SynaxisError: synaxis_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
