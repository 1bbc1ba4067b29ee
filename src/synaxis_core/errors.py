"""The domain errors of Synaxis: one hierarchy, mapped to OpenAI error responses in one place.

Every error carries what the OpenAI error shape needs: an HTTP ``status``, a ``type``, a
``code`` and optionally the ``param`` at fault. The server turns any ``SynaxisError``
into ``{"error": {"message", "type", "param", "code"}}`` with that status; the CLI
prints its message on one line.
"""

from __future__ import annotations

from typing import Any


class SynaxisError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str | None = None
    retry_after: float | None = None
    """Seconds after which trying again may succeed (sent as ``Retry-After``), when known."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


# --- configuration and plugins (raised at start-up and by the CLI) -------------------


class ConfigError(SynaxisError):
    """Bad settings, a malformed config file, an unusable database URL."""

    code = "config_error"


class PluginError(SynaxisError):
    """A plugin contributed something invalid (a duplicate id, a wrong type)."""

    code = "plugin_error"


# --- client errors (the request is at fault) -----------------------------------------


class InvalidRequest(SynaxisError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


def missing_parameter(name: str) -> InvalidRequest:
    """The 400 of a required request field that was not sent, as OpenAI words it."""
    return InvalidRequest(f"Missing required parameter: '{name}'", param=name, code="missing_required_parameter")


class AuthenticationError(SynaxisError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(SynaxisError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class NotFound(SynaxisError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PayloadTooLarge(InvalidRequest):
    status = 413
    code = "request_too_large"


class RateLimitExceeded(SynaxisError):
    """The tenant is over its RPM/TPM limit."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class QuotaExceeded(RateLimitExceeded):
    """The tenant's monthly budget is spent."""

    type = "insufficient_quota"
    code = "insufficient_quota"


class LedgerFull(SynaxisError):
    """The usage ledger cannot take another row (the database has not been writing for a
    while): the request is refused before it costs anything, and may be retried."""

    status = 503
    type = "server_error"
    code = "ledger_unavailable"

    def __init__(self, message: str, *, retry_after: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class NoCandidates(SynaxisError):
    """Nothing can serve the model right now; the message says why, per deployment."""

    status = 503
    type = "server_error"
    code = "no_available_deployment"


# --- upstream errors (a provider failed) ----------------------------------------------


class UpstreamError(SynaxisError):
    """A provider call failed. ``retryable`` failures move on to the next candidate.

    ``scope`` says whom to blame: ``"model"`` (count a failure against the deployment),
    ``"provider"`` (cool the whole provider down, e.g. a bad key) or ``"request"`` (the
    request itself is bad: do not fail over, return it to the client).
    """

    status = 502
    type = "upstream_error"
    code = "upstream_error"
    retryable = True
    scope = "model"
    deployment: str | None = None
    """The deployment that answered so, when the error goes back to the client as it is."""
    upstream_request_id: str | None = None
    """The upstream's own id of the request that failed so, when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        upstream_status: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.provider = provider
        self.upstream_status = upstream_status


class UpstreamBadRequest(UpstreamError):
    """The upstream rejected the request itself (400/422): returned to the client as is,
    with the upstream's status and its ``message``, ``type``, ``param`` and ``code``
    (``answer``; the message cleaned of anything key-like), not rewritten."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_request"
    retryable = False
    scope = "request"

    def __init__(self, message: str, *, answer: dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.answer = answer

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.answer} if self.answer is not None else super().to_dict()


class ModelUnavailable(UpstreamError):
    """The deployment cannot serve this model (404/410, ``model_not_available``)."""

    code = "model_not_available"


class ProviderAuthError(UpstreamError):
    """The provider refused our key (401/403): the whole provider is cooled down."""

    code = "provider_auth_error"
    scope = "provider"


class RateLimited(UpstreamError):
    """The provider answered 429; ``retry_after`` is seconds (None when not given)."""

    code = "upstream_rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamConnectionError(UpstreamError):
    code = "upstream_connection_error"


class UpstreamProtocolError(UpstreamError):
    """The upstream answered something that is not a valid response (bad JSON, cut stream)."""

    code = "upstream_protocol_error"


class AllCandidatesFailed(SynaxisError):
    """Every candidate failed; ``attempts`` holds ``(deployment id, provider, error)``."""

    status = 502
    type = "upstream_error"
    code = "all_candidates_failed"

    def __init__(self, message: str, *, attempts: list[tuple[str, UpstreamError]], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.attempts = attempts
