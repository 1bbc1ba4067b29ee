"""Demo mode: with no provider key set, the gateway answers from the built-in fake upstream.

``make serve`` on a fresh machine must work end to end, and must say clearly that the
answers are not real. The fake upstream (``synaxis_core.fake.FakeUpstream``) runs in
the gateway's own event loop on a free loopback port; every installed provider that
reads its base URL and key from variables is pointed at it, in the flavour its plugin
contributed (``register_fake_flavors``), else in the ``openai`` one. Every model
answers like a model (``kind="model"``: tool calls, ``response_format``, ``n``,
``logprobs`` honoured); reasoning models behind inline ``<think>`` tags
(``"model_think"``) so the reasoning separation is visible. Embedding models (``kind =
"embedding"``, e.g. NVIDIA's) answer ``POST /v1/embeddings`` with deterministic vectors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from synaxis_core.errors import NotFound
from synaxis_core.plugins import Extensions
from synaxis_core.settings import Settings
from synaxis_core.tenants.service import create_key, list_keys, revoke_key

if TYPE_CHECKING:
    from synaxis_core.fake import FakeUpstream
    from synaxis_core.runtime.gateway import Gateway

DEMO_KEY_VALUE = "demo-key-not-a-real-provider-key"


def wants_demo(settings: Settings, ext: Extensions) -> bool:
    """Demo unless forced off, or some provider has its key (or needs none)."""
    if settings.demo is not None:
        return settings.demo
    return not any(p.missing_key is None for p in ext.providers.values())


async def start_fake_upstream(settings: Settings, ext: Extensions) -> tuple[FakeUpstream, Settings]:
    """Start the fake upstream; returns it and settings whose providers point at it."""
    from synaxis_core.fake import Behavior, FakeUpstream  # aiohttp's server: only in demo mode

    fake = FakeUpstream(flavors=ext.fake_flavors.values())
    await fake.astart()
    environ = dict(settings._environ)
    for provider in ext.providers.values():
        if not provider.base_url_env:
            continue
        flavor = provider.name if provider.name in ext.fake_flavors else "openai"
        environ[provider.base_url_env] = fake.base_url(flavor)
        if provider.api_key_env:
            environ[provider.api_key_env] = DEMO_KEY_VALUE
        for spec in provider.models:
            fake.add_model(flavor, spec.upstream_id)
            fake.set(spec.upstream_id, Behavior(kind="model_think" if spec.reasoning else "model"))
    effective = settings.model_copy(update={"demo": True})
    effective._environ = environ
    return fake, effective


DEMO_TENANT = "demo"
KEY_FILE_SUFFIX = ".demo-key"


def demo_key_path(settings: Settings) -> Path:
    """Where the demo tenant's key is kept between runs: beside a SQLite database file
    (``synaxis.db.demo-key``), else ``./.synaxis-demo-key``."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + KEY_FILE_SUFFIX)
    return Path(".synaxis" + KEY_FILE_SUFFIX)


async def demo_tenant_key(gateway: Gateway, path: Path) -> str:
    """The demo tenant's key: the one kept in ``path`` while it still opens the demo
    tenant, else a new one (kept there, readable by the owner only) with the demo
    tenant's other keys revoked, so restarts never pile up active keys."""
    try:
        kept = path.read_text().strip()
    except OSError:
        kept = ""
    tenant = gateway.auth.authenticate(kept) if kept else None
    if tenant is not None and tenant.name == DEMO_TENANT:
        return kept
    try:
        stale = [k["prefix"] for k in await list_keys(gateway.sessions, DEMO_TENANT) if k["active"]]
    except NotFound:
        stale = []
    for prefix in stale:
        await revoke_key(gateway.sessions, prefix)
    _, key = await create_key(gateway.sessions, DEMO_TENANT)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there with other permissions
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    await gateway.reload_auth()
    return key


def banner(settings: Settings, ext: Extensions, key: str) -> str:
    """What ``synaxis serve`` prints in demo mode: that answers are not real, the key, a try."""
    variables = ", ".join(sorted(p.api_key_env for p in ext.providers.values() if p.api_key_env)) or "none"
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        "=" * 72,
        " DEMO MODE: no provider API key is set; answers come from the built-in fake",
        " upstream, not a model. Set one of these to serve real models:",
        f"   {variables}",
        f" Demo tenant key: {key}",
        f" Try: curl {base}/v1/chat/completions -H 'Authorization: Bearer {key}' \\",
        "        -H 'Content-Type: application/json' \\",
        "        -d '{\"model\": \"gpt-oss-120b\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}'",
    ]
    embedding = next((s.id for p in ext.providers.values() for s in p.models if s.kind == "embedding"), None)
    if embedding is not None:  # the fake answers deterministic vectors (fake/embeddings.py)
        lines += [
            f" Embeddings: curl {base}/v1/embeddings -H 'Authorization: Bearer {key}' \\",
            f"        -H 'Content-Type: application/json' -d '{{\"model\": \"{embedding}\", \"input\": \"Hi\"}}'",
        ]
    return "\n".join([*lines, "=" * 72, ""])
