"""Run a whole gateway inside a test, wired to a ``FakeUpstream``.

    async with FakeUpstream() as fake, gateway_harness(fake, database_url=url) as h:
        client = h.openai()                    # the official SDK, in-process
        reply = await client.chat.completions.create(model="gpt-oss-120b", messages=[...])

The gateway runs with the installed provider plugins pointed at the fake (their
``*_BASE_URL`` variables), a tenant ``test`` whose key is ``h.key``, and
``SYNAXIS_ADMIN_KEY`` = ``h.admin_key``. Requests go through the ASGI app in the test's
own event loop (``httpx.ASGITransport``): no port, no thread, so a test may also call
the gateway directly (``h.gateway.probe_disabled()``). Streamed responses arrive whole.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping

import httpx
from litestar import Litestar

from synaxis_core.plugins import load_extensions
from synaxis_core.settings import Settings
from synaxis_core.fake.upstream import FakeUpstream

PROVIDER_VARIABLES = {
    "synthetic": ("SYNTHETIC_BASE_URL", "SYNTHETIC_API_KEY"),
    "together": ("TOGETHER_BASE_URL", "TOGETHER_API_KEY"),
    "nvidia": ("NVIDIA_BASE_URL", "NVIDIA_API_KEY"),
}
ADMIN_KEY = "admin-test-key"


@dataclass
class GatewayHarness:
    app: Litestar
    client: httpx.AsyncClient
    fake: FakeUpstream
    settings: Settings
    gateway: Any
    key: str
    admin_key: str = ADMIN_KEY

    def openai(self, key: str | None = None, **kwargs: Any) -> Any:
        """An ``openai.AsyncOpenAI`` client talking to this gateway (no retries)."""
        import openai

        return openai.AsyncOpenAI(
            base_url=f"{self.client.base_url}/v1",
            api_key=key or self.key,
            http_client=self.client,
            max_retries=0,
            **kwargs,
        )

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {key or self.key}"}

    def admin(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.admin_key}"}


def fake_environ(fake: FakeUpstream, providers: tuple[str, ...] = tuple(PROVIDER_VARIABLES)) -> dict[str, str]:
    """Variables pointing the built-in provider plugins at ``fake``."""
    environ = {}
    for name in providers:
        base_var, key_var = PROVIDER_VARIABLES[name]
        environ[base_var] = fake.base_url(name)
        environ[key_var] = f"{name}-test-key"
    return environ


@asynccontextmanager
async def gateway_harness(
    fake: FakeUpstream,
    *,
    database_url: str,
    environ: Mapping[str, str] | None = None,
    providers: tuple[str, ...] = tuple(PROVIDER_VARIABLES),
    tenant: str = "test",
    **overrides: Any,
) -> AsyncIterator[GatewayHarness]:
    """A running gateway app and a key for ``tenant``."""
    from synaxis_core.server.app import create_app
    from synaxis_core.runtime.gateway import Gateway
    from synaxis_core.tenants.service import create_key

    variables = {
        **fake_environ(fake, providers),
        "SYNAXIS_DATABASE_URL": database_url,
        "SYNAXIS_ADMIN_KEY": ADMIN_KEY,
        "SYNAXIS_LOAD_PLUGINS": ",".join((*providers, "modelsdev")),
        **(environ or {}),
    }
    settings = Settings.from_env(variables, **overrides)
    gateway = await Gateway.open(settings, ext=load_extensions(settings))
    try:
        app = create_app(settings, gateway=gateway)
        app.state.gateway = gateway
        _, key = await create_key(gateway.sessions, tenant)
        await gateway.reload_auth()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield GatewayHarness(app=app, client=client, gateway=gateway, fake=fake, settings=settings, key=key)
    finally:
        await gateway.close()
