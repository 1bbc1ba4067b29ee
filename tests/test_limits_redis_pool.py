"""Redis under load and after a restart: a busy pool is not an outage, a reconnect counts at once.

Two gateway instances are two ``FallbackBackend``s built by the factory with the default
settings, sharing one Redis. Bursts are larger than the connection pool on purpose. The
restart and killed-connection cases use a private ``redis-server`` on a free loopback
port (no persistence, a temporary directory), so the machine's Redis is never touched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid

import pytest
from redis.exceptions import MaxConnectionsError

from synaxis_core.limits.fallback import FallbackBackend, StateBusy
from synaxis_core.limits.factory import create_backend
from synaxis_core.limits.redis import RedisBackend
from synaxis_core.limits.tenant import TenantGate
from synaxis_core.settings import Settings
from synaxis_core.tenants import Limit, TenantInfo
from synaxis_core.testing.server_process import free_port


pytestmark = pytest.mark.redis
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class RedisServer:
    """A throwaway ``redis-server`` on 127.0.0.1:``port``; ``restart()`` keeps the port."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", self.directory,
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:  # its own word that it listens, not a sleep
            if "Ready to accept connections" in line:
                return
        raise RuntimeError(f"redis-server on port {self.port} exited with {self.process.wait()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            assert self.process.stdout is not None
            self.process.stdout.close()
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed"
        if IN_CI:
            pytest.fail(f"{message}; under CI=true this must not be skipped")
        pytest.skip(message)
    server = RedisServer(str(tmp_path))
    server.start()
    yield server
    server.stop()


def instances(url: str, count: int = 2, **settings: object) -> list[FallbackBackend]:
    """Gateway instances as the gateway builds them: the factory's Redis backend, failing open."""
    prefix = f"synaxis-test:{uuid.uuid4().hex}:"
    config = Settings.from_env({"SYNAXIS_REDIS_URL": url, "SYNAXIS_REDIS_PREFIX": prefix}, **settings)
    return [FallbackBackend(create_backend(config)) for _ in range(count)]


async def close(backends: list[FallbackBackend]) -> None:
    primary = backends[0].primary
    assert isinstance(primary, RedisBackend)
    keys = [key async for key in primary.client.scan_iter(match=f"{primary.prefix}*")]
    if keys:
        await primary.client.delete(*keys)
    for backend in backends:
        await backend.aclose()


def untouched(backends: list[FallbackBackend]) -> bool:
    """No call of any instance was counted in memory or refused as busy."""
    return all(not b.degraded and b.failures == 0 and b.busy == 0 for b in backends)


async def burst(backends: list[FallbackBackend], per_instance: int, limit: int) -> int:
    calls = [b.try_acquire("t:1:rpm:*", limit) for b in backends for _ in range(per_instance)]
    return (await asyncio.gather(*calls)).count(None)


async def test_bursts_larger_than_the_pool_are_counted_exactly_across_instances(redis_url):
    """RPM 100, two instances, 200 concurrent calls each (more than a pool holds): 100 pass."""
    backends = instances(redis_url)
    try:
        assert await burst(backends, 200, 100) == 100
        assert untouched(backends)
    finally:
        await close(backends)


async def test_one_instance_admits_exactly_its_limit_whatever_the_burst(redis_url):
    backends = instances(redis_url, count=1)
    try:
        for size in (100, 150, 400):
            key = f"rpm:{size}"
            calls = [backends[0].try_acquire(key, 50) for _ in range(size)]
            assert (await asyncio.gather(*calls)).count(None) == 50
        assert untouched(backends)
    finally:
        await close(backends)


async def test_concurrent_spend_all_reaches_redis(redis_url):
    """400 concurrent $10.01 settlements: Redis counts $4,004.00, not what fitted in a pool."""
    backends = instances(redis_url)
    gate = TenantGate(backends[0])
    tenant = TenantInfo(id=1, name="t", limits={"*": Limit(budget_usd=10_000.0)})
    try:
        reservations = await asyncio.gather(*(TenantGate(b).reserve(tenant, ["*"], 10.01) for b in backends * 200))
        await asyncio.gather(*(TenantGate(b).settle(r, 10.01) for b, r in zip(backends * 200, reservations)))
        assert await backends[1].get_spend(gate.spend_key(1, "*")) == pytest.approx(4004.0)
        assert untouched(backends) and gate.unsettled == 0
    finally:
        await close(backends)


async def test_a_busy_pool_refuses_with_503_instead_of_counting_in_memory(redis_url):
    """Every connection held on purpose: the call waits its pool timeout, then StateBusy."""
    backends = instances(redis_url, count=1, redis_max_connections=1, redis_pool_timeout_s=0.05)
    backend = backends[0]
    primary = backend.primary
    assert isinstance(primary, RedisBackend)
    held = await primary.client.connection_pool.get_connection()
    try:
        with pytest.raises(StateBusy) as refused:
            await backend.try_acquire("k", 1)
        assert refused.value.status == 503 and isinstance(refused.value.__cause__, MaxConnectionsError)
        assert not backend.degraded and backend.failures == 0 and backend.busy == 1
    finally:
        await primary.client.connection_pool.release(held)
    try:
        assert [await backend.try_acquire("k", 1) for _ in range(2)] == [None, pytest.approx(60, abs=1)]
        assert not backend.degraded and backend.failures == 0
    finally:
        await close(backends)


async def test_a_restarted_redis_counts_exactly_from_the_first_call(private_redis):
    """Pools full of connections to the old server: the first burst after the restart is exact."""
    backends = instances(private_redis.url)
    try:
        assert await burst(backends, 50, 1000) == 100  # 50 pooled connections per instance
        private_redis.restart()  # the counts are gone with it (no persistence): start again
        assert await burst(backends, 50, 60) == 60  # every stale connection replaced, not an outage
        assert untouched(backends)
    finally:
        await close(backends)


async def test_killed_connections_are_replaced_at_once(private_redis):
    backends = instances(private_redis.url, count=1)
    backend = backends[0]
    try:
        assert await burst(backends, 20, 1000) == 20
        admin = RedisBackend.from_url(private_redis.url).client
        killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        await admin.aclose()
        assert killed >= 1
        assert [await backend.try_acquire("rpm", 3) for _ in range(4)][:3] == [None] * 3
        assert await backend.get_spend("never") == 0.0
        assert untouched(backends)
    finally:
        await close(backends)
