"""The console in demo mode: an admin key to sign in with, and a trickle of requests to look at.

With no provider key, ``make serve`` runs in demo mode; with no ``SYNAXIS_ADMIN_KEY``
either, ``demo_settings`` makes one up (printed in the demo banner) so that the console
can be opened. ``DemoTraffic`` then sends a request through the gateway every
``INTERVAL_S`` (in-process, through the app itself, as the tenant ``demo-traffic``):
the fake upstream answers, the ledger records it, and the console's pages fill with
data as they would with real clients. A request for a model that does not exist now
and then shows what an error looks like.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from typing import Any

import httpx
from pydantic import SecretStr

from synaxis_core.runtime.gateway import Gateway
from synaxis_core.settings import Settings
from synaxis_core.tenants.service import create_key

log = logging.getLogger("synaxis.console")

TENANT = "demo-traffic"
INTERVAL_S = 2.0
PROMPTS = ("Predict Arsenal v Chelsea as JSON", "Summarise the plot of Hamlet in one line", "Say hi")


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with an admin key for the console (a new random one unless one is set)."""
    if settings.admin_key is not None:
        return settings
    updated = settings.model_copy(update={"admin_key": SecretStr("demo-admin-" + secrets.token_urlsafe(18))})
    updated._environ = settings._environ
    return updated


class DemoTraffic:
    """Requests through ``app`` every ``interval_s`` until ``stop``; see the module docstring."""

    def __init__(self, app: Any, gateway: Gateway, *, interval_s: float = INTERVAL_S) -> None:
        self.app, self.gateway, self.interval_s = app, gateway, interval_s
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _models(self) -> list[str]:
        table = self.gateway.router.table
        chat = [d for d in table.by_id.values() if d.active and d.spec.kind == "chat"]  # it sends chat requests
        globals_ = sorted({d.global_id for d in chat if d.global_id})
        pinned = sorted(d.id for d in chat)[:3]
        return (globals_[:6] + pinned) or ["gpt-oss-120b"]

    async def _run(self) -> None:
        _, key = await create_key(self.gateway.sessions, TENANT)
        await self.gateway.reload_auth()
        transport = httpx.ASGITransport(app=self.app)
        headers = {"authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://demo-traffic", headers=headers,
                                     timeout=60) as client:
            for n in itertools.count():
                models = self._models()
                model = "no-such-model" if n % 12 == 11 else models[n % len(models)]
                body = {"model": model, "messages": [{"role": "user", "content": PROMPTS[n % len(PROMPTS)]}],
                        "stream": n % 5 == 4, "max_tokens": 200}
                try:
                    await client.post("/v1/chat/completions", json=body)
                except Exception:  # noqa: BLE001 - the demo trickle must never stop the gateway
                    log.exception("a demo-traffic request failed")
                self.sent += 1
                await asyncio.sleep(self.interval_s)


def console_banner(settings: Settings) -> str:
    """The demo banner's lines about the console (the made-up admin key, shown once)."""
    url = f"http://{settings.host}:{settings.port}/ui"
    key = settings.admin_key.get_secret_value() if settings.admin_key is not None else ""
    shown = key if key.startswith("demo-admin-") else "your SYNAXIS_ADMIN_KEY"
    return "\n".join([
        f" Console: {url}  (sign in with {shown})",
        f" A demo request goes through the gateway every {INTERVAL_S:g} s (tenant {TENANT}) so the console has data.",
        "=" * 72,
        "",
    ])
