"""The shared cache in Redis: every instance on the same Redis sees the same answers.

Keys are ``<prefix>cache:<tenant id>:<sha256>`` (``SYNAXIS_REDIS_PREFIX``), each with
the entry's TTL (``SET ... PX``). A Redis that fails or is slower than ``timeout_s``
is a cache miss, never an error: the request goes upstream as if nothing were cached,
a warning is logged (the first failure, then at most one a minute) and ``on_error``
counts it. After a failure Redis is left alone for ``retry_s``, so that an outage does
not cost every request a connection attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from redis.exceptions import RedisError

log = logging.getLogger("synaxis.cache")

TIMEOUT_S = 0.5
RETRY_S = 1.0
WARN_INTERVAL_S = 60.0


class RedisCache:
    kind = "redis"

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "synaxis:",
        owns_client: bool = True,
        timeout_s: float = TIMEOUT_S,
        retry_s: float = RETRY_S,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.prefix = f"{prefix}cache:"
        self.owns_client = owns_client
        """False when the client is the state backend's (closed with it, not here)."""
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.on_error = on_error
        self.failures = 0
        self._skip_until = 0.0
        self._warned_at = -WARN_INTERVAL_S

    async def get(self, key: str) -> bytes | None:
        if time.monotonic() < self._skip_until:
            return None
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.client.get(self.prefix + key)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("read", exc)
            return None

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if time.monotonic() < self._skip_until:
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.client.set(self.prefix + key, value, px=max(1, int(ttl_s * 1000)))
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("write", exc)

    def _failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        now = time.monotonic()
        self._skip_until = now + self.retry_s
        if self.on_error is not None:
            self.on_error()
        if now - self._warned_at >= WARN_INTERVAL_S:
            self._warned_at = now
            log.warning(
                "response cache: Redis %s failed (%s: %s); serving without the cache until it answers "
                "(%d failures so far)", what, type(exc).__name__, exc or "timed out", self.failures,
            )

    async def aclose(self) -> None:
        if self.owns_client:
            await self.client.aclose()
