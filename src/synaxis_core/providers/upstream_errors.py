"""Turn whatever an upstream sends back on failure into one ``UpstreamError`` subclass.

Three error-body shapes are understood (anything else gives a message built from the
status alone; a raw body is never copied into a message):

- OpenAI's: ``{"error": {"message", "type", "param", "code"}}``
- a flat string: ``{"error": "The model name is not valid"}``
- RFC 9457 problem JSON: ``{"status": 404, "title": "Not Found", "detail": "..."}``

Status mapping: 429 -> ``RateLimited`` (with Retry-After in seconds, capped);
401/402/403 -> ``ProviderAuthError`` (the whole provider); 404/410 and a 4xx that says
the model is not available -> ``ModelUnavailable``; other 4xx -> ``UpstreamBadRequest``;
408/504 -> ``UpstreamTimeout``; other 5xx -> ``UpstreamError`` (retryable).
"Says the model is not available": the code ``model_not_available`` (Synaxis's own
``ModelUnavailable`` code) or a generic phrase ("model ... does not exist", "unknown
model"...); a vendor's own phrases are its provider's ``model_missing_phrases``
(applied by ``as_model_unavailable``).
Transport failures are classified by ``classify_transport_error``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Literal, Mapping

import httpx
import msgspec

from synaxis_core.errors import (
    ModelUnavailable,
    ProviderAuthError,
    RateLimited,
    UpstreamBadRequest,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

MAX_MESSAGE_CHARS = 300
_SECRETS = re.compile(r"(?i)\b(bearer\s+|sk-|nvapi-|key[=:]\s*)(?=[A-Za-z._\-*]*\d)[A-Za-z0-9._\-*]{4,}")
_MODEL_MISSING = re.compile(
    r"(?i)unknown model|invalid model"
    r"|model\b[^.]{0,80}?\b(not found|does not exist|not available|is not supported|not supported|is unavailable)"
)


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What an error body says, whichever shape it had."""

    message: str | None = None
    code: str | None = None
    type: str | None = None
    status: int | None = None
    param: str | None = None


def parse_error_body(body: bytes | str | Mapping[str, Any] | None) -> ErrorBody:
    """Read an error body of any of the three shapes (or garbage: an empty ``ErrorBody``)."""
    data: Any = body
    if isinstance(body, (bytes, str)):
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return ErrorBody()
    if not isinstance(data, Mapping):
        return ErrorBody()
    error = data.get("error")
    if isinstance(error, Mapping):  # OpenAI shape
        code = error.get("code")
        status = error.get("status") if isinstance(error.get("status"), int) else None
        if isinstance(code, int):  # some servers put the HTTP status in "code"
            status, code = status or code, None
        return ErrorBody(_text(error.get("message")), _text(code), _text(error.get("type")), status, _text(error.get("param")))
    if isinstance(error, str):  # a flat string
        return ErrorBody(_text(error), _text(data.get("code")), _text(data.get("type")))
    if "title" in data or "detail" in data:  # problem JSON (RFC 9457)
        detail, title = _text(data.get("detail")), _text(data.get("title"))
        message = f"{title}: {detail}" if title and detail else (detail or title)
        status = data.get("status") if isinstance(data.get("status"), int) else None
        return ErrorBody(message, _text(data.get("code")), _text(data.get("type")), status)
    return ErrorBody(_text(data.get("message")), _text(data.get("code")), _text(data.get("type")))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def clean_message(message: str | None, secrets: tuple[str, ...] = ()) -> str | None:
    """One line, at most ``MAX_MESSAGE_CHARS``, with keys and key-like tokens removed."""
    if not message:
        return None
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    message = _SECRETS.sub(lambda m: m.group(1) + "[redacted]", " ".join(message.split()))
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message


def parse_retry_after(
    value: str | None, *, cap: float, now: datetime | None = None
) -> float | None:
    """Seconds to wait from a Retry-After value (delta seconds or an HTTP date), capped.

    Returns None when the value is missing or unreadable; never a negative number.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)


def retry_after_from_headers(headers: Mapping[str, str], *, cap: float) -> float | None:
    """Retry-After (seconds or date), else OpenAI's ``retry-after-ms``; None if neither."""
    seconds = parse_retry_after(headers.get("retry-after"), cap=cap)
    if seconds is None and headers.get("retry-after-ms"):
        ms = parse_retry_after(headers.get("retry-after-ms"), cap=cap * 1000)
        seconds = None if ms is None else ms / 1000
    return seconds


def error_from_status(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    provider: str,
    headers: Mapping[str, str] | None = None,
    retry_after_cap: float = 300.0,
    secrets: tuple[str, ...] = (),
) -> UpstreamError:
    """The ``UpstreamError`` for an HTTP error status and its body."""
    info = parse_error_body(body)
    detail = clean_message(info.message, secrets)
    message = f"{provider}: HTTP {status}" + (f": {detail}" if detail else "")
    kw: dict[str, Any] = {"provider": provider, "upstream_status": status}
    model_missing = (info.code or "").lower() == "model_not_available" or bool(
        info.message and _MODEL_MISSING.search(info.message)
    )
    if status == 429:
        retry_after = retry_after_from_headers(headers or {}, cap=retry_after_cap)
        return RateLimited(message, retry_after=retry_after, **kw)
    if status in (401, 402, 403):
        return ProviderAuthError(message, **kw)
    if status in (404, 410) or (400 <= status < 500 and model_missing):
        return ModelUnavailable(message, **kw)
    if status in (408, 504):
        return UpstreamTimeout(message, **kw)
    if 400 <= status < 500:
        answer = {"message": detail or f"HTTP {status}", "type": info.type or UpstreamBadRequest.type,
                  "param": info.param, "code": info.code}
        return UpstreamBadRequest(message, status=status, answer=answer, **kw)
    return UpstreamError(message, **kw)


def error_from_event(
    payload: Mapping[str, Any], *, provider: str, secrets: tuple[str, ...] = ()
) -> UpstreamError:
    """The error for an in-band ``{"error": ...}`` (an SSE event or a 200 body)."""
    info = parse_error_body(payload)
    status = info.status
    if status is None and info.code and info.code.isdigit():
        status = int(info.code)
    if status is not None and 400 <= status < 600:
        return error_from_status(status, payload, provider=provider, secrets=secrets)
    detail = clean_message(info.message, secrets) or "error event"
    if (info.code or "").lower() == "model_not_available":
        return ModelUnavailable(f"{provider}: {detail}", provider=provider)
    return UpstreamError(f"{provider}: upstream error: {detail}", provider=provider)


def as_model_unavailable(error: UpstreamError, phrases: Iterable[str]) -> UpstreamError:
    """``error`` as a ``ModelUnavailable`` when it is a bad request (a 4xx not otherwise
    mapped) whose message contains one of ``phrases`` (any letter case); else ``error``.

    How a provider adds its vendor's wording (``model_missing_phrases``) to the generic
    rules of ``error_from_status``.
    """
    if isinstance(error, UpstreamBadRequest):
        message = error.message.lower()
        if any(phrase.lower() in message for phrase in phrases if phrase):
            return ModelUnavailable(error.message, provider=error.provider, upstream_status=error.upstream_status)
    return error


TransportFailure = Literal["timeout", "connect", "protocol"]


def classify_transport_error(exc: BaseException) -> TransportFailure:
    """Whether an httpx exception is a timeout, a connection failure (refused, reset,
    closed before or while answering) or a protocol error."""
    if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError, OSError)):
        return "connect"
    return "protocol"


def error_from_exception(exc: BaseException, *, provider: str, in_stream: bool = False) -> UpstreamError:
    """The error for a transport failure; ``in_stream``: after the response headers."""
    kind = classify_transport_error(exc)
    name = type(exc).__name__
    if kind == "timeout":
        what = "stream stalled" if in_stream else "timed out"
        return UpstreamTimeout(f"{provider}: {what} ({name})", provider=provider)
    if in_stream:
        return UpstreamProtocolError(f"{provider}: connection cut mid-stream ({name})", provider=provider)
    if kind == "connect":
        return UpstreamConnectionError(f"{provider}: connection failed ({name})", provider=provider)
    return UpstreamProtocolError(f"{provider}: bad response ({name})", provider=provider)
