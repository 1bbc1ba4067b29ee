"""A graceful stop under load: every request that got an answer is in the ledger, once.

A real ``synaxis serve`` process, eight clients sending requests back to back (streamed
and not) to a fake upstream that takes 0.1 s per answer, and SIGTERM in the middle.
uvicorn stops accepting connections, lets the requests in flight finish, then runs the
lifespan shutdown, which closes the gateway and flushes the ledger. The ledger's flush
interval is set far beyond the test so that nothing is written before the shutdown:
every row checked here was flushed by it.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text

from synaxis_core.db.engine import create_engine
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import fake_environ
from synaxis_core.testing.server_process import GatewayProcess

ADMIN_KEY = "admin-shutdown-test"
WORKERS = 8
ANSWERS_BEFORE_STOP = 40
UPSTREAM_DELAY_S = 0.1


@dataclass
class Load:
    """What the clients saw."""

    answered: dict[str, bool] = field(default_factory=dict)
    """request id -> answered after the SIGTERM was sent (it was in flight then)."""
    sent: int = 0
    lost_after_stop: int = 0
    """Requests that found no server (refused or cut) once the stop had begun."""
    unexpected: list[str] = field(default_factory=list)
    stopping: bool = False
    """Set just before the SIGTERM is sent."""
    enough: asyncio.Event = field(default_factory=asyncio.Event)


async def worker(n: int, client: httpx.AsyncClient, url: str, key: str, load: Load) -> None:
    i = 0
    while True:
        stream = (n + i) % 2 == 1
        i += 1
        body = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": f"worker {n} call {i}"}],
                "stream": stream}
        load.sent += 1
        try:
            async with client.stream(
                "POST", url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
            ) as response:
                payload = await response.aread()
        except httpx.TransportError as exc:
            if not load.stopping:
                load.unexpected.append(f"before the stop: {type(exc).__name__}: {exc}")
            else:
                load.lost_after_stop += 1
            return
        complete = payload.rstrip().endswith(b"data: [DONE]") if stream else payload.startswith(b"{")
        if response.status_code != 200 or not complete:
            load.unexpected.append(f"{response.status_code}: {payload[-200:]!r}")
            return
        after_stop = load.stopping
        load.answered[response.headers["x-request-id"]] = after_stop
        if len(load.answered) >= ANSWERS_BEFORE_STOP:
            load.enough.set()


async def ledger_rows(database_url: str) -> list[tuple[str, str]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(text("SELECT request_id, status FROM usage_records"))]
    finally:
        await engine.dispose()


async def test_sigterm_under_load_loses_no_answered_request(database_url: str, tmp_path) -> None:
    with FakeUpstream() as fake:
        fake.set("openai/gpt-oss-120b", Behavior(kind="ok", delay_s=UPSTREAM_DELAY_S))
        environ = {
            **fake_environ(fake, ("nvidia", "synthetic")),
            "SYNAXIS_DATABASE_URL": database_url,
            "SYNAXIS_ADMIN_KEY": ADMIN_KEY,
            "SYNAXIS_LOAD_PLUGINS": "nvidia,synthetic",
            "SYNAXIS_LEDGER_FLUSH_INTERVAL_S": "3600",  # only the shutdown writes the ledger
            "SYNAXIS_LEDGER_BATCH_SIZE": "100000",
        }
        gateway = GatewayProcess(environ, log_path=tmp_path / "serve.log").start()
        try:
            await gateway.wait_ready()
            async with httpx.AsyncClient(timeout=30.0) as client:
                created = await client.post(
                    gateway.url + "/admin/tenants/load/keys", headers={"authorization": f"Bearer {ADMIN_KEY}"}
                )
                assert created.status_code == 201, created.text
                key = created.json()["key"]
                load = Load()
                workers = [asyncio.create_task(worker(n, client, gateway.url, key, load)) for n in range(WORKERS)]
                await asyncio.wait_for(load.enough.wait(), timeout=30)
                load.stopping = True
                gateway.terminate()
                await asyncio.wait_for(asyncio.gather(*workers), timeout=30)
            status = await asyncio.to_thread(gateway.wait)
        finally:
            gateway.stop()

    log = gateway.log(tail=10_000)
    assert status in (0, -signal.SIGTERM), log  # uvicorn re-raises the signal once it has shut down
    assert "Application shutdown complete" in log and "Traceback" not in log, log
    assert load.unexpected == [], load.unexpected
    assert load.lost_after_stop == WORKERS  # each client ends on a refused or closed connection
    assert any(load.answered.values()), "no request was in flight at the SIGTERM"

    rows = await ledger_rows(database_url)
    by_id = Counter(request_id for request_id, _ in rows)
    assert max(by_id.values()) == 1, [i for i, n in by_id.items() if n > 1]
    missing = set(load.answered) - set(by_id)
    assert not missing, f"{len(missing)} answered requests are not in the ledger"
    statuses = dict(rows)
    assert {statuses[i] for i in load.answered} == {"ok"}
    assert len(load.answered) <= len(rows) <= load.sent
