"""The running gateway: it builds every service, owns the background work, and holds the pipeline.

``Gateway.open`` checks Redis, migrates, syncs the installed providers' models, loads the
routing table and the keys, and starts the loops (registry and key reloads polled once a
second off the request path, probes of disabled deployments, the ledger writer).
Everything a request needs is in memory here; ``pipeline`` serves requests (see
``runtime.pipeline``). Nothing here knows HTTP (see ARCHITECTURE.md).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from synaxis_core.cache import create_cache
from synaxis_core.db.engine import create_engine, session_factory
from synaxis_core.db.migrate import upgrade
from synaxis_core.db.registry import list_models, set_model_state
from synaxis_core.errors import AuthenticationError, NotFound, PermissionDenied, RateLimitExceeded, UpstreamError
from synaxis_core.ledger.writer import LedgerWriter
from synaxis_core.limits.auth_throttle import AuthThrottle
from synaxis_core.limits.base import StateBackend
from synaxis_core.limits.factory import open_backend
from synaxis_core.limits.fallback import FallbackBackend
from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.limits.tenant import TenantGate
from synaxis_core.plugins import Extensions, load_extensions
from synaxis_core.routing.health import HealthTracker
from synaxis_core.routing.router import Router
from synaxis_core.routing.table import Deployment, RoutingTable
from synaxis_core.runtime.accounting import Accounting
from synaxis_core.runtime.metrics import Metrics
from synaxis_core.runtime.observers import ObserverDispatcher
from synaxis_core.runtime.pipeline import Pipeline
from synaxis_core.runtime.registry import load_routing_table, registry_version
from synaxis_core.settings import Settings
from synaxis_core.sync.providers import sync_providers
from synaxis_core.telemetry import setup as tracing
from synaxis_core.tenants import AuthSnapshot, TenantInfo
from synaxis_core.tenants.service import auth_version, load_auth_snapshot

log = logging.getLogger("synaxis.gateway")

POLL_INTERVAL_S = 1.0
PROBE_INTERVAL_S = 5.0
ADMIN_KEY_PREFIX_CHARS = 8
"""Failed admin keys are also throttled by their first characters (guessing from many clients)."""
PROBE_BODY = {"messages": [{"role": "user", "content": "Reply with the single word OK."}], "max_tokens": 8}


class Gateway:
    def __init__(
        self,
        settings: Settings,
        ext: Extensions,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        backend: StateBackend,
    ) -> None:
        self.settings = settings
        self.ext = ext
        self.engine = engine
        self.sessions = sessions
        self.metrics = Metrics()
        if not isinstance(backend, (MemoryBackend, FallbackBackend)):  # shared: survive its outages
            degraded = self.metrics.state_degraded
            backend = FallbackBackend(
                backend, on_failure=self.metrics.state_errors.inc, on_degraded=lambda down: degraded.set(int(down))
            )
        self.backend = backend
        self.health = HealthTracker(backend, settings, on_disable=self._persist_disable, on_enable=self._persist_enable)
        self.router = Router(
            RoutingTable(), list(ext.scorers.values()), self.health, backend,
            weights=settings.scorer_weights,
        )
        self.gate = TenantGate(backend, reservation_ttl_s=settings.budget_reservation_ttl_s)
        self.auth = AuthSnapshot(version="")
        self.ledger = LedgerWriter(
            sessions,
            batch_size=settings.ledger_batch_size,
            flush_interval_s=settings.ledger_flush_interval_s,
            queue_max=settings.ledger_queue_max,
            durable=settings.ledger_durable,
            on_error=lambda _: self.metrics.ledger_errors.inc(),
        )
        self.observers = ObserverDispatcher.from_settings(ext.observers.values(), settings, self.metrics)
        self.accounting = Accounting(self.metrics, self.gate, self.ledger, self.observers)
        self.cache = create_cache(  # the response cache: shares the state backend's Redis client, if any
            settings, state_client=getattr(getattr(backend, "primary", None), "client", None),
            on_error=self.metrics.cache_errors.inc,
        )
        self.tracing = tracing.configure(settings)
        """The tracer provider this gateway turned on (None: tracing off, or on already)."""
        self.pipeline = Pipeline(
            settings, self.router, self.gate, self.health, self.metrics, self.accounting, self.ledger, self.cache
        )
        self.demo = False
        self._admin_key = settings.admin_key.get_secret_value().encode() if settings.admin_key else None
        self.auth_throttle = AuthThrottle(
            max_failures=settings.auth_max_failures, window_s=settings.auth_failure_window_s,
            count=lambda outcome: self.metrics.auth_throttled.labels(outcome).inc(),
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []

    # --- lifecycle -------------------------------------------------------------------

    @classmethod
    async def open(cls, settings: Settings, *, ext: Extensions | None = None, prepare: bool = True) -> "Gateway":
        """Check Redis, migrate, sync installed models, load the registry and keys, start the loops.

        ``prepare=False`` skips the migration and the start-up sync: the workers of
        ``synaxis serve --workers N`` do, their parent having run ``prepare`` once.

        :raises ConfigError: ``SYNAXIS_REDIS_URL`` is set but Redis does not answer.
        """
        backend = await open_backend(settings)
        ext = ext or load_extensions(settings)
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        if prepare:
            await cls.prepare(engine, sessions, ext)
        gateway = cls(settings, ext, engine, sessions, backend)
        await gateway.reload_registry()
        await gateway.reload_auth()
        await gateway.gate.prime(sessions, gateway.auth)
        gateway.ledger.start()
        if gateway.observers is not None:
            gateway.observers.start()
        gateway._loops = [asyncio.create_task(gateway._poll_loop()), asyncio.create_task(gateway._probe_loop())]
        return gateway

    @staticmethod
    async def prepare(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], ext: Extensions) -> None:
        """What ``open`` does first, once per start whatever the number of processes:
        migrate the schema to the newest revision, then the start-up sync."""
        await upgrade(engine)
        report = await sync_providers(sessions, ext)
        log.info("start-up sync: %d deployments added, %d updated, %d unchanged, %d deactivated",
                 report.added, report.updated, report.unchanged, report.deactivated)

    async def close(self) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.drain()
        if self.observers is not None:
            await self.observers.aclose()
        await self.ledger.aclose()
        await self.ext.aclose()
        await self.cache.aclose()
        if self.tracing is not None:
            await tracing.shutdown(self.tracing)
        await self.backend.aclose()
        await self.engine.dispose()

    async def drain(self) -> None:
        """Wait for the background writes started so far (health decisions reaching the database)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- registry and keys -----------------------------------------------------------

    async def reload_registry(self) -> None:
        table = await load_routing_table(self.sessions, self.ext)
        self.router.table = table
        self.metrics.disabled.set(sum(1 for d in table.by_id.values() if not d.active))

    async def reload_auth(self) -> None:
        self.auth = await load_auth_snapshot(self.sessions)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL_S)
            try:
                if await registry_version(self.sessions) != self.router.table.version:
                    await self.reload_registry()
                if await auth_version(self.sessions) != self.auth.version:
                    await self.reload_auth()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the loop
                log.exception("reloading the registry failed; keeping the current one")

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL_S)
            try:
                await self.probe_disabled()
            except Exception:  # noqa: BLE001
                log.exception("probing disabled deployments failed")

    async def probe_disabled(self) -> list[str]:
        """Probe deployments disabled by health whose cool-down is over; re-enable those that answer."""
        enabled = []
        for d in await self.health.probe_due(self.router.table.by_id.values()):
            try:
                if d.spec.kind == "embedding":
                    await d.provider.embed({"input": "ping", "model": d.upstream_id}, timeout=d.provider.timeout_s)
                else:
                    await d.provider.chat({**PROBE_BODY, "model": d.upstream_id}, timeout=d.provider.timeout_s)
            except (UpstreamError, TimeoutError) as exc:
                await self.backend.set_cooldown(d.cooldown_keys[0], self.settings.disable_cooldown_s, d.disabled_reason or str(exc))
                log.info("probe of %s failed: %s", d.id, exc)
                continue
            await self.health.enable(d, why="after a successful probe")
            enabled.append(d.id)
        return enabled

    async def _persist_disable(self, d: Deployment, reason: str) -> None:
        self.metrics.disables.labels(d.id).inc()
        self.metrics.disabled.inc()
        failures = self.health.failures.get(d.id, 0)
        self.spawn(set_model_state(self.sessions, d.id, active=False, by=d.disabled_by, reason=reason, failures=failures))

    async def _persist_enable(self, d: Deployment, _: str) -> None:
        self.metrics.disabled.dec()
        self.spawn(set_model_state(self.sessions, d.id, active=True))

    async def models(self, provider: str | None = None) -> list[dict[str, Any]]:
        """The registry as the admin API shows it (``db.registry.model_view``)."""
        async with self.sessions() as session:
            return await list_models(session, provider=provider)

    async def model(self, model_id: str) -> dict[str, Any]:
        """One deployment of the registry; :raises NotFound: no such deployment."""
        for found in await self.models():
            if found["id"] == model_id:
                return found
        raise NotFound(f"No deployment {model_id!r}")

    async def set_model_active(self, model_id: str, active: bool, reason: str | None = None) -> None:
        """An operator's enable or disable (the admin API): written to the registry, which
        every instance reloads; re-enabling also clears this deployment's health state.

        :raises NotFound: no deployment ``model_id``.
        """
        reason = None if active else (reason or "disabled by an operator")
        if not await set_model_state(self.sessions, model_id, active=active, by="admin", reason=reason):
            raise NotFound(f"No deployment {model_id!r}")
        deployment = self.router.table.by_id.get(model_id)
        if active and deployment is not None:
            await self.health.enable(deployment, why="by an operator")
        await self.reload_registry()

    async def database_ok(self) -> str:
        """``"ok"``, or what went wrong when the database does not answer ``SELECT 1``."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            return f"error: {type(exc).__name__}"
        return "ok"

    # --- auth ------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> TenantInfo:
        """The tenant of a bearer key; no database round trip (the snapshot is in memory)."""
        key = _bearer(authorization)
        if key is None:
            raise AuthenticationError(
                "Missing API key: send `Authorization: Bearer <key>` "
                "(create one with `synaxis keys create --tenant NAME`)"
            )
        tenant = self.auth.authenticate(key)
        if tenant is None:
            raise AuthenticationError("Invalid API key")
        return tenant

    def authorize_admin(self, authorization: str | None, client: str = "-") -> None:
        """Admit the admin key; failed attempts are throttled per ``client`` (its address)
        and per key prefix, logged without the key and counted (``limits.auth_throttle``)."""
        key = _bearer(authorization)
        if key is None:
            raise AuthenticationError("Missing admin key: send `Authorization: Bearer $SYNAXIS_ADMIN_KEY`")
        prefix = key[:ADMIN_KEY_PREFIX_CHARS]
        wait = self.auth_throttle.check(client, prefix)
        if wait is not None:
            raise RateLimitExceeded("Too many failed admin authentications; try again later", retry_after=wait)
        if self._admin_key is not None and hmac.compare_digest(key.encode(), self._admin_key):
            self.auth_throttle.succeeded(client, prefix)
            return
        if self.auth.authenticate(key) is not None:
            raise PermissionDenied("This key belongs to a tenant; the admin routes need SYNAXIS_ADMIN_KEY")
        if self._admin_key is None:
            raise PermissionDenied("The admin routes are off: set SYNAXIS_ADMIN_KEY to use them")
        self.auth_throttle.failed(client, prefix)
        raise AuthenticationError("Invalid admin key")


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key

