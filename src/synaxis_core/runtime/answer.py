"""What the pipeline hands the HTTP edge: a whole ``Answer``, or a ``ChunkStream``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator

if TYPE_CHECKING:
    from synaxis_core.routing.table import Deployment


@dataclass(slots=True)
class Answer:
    """A complete answer: the chat completion (``model`` is the deployment that answered)."""

    response: dict[str, Any]
    deployment: Deployment
    attempts: int
    cache: str = "miss"
    """``hit``: served from the response cache (``attempts`` is 0); else ``miss``."""
    upstream_request_id: str | None = None
    """The answering upstream's own id of the request, when it sent one (``providers.headers``)."""


class ChunkStream:
    """A streamed answer: ``chat.completion.chunk`` dicts, post-processed, each with
    ``model`` set to the deployment; a usage-only chunk comes last when the upstream sent
    one (a dialect that was not asked for it drops it).

    Iterate it once. An ``UpstreamError`` raised while iterating means the stream broke
    after it started (it is already recorded). Call ``aclose()`` when done, however it
    ended: a stream closed before its end is recorded as ``cancelled`` (the client went
    away) with the output relayed so far, and its upstream connection is released.
    """

    __slots__ = ("deployment", "attempts", "cache", "upstream_request_id", "_chunks")

    def __init__(
        self, deployment: Deployment, attempts: int, chunks: AsyncIterator[dict[str, Any]], cache: str = "miss",
        upstream_request_id: str | None = None,
    ) -> None:
        self.deployment = deployment
        self.attempts = attempts
        self.cache = cache
        """``hit``: a cached answer replayed as chunks (``attempts`` is 0); else ``miss``."""
        self.upstream_request_id = upstream_request_id
        """As ``Answer.upstream_request_id``: known before the first chunk is relayed."""
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks

    async def aclose(self) -> None:
        await self._chunks.aclose()  # type: ignore[attr-defined]  # an async generator
