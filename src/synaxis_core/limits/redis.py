"""The Redis backend: state shared by every gateway instance that uses the same Redis.

Every call is one round trip: a single command, or a Lua script (``register_script``,
run with EVALSHA) that does its reads and writes atomically, so instances never race on
a read-modify-write. Time comes from Redis ``TIME`` inside the scripts, in integer
microseconds, so instances on machines with different clocks agree.

Keys (all under ``prefix``, default ``synaxis:``), each with a TTL:

==================  ==========================================  ==========================
``rate:<key>``      sorted set, score = µs, member ``<id>:<n>``  window + 1 s after a write
``rate-sum:<key>``  the sum of the ``n`` in ``rate:<key>``        same as its sorted set
``out:<key>``       sorted set of all outcomes in the window      window + 1 s
``out-fail:<key>``  sorted set of the failed ones                 window + 1 s
``spend:<key>``     float total (INCRBYFLOAT)                     ``spend_ttl_s`` after a write
``fail:<key>``      integer counter (INCR)                        ``counter_ttl_s`` after a write
``cool:<key>``      the reason                                    the cool-down itself
``resv:<key>``      sorted set of budget reservations: score =   the reservation's TTL
                    expiry µs, member = reservation id            + 1 s after a write
``resv-usd:<key>``  hash: reservation id -> nano-USD reserved,    same
                    and ``_sum``, their total
``settled:<id>``    marks a settled reservation (retry-safe)      ``SETTLED_TTL_S``
==================  ==========================================  ==========================

Needs Redis 5 or later (scripts replicate their effects). Scripts touch several keys,
so Redis Cluster is not supported; a single primary (with replicas) is.

Connections (:meth:`RedisBackend.from_url`): a bounded pool that callers *wait* on when
every connection is busy (redis-py's ``BlockingConnectionPool``), up to
``pool_timeout_s``; a wait that times out raises ``MaxConnectionsError`` — the pool is
busy, Redis is not down (:class:`~synaxis_core.limits.fallback.FallbackBackend` tells
the two apart). A command that fails on a broken connection (Redis restarted, the
connection was killed) is sent again once on a fresh connection, so the first calls
after a restart count in Redis like any other. The scripts are retry-safe: a member id
or reservation id seen twice is counted once.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
from typing import Any, Sequence

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, RedisError

from synaxis_core.limits.base import (
    BUDGET_EPSILON_USD,
    DEFAULT_COUNTER_TTL_S,
    DEFAULT_SPEND_TTL_S,
    SETTLED_TTL_S,
    check_amount,
)

DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_POOL_TIMEOUT_S = 2.0
NANO = 1_000_000_000
"""Reservations are whole nano-USD (integers: exact sums in Redis)."""

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""

# KEYS: log, sum. ARGV: limit ('' = record without checking), amount, window µs, member.
# Returns nil when recorded, else the µs until enough capacity frees.
_ACQUIRE = _NOW + """
local log, sum = KEYS[1], KEYS[2]
local amount, window = tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('ZSCORE', log, ARGV[4]) then return false end  -- a retried call: counted already
local cutoff = now - window
local function units(member) return tonumber(string.match(member, ':(%d+)$')) end
local ttl = math.ceil(window / 1000) + 1000
local used = 0
if redis.call('EXISTS', log) == 1 then
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
  if #old > 0 then redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff) end
  local stored = redis.call('GET', sum)
  if redis.call('EXISTS', log) == 0 then
    redis.call('DEL', sum)
  elseif not stored then
    -- the sum was evicted: rebuild it from the log
    for _, member in ipairs(redis.call('ZRANGE', log, 0, -1)) do used = used + units(member) end
    redis.call('SET', sum, used, 'PX', ttl)
  else
    local freed = 0
    for _, member in ipairs(old) do freed = freed + units(member) end
    used = freed > 0 and redis.call('DECRBY', sum, freed) or tonumber(stored)
  end
end
if ARGV[1] == '' or used + amount <= tonumber(ARGV[1]) then
  redis.call('ZADD', log, now, ARGV[4])
  redis.call('SET', sum, used + amount, 'PX', ttl)
  redis.call('PEXPIRE', log, ttl)
  return false
end
local need = used + amount - tonumber(ARGV[1])
local start = 0
while true do
  local batch = redis.call('ZRANGE', log, start, start + 99, 'WITHSCORES')
  if #batch == 0 then return window end
  for i = 1, #batch, 2 do
    need = need - units(batch[i])
    if need <= 0 then return tonumber(batch[i + 1]) - cutoff end
  end
  start = start + 100
end
"""

# KEYS: (spend, resv, resv-usd) per budget. ARGV: id, nano-USD, ttl µs, epsilon nano, budgets (nano).
# Returns nil when reserved on every key, else {0-based index, committed nano-USD as text}.
_RESERVE = _NOW + """
local id, amount, ttl, eps = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('ZSCORE', KEYS[2], id) then return false end  -- a retried call: reserved already
local n = #KEYS / 3
for i = 1, n do
  local spend, resv, usd = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', resv, '-inf', now)) do  -- expired: its process died
    local held = redis.call('HGET', usd, old)
    if held then redis.call('HINCRBY', usd, '_sum', '-' .. held) redis.call('HDEL', usd, old) end
  end
  redis.call('ZREMRANGEBYSCORE', resv, '-inf', now)
  local committed = tonumber(redis.call('GET', spend) or '0') * 1e9 + tonumber(redis.call('HGET', usd, '_sum') or '0')
  local budget = tonumber(ARGV[4 + i])
  if not (committed < budget - eps and committed + amount <= budget + eps) then
    return {i - 1, tostring(committed)}
  end
end
local ms = math.ceil(ttl / 1000) + 1000
for i = 1, n do
  local resv, usd = KEYS[3 * i - 1], KEYS[3 * i]
  redis.call('ZADD', resv, now + ttl, id)
  redis.call('HSET', usd, id, ARGV[2])
  redis.call('HINCRBY', usd, '_sum', ARGV[2])
  redis.call('PEXPIRE', resv, ms)
  redis.call('PEXPIRE', usd, ms)
end
return false
"""

# KEYS: (spend, resv, resv-usd) per scope, then the settled marker. ARGV: id, usd, spend ttl ms, marker ms.
_SETTLE = """
local id = ARGV[1]
if not redis.call('SET', KEYS[#KEYS], '1', 'NX', 'PX', ARGV[4]) then return 0 end  -- settled already
for i = 1, (#KEYS - 1) / 3 do
  local spend, resv, usd = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  if redis.call('ZREM', resv, id) == 1 then
    local held = redis.call('HGET', usd, id)
    if held then redis.call('HINCRBY', usd, '_sum', '-' .. held) redis.call('HDEL', usd, id) end
  end
  if tonumber(ARGV[2]) > 0 then
    redis.call('INCRBYFLOAT', spend, ARGV[2])
    redis.call('PEXPIRE', spend, ARGV[3])
  end
end
return 1
"""

# KEYS: all, failed[, a failure counter to delete]. ARGV: failed ('1'/'0'), window µs, member. Returns {failures, total}.
_OUTCOME = _NOW + """
local cutoff = now - tonumber(ARGV[2])
local ttl = math.ceil(tonumber(ARGV[2]) / 1000) + 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff)
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
if ARGV[1] == '1' then
  redis.call('ZADD', KEYS[2], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ttl)
end
if KEYS[3] then redis.call('DEL', KEYS[3]) end
return {redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[1])}
"""

# KEYS[1]; ARGV: 'INCRBY' or 'INCRBYFLOAT', increment, ttl ms. Returns the new value.
_INCR = "local v = redis.call(ARGV[1], KEYS[1], ARGV[2]) redis.call('PEXPIRE', KEYS[1], ARGV[3]) return v"

# KEYS: cool-down keys. Returns {index, ms remaining, reason, ...} for the active ones.
_COOLDOWNS = """
local found = {}
for i, key in ipairs(KEYS) do
  local reason = redis.call('GET', key)
  if reason then
    local ms = redis.call('PTTL', key)
    if ms > 0 then table.insert(found, i) table.insert(found, ms) table.insert(found, reason) end
  end
end
return found
"""


class WaitingPool(aioredis.BlockingConnectionPool):
    """redis-py's blocking pool, whose wait that times out says so: ``MaxConnectionsError``.

    (redis-py raises a plain ``ConnectionError("No connection available.")``, which reads
    like Redis being down.)
    """

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().get_connection()
        except RedisConnectionError as exc:
            if isinstance(exc.__cause__, asyncio.TimeoutError) and not isinstance(exc, MaxConnectionsError):
                raise MaxConnectionsError(
                    f"all {self.max_connections} Redis connections stayed busy for {self.timeout}s"
                ) from exc
            raise


class RedisBackend:
    """:class:`~synaxis_core.limits.base.StateBackend` in Redis, shared by instances.

    :param client: a ``redis.asyncio.Redis`` (responses as bytes); closed by :meth:`aclose`.
    :param prefix: every key starts with it (one Redis can serve several deployments).
    :param counter_ttl_s: a failure counter nobody increments for this long expires.
    :param spend_ttl_s: a spend total nobody adds to for this long expires.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "synaxis:",
        counter_ttl_s: float = DEFAULT_COUNTER_TTL_S,
        spend_ttl_s: float = DEFAULT_SPEND_TTL_S,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self._counter_ttl_ms = _ms(counter_ttl_s)
        self._spend_ttl_ms = _ms(spend_ttl_s)
        self._node = os.urandom(6).hex()
        self._ids = itertools.count()
        self._acquire = client.register_script(_ACQUIRE)
        self._outcome = client.register_script(_OUTCOME)
        self._incr = client.register_script(_INCR)
        self._cooldowns = client.register_script(_COOLDOWNS)
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)

    @classmethod
    def from_url(
        cls,
        url: str,
        prefix: str = "synaxis:",
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout_s: float = DEFAULT_POOL_TIMEOUT_S,
        **kwargs: Any,
    ) -> "RedisBackend":
        """Connect lazily to ``url`` (``redis://``, ``rediss://`` or ``unix://``).

        At most ``max_connections`` connections; a call waits up to ``pool_timeout_s``
        for a free one (then ``MaxConnectionsError``). Commands time out after 5 s; one
        that fails on a broken connection is retried once on a new one (not on a
        timeout: a slow Redis is not asked twice). A malformed URL raises
        :class:`ValueError`; ``kwargs`` go to the backend (``counter_ttl_s``,
        ``spend_ttl_s``).
        """
        pool = WaitingPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout_s,
            socket_connect_timeout=5,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        return cls(aioredis.Redis.from_pool(pool), prefix=prefix, **kwargs)

    def _log_keys(self, key: str) -> list[str]:
        return [f"{self.prefix}rate:{key}", f"{self.prefix}rate-sum:{key}"]

    def _member(self, units: int) -> str:
        """A sorted-set member unique across instances, ending in ``:<units>``."""
        return f"{self._node}{next(self._ids):x}:{units}"

    # --- sliding-window limiter ------------------------------------------------------

    async def try_acquire(
        self, key: str, limit: int, *, amount: int = 1, window_s: float = 60.0
    ) -> float | None:
        check_amount(amount, window_s)
        if amount > limit:
            return float(window_s)
        if amount == 0:
            return None
        args = [limit, amount, _us(window_s), self._member(amount)]
        retry = await self._acquire(keys=self._log_keys(key), args=args)
        return None if retry is None else int(retry) / 1e6

    async def record(self, key: str, amount: int, *, window_s: float = 60.0) -> None:
        check_amount(amount, window_s)
        if amount == 0:
            return
        await self._acquire(keys=self._log_keys(key), args=["", amount, _us(window_s), self._member(amount)])

    # --- spend -----------------------------------------------------------------------

    async def add_spend(self, key: str, usd: float) -> float:
        args = ["INCRBYFLOAT", repr(float(usd)), self._spend_ttl_ms]
        return float(await self._incr(keys=[f"{self.prefix}spend:{key}"], args=args))

    async def get_spend(self, key: str) -> float:
        total = await self.client.get(f"{self.prefix}spend:{key}")
        return 0.0 if total is None else float(total)

    def _budget_keys(self, keys: Sequence[str]) -> list[str]:
        p = self.prefix
        return [name for key in keys for name in (f"{p}spend:{key}", f"{p}resv:{key}", f"{p}resv-usd:{key}")]

    async def reserve_spend(
        self, keys: Sequence[str], budgets: Sequence[float], reservation: str, usd: float, *, ttl_s: float
    ) -> tuple[int, float] | None:
        if not keys:
            return None
        args = [reservation, _nano(usd), _us(ttl_s), BUDGET_EPSILON_USD * NANO, *(repr(b * NANO) for b in budgets)]
        refused = await self._reserve(keys=self._budget_keys(keys), args=args)
        return None if refused is None else (int(refused[0]), float(refused[1]) / NANO)

    async def settle_spend(self, keys: Sequence[str], reservation: str, usd: float) -> None:
        marker = f"{self.prefix}settled:{reservation}"
        args = [reservation, repr(float(usd)), self._spend_ttl_ms, _ms(SETTLED_TTL_S)]
        await self._settle(keys=[*self._budget_keys(keys), marker], args=args)

    # --- consecutive failures ----------------------------------------------------------

    async def incr_failures(self, key: str) -> int:
        args = ["INCRBY", 1, self._counter_ttl_ms]
        return int(await self._incr(keys=[f"{self.prefix}fail:{key}"], args=args))

    async def reset_failures(self, key: str) -> None:
        await self.client.delete(f"{self.prefix}fail:{key}")

    # --- cool-downs --------------------------------------------------------------------

    async def set_cooldown(self, key: str, seconds: float, reason: str) -> None:
        if seconds <= 0:
            await self.clear_cooldown(key)
            return
        await self.client.set(f"{self.prefix}cool:{key}", reason, px=_ms(seconds))

    async def clear_cooldown(self, key: str) -> None:
        await self.client.delete(f"{self.prefix}cool:{key}")

    async def get_cooldowns(self, keys: Sequence[str]) -> dict[str, tuple[float, str]]:
        if not keys:
            return {}
        keys = list(keys)
        flat = await self._cooldowns(keys=[f"{self.prefix}cool:{key}" for key in keys])
        return {
            keys[int(flat[i]) - 1]: (int(flat[i + 1]) / 1000, _text(flat[i + 2]))
            for i in range(0, len(flat), 3)
        }

    # --- outcome window ----------------------------------------------------------------

    async def record_outcome(
        self, key: str, ok: bool, *, window_s: float = 60.0, reset: str | None = None
    ) -> tuple[int, int]:
        check_amount(0, window_s)
        p = self.prefix
        keys = [f"{p}out:{key}", f"{p}out-fail:{key}"]
        if reset is not None:
            keys.append(f"{p}fail:{reset}")
        failures, total = await self._outcome(keys=keys, args=["0" if ok else "1", _us(window_s), self._member(0)])
        return int(failures), int(total)

    # --- housekeeping ------------------------------------------------------------------

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False

    async def aclose(self) -> None:
        await self.client.aclose()


def _us(seconds: float) -> int:
    """Seconds as whole microseconds (at least 1)."""
    return max(1, round(seconds * 1_000_000))


def _nano(usd: float) -> int:
    """USD as whole nano-USD, rounded up (a reservation never holds less than asked)."""
    return max(0, math.ceil(usd * NANO - 1e-6))


def _ms(seconds: float) -> int:
    """Seconds as whole milliseconds (at least 1), for PEXPIRE / PX."""
    return max(1, math.ceil(seconds * 1000))


def _text(value: bytes | str) -> str:
    """A reply as text, whether or not the client decodes responses."""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")
