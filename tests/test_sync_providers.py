"""The start-up sync of installed models into ``provider_models``."""

from __future__ import annotations

from sqlalchemy import select

from synaxis_core import hookimpl
from synaxis_core.db.models import ProviderModel
from synaxis_core.sync.providers import sync_providers
from synaxis_core.testing.plugin_manager import make_extensions, make_provider, make_settings
from synaxis_core.types import ModelSpec


def plugin(*specs: ModelSpec, key_env: str | None = None):
    class Acme:
        @hookimpl
        def register_providers(self, register, settings):
            register(make_provider(settings, "acme", specs, api_key_env=key_env))

    return Acme()


async def rows(sessions) -> dict[str, ProviderModel]:
    async with sessions() as s:
        return {r.id: r for r in (await s.scalars(select(ProviderModel))).all()}


A = ModelSpec(id="a-acme", upstream_id="org/A", global_id="a", input_price=1.0, output_price=2.0)
B = ModelSpec(id="b-acme", upstream_id="org/B", is_premium=True)


async def test_sync_inserts_active_models_and_a_second_run_changes_nothing(sessions):
    ext = make_extensions(plugin(A, B))
    first = await sync_providers(sessions, ext)
    assert (first.added, first.updated, first.unchanged) == (2, 0, 0)
    second = await sync_providers(sessions, ext)
    assert not second.changed and second.unchanged == 2
    found = await rows(sessions)
    assert found["a-acme"].provider == "acme" and found["a-acme"].active
    assert found["a-acme"].upstream_id == "org/A" and found["a-acme"].input_price == 1.0
    assert found["b-acme"].is_premium and found["b-acme"].global_model_id is None


async def test_a_model_no_longer_listed_is_deactivated_never_deleted(sessions):
    await sync_providers(sessions, make_extensions(plugin(A, B)))
    report = await sync_providers(sessions, make_extensions(plugin(A)))
    assert report.deactivated == 1
    found = await rows(sessions)
    assert set(found) == {"a-acme", "b-acme"}
    assert not found["b-acme"].active and "no installed plugin" in found["b-acme"].disabled_reason
    again = await sync_providers(sessions, make_extensions(plugin(A, B)))
    assert again.updated == 1 and (await rows(sessions))["b-acme"].active


async def test_models_of_a_provider_without_its_key_are_registered_inactive(sessions):
    ext = make_extensions(plugin(A, key_env="ACME_API_KEY"))
    await sync_providers(sessions, ext)
    row = (await rows(sessions))["a-acme"]
    assert not row.active and "ACME_API_KEY" in row.disabled_reason

    with_key = make_extensions(plugin(A, key_env="ACME_API_KEY"), settings=make_settings({"ACME_API_KEY": "k"}))
    report = await sync_providers(sessions, with_key)
    row = (await rows(sessions))["a-acme"]
    assert report.updated == 1 and row.active and row.disabled_reason is None


async def test_an_operator_disable_survives_the_sync(sessions):
    ext = make_extensions(plugin(A))
    await sync_providers(sessions, ext)
    async with sessions.begin() as s:
        row = await s.get(ProviderModel, "a-acme")
        row.active, row.disabled_by, row.disabled_reason = False, "admin", "maintenance"
    report = await sync_providers(sessions, ext)
    row = (await rows(sessions))["a-acme"]
    assert not report.changed and not row.active and row.disabled_reason == "maintenance"


async def test_catalog_prices_are_not_erased_when_the_plugin_gives_none(sessions):
    ext = make_extensions(plugin(B))
    await sync_providers(sessions, ext)
    async with sessions.begin() as s:
        (await s.get(ProviderModel, "b-acme")).input_price = 0.5  # as a catalog sync would
    assert not (await sync_providers(sessions, ext)).changed
    assert (await rows(sessions))["b-acme"].input_price == 0.5
