"""Engines and sessions: one factory, and the one place that explains a bad database URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from synaxis_core.errors import ConfigError

SUPPORTED = {"sqlite+aiosqlite", "postgresql+asyncpg"}
EXAMPLES = "sqlite+aiosqlite:///./synaxis.db or postgresql+asyncpg://user@127.0.0.1:5432/synaxis"


def check_url(url: str) -> str:
    """Return the URL if Synaxis can use it, else raise ``ConfigError`` saying what to do."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"SYNAXIS_DATABASE_URL {url!r} is not a database URL; use e.g. {EXAMPLES}"
        ) from None
    driver = parsed.drivername
    if driver in ("sqlite", "postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        fixed = "sqlite+aiosqlite" if driver == "sqlite" else "postgresql+asyncpg"
        raise ConfigError(
            f"SYNAXIS_DATABASE_URL uses the driver {driver!r}; Synaxis needs an async driver: "
            f"write {fixed}://... (e.g. {EXAMPLES})"
        )
    if driver not in SUPPORTED:
        raise ConfigError(f"SYNAXIS_DATABASE_URL driver {driver!r} is not supported; use e.g. {EXAMPLES}")
    if driver.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        parent = Path(parsed.database).expanduser().resolve().parent
        if not parent.is_dir():
            raise ConfigError(f"SYNAXIS_DATABASE_URL points into {str(parent)!r}, which does not exist")
    return url


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """An async engine for ``url`` (SQLite gets WAL and a busy timeout)."""
    check_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def describe_connection_error(url: str, exc: BaseException) -> str:
    """A one-line explanation of a failure to reach the database."""
    safe = make_url(url).render_as_string(hide_password=True)
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot use the database {safe}: {reason}. Is it running, and does SYNAXIS_DATABASE_URL point to it?"
