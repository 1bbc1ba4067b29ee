"""What an observer is and what it gets: the ``Observer`` contract and ``ObservedRequest``.

A plugin's observer (hook ``register_observers``) is any object with a ``name`` and an
``async observe(records)``; ``runtime.observers.ObserverDispatcher`` feeds it. The
records are made here, off the request path: ``observed`` builds one from a ledger row
and its request, ``assemble`` turns a stream's chunks into one chat completion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Protocol, runtime_checkable

import msgspec

from synaxis_core.cache.replay import Assembler
from synaxis_core.ledger.writer import UsageEntry

if TYPE_CHECKING:
    from synaxis_core.runtime.accounting import RequestRecord


class ObservedRequest(msgspec.Struct, kw_only=True, frozen=True):
    """One finished request, as an observer gets it (treat it as read-only)."""

    usage: UsageEntry
    """The ledger row, as written to ``usage_records`` (request id, tenant id, deployment,
    tokens, cost, latency, status, attempts, time)."""
    tenant: str
    """The tenant's name."""
    dialect: str = "chat"
    """The API the client spoke (``chat``, ``responses``, ``messages``)."""
    provider: str | None = None
    """The provider of the deployment that answered (None: none did)."""
    request: dict[str, Any] | None = None
    """The request body in chat-completions terms, when ``SYNAXIS_OBSERVE_BODIES`` is on."""
    response: dict[str, Any] | None = None
    """The answer as sent, post-processed, as a chat completion (a stream's chunks
    assembled into one), when ``SYNAXIS_OBSERVE_BODIES`` is on and there was one."""


@runtime_checkable
class Observer(Protocol):
    """Receives finished requests in batches, off the request path.

    ``observe`` is awaited once at a time per observer, within ``SYNAXIS_OBSERVE_TIMEOUT_S``;
    what it raises is logged and counted, never seen by a client. Blocking work (files,
    sockets without asyncio) belongs in a thread (``asyncio.to_thread``). An optional
    ``async aclose()`` is called once at shutdown, after the last batch.
    """

    name: str

    async def observe(self, records: list[ObservedRequest]) -> None:
        """Take one batch of finished requests, oldest first."""


def observed(entry: UsageEntry, record: RequestRecord) -> ObservedRequest:
    """The ``ObservedRequest`` of a ledger row and the request it came from."""
    d = record.deployment
    response = record.response_body
    return ObservedRequest(
        usage=entry, tenant=record.tenant.name, dialect=record.dialect,
        provider=d.provider_name if d is not None else None, request=record.request_body,
        response=assemble(response) if isinstance(response, list) else response,
    )


def assemble(chunks: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """A stream's chunks as one chat completion (``cache.replay.Assembler``: text fields
    concatenated, tool calls merged by index), with the stream's usage; None: no chunk."""
    assembler, usage, seen = Assembler(), None, False
    for chunk in chunks:
        assembler.feed(chunk)
        usage, seen = chunk.get("usage") or usage, True
    return assembler.response(usage) if seen else None
