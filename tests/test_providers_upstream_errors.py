"""Error-body shapes, Retry-After parsing and the status -> error mapping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
from pyreqwest import exceptions as rq
import pytest

from synaxis_core.providers.http import as_httpx_error
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
from synaxis_core.providers.upstream_errors import (
    MAX_MESSAGE_CHARS,
    ErrorBody,
    classify_transport_error,
    clean_message,
    error_from_event,
    error_from_exception,
    error_from_status,
    as_model_unavailable,
    parse_error_body,
    parse_retry_after,
)

NOW = datetime(2026, 7, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (  # OpenAI / Together
            b'{"error": {"message": "Unable to access non-serverless model x", "type": '
            b'"invalid_request_error", "param": null, "code": "model_not_available"}}',
            ErrorBody("Unable to access non-serverless model x", "model_not_available", "invalid_request_error"),
        ),
        (  # Synthetic: a flat string
            b'{"error": "Your model name should start with an hf: prefix"}',
            ErrorBody("Your model name should start with an hf: prefix"),
        ),
        (  # NVIDIA: problem JSON
            b'{"status": 404, "title": "Not Found", "detail": "Function \'m\': Not found for account"}',
            ErrorBody("Not Found: Function 'm': Not found for account", status=404),
        ),
        (b'{"status": 429, "title": "Too Many Requests"}', ErrorBody("Too Many Requests", status=429)),
        (b'{"error": {"message": "boom", "code": 503}}', ErrorBody("boom", status=503)),
        (b'{"message": "plain"}', ErrorBody("plain")),
        (b"<html>502 Bad Gateway</html>", ErrorBody()),
        (b"[1, 2]", ErrorBody()),
        (b"", ErrorBody()),
        (None, ErrorBody()),
    ],
)
def test_parse_error_body_shapes(body, expected):
    assert parse_error_body(body) == expected


def test_clean_message_redacts_keys_and_truncates():
    text = "Incorrect API key provided: sk-abc123456789. Bearer nvapi-XYZ123456 and  my-secret-value"
    cleaned = clean_message(text, secrets=("my-secret-value",))
    assert "sk-abc123456789" not in cleaned and "nvapi-XYZ123456" not in cleaned
    assert "my-secret-value" not in cleaned and "[redacted]" in cleaned
    assert "  " not in cleaned
    assert len(clean_message("x" * 5000)) == MAX_MESSAGE_CHARS
    assert clean_message(None) is None and clean_message("") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("100000", 300.0),  # capped
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),  # in the past
        ("Wed, 01 Jul 2026 12:02:00 GMT", 120.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, cap=300.0, now=NOW) == expected


@pytest.mark.parametrize(
    ("status", "body", "error_class"),
    [
        (429, b'{"error": "You\'ve exceeded your subscription rate limits"}', RateLimited),
        (401, b'{"error": {"message": "Incorrect API key provided."}}', ProviderAuthError),
        (403, b'{"status": 403, "title": "Forbidden"}', ProviderAuthError),
        (402, b'{"error": "Insufficient credits"}', ProviderAuthError),
        (404, b'{"status": 404, "title": "Not Found"}', ModelUnavailable),
        (410, b'{"status": 410, "title": "Gone"}', ModelUnavailable),
        (400, b'{"error": {"message": "x", "code": "model_not_available"}}', ModelUnavailable),
        (400, b'{"error": "Unknown model: hf:x"}', ModelUnavailable),
        (400, b'{"error": "Your model name should start with an hf: prefix"}', UpstreamBadRequest),  # vendor wording
        (400, b'{"error": {"message": "The model `x` does not exist"}}', ModelUnavailable),
        (
            400,
            b'{"error": {"message": "This model\'s maximum context length is 8192 tokens."}}',
            UpstreamBadRequest,
        ),
        (422, b'{"detail": "messages: field required"}', UpstreamBadRequest),
        (408, b"", UpstreamTimeout),
        (504, b"", UpstreamTimeout),
        (500, b'{"error": {"message": "Internal error"}}', UpstreamError),
        (503, b'{"error": {"message": "The server is overloaded"}}', UpstreamError),
    ],
)
def test_error_from_status(status, body, error_class):
    error = error_from_status(status, body, provider="acme", headers={"retry-after": "7"})
    assert type(error) is error_class
    assert error.provider == "acme" and error.upstream_status == status
    assert error.message.startswith(f"acme: HTTP {status}")


def test_a_vendors_own_phrases_make_a_bad_request_a_model_failure():
    body = b'{"error": "Your model name should start with an hf: prefix"}'
    bad = error_from_status(400, body, provider="acme")
    missing = as_model_unavailable(bad, ("SHOULD START WITH AN HF:",))
    assert type(missing) is ModelUnavailable and missing.scope == "model"
    assert (missing.message, missing.provider, missing.upstream_status) == (bad.message, "acme", 400)
    assert as_model_unavailable(bad, ("non-serverless",)) is bad
    assert as_model_unavailable(bad, ()) is bad
    server = error_from_status(500, body, provider="acme")  # only bad requests are re-read
    assert as_model_unavailable(server, ("hf:",)) is server


def test_error_scopes_and_retryability():
    auth = error_from_status(401, b"", provider="p")
    model = error_from_status(404, b"", provider="p")
    bad = error_from_status(400, b"", provider="p")
    server = error_from_status(500, b"", provider="p")
    assert (auth.scope, model.scope, bad.scope, server.scope) == ("provider", "model", "request", "model")
    assert server.retryable and model.retryable and not bad.retryable


def test_rate_limited_retry_after_from_headers():
    error = error_from_status(429, b"", provider="p", headers={"retry-after": "9999"}, retry_after_cap=60)
    assert isinstance(error, RateLimited) and error.retry_after == 60
    error = error_from_status(429, b"", provider="p", headers={"retry-after-ms": "1500"})
    assert error.retry_after == 1.5
    assert error_from_status(429, b"", provider="p", headers={}).retry_after is None


def test_raw_body_and_key_never_in_message():
    body = b"<html><body>secret internals</body></html>"
    assert "secret internals" not in error_from_status(502, body, provider="p").message
    body = b'{"error": {"message": "Incorrect API key provided: abcd-1234-SECRET"}}'
    error = error_from_status(401, body, provider="p", secrets=("abcd-1234-SECRET",))
    assert "abcd-1234-SECRET" not in error.message


def test_error_from_event():
    assert type(error_from_event({"error": "overloaded"}, provider="p")) is UpstreamError
    event = {"error": {"message": "slow down", "code": 429}}
    assert isinstance(error_from_event(event, provider="p"), RateLimited)
    event = {"error": {"message": "gone", "code": "model_not_available"}}
    assert isinstance(error_from_event(event, provider="p"), ModelUnavailable)
    assert "slow down" in error_from_event({"error": {"message": "slow down"}}, provider="p").message


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), "connect"),
        (httpx.ReadError("reset"), "connect"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "connect"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.PoolTimeout("full"), "timeout"),
        (httpx.DecodingError("bad gzip"), "protocol"),
    ],
)
def test_classify_transport_error(exc, kind):
    assert classify_transport_error(exc) == kind


def test_error_from_exception_phases():
    assert isinstance(error_from_exception(httpx.ConnectError("x"), provider="p"), UpstreamConnectionError)
    assert isinstance(error_from_exception(httpx.ReadTimeout("x"), provider="p"), UpstreamTimeout)
    assert isinstance(error_from_exception(httpx.DecodingError("x"), provider="p"), UpstreamProtocolError)
    cut = error_from_exception(httpx.ReadError("x"), provider="p", in_stream=True)
    assert isinstance(cut, UpstreamProtocolError) and "mid-stream" in cut.message
    stall = error_from_exception(httpx.ReadTimeout("x"), provider="p", in_stream=True)
    assert isinstance(stall, UpstreamTimeout) and "stalled" in stall.message


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (rq.ConnectTimeoutError("slow", {}), "timeout"),
        (rq.ReadTimeoutError("stalled", {}), "timeout"),
        (rq.ConnectError("refused", {}), "connect"),
        (rq.ReadError("reset", {}), "connect"),
        (rq.DecodeError("bad gzip", {}), "protocol"),
        (rq.RequestError("connection closed before message completed", {}), "connect"),
    ],
)
def test_pyreqwest_errors_map_to_httpx_kinds(error, kind):
    """The default transport's errors classify as httpx's do (one mapping for both)."""
    assert classify_transport_error(as_httpx_error(error)) == kind



async def test_the_httpx_transport_raises_httpx_errors_for_every_pyreqwest_error(monkeypatch):
    """Discovery goes through pyreqwest's httpx transport: an error pyreqwest has no httpx
    class for still arrives as an httpx error, mapped as on the direct path."""
    from pyreqwest.client import ClientBuilder
    from pyreqwest.compatibility.httpx import HttpxTransport

    from synaxis_core.providers.http import ReqwestTransport

    async def unmapped(self, request):
        raise rq.RequestError("connection closed before message completed", {})

    monkeypatch.setattr(HttpxTransport, "handle_async_request", unmapped)
    transport = ReqwestTransport(ClientBuilder().build(), 5.0)
    with pytest.raises(httpx.RemoteProtocolError):
        await transport.handle_async_request(httpx.Request("GET", "http://127.0.0.1:9/models"))
    await transport.aclose()
