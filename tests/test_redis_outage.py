"""Redis unreachable: a clear error at start-up; mid-run, the gateway serves on from memory.

Mid-run outages go through a TCP proxy in front of the local Redis that the test cuts
(every connection closed, the port refusing) and restores, so the gateway's own Redis
client sees exactly what it would see if Redis went away.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
import uuid

import pytest

from synaxis_core.errors import ConfigError
from synaxis_core.limits.fallback import FallbackBackend
from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.settings import Settings
from synaxis_core.tenants.service import set_limit
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.server_process import CLI, clean_environ, free_port

MESSAGES = [{"role": "user", "content": "Predict the score."}]


class CuttableProxy:
    """A TCP proxy to ``target`` on a loopback port; ``cut()`` drops it, ``restore()`` reopens it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    async def restore(self) -> None:
        await self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


async def _delete_prefix(redis_url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


# --- start-up -------------------------------------------------------------------------


async def test_gateway_open_refuses_an_unreachable_redis(sqlite_url):
    settings = Settings.from_env(
        {"SYNAXIS_DATABASE_URL": sqlite_url, "SYNAXIS_REDIS_URL": f"redis://:pw@127.0.0.1:{free_port()}/0",
         "SYNAXIS_LOAD_PLUGINS": ""}
    )
    with pytest.raises(ConfigError) as raised:
        await Gateway.open(settings)
    message = raised.value.message
    assert "does not answer" in message and "SYNAXIS_REDIS_URL" in message
    assert "pw" not in message and ":***@" in message


def test_serve_exits_with_one_line_when_redis_is_unreachable(sqlite_url):
    environ = clean_environ(
        {"SYNAXIS_DATABASE_URL": sqlite_url, "SYNAXIS_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
         "SYNAXIS_LOAD_PLUGINS": ""}
    )
    command = [*CLI, "serve", "--no-demo", "--port", str(free_port())]
    done = subprocess.run(command, env=environ, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: Redis at redis://127.0.0.1:")
    assert "Traceback" not in done.stderr + done.stdout


# --- mid-run ------------------------------------------------------------------------------


@pytest.mark.redis
async def test_a_redis_outage_degrades_to_process_memory_and_recovers(sqlite_url, redis_url, caplog):
    from urllib.parse import urlsplit

    target = urlsplit(redis_url)
    proxy = await CuttableProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    prefix = f"synaxis-test:{uuid.uuid4().hex}:"
    limited = "deepseek-v3.2-syn"
    environ = {"SYNAXIS_REDIS_URL": proxy.url, "SYNAXIS_REDIS_PREFIX": prefix}
    caplog.set_level(logging.WARNING, logger="synaxis.state")
    try:
        async with FakeUpstream() as fake, gateway_harness(
            fake, database_url=sqlite_url, providers=("nvidia", "synthetic"), environ=environ
        ) as h:
            gateway = h.gateway
            assert isinstance(gateway.backend, FallbackBackend)
            await set_limit(gateway.sessions, "test", limited, rpm=3)
            await gateway.reload_auth()

            async def chat(model: str) -> int:
                response = await h.client.post(
                    "/v1/chat/completions", headers=h.auth(), json={"model": model, "messages": MESSAGES}
                )
                return response.status_code

            async def metric(name: str) -> float:
                text = (await h.client.get("/metrics")).text
                line = next(line for line in text.splitlines() if line.startswith(name + " "))
                return float(line.split()[1])

            assert [await chat(limited) for _ in range(2)] == [200, 200]  # 2 of 3 counted in Redis

            await proxy.cut()
            started = time.monotonic()
            # Limits carry on in memory, from zero, in this instance: 3 more, then 429.
            assert [await chat(limited) for _ in range(4)] == [200, 200, 200, 429]
            # Health carries on too: a failing deployment still fails over and is disabled.
            fake.set("openai/gpt-oss-120b", Behavior(kind="error", status=500))
            assert [await chat("gpt-oss-120b") for _ in range(4)] == [200] * 4
            assert not gateway.router.table.by_id["gpt-oss-120b-nvidia"].active
            assert time.monotonic() - started < 5  # nobody waited on the dead Redis
            health = await h.client.get("/health")
            assert health.status_code == 200 and health.json()["redis"] == "error"
            assert health.json()["status"] == "degraded"
            assert await metric("synaxis_state_backend_degraded") == 1
            assert await metric("synaxis_state_backend_errors_total") >= 1
            outage_logs = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert len(outage_logs) == 1 and "unreachable" in outage_logs[0].getMessage()

            await proxy.restore()
            await asyncio.sleep(gateway.backend.retry_s + 0.1)
            # Back on Redis: its window still holds the 2 requests from before the outage.
            assert [await chat(limited) for _ in range(2)] == [200, 429]
            assert await metric("synaxis_state_backend_degraded") == 0
            assert (await h.client.get("/health")).status_code == 200
            assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        await proxy.cut()
        await _delete_prefix(redis_url, prefix)


async def test_fallback_backend_tries_the_primary_once_per_interval():
    now = [0.0]
    calls = []

    class Down(MemoryBackend):
        async def incr_failures(self, key: str) -> int:
            calls.append(key)
            raise ConnectionRefusedError("down")

    backend = FallbackBackend(Down(), retry_s=1.0, clock=lambda: now[0])
    assert [await backend.incr_failures("k") for _ in range(3)] == [1, 2, 3]  # counted in memory
    assert calls == ["k"] and backend.degraded and backend.failures == 1
    now[0] = 1.5
    assert await backend.incr_failures("k") == 4  # one more try of the primary, still down
    assert calls == ["k", "k"]
    with pytest.raises(ValueError):  # not an outage: the caller's mistake still raises
        await backend.try_acquire("k", 1, amount=-1)
