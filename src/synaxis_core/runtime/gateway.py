"""The gateway's running state: registry, router, health, auth, ledger, background tasks.

Everything the request path needs is in memory here; the database is read at start-up
and when the registry or the keys change (polled once a second, off the request path).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from synaxis_core.db.engine import create_engine, session_factory
from synaxis_core.db.migrate import upgrade
from synaxis_core.db.models import ProviderModel, utcnow
from synaxis_core.errors import AuthenticationError, PermissionDenied, UpstreamError
from synaxis_core.ledger.writer import LedgerWriter
from synaxis_core.limits.base import StateBackend
from synaxis_core.limits.factory import open_backend
from synaxis_core.limits.fallback import FallbackBackend
from synaxis_core.limits.memory import MemoryBackend
from synaxis_core.limits.tenant import TenantGate
from synaxis_core.plugins import Extensions, load_extensions
from synaxis_core.routing.health import HealthTracker
from synaxis_core.routing.router import Router
from synaxis_core.routing.table import Deployment, RoutingTable
from synaxis_core.runtime.registry import load_routing_table, registry_version
from synaxis_core.runtime.metrics import Metrics
from synaxis_core.settings import Settings
from synaxis_core.sync.providers import sync_providers
from synaxis_core.tenants import AuthSnapshot, TenantInfo
from synaxis_core.tenants.service import auth_version, load_auth_snapshot

log = logging.getLogger("synaxis.gateway")

POLL_INTERVAL_S = 1.0
PROBE_INTERVAL_S = 5.0
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
        self.gate = TenantGate(backend)
        self.auth = AuthSnapshot(version="")
        self.ledger = LedgerWriter(
            sessions,
            batch_size=settings.ledger_batch_size,
            flush_interval_s=settings.ledger_flush_interval_s,
            queue_max=settings.ledger_queue_max,
        )
        self.demo = False
        self._admin_key = settings.admin_key.get_secret_value().encode() if settings.admin_key else None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []

    # --- lifecycle -------------------------------------------------------------------

    @classmethod
    async def open(cls, settings: Settings, *, ext: Extensions | None = None) -> "Gateway":
        """Check Redis, migrate, sync installed models, load the registry and keys, start the loops.

        :raises ConfigError: ``SYNAXIS_REDIS_URL`` is set but Redis does not answer.
        """
        backend = await open_backend(settings)
        ext = ext or load_extensions(settings)
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        sessions = session_factory(engine)
        await sync_providers(sessions, ext)
        gateway = cls(settings, ext, engine, sessions, backend)
        await gateway.reload_registry()
        await gateway.reload_auth()
        await gateway.gate.prime(sessions, gateway.auth)
        gateway.ledger.start()
        gateway._loops = [asyncio.create_task(gateway._poll_loop()), asyncio.create_task(gateway._probe_loop())]
        return gateway

    async def close(self) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.drain()
        await self.ledger.aclose()
        await self.ext.aclose()
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
                await d.provider.chat({**PROBE_BODY, "model": d.upstream_id}, timeout=d.provider.timeout_s)
            except (UpstreamError, TimeoutError) as exc:
                await self.backend.set_cooldown(d.cooldown_keys[0], self.settings.disable_cooldown_s, d.disabled_reason or str(exc))
                log.info("probe of %s failed: %s", d.id, exc)
                continue
            await self.health.enable(d)
            enabled.append(d.id)
        return enabled

    async def _persist_disable(self, d: Deployment, reason: str) -> None:
        self.metrics.disables.labels(d.id).inc()
        self.metrics.disabled.inc()
        values = {"active": False, "disabled_by": d.disabled_by, "disabled_reason": reason,
                  "disabled_at": utcnow(), "consecutive_failures": self.health.failures.get(d.id, 0)}
        self.spawn(self._update_model(d.id, values))

    async def _persist_enable(self, d: Deployment, _: str) -> None:
        self.metrics.disabled.dec()
        values = {"active": True, "disabled_by": None, "disabled_reason": None, "disabled_at": None,
                  "consecutive_failures": 0}
        self.spawn(self._update_model(d.id, values))

    async def _update_model(self, model_id: str, values: dict[str, Any]) -> None:
        async with self.sessions.begin() as session:
            await session.execute(update(ProviderModel).where(ProviderModel.id == model_id).values(**values))

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

    def authorize_admin(self, authorization: str | None) -> None:
        key = _bearer(authorization)
        if key is None:
            raise AuthenticationError("Missing admin key: send `Authorization: Bearer $SYNAXIS_ADMIN_KEY`")
        if self._admin_key is not None and hmac.compare_digest(key.encode(), self._admin_key):
            return
        if self.auth.authenticate(key) is not None:
            raise PermissionDenied("This key belongs to a tenant; the admin routes need SYNAXIS_ADMIN_KEY")
        if self._admin_key is None:
            raise PermissionDenied("The admin routes are off: set SYNAXIS_ADMIN_KEY to use them")
        raise AuthenticationError("Invalid admin key")


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key

