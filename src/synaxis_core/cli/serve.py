"""``synaxis serve``: run the gateway (migrations and the start-up sync run first)."""

from __future__ import annotations

import logging

import click

from synaxis_core.cli import cli
from synaxis_core.cli.common import load_settings, open_database, run
from synaxis_core.settings import Settings


@cli.command()
@click.option("--host", help="Interface to listen on (default: SYNAXIS_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: SYNAXIS_PORT or 8000).")
@click.option("--demo/--no-demo", default=None, help="Force demo mode on or off (default: on when no provider key is set).")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(host: str | None, port: int | None, demo: bool | None, log_level: str) -> None:
    """Run the gateway: POST /v1/chat/completions and friends."""
    import uvicorn

    from synaxis_core.server.app import create_app
    from synaxis_core.server.protocol import bounded_protocol

    overrides = {k: v for k, v in (("host", host), ("port", port), ("demo", demo)) if v is not None}
    settings = load_settings().model_copy(update=overrides)
    run(_check_services(settings))  # one line and exit 1, rather than a start-up traceback
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        # httptools with a deadline on the request's headers and body (uvicorn has none)
        http=bounded_protocol(settings.header_timeout_s, settings.body_timeout_s),
        # The client's address is the connection's peer (only the admin-key throttle reads
        # it): uvicorn need not rewrite it from X-Forwarded-For on every request (a
        # middleware layer less), nor advertise itself.
        proxy_headers=False,
        server_header=False,
    )


async def _check_services(settings: Settings) -> None:
    """Fail with ``ConfigError`` when the database or (if set) Redis does not answer."""
    from synaxis_core.limits.factory import open_backend

    async with open_database(settings, require_schema=False):
        pass  # serve migrates itself; this only proves the database answers
    await (await open_backend(settings)).aclose()
