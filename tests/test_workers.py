"""``synaxis serve --workers N``: N real processes on one port.

A real ``synaxis serve --workers 2`` (uvicorn's supervisor and two spawned workers), the
fake upstream in a thread, the local Redis (a key prefix per test) and SQLite or the
local PostgreSQL. Which worker answers a request is the kernel's choice (both accept on
the one socket); the tests find out which worker holds each of their connections from
``/proc`` (the server side of a loopback connection belongs to the worker that accepted
it), and keep each client on one connection, so they can send to both workers on
purpose. What a user of ``--workers`` relies on:

- a tenant's RPM is shared: a burst sent half to each worker admits exactly the limit;
- ``/metrics`` is the worker's own: it counts what the worker that answers it served;
- SIGTERM to the parent drains every worker: each request that got an answer is in the
  ledger exactly once (only the shutdown writes it here), and the parent exits 0; new
  connections are refused meanwhile;
- several workers without Redis are refused with one line, unless accepted explicitly;
  ``auto`` starts one worker per core; demo mode refuses workers;
- migrations and the start-up sync run once, in the parent.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from synaxis_core.db.engine import create_engine
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import fake_environ
from synaxis_core.testing.server_process import CLI, GatewayProcess, clean_environ
from synaxis_core.testing.waiting import wait_until

ADMIN_KEY = "admin-workers-test"
MESSAGES = [{"role": "user", "content": "Which worker am I talking to?"}]
START_CAP_S = 180.0
"""Safety cap for the workers to start (each imports Synaxis afresh: slow on a loaded machine)."""
STARTED = re.compile(r"\[(\d+)\] Application startup complete")
SYNCED = "start-up sync:"


# --- which worker holds a connection ----------------------------------------------------------


def client_port(response: httpx.Response) -> int:
    """The local port of the connection ``response`` came over."""
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


def connection_owners(client_ports: Iterable[int], server_port: int, pids: Iterable[int]) -> dict[int, int]:
    """Client port -> the pid of the worker holding the server side of that loopback
    connection (``/proc/net/tcp`` gives the socket's inode, ``/proc/<pid>/fd`` its owner)."""
    wanted = set(client_ports)
    inode_of: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) in wanted:
            inode_of[int(remote.split(":")[1], 16)] = inode
    owner: dict[int, int] = {}
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if link.startswith("socket:["):
                owner[int(link[len("socket:["):-1])] = pid
    return {port: owner[inode] for port, inode in inode_of.items() if inode in owner}


def started_workers(gateway: GatewayProcess) -> set[int]:
    return {int(pid) for pid in STARTED.findall(gateway.log(tail=100_000))}


async def wait_workers(gateway: GatewayProcess, count: int) -> set[int]:
    """Wait until ``count`` workers have finished their start-up; their pids."""
    await gateway.wait_ready(timeout_s=START_CAP_S)

    def started() -> set[int] | None:
        assert gateway.process is not None and gateway.process.poll() is None, gateway.log()
        pids = started_workers(gateway)
        return pids if len(pids) >= count else None

    pids = await wait_until(started, timeout=START_CAP_S, what=f"{count} workers to start")
    assert len(pids) == count, gateway.log()
    return pids


@dataclass
class Workers:
    """A running ``serve --workers 2``, with HTTP clients pinned to each worker."""

    gateway: GatewayProcess
    fake: FakeUpstream
    pids: set[int]
    clients: dict[int, list[httpx.AsyncClient]] = field(default_factory=dict)
    """Worker pid -> clients, each on one connection that this worker accepted."""
    ports: dict[httpx.AsyncClient, int] = field(default_factory=dict)
    """Client -> the local port of its connection."""

    async def pin(self, per_worker: int, max_tries: int = 400) -> None:
        """Open connections until each worker holds ``per_worker`` of them."""
        if not Path("/proc/net/tcp").exists():
            pytest.skip("tells the workers' connections apart with Linux's /proc")
        self.clients = {pid: [] for pid in self.pids}
        for _ in range(max_tries):
            if all(len(c) >= per_worker for c in self.clients.values()):
                return
            client = httpx.AsyncClient(
                base_url=self.gateway.url, timeout=60.0,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
            port = client_port(await client.get("/health"))
            owner = connection_owners([port], self.gateway.port, self.pids).get(port)
            if owner is not None and len(self.clients[owner]) < per_worker:
                self.clients[owner].append(client)
                self.ports[client] = port
            else:
                await client.aclose()
        raise AssertionError(f"{max_tries} connections did not reach both workers: {self.clients}")

    def owner(self, client: httpx.AsyncClient, response: httpx.Response | None = None) -> int:
        """The worker holding ``client``'s connection (that answered ``response``, if given)."""
        if response is not None:
            assert client_port(response) == self.ports[client], "the pinned connection was replaced"
        return next(pid for pid, clients in self.clients.items() if client in clients)

    async def all_accept(self, key: str) -> bool:
        """True once every pinned connection's worker knows ``key`` (asking on each also
        keeps every connection from reaching the server's keep-alive timeout)."""
        clients = [client for clients in self.clients.values() for client in clients]
        return all(await asyncio.gather(*(_accepts(client, key) for client in clients)))

    async def aclose(self) -> None:
        for clients in self.clients.values():
            for client in clients:
                await client.aclose()


def admin(key: str = ADMIN_KEY) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterable[str]:
    import redis

    prefix = f"synaxis-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


async def start_workers(environ: dict[str, str], log_path: Path, fake: FakeUpstream) -> Workers:
    gateway = GatewayProcess(environ, log_path=log_path, args=("--no-demo", "--workers", "2")).start()
    try:
        pids = await wait_workers(gateway, 2)
    except BaseException:
        gateway.stop()
        raise
    return Workers(gateway, fake, pids)


def environment(fake: FakeUpstream, database_url: str, redis_url: str | None, prefix: str = "") -> dict[str, str]:
    environ = {
        **fake_environ(fake, ("nvidia", "synthetic")),
        "SYNAXIS_DATABASE_URL": database_url,
        "SYNAXIS_ADMIN_KEY": ADMIN_KEY,
        "SYNAXIS_LOAD_PLUGINS": "nvidia,synthetic",
    }
    if redis_url:
        environ.update({"SYNAXIS_REDIS_URL": redis_url, "SYNAXIS_REDIS_PREFIX": prefix})
    return environ


@pytest.fixture
async def two_workers(sqlite_url: str, redis_url: str, redis_prefix: str, tmp_path) -> AsyncIterator[Workers]:
    with FakeUpstream() as fake:
        w = await start_workers(environment(fake, sqlite_url, redis_url, redis_prefix), tmp_path / "serve.log", fake)
        try:
            yield w
        finally:
            await w.aclose()
            w.gateway.stop()


async def chat(client: httpx.AsyncClient, key: str, **extra: object) -> httpx.Response:
    return await client.post(
        "/v1/chat/completions", headers=admin(key), json={"model": "gpt-oss-120b", "messages": MESSAGES, **extra}
    )


def requests_counted(metrics_text: str) -> Counter[str]:
    """``synaxis_requests_total`` of one ``/metrics`` answer, summed by status."""
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "synaxis_requests_total":
                counts[sample.labels["status"]] += int(sample.value)
    return counts


# --- shared limits, per-worker metrics, one sync ----------------------------------------------


@pytest.mark.redis
async def test_two_workers_share_a_tenant_rpm_exactly(two_workers: Workers) -> None:
    w = two_workers
    await w.pin(per_worker=4)
    first = w.clients[min(w.pids)][0]
    created = await first.post("/admin/tenants/limited/keys", headers=admin())
    assert created.status_code == 201, created.text
    limited = created.json()["key"]
    limit = await first.put("/admin/tenants/limited/limits", headers=admin(), json={"rpm": 10})
    assert limit.status_code == 200, limit.text
    marker = (await first.post("/admin/tenants/marker/keys", headers=admin())).json()["key"]

    # the marker key is written after the limit: a worker that knows it has the limit
    await wait_until(lambda: w.all_accept(marker), timeout=30, what="each worker reloads the tenants")

    # 40 concurrent requests, 20 on each worker's connections: one RPM of 10 for both.
    calls = [(client, chat(client, limited)) for clients in w.clients.values() for client in clients for _ in range(5)]
    replies = await asyncio.gather(*(call for _, call in calls))
    statuses = Counter(r.status_code for r in replies)
    assert statuses == {200: 10, 429: 30}, statuses
    assert {r.json()["error"]["code"] for r in replies if r.status_code == 429} == {"rate_limit_exceeded"}
    answered = Counter(w.owner(client, r) for (client, _), r in zip(calls, replies))
    assert answered == {pid: 20 for pid in w.pids}  # both workers answered their half

    # /metrics is the answering worker's own: each counts exactly the requests it served.
    admitted = Counter(w.owner(client, r) for (client, _), r in zip(calls, replies) if r.status_code == 200)
    for pid, clients in w.clients.items():
        scrape = await clients[0].get("/metrics")
        counts = requests_counted(scrape.text)
        assert sum(counts.values()) == 20 and counts["ok"] == admitted[pid], (pid, counts, admitted)

    log = w.gateway.log(tail=100_000)
    assert log.count(SYNCED) == 1, log  # the parent synced; the workers did not
    assert "Traceback" not in log, log


# --- SIGTERM under load --------------------------------------------------------------------


UPSTREAM_DELAY_S = 0.1
ANSWERS_BEFORE_STOP = 40


@dataclass
class Load:
    answered: dict[str, tuple[int | None, bool]] = field(default_factory=dict)
    """request id -> (worker pid, answered after the stop began); the pid is None when the
    client's connection had been closed and replaced (the kernel chose the worker)."""
    sent: int = 0
    lost_after_stop: int = 0
    unexpected: list[str] = field(default_factory=list)
    stopping: bool = False
    enough: asyncio.Event = field(default_factory=asyncio.Event)


async def keep_sending(n: int, w: Workers, client: httpx.AsyncClient, key: str, load: Load) -> None:
    """Requests back to back on one pinned connection (streamed and not) until refused."""
    i = 0
    while True:
        stream = (n + i) % 2 == 1
        i += 1
        load.sent += 1
        body = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": f"client {n} call {i}"}],
                "stream": stream}
        try:
            async with client.stream("POST", "/v1/chat/completions", json=body, headers=admin(key)) as response:
                port = client_port(response)  # while open: a worker that is stopping closes it after the body
                payload = await response.aread()
        except httpx.TransportError as exc:
            if load.stopping:
                load.lost_after_stop += 1
            else:
                load.unexpected.append(f"before the stop: {type(exc).__name__}: {exc}")
            return
        complete = payload.rstrip().endswith(b"data: [DONE]") if stream else payload.startswith(b"{")
        if response.status_code != 200 or not complete:
            load.unexpected.append(f"{response.status_code}: {payload[-200:]!r}")
            return
        load.answered[response.headers["x-request-id"]] = (w.owner(client) if port == w.ports[client] else None,
                                                           load.stopping)
        if len(load.answered) >= ANSWERS_BEFORE_STOP:
            load.enough.set()


async def ledger_rows(database_url: str) -> list[tuple[str, str]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(text("SELECT request_id, status FROM usage_records"))]
    finally:
        await engine.dispose()


@pytest.mark.redis
async def test_sigterm_drains_every_worker_and_the_ledger_has_each_answer_once(
    database_url: str, redis_url: str, redis_prefix: str, tmp_path
) -> None:
    with FakeUpstream() as fake:
        fake.set("openai/gpt-oss-120b", Behavior(kind="ok", delay_s=UPSTREAM_DELAY_S))
        environ = {
            **environment(fake, database_url, redis_url, redis_prefix),
            "SYNAXIS_LEDGER_FLUSH_INTERVAL_S": "3600",  # only each worker's shutdown writes the ledger
            "SYNAXIS_LEDGER_BATCH_SIZE": "100000",
        }
        w = await start_workers(environ, tmp_path / "serve.log", fake)
        try:
            await w.pin(per_worker=4)
            created = await w.clients[min(w.pids)][0].post("/admin/tenants/load/keys", headers=admin())
            key = created.json()["key"]
            await wait_until(lambda: w.all_accept(key), timeout=30, what="each worker knows the new key")
            load = Load()
            pinned = [client for clients in w.clients.values() for client in clients]
            senders = [asyncio.create_task(keep_sending(n, w, client, key, load)) for n, client in enumerate(pinned)]
            await asyncio.wait_for(load.enough.wait(), timeout=60)
            load.stopping = True
            w.gateway.terminate()
            await asyncio.wait_for(asyncio.gather(*senders), timeout=120)
            status = await asyncio.to_thread(w.gateway.wait, 120)
        finally:
            await w.aclose()
            w.gateway.stop()

    log = w.gateway.log(tail=100_000)
    assert status == 0, log
    assert "Traceback" not in log, log
    for pid in w.pids:
        assert f"[{pid}] Application shutdown complete" in log, log
    assert load.unexpected == [], load.unexpected
    assert load.lost_after_stop == sum(len(c) for c in w.clients.values())  # each ends refused or cut
    in_flight = {pid for pid, after_stop in load.answered.values() if after_stop and pid is not None}
    assert in_flight == w.pids, "each worker answers the requests it had in flight at the SIGTERM"

    rows = await ledger_rows(database_url)
    by_id = Counter(request_id for request_id, _ in rows)
    assert max(by_id.values()) == 1, [i for i, n in by_id.items() if n > 1]
    missing = set(load.answered) - set(by_id)
    assert not missing, f"{len(missing)} of {len(load.answered)} answered requests are not in the ledger"
    assert {status for request_id, status in rows if request_id in load.answered} == {"ok"}
    assert len(load.answered) <= len(rows) <= load.sent


async def _accepts(client: httpx.AsyncClient, key: str) -> bool:
    return (await client.get("/v1/usage", headers=admin(key))).status_code == 200


DRAIN_DELAY_S = 8.0
"""The upstream's answer time while the workers drain: far longer than it takes them to
begin their shutdown, so that the new connection below is tried in the middle of it."""


@pytest.mark.redis
async def test_new_connections_are_refused_while_the_workers_drain(two_workers: Workers) -> None:
    """Not queued unanswered behind the parent's copy of the socket until it exits: a load
    balancer or a client can retry elsewhere at once."""
    w = two_workers
    await w.pin(per_worker=1)
    key = (await w.clients[min(w.pids)][0].post("/admin/tenants/drain/keys", headers=admin())).json()["key"]
    await wait_until(lambda: w.all_accept(key), timeout=30, what="each worker knows the new key")
    w.fake.set("openai/gpt-oss-120b", Behavior(kind="ok", delay_s=DRAIN_DELAY_S))
    in_flight = [asyncio.create_task(chat(c, key)) for clients in w.clients.values() for c in clients]
    await wait_until(lambda: w.fake.calls["openai/gpt-oss-120b"] == 2, what="one request in flight on each worker")
    w.gateway.terminate()
    log = w.gateway.log
    await wait_until(lambda: all(f"[{pid}] Shutting down" in log(tail=100_000) for pid in w.pids),
                     timeout=60, what="both workers begin their shutdown")
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(timeout=30.0) as client:
            await client.get(w.gateway.url + "/health")
    assert not any(task.done() for task in in_flight), "the requests were still in flight"
    replies = await asyncio.gather(*in_flight)
    assert [r.status_code for r in replies] == [200, 200]
    assert await asyncio.to_thread(w.gateway.wait, 120) == 0


# --- what starts, and what is refused ------------------------------------------------------


def serve_exits(args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "serve", "--port", "1", *args], env=clean_environ(environ), capture_output=True, text=True,
        timeout=120, check=False,
    )


def test_several_workers_without_redis_are_refused_with_one_line(sqlite_url: str) -> None:
    done = serve_exits(["--no-demo", "--workers", "2"], {"SYNAXIS_DATABASE_URL": sqlite_url})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SYNAXIS_REDIS_URL" in lines[0] and "SYNAXIS_ALLOW_PER_PROCESS_LIMITS" in lines[0], done
    assert not Path(sqlite_url.split("///", 1)[1]).exists()  # refused before touching anything

    done = serve_exits(["--no-demo"], {"SYNAXIS_DATABASE_URL": sqlite_url, "SYNAXIS_WORKERS": "3"})
    assert done.returncode == 1 and "3 workers need Redis" in done.stderr, done


def test_demo_mode_refuses_workers(sqlite_url: str) -> None:
    done = serve_exits(
        ["--demo", "--workers", "2"], {"SYNAXIS_DATABASE_URL": sqlite_url, "SYNAXIS_ALLOW_PER_PROCESS_LIMITS": "true"}
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "demo mode" in lines[0] and "--workers" in lines[0], done


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="counts the cores with Linux's affinity")
async def test_auto_starts_one_worker_per_core_on_sqlite_when_per_process_limits_are_accepted(
    sqlite_url: str, tmp_path
) -> None:
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("one core: `auto` is one process, a plain `synaxis serve`")
    with FakeUpstream() as fake:
        environ = {**environment(fake, sqlite_url, None), "SYNAXIS_ALLOW_PER_PROCESS_LIMITS": "true"}
        gateway = GatewayProcess(environ, log_path=tmp_path / "serve.log", args=("--no-demo", "--workers", "auto"))
        gateway.start()
        try:
            pids = await wait_workers(gateway, cores)
            async with httpx.AsyncClient(base_url=gateway.url, timeout=60.0) as client:
                created = await client.post("/admin/tenants/t/keys", headers=admin())
                assert created.status_code == 201, created.text
                key = created.json()["key"]
                await wait_until(lambda: _accepts(client, key), timeout=30, what="the key reaches the workers")
                replies = [await chat(client, key) for _ in range(3)]
            assert [r.status_code for r in replies] == [200] * 3
            assert gateway.stop(120) == 0
        finally:
            gateway.stop()
    log = gateway.log(tail=100_000)
    assert len(pids) == cores, log
    assert f"starting {cores} workers, limits kept per process" in log
    assert log.count(SYNCED) == 1 and "Traceback" not in log, log
    assert len(await ledger_rows(sqlite_url)) == 3  # several SQLite writers, nothing lost
