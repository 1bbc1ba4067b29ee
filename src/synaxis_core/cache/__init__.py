"""The exact response cache: a complete, successful answer, replayed for the same request.

Off unless a tenant (``tenant_model_limits.cache_ttl_s`` on ``*``) or a request
(``x-synaxis-cache: on|force``, ``x-synaxis-cache-ttl``) turns it on. It works in the
pipeline's dialect-neutral terms: the key is made from a ``types.ChatRequest``
(``cache.key``), the entry is the post-processed chat completion and the deployment
that answered, so every API dialect gets it, streamed or not (``cache.replay``).

Backends: ``MemoryCache`` (this process, LRU bounded by entries and bytes) and
``RedisCache`` (shared by every instance; an outage is a miss). ``ResponseCache`` is
what the pipeline holds: it encodes and decodes entries, bounds their size and stores
without making the request wait for Redis.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Protocol

import msgspec

from synaxis_core.cache.key import cache_key, not_cacheable, resolved_target
from synaxis_core.cache.memory import MemoryCache
from synaxis_core.cache.redis import RedisCache
from synaxis_core.errors import ConfigError
from synaxis_core.settings import Settings

log = logging.getLogger("synaxis.cache")

MODES = ("on", "off", "force")
"""The values of ``x-synaxis-cache``."""


class Backend(Protocol):
    kind: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def aclose(self) -> None: ...


class Entry(msgspec.Struct, array_like=True):
    deployment: str
    """The deployment that answered (headers and ledger of a hit name it)."""
    response: dict[str, Any]


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Entry).decode


class ResponseCache:
    """Entries in ``backend``; at most ``max_entry_bytes`` each (longer ones are not kept)."""

    def __init__(self, backend: Backend, *, max_entry_bytes: int, default_ttl_s: int) -> None:
        self.backend = backend
        self.max_entry_bytes = max_entry_bytes
        self.default_ttl_s = default_ttl_s
        self._writes: set[asyncio.Task[None]] = set()

    async def get(self, key: str) -> tuple[Entry, int] | None:
        """The entry and its size in bytes, or None (a miss, a failed read, an unreadable entry)."""
        raw = await self.backend.get(key)
        if raw is None:
            return None
        try:
            return _decode(raw), len(raw)
        except msgspec.DecodeError:
            log.warning("response cache: entry %s is unreadable; treating it as a miss", key)
            return None

    def put(self, key: str, deployment: str, response: dict[str, Any], ttl_s: int) -> int:
        """Store (in the background for a shared backend); returns the bytes stored, 0 when too large."""
        raw = _encode(Entry(deployment, response))
        if len(raw) > self.max_entry_bytes:
            return 0
        if isinstance(self.backend, MemoryCache):
            self.backend.store(key, raw, ttl_s)
            return len(raw)
        task = asyncio.get_running_loop().create_task(self.backend.set(key, raw, ttl_s))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return len(raw)

    async def drain(self) -> None:
        """Wait for the writes started so far."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def aclose(self) -> None:
        await self.drain()
        await self.backend.aclose()


def create_cache(
    settings: Settings, *, state_client: Any | None = None, on_error: Callable[[], None] | None = None
) -> ResponseCache:
    """The cache ``settings.cache_backend`` asks for. With Redis, ``state_client`` (the
    state backend's Redis client, when there is one) is shared; else one is made from
    ``settings.redis_url``.

    :raises ConfigError: ``SYNAXIS_CACHE_BACKEND=redis`` without ``SYNAXIS_REDIS_URL``.
    """
    kind = settings.cache_backend
    if kind == "auto":
        kind = "redis" if settings.redis_url else "memory"
    backend: Backend
    if kind == "memory":
        backend = MemoryCache(max_entries=settings.cache_max_entries, max_bytes=settings.cache_max_bytes)
    elif not settings.redis_url:
        raise ConfigError("SYNAXIS_CACHE_BACKEND=redis needs SYNAXIS_REDIS_URL", param="cache_backend")
    elif state_client is not None:
        backend = RedisCache(state_client, prefix=settings.redis_prefix, owns_client=False, on_error=on_error)
    else:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(
            settings.redis_url, max_connections=settings.redis_max_connections,
            socket_connect_timeout=2, socket_timeout=2,
        )
        backend = RedisCache(client, prefix=settings.redis_prefix, on_error=on_error)
    return ResponseCache(backend, max_entry_bytes=settings.cache_max_entry_bytes, default_ttl_s=settings.cache_ttl_s)


__all__ = [
    "MODES", "Entry", "MemoryCache", "RedisCache", "ResponseCache", "cache_key", "create_cache", "not_cacheable",
    "resolved_target",
]
