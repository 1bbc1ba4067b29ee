"""Run a whole gateway inside a test, wired to a ``FakeUpstream``.

    async with FakeUpstream() as fake, gateway_harness(fake, database_url=url) as h:
        client = h.openai()                    # the official SDK, in-process
        reply = await client.chat.completions.create(model="gpt-oss-120b", messages=[...])

The gateway runs with the installed provider plugins pointed at the fake (each
provider's ``base_url_env`` variable, in the fake's flavour of the provider's name, else
``openai``; a test key in its ``api_key_env``), a tenant ``test`` whose key is ``h.key``, and
``SYNAXIS_ADMIN_KEY`` = ``h.admin_key``. Requests go through the ASGI app in the test's
own event loop (``httpx.ASGITransport``): no port, no thread, so a test may also call
the gateway directly (``h.gateway.probe_disabled()``). Streamed responses arrive whole.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any, AsyncIterator, Mapping, Sequence

import httpx
from litestar import Litestar

from synaxis_core.fake.upstream import FakeUpstream
from synaxis_core.plugins import ENTRY_POINT_GROUP, load_extensions
from synaxis_core.settings import Settings

ADMIN_KEY = "admin-test-key"


@dataclass(frozen=True)
class InstalledProvider:
    """An installed plugin's provider that reads its base URL from a variable."""

    plugin: str
    """The entry-point name of the plugin that registers it."""
    base_url_env: str
    api_key_env: str | None


@cache
def installed_providers() -> Mapping[str, InstalledProvider]:
    """Provider name -> its plugin and variables, for every installed plugin's provider
    with a ``base_url_env`` (read once from the plugins; their own class attributes)."""
    ext = load_extensions(Settings.from_env({}))
    return MappingProxyType({
        name: InstalledProvider(ext.owners[f"provider:{name}"], provider.base_url_env, provider.api_key_env)
        for name, provider in ext.providers.items()
        if provider.base_url_env
    })


def provider_variables() -> set[str]:
    """Every base-URL and key variable of the installed providers."""
    return {v for p in installed_providers().values() for v in (p.base_url_env, p.api_key_env) if v}


def _load_plugins(providers: tuple[str, ...]) -> str:
    """``SYNAXIS_LOAD_PLUGINS`` for ``providers``: every installed plugin but those
    registering only other providers (catalogs and the like stay)."""
    unwanted = {p.plugin for name, p in installed_providers().items() if name not in providers}
    unwanted -= {installed_providers()[name].plugin for name in providers}
    return ",".join(sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} - unwanted))


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


def fake_environ(fake: FakeUpstream, providers: tuple[str, ...] | None = None) -> dict[str, str]:
    """Variables pointing installed providers (default: all of them) at ``fake``, each in
    the fake's flavour of its name (else ``openai``), with the key ``<name>-test-key``."""
    installed = installed_providers()
    environ = {}
    for name in installed if providers is None else providers:
        provider = installed.get(name)
        if provider is None:
            raise ValueError(f"no installed provider {name!r} reads its base URL from a variable: {sorted(installed)}")
        environ[provider.base_url_env] = fake.base_url(name if name in fake.flavors else "openai")
        if provider.api_key_env:
            environ[provider.api_key_env] = f"{name}-test-key"
    return environ


@asynccontextmanager
async def gateway_harness(
    fake: FakeUpstream,
    *,
    database_url: str,
    environ: Mapping[str, str] | None = None,
    providers: tuple[str, ...] | None = None,
    tenant: str = "test",
    plugins: Sequence[object] = (),
    **overrides: Any,
) -> AsyncIterator[GatewayHarness]:
    """A running gateway app and a key for ``tenant``; ``providers`` (default: every
    installed one) are pointed at ``fake`` and the plugins of the others not loaded;
    ``plugins`` (modules or objects with hook implementations) are registered as well."""
    from synaxis_core.server.app import create_app
    from synaxis_core.runtime.gateway import Gateway
    from synaxis_core.tenants.service import create_key

    providers = tuple(installed_providers()) if providers is None else providers
    variables = {
        **fake_environ(fake, providers),
        "SYNAXIS_DATABASE_URL": database_url,
        "SYNAXIS_ADMIN_KEY": ADMIN_KEY,
        "SYNAXIS_LOAD_PLUGINS": _load_plugins(providers),
        **(environ or {}),
    }
    settings = Settings.from_env(variables, **overrides)
    gateway = await Gateway.open(settings, ext=load_extensions(settings, extra=plugins))
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
