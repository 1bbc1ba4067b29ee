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
==================  ==========================================  ==========================

Needs Redis 5 or later (scripts replicate their effects). Scripts touch several keys,
so Redis Cluster is not supported; a single primary (with replicas) is.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Any, Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from synaxis_core.limits.base import DEFAULT_COUNTER_TTL_S, DEFAULT_SPEND_TTL_S, check_amount

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""

# KEYS: log, sum. ARGV: limit ('' = record without checking), amount, window µs, member.
# Returns nil when recorded, else the µs until enough capacity frees.
_ACQUIRE = _NOW + """
local log, sum = KEYS[1], KEYS[2]
local amount, window = tonumber(ARGV[2]), tonumber(ARGV[3])
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

# KEYS: all, failed. ARGV: failed ('1'/'0'), window µs, member. Returns {failures, total}.
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

    @classmethod
    def from_url(cls, url: str, prefix: str = "synaxis:", **kwargs: Any) -> "RedisBackend":
        """Connect lazily to ``url`` (``redis://``, ``rediss://`` or ``unix://``).

        A malformed URL raises :class:`ValueError`; ``kwargs`` go to the backend
        (``counter_ttl_s``, ``spend_ttl_s``).
        """
        client = aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        return cls(client, prefix=prefix, **kwargs)

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
        self, key: str, ok: bool, *, window_s: float = 60.0
    ) -> tuple[int, int]:
        check_amount(0, window_s)
        p = self.prefix
        failures, total = await self._outcome(
            keys=[f"{p}out:{key}", f"{p}out-fail:{key}"],
            args=["0" if ok else "1", _us(window_s), self._member(0)],
        )
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


def _ms(seconds: float) -> int:
    """Seconds as whole milliseconds (at least 1), for PEXPIRE / PX."""
    return max(1, math.ceil(seconds * 1000))


def _text(value: bytes | str) -> str:
    """A reply as text, whether or not the client decodes responses."""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")
