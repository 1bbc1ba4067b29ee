"""``synaxis serve --workers N``: N gateway processes on one port, under uvicorn's supervisor.

The parent (the ``synaxis serve`` process) refuses what several processes cannot do
(``check_workers``: no Redis without ``SYNAXIS_ALLOW_PER_PROCESS_LIMITS``; demo mode),
migrates and runs the start-up sync once (``prepare_once``), binds the port, and hands
the socket to uvicorn's ``Multiprocess`` supervisor. It starts N workers (``spawn``: fresh
interpreters, each opening its own ``Gateway`` without migrating or syncing, all accepting
on the one socket), checks on them every half second, and replaces one that dies or
does not answer its ping within ``HEALTHCHECK_TIMEOUT_S``; a worker that fails its
start-up stops them all (exit status 3, as uvicorn's for one process).
SIGTERM or SIGINT to the parent: it stops listening, sends SIGTERM to every worker and
waits for all of them; each stops accepting, finishes its requests in flight (streams
included) and flushes its ledger, as a single ``synaxis serve`` does; then the parent
exits 0. SIGHUP replaces the workers one at a time; SIGTTIN / SIGTTOU add or remove one.

Why uvicorn's supervisor and not a fork loop of our own: it already does the pings,
restarts, signal forwarding and joins, and it spawns instead of forking, so nothing the
parent started (aiosqlite's threads, the HTTP client's runtime, an event loop) is copied
half-alive into a worker. What spawning asks of us: the worker's app and HTTP protocol
reach it pickled inside uvicorn's ``Config`` — hence ``WorkerApp`` (the settings and an
app factory) and ``BoundedProtocol`` (the class ``bounded_protocol`` builds at run time
cannot be pickled) — and every worker imports Synaxis afresh (a few seconds' start-up,
and its own memory: see docs/scaling.md).
"""

from __future__ import annotations

import copy
import functools
import logging
import os
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from synaxis_core.errors import ConfigError
from synaxis_core.settings import Settings

log = logging.getLogger("synaxis.serve")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
WORKER_LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
"""With several workers every line names its process (uvicorn's lines too)."""
HEALTHCHECK_TIMEOUT_S = 30
"""How long the supervisor waits for a worker to answer its ping before replacing it
(uvicorn's default, 5 s, is shorter than a spawned worker's imports on a loaded machine:
the ping is answered by a thread started only once they are done)."""


def _uvicorn_log_config() -> dict[str, Any]:
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["default"]["fmt"] = "%(levelprefix)s [%(process)d] %(message)s"
    return config


def configure_logging(log_level: str, *, workers: int = 1) -> None:
    logging.basicConfig(level=log_level.upper(), format=WORKER_LOG_FORMAT if workers > 1 else LOG_FORMAT)
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity: ``taskset``, cpusets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_workers(value: int | str) -> int:
    """``SYNAXIS_WORKERS`` / ``--workers`` as a number of processes (``auto``: the cores)."""
    return available_cores() if value == "auto" else int(value)


def check_workers(settings: Settings, workers: int) -> None:
    """:raises ConfigError: several workers without Redis, unless explicitly accepted."""
    if workers > 1 and not settings.redis_url and not settings.allow_per_process_limits:
        raise ConfigError(
            f"{workers} workers need Redis to share limits, budgets, health and cool-downs: set "
            "SYNAXIS_REDIS_URL, or SYNAXIS_ALLOW_PER_PROCESS_LIMITS=true to let each worker keep its own "
            f"(up to {workers} times every limit)"
        )


async def prepare_once(settings: Settings) -> None:
    """What each worker skips: migrate and run the start-up sync, here, once.

    :raises ConfigError: demo mode (its fake upstream, tenant key and traffic live in one process).
    """
    from synaxis_core.db.engine import create_engine, session_factory
    from synaxis_core.plugins import load_extensions
    from synaxis_core.runtime.demo import wants_demo
    from synaxis_core.runtime.gateway import Gateway

    ext = load_extensions(settings)
    try:
        if wants_demo(settings, ext):
            raise ConfigError(
                "demo mode runs in one process (its fake upstream, key and traffic are its own): serve it "
                "without --workers (or with SYNAXIS_WORKERS=1), or set a provider key"
            )
        engine = create_engine(settings.database_url)
        try:
            await Gateway.prepare(engine, session_factory(engine), ext)
        finally:
            await engine.dispose()
    finally:
        await ext.aclose()


@dataclass(frozen=True)
class WorkerApp:
    """The app factory uvicorn calls in each worker: the parent's settings, pickled along."""

    settings: Settings
    log_level: str
    workers: int

    def __call__(self) -> Any:
        from synaxis_core.server.app import create_app

        configure_logging(self.log_level, workers=self.workers)  # a spawned worker starts bare
        return create_app(self.settings.model_copy(update={"demo": False}), prepare=False)


@dataclass(frozen=True)
class BoundedProtocol:
    """``http=`` for uvicorn: makes ``bounded_protocol``'s class in the worker (once)."""

    header_timeout_s: float
    body_timeout_s: float

    def __call__(self, **kwargs: Any) -> Any:
        return _protocol_class(self.header_timeout_s, self.body_timeout_s)(**kwargs)


@functools.cache
def _protocol_class(header_timeout_s: float, body_timeout_s: float) -> type:
    from synaxis_core.server.protocol import bounded_protocol

    return bounded_protocol(header_timeout_s, body_timeout_s)


def serve_workers(settings: Settings, workers: int, log_level: str) -> int:
    """Run ``workers`` gateway processes on ``settings.host:port`` until stopped; the exit status."""
    from synaxis_core.cli.common import run

    from synaxis_core.cli.serve import log_open_file_limit

    run(prepare_once(settings))
    log_open_file_limit()  # the workers inherit it
    config = uvicorn.Config(
        WorkerApp(settings, log_level, workers),
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        http=BoundedProtocol(settings.header_timeout_s, settings.body_timeout_s),
        proxy_headers=False,  # as for one process (see ``serve``)
        server_header=False,
        log_config=_uvicorn_log_config(),
        timeout_worker_healthcheck=HEALTHCHECK_TIMEOUT_S,
    )
    shared = "state shared in Redis" if settings.redis_url else "limits kept per process"
    log.info("starting %d workers, %s", workers, shared)
    supervisor = _Supervisor(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        return STARTUP_FAILURE  # as uvicorn exits when its one process cannot start
    return 0


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, which also stops listening as soon as a stop begins: the
    parent's copy of the socket would otherwise keep taking connections into the backlog
    while the workers drain, where they wait unanswered until the parent exits (instead of
    being refused at once, so that a load balancer or a client retries elsewhere)."""

    def handle_term(self) -> None:
        self._stop_listening()
        super().handle_term()

    def handle_int(self) -> None:
        self._stop_listening()
        super().handle_int()

    def _stop_listening(self) -> None:
        for sock in self.sockets:
            sock.close()
