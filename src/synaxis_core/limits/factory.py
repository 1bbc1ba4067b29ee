"""Choose the state backend from settings: Redis when ``SYNAXIS_REDIS_URL`` is set."""

from __future__ import annotations

from synaxis_core.errors import ConfigError
from synaxis_core.limits.base import StateBackend
from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.settings import Settings

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def create_backend(settings: Settings, *, prefix: str | None = None) -> StateBackend:
    """A :class:`RedisBackend` when ``settings.redis_url`` is set, else a :class:`MemoryBackend`.

    Redis keys start with ``prefix`` (default ``settings.redis_prefix``, ``SYNAXIS_REDIS_PREFIX``).

    Nothing is connected yet (the Redis client connects on first use); call
    ``await backend.ping()`` at start-up to check the server is reachable, and
    ``await backend.aclose()`` at shutdown.

    :raises ConfigError: the Redis URL is malformed (wrong scheme, bad port, ...).
    """
    url = settings.redis_url
    if not url:
        return MemoryBackend()
    from synaxis_core.limits.redis import RedisBackend

    if not url.startswith(REDIS_SCHEMES):
        raise ConfigError(
            f"SYNAXIS_REDIS_URL must start with {' or '.join(REDIS_SCHEMES)}; got {_redact(url)!r}",
            param="redis_url",
        )
    try:
        return RedisBackend.from_url(
            url,
            prefix=settings.redis_prefix if prefix is None else prefix,
            max_connections=settings.redis_max_connections,
            pool_timeout_s=settings.redis_pool_timeout_s,
        )
    except (ValueError, TypeError) as exc:
        message = f"SYNAXIS_REDIS_URL {_redact(url)!r} is malformed: {exc}"
        raise ConfigError(message, param="redis_url") from exc


def _redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe for logs and error messages)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


async def open_backend(settings: Settings) -> StateBackend:
    """:func:`create_backend`, and with Redis, check that it answers (start-up).

    :raises ConfigError: the Redis URL is malformed, or Redis does not answer ``PING``
        (one line naming the URL, without its password, and what to do).
    """
    backend = create_backend(settings)
    if isinstance(backend, MemoryBackend):
        return backend
    from redis.exceptions import RedisError

    try:
        await backend.client.ping()  # type: ignore[attr-defined]
    except (RedisError, OSError) as exc:
        await backend.aclose()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"Redis at {_redact(settings.redis_url or '')} does not answer ({reason}): start it, "
            "or unset SYNAXIS_REDIS_URL to keep limits and health in this process",
            param="redis_url",
        ) from None
    return backend
