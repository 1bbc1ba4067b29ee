"""The headers of an upstream call beyond the body: what of the client's goes up, what of
the upstream's comes back.

Up: the HTTP edge picks the client headers that may reach an upstream at all
(``server.edge.FORWARDED_HEADERS``) and checks them; the router adds them to each
attempt's headers (``for_provider``), except the client's OpenAI account headers
(``ACCOUNT_HEADERS``), which only a provider that says it takes them gets
(``forward_account_headers``); the provider sends them with its own.

Back: the upstream's own id of the request (``request_id``: the first of the provider's
``request_id_headers`` it sent), handed to the caller in an ``UpstreamReply`` and on the
errors mapped from its answers (``UpstreamError.upstream_request_id``). Nothing else of
the upstream's headers is passed on: its rate-limit headers describe the operator's
account, not the tenant's limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from synaxis_core.errors import UpstreamError
    from synaxis_core.providers.base import OpenAICompatibleProvider

ACCOUNT_HEADERS = ("openai-organization", "openai-project")
"""The client's organisation and project at OpenAI: meaningless, or a 401, with the
operator's key at any other upstream."""
REQUEST_ID_HEADERS = ("x-request-id", "request-id")
"""Where upstreams usually put their id of a request (OpenAI and most compatible servers;
Anthropic). A provider whose vendor uses another name lists it (``request_id_headers``)."""
MAX_UPSTREAM_ID = 128
"""Characters of an upstream's request id passed on; a longer one is not an id."""


class UpstreamReply:
    """What an upstream said besides its body, filled in by ``chat`` and ``stream`` (when
    given one as ``reply=``) as soon as a 2xx response's headers are in: ``request_id``,
    the upstream's own id of the request (None when it sent none). Failed-over attempts
    overwrite each other: after the call it is the answering attempt's."""

    __slots__ = ("request_id",)

    def __init__(self) -> None:
        self.request_id: str | None = None


def request_id(headers: Any, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` in ``headers`` (any case-insensitive mapping), when it is a
    plausible id: at most ``MAX_UPSTREAM_ID`` printable ASCII characters."""
    for name in names:
        try:
            value = headers.get(name)
        except (ValueError, UnicodeError):  # a value that is not text
            return None
        if value:
            return value if len(value) <= MAX_UPSTREAM_ID and value.isascii() and value.isprintable() else None
    return None


def with_request_id(error: UpstreamError, headers: Any, names: tuple[str, ...]) -> UpstreamError:
    """``error`` (mapped from an upstream answer) with the upstream's id of the request."""
    error.upstream_request_id = request_id(headers, names)
    return error


def for_provider(
    provider: OpenAICompatibleProvider, forwarded: Mapping[str, str] | None, trace: dict[str, str] | None
) -> Mapping[str, str] | None:
    """The headers one attempt adds to ``provider``'s own: the client's ``forwarded``
    ones (without the account headers unless the provider takes them) and the trace
    context. No copy when there is only one of them and nothing to drop."""
    if forwarded is None:
        return trace
    account = "openai-organization" in forwarded or "openai-project" in forwarded  # ACCOUNT_HEADERS
    if account and not provider.forward_account_headers:
        forwarded = {k: v for k, v in forwarded.items() if k not in ACCOUNT_HEADERS}
    if trace is None:
        return forwarded or None
    return {**forwarded, **trace}
