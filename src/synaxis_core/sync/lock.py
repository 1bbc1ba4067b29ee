"""The one-syncer lock: several runners share a database, only one syncs at a time.

``sync_lock(settings, engine)`` is an async context manager that *tries* the lock once
and yields whether it got it; it never waits. A runner that does not get it skips the
round (and says so) and tries again at its next round. Which lock is used:

- ``SYNAXIS_REDIS_URL`` set: a Redis key ``synaxis:sync-lock:<database>`` taken with
  ``SET NX PX`` and a random token, kept alive by a refresher task (TTL
  ``REDIS_TTL_S``, refreshed every third of it) and released by a compare-and-delete
  script, so a runner that dies frees the lock within the TTL and never frees another
  runner's lock.
- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a
  dedicated connection for the whole round; PostgreSQL frees it when that connection
  ends, so a crashed runner cannot leave it behind.
- SQLite file: an exclusive ``flock`` on ``<database file>.sync-lock`` next to the
  database. The operating system frees it when the process dies (a lock row would need
  expiry rules instead). ``flock`` locks belong to the open file, so two runners in one
  process exclude each other too.
- SQLite in memory: an in-process lock (only one process can see that database).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from synaxis_core.settings import Settings

PG_LOCK_KEY = 0x5A7A1501
"""The advisory-lock key of the sync runner (migrations use ``0x5A7A1500``)."""
REDIS_TTL_S = 60.0
REDIS_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
)
REDIS_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)

_memory_locks: dict[str, asyncio.Lock] = {}


def lock_kind(settings: Settings, engine: AsyncEngine) -> str:
    """``redis``, ``postgresql``, ``file`` or ``memory``: the lock ``sync_lock`` takes."""
    if settings.redis_url:
        return "redis"
    if engine.dialect.name == "postgresql":
        return "postgresql"
    return "file" if sqlite_file(engine) is not None else "memory"


def describe(kind: str) -> str:
    return {
        "redis": "Redis lock",
        "postgresql": "PostgreSQL advisory lock",
        "file": "lock file",
        "memory": "in-process lock",
    }[kind]


def sqlite_file(engine: AsyncEngine) -> Path | None:
    """The database file of a SQLite engine (None for an in-memory database)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).expanduser().resolve()


@asynccontextmanager
async def sync_lock(settings: Settings, engine: AsyncEngine) -> AsyncIterator[bool]:
    """Try the sync lock once; yield True when held (released on exit), else False."""
    kind = lock_kind(settings, engine)
    if kind == "redis":
        manager = _redis_lock(settings.redis_url or "", _database_tag(engine))
    elif kind == "postgresql":
        manager = _pg_lock(engine)
    elif kind == "file":
        manager = _file_lock(Path(f"{sqlite_file(engine)}.sync-lock"))
    else:
        manager = _memory_lock(str(engine.url))
    async with manager as held:
        yield held


def _database_tag(engine: AsyncEngine) -> str:
    """A short, password-free name of the database (runners of one database share a key)."""
    safe = make_url(str(engine.url)).render_as_string(hide_password=True)
    return hashlib.sha256(safe.encode()).hexdigest()[:16]


@asynccontextmanager
async def _pg_lock(engine: AsyncEngine) -> AsyncIterator[bool]:
    async with engine.connect() as conn:
        held = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": PG_LOCK_KEY}))
        await conn.commit()  # the lock is session-level: it outlives the transaction
        try:
            yield held
        finally:
            if held:
                with contextlib.suppress(Exception):  # a dead connection has freed it anyway
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
                    await conn.commit()


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[bool]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        held = _try_flock(fd)
        try:
            yield held
        finally:
            if held:
                _unlock(fd)
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: msvcrt locks a byte range of the file instead
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


@asynccontextmanager
async def _memory_lock(key: str) -> AsyncIterator[bool]:
    lock = _memory_locks.setdefault(key, asyncio.Lock())
    if lock.locked():
        yield False
        return
    async with lock:
        yield True


@asynccontextmanager
async def _redis_lock(url: str, tag: str, ttl_s: float = REDIS_TTL_S) -> AsyncIterator[bool]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=5)
    key, token, ttl_ms = f"synaxis:sync-lock:{tag}", secrets.token_hex(16), int(ttl_s * 1000)
    try:
        held = bool(await client.set(key, token, nx=True, px=ttl_ms))
        if not held:
            yield False
            return
        refresher = asyncio.create_task(_keep_alive(client, key, token, ttl_ms))
        try:
            yield True
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            with contextlib.suppress(Exception):  # unreachable Redis: the TTL frees it
                await client.eval(REDIS_RELEASE, 1, key, token)
    finally:
        await client.aclose()


async def _keep_alive(client, key: str, token: str, ttl_ms: int) -> None:  # type: ignore[no-untyped-def]
    """Extend the lock's TTL every third of it while the round runs."""
    while True:
        await asyncio.sleep(ttl_ms / 3000)
        with contextlib.suppress(Exception):  # a blip must not kill the round
            await client.eval(REDIS_EXTEND, 1, key, token, ttl_ms)
