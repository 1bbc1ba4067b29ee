"""Shared fixtures: real databases (SQLite file and the local PostgreSQL) and Redis.

PostgreSQL and Redis tests skip with a reason when the server is unreachable, except
under ``CI=true``, where they fail: CI must prove them.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

PG_ADMIN_URL = os.environ.get("SYNAXIS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SYNAXIS_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is unreachable ({type(exc).__name__}: {exc})"
    if IN_CI:
        pytest.fail(f"{message}; under CI=true this must not be skipped")
    pytest.skip(message)


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    name = f"synaxis_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"PostgreSQL at {PG_ADMIN_URL}", exc)
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """The session's PostgreSQL database, emptied before each test."""
    asyncio.run(_reset_schema(postgres_server_url))
    return postgres_server_url


async def _reset_schema(url: str) -> None:
    from sqlalchemy import text

    from synaxis_core.db.engine import create_engine

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'synaxis.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request) -> str:
    """Each test using it runs twice: on a SQLite file and on the local PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def sessions(database_url):
    """A session factory on a migrated database (SQLite and PostgreSQL, via ``database_url``)."""
    from synaxis_core.db.engine import create_engine, session_factory
    from synaxis_core.db.migrate import upgrade

    engine = create_engine(database_url)
    await upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def redis_url() -> str:
    """The local Redis with a database flushed for this test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"Redis at {REDIS_URL}", exc)
    return REDIS_URL


@pytest.fixture
def handler_deployment(tmp_path, sqlite_url):
    """``async with handler_deployment(handler, provider=..., model=..., timeout_s=...) as h``:
    a gateway (``gateway_harness``) whose only deployment comes from a config file and is
    served by ``handler``, an aiohttp handler of ``POST /v1/chat/completions`` on a loopback
    port: for upstream answers the fake upstream does not script."""
    from contextlib import asynccontextmanager

    from aiohttp import web

    from synaxis_core.fake import FakeUpstream
    from synaxis_core.testing.gateway import gateway_harness

    @asynccontextmanager
    async def serve(handler, *, provider: str = "mockai", model: str = "mock-model", timeout_s: float | None = None):
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        timeout = f"timeout_s = {timeout_s}\n" if timeout_s is not None else ""
        config = tmp_path / f"{provider}.toml"
        config.write_text(
            f'[[providers]]\nname = "{provider}"\nbase_url = "http://127.0.0.1:{port}/v1"\n{timeout}\n'
            f'[[providers.models]]\nid = "{model}"\nupstream_id = "{provider}/{model}"\n'
        )
        try:
            async with FakeUpstream() as fake, gateway_harness(
                fake, database_url=sqlite_url, providers=(), environ={"SYNAXIS_CONFIG": str(config)}
            ) as harness:
                yield harness
        finally:
            await runner.cleanup()

    return serve
