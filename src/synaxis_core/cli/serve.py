"""``synaxis serve``: run the gateway (migrations and the start-up sync run first).

One process by default; ``--workers N`` (``SYNAXIS_WORKERS``, ``auto``: one per core)
runs N on the one port (``cli.workers``). At start-up the open-file limit is raised to
its hard limit, and the workers inherit it (``raise_open_file_limit``).
"""

from __future__ import annotations

import logging
import resource
import sys

import click

from synaxis_core.cli import cli
from synaxis_core.cli.common import load_settings, open_database, run
from synaxis_core.settings import Settings


class WorkersParam(click.ParamType):
    """``--workers``: a number of processes (1 or more) or ``auto``."""

    name = "N|auto"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if value == "auto" or (isinstance(value, int) and value >= 1):
            return value  # type: ignore[return-value]
        if isinstance(value, str) and value.isdigit() and int(value) >= 1:
            return int(value)
        self.fail(f"{value!r} is neither a number of processes (1 or more) nor `auto`", param, ctx)


@cli.command()
@click.option("--host", help="Interface to listen on (default: SYNAXIS_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: SYNAXIS_PORT or 8000).")
@click.option("--demo/--no-demo", default=None, help="Force demo mode on or off (default: on when no provider key is set).")
@click.option(
    "--workers", type=WorkersParam(),
    help="Gateway processes on the port: a number, or `auto` for one per core (default: SYNAXIS_WORKERS "
         "or 1). More than one needs SYNAXIS_REDIS_URL.",
)
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(host: str | None, port: int | None, demo: bool | None, workers: int | str | None, log_level: str) -> None:
    """Run the gateway: POST /v1/chat/completions and friends."""
    from synaxis_core.cli.workers import check_workers, configure_logging, resolve_workers, serve_workers

    options = (("host", host), ("port", port), ("demo", demo), ("workers", workers))
    settings = load_settings().model_copy(update={k: v for k, v in options if v is not None})
    count = resolve_workers(settings.workers)
    check_workers(settings, count)
    run(_check_services(settings))  # one line and exit 1, rather than a start-up traceback
    configure_logging(log_level, workers=count)
    if count > 1:
        sys.exit(serve_workers(settings, count, log_level))  # the parent never imports the app
    log_open_file_limit()
    import uvicorn

    from synaxis_core.server.app import create_app
    from synaxis_core.server.protocol import bounded_protocol

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        # httptools with a deadline on the request's headers and body (uvicorn has none)
        http=bounded_protocol(settings.header_timeout_s, settings.body_timeout_s),
        workers=1,  # not WEB_CONCURRENCY, which uvicorn would read (see --workers)
        # The client's address is the connection's peer (only the admin-key throttle reads
        # it): uvicorn need not rewrite it from X-Forwarded-For on every request (a
        # middleware layer less), nor advertise itself.
        proxy_headers=False,
        server_header=False,
    )


def log_open_file_limit() -> None:
    """Raise the open-file limit once the start-up checks passed, and say so in the log."""
    logging.getLogger("synaxis.serve").info(raise_open_file_limit())


def raise_open_file_limit() -> str:
    """Raise this process's open-file limit (``RLIMIT_NOFILE``) from its soft value to its
    hard one, so that the gateway itself never refuses a connection for want of a file
    descriptor (each stream holds two: the client's and the upstream's; a shell's usual
    soft limit is 1,024). Children (the workers) inherit it. Returns the line to log."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return f"open-file limit already at its hard limit ({_limit(hard)})"
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        return f"open-file limit left at {_limit(soft)} (could not raise it to {_limit(hard)}: {exc})"
    return f"open-file limit raised from {_limit(soft)} to {_limit(hard)}"


def _limit(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


async def _check_services(settings: Settings) -> None:
    """Fail with ``ConfigError`` when the database or (if set) Redis does not answer."""
    from synaxis_core.limits.factory import open_backend

    async with open_database(settings, require_schema=False):
        pass  # serve migrates itself; this only proves the database answers
    await (await open_backend(settings)).aclose()
