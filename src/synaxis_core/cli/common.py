"""What every verb shares: settings, the database, async running and output."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from synaxis_core.db.engine import create_engine, describe_connection_error, session_factory
from synaxis_core.db.migrate import current_revision, head_revision
from synaxis_core.errors import ConfigError
from synaxis_core.settings import Settings

T = TypeVar("T")


def load_settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's ValidationError: say which variable is wrong
        raise ConfigError(f"invalid settings: {exc}".replace("\n", " ")) from None


def run(awaitable: Awaitable[T]) -> T:
    return asyncio.run(awaitable)  # type: ignore[arg-type]


@asynccontextmanager
async def open_database(
    settings: Settings, *, require_schema: bool = True
) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    """An engine and session factory; fails with one clear line when unusable."""
    engine = create_engine(settings.database_url)
    try:
        try:
            revision = await current_revision(engine)
        except (OSError, Exception) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(describe_connection_error(settings.database_url, exc)) from None
        if require_schema and revision != head_revision():
            state = "has no Synaxis schema" if revision is None else f"is at schema {revision}"
            raise ConfigError(f"the database {state}: run `synaxis db upgrade` first")
        yield engine, session_factory(engine)
    finally:
        await engine.dispose()


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))
