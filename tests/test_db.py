"""Migrations create every table of the public contract, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from synaxis_core.db.engine import create_engine
from synaxis_core.db.migrate import head_revision, upgrade
from synaxis_core.db.models import Base

CONTRACT_TABLES = {
    "global_models",
    "provider_models",
    "tenants",
    "api_keys",
    "tenant_model_limits",
    "usage_records",
    "validation_results",
}


async def test_upgrade_creates_the_schema_and_is_idempotent(database_url):
    engine = create_engine(database_url)
    try:
        before, after = await upgrade(engine)
        assert (before, after) == (None, head_revision())
        assert await upgrade(engine) == (head_revision(), head_revision())
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("provider_models")}
            )
    finally:
        await engine.dispose()
    assert CONTRACT_TABLES <= tables
    assert {
        "id", "provider", "upstream_id", "global_model_id", "display_name", "is_premium", "active",
        "is_available", "input_price", "output_price", "rpm_limit", "tpm_limit",
        "consecutive_failures", "disabled_reason", "disabled_at", "p95_latency_ms", "last_seen_at",
    } <= columns


async def test_migrations_match_the_models(database_url):
    """A model change without a migration fails here (autogenerate finds no difference)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []
