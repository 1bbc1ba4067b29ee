"""Discovery: what each provider's ``/models`` lists sets ``is_available`` and ``last_seen_at``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from synaxis_core import hookimpl
from synaxis_core.db.models import ProviderModel
from synaxis_core.errors import UpstreamConnectionError
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.sync.discover import discover_models
from synaxis_core.sync.providers import sync_providers
from synaxis_core.fake import FakeUpstream
from synaxis_core.testing.plugin_manager import make_extensions, make_settings
from synaxis_core.types import DiscoveredModel, ModelSpec

A = ModelSpec(id="a-acme", upstream_id="org/A")
B = ModelSpec(id="b-acme", upstream_id="org/B")
C = ModelSpec(id="c-acme", upstream_id="org/C")


class ScriptedProvider(OpenAICompatibleProvider):
    """``discover()`` answers the next scripted item: a list of upstream ids, or raises it."""

    def __init__(self, settings, script, **kw) -> None:
        super().__init__(settings, base_url="http://127.0.0.1:9/v1", **kw)
        self.script = script
        self.calls = 0

    async def discover(self):
        self.calls += 1
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, BaseException):
            raise answer
        return [DiscoveredModel(upstream_id=upstream_id) for upstream_id in answer]


class KeylessListing(ScriptedProvider):
    discovery_needs_key = False


def extensions(provider_class=ScriptedProvider, script=(("org/A", "org/B"),), *, environ=None, key_env=None):
    providers = []

    class Plugin:
        @hookimpl
        def register_providers(self, register, settings):
            providers.append(provider_class(settings, list(script), name="acme", models=[A, B, C], api_key_env=key_env))
            register(providers[0])

    ext = make_extensions(Plugin(), settings=make_settings(environ or {}))
    return ext, providers[0]


async def rows(sessions) -> dict[str, ProviderModel]:
    async with sessions() as s:
        return {r.id: r for r in (await s.scalars(select(ProviderModel))).all()}


async def test_listed_models_are_available_and_missing_ones_become_unavailable(sessions):
    ext, _ = extensions(script=[["org/A", "org/B", "org/X"], ["org/A"], ["org/A", "org/B"]])
    await sync_providers(sessions, ext)

    (first,) = await discover_models(sessions, ext)
    assert (first.source, first.updated, first.skipped) == ("discover:acme", 2, 1)
    assert any("1 chat models no plugin registers" in n for n in first.notes)
    found = await rows(sessions)
    assert found["a-acme"].is_available and found["a-acme"].last_seen_at is not None
    assert found["c-acme"].last_seen_at is None and found["c-acme"].is_available  # never listed: left alone

    (second,) = await discover_models(sessions, ext)
    assert (second.unchanged, second.deactivated) == (1, 1)
    found = await rows(sessions)
    assert not found["b-acme"].is_available and found["b-acme"].active  # not deleted, not disabled
    assert set(found) == {"a-acme", "b-acme", "c-acme"}

    (third,) = await discover_models(sessions, ext)
    assert third.updated == 1 and (await rows(sessions))["b-acme"].is_available


async def test_an_unreachable_provider_leaves_the_state_and_reports_the_error(sessions):
    ext, _ = extensions(script=[["org/A", "org/B"], UpstreamConnectionError("connection refused")])
    await sync_providers(sessions, ext)
    await discover_models(sessions, ext)
    before = {k: (r.is_available, r.last_seen_at) for k, r in (await rows(sessions)).items()}
    (report,) = await discover_models(sessions, ext)
    assert "connection refused" in report.errors[0] and not report.changed
    assert {k: (r.is_available, r.last_seen_at) for k, r in (await rows(sessions)).items()} == before


async def test_a_provider_without_its_key_is_skipped_with_a_note(sessions):
    ext, provider = extensions(key_env="ACME_API_KEY")
    await sync_providers(sessions, ext)
    (report,) = await discover_models(sessions, ext)
    assert provider.calls == 0 and "set ACME_API_KEY" in report.notes[0]


async def test_a_keyless_models_listing_is_asked_without_the_key(sessions):
    ext, provider = extensions(KeylessListing, key_env="ACME_API_KEY")
    await sync_providers(sessions, ext)
    (report,) = await discover_models(sessions, ext)
    assert provider.calls == 1 and report.updated == 2


# --- end to end: the installed provider plugins against the fake upstream -------------


def installed(fake: FakeUpstream):
    """The installed plugins, with Synthetic and Together pointed at ``fake``."""
    environ = {
        "SYNTHETIC_API_KEY": "k", "SYNTHETIC_BASE_URL": fake.base_url("synthetic"),
        "TOGETHER_API_KEY": "k", "TOGETHER_BASE_URL": fake.base_url("together"),
        "NVIDIA_BASE_URL": fake.base_url("nvidia"),
    }
    ext = make_extensions(settings=make_settings(environ), installed=True)
    if not {"synthetic", "together"} <= set(ext.providers):
        pytest.skip("the provider plugins are not installed")
    return ext


async def discover_at(sessions, fake: FakeUpstream):
    ext = installed(fake)
    try:
        return {r.source: r for r in await discover_models(sessions, ext, providers=["synthetic", "together"])}
    finally:
        await ext.aclose()


async def test_discovery_of_the_installed_providers_against_the_fake_upstream(sessions):
    async with FakeUpstream() as before, FakeUpstream() as after:
        ext = installed(before)
        await sync_providers(sessions, ext)
        synthetic = [spec.upstream_id for spec in ext.providers["synthetic"].models]
        together = [spec.upstream_id for spec in ext.providers["together"].models]
        await ext.aclose()
        for upstream_id in synthetic[:3]:
            before.add_model("synthetic", upstream_id, context_length=128000)
        for upstream_id in synthetic[1:4]:
            after.add_model("synthetic", upstream_id)
        for upstream_id in together:
            before.add_model("together", upstream_id)
        after.set_models_behavior("together", "garbage")

        reports = await discover_at(sessions, before)
        assert reports["discover:synthetic"].updated == 3 and not reports["discover:synthetic"].errors
        assert reports["discover:together"].updated == len(together)

        reports = await discover_at(sessions, after)  # synthetic[0] gone, synthetic[3] new
        assert (reports["discover:synthetic"].updated, reports["discover:synthetic"].deactivated) == (1, 1)
        assert reports["discover:together"].errors and not reports["discover:together"].changed

        by_upstream = {(r.provider, r.upstream_id): r for r in (await rows(sessions)).values()}
        assert not by_upstream[("synthetic", synthetic[0])].is_available
        assert by_upstream[("synthetic", synthetic[3])].is_available
        assert all(by_upstream[("together", u)].is_available for u in together)  # left as it was
