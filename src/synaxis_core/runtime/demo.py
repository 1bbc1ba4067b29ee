"""Demo mode: with no provider key set, the gateway answers from the built-in fake upstream.

``make serve`` on a fresh machine must work end to end, and must say clearly that the
answers are not real. The fake upstream (``synaxis_core.testing.FakeUpstream``) runs in
the gateway's own event loop on a free loopback port; every installed provider that
reads its base URL and key from variables is pointed at it. Reasoning models answer
with inline ``<think>`` tags so the reasoning separation is visible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synaxis_core.plugins import Extensions
from synaxis_core.settings import Settings

if TYPE_CHECKING:
    from synaxis_core.fake import FakeUpstream

DEMO_KEY_VALUE = "demo-key-not-a-real-provider-key"
FLAVORS = {"synthetic": "synthetic", "together": "together", "nvidia": "nvidia"}


def wants_demo(settings: Settings, ext: Extensions) -> bool:
    """Demo unless forced off, or some provider has its key (or needs none)."""
    if settings.demo is not None:
        return settings.demo
    return not any(p.missing_key is None for p in ext.providers.values())


async def start_fake_upstream(settings: Settings, ext: Extensions) -> tuple[FakeUpstream, Settings]:
    """Start the fake upstream; returns it and settings whose providers point at it."""
    from synaxis_core.fake import Behavior, FakeUpstream  # aiohttp's server: only in demo mode

    fake = FakeUpstream()
    await fake.astart()
    environ = dict(settings._environ)
    for provider in ext.providers.values():
        if not provider.base_url_env:
            continue
        flavor = FLAVORS.get(provider.name, "openai")
        environ[provider.base_url_env] = fake.base_url(flavor)
        if provider.api_key_env:
            environ[provider.api_key_env] = DEMO_KEY_VALUE
        for spec in provider.models:
            fake.add_model(flavor, spec.upstream_id)
            if spec.reasoning:
                fake.set(spec.upstream_id, Behavior(kind="think_inline"))
    effective = settings.model_copy(update={"demo": True})
    effective._environ = environ
    return fake, effective
