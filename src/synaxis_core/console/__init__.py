"""The operator console: a web UI at ``/ui``, served by every gateway instance.

Server-rendered Jinja templates (``templates/``) with htmx and uPlot vendored in
``static/`` (no build step, nothing from a CDN). Part of the HTTP edge: Litestar route
handlers that get the running ``Gateway`` by dependency injection, read the ledger
through ``ledger.browse`` and change state only through what the admin API uses
(``Gateway.set_model_active``, ``tenants.service``, ``sync.runner``, ``validation``).
Sign-in and sessions: ``auth`` and ``session``. ``server.app.create_app`` mounts
``console_routes()`` and ``template_config()``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router
from litestar.datastructures import CacheControlHeader
from litestar.response import Response
from litestar.static_files import create_static_files_router

from synaxis_core.console.auth import Interrupt, interrupted, login, login_page, logout, require_session
from synaxis_core.console.pages.models import models_page, set_state
from synaxis_core.console.pages.overview import overview
from synaxis_core.console.pages.providers import providers_page, sync_now
from synaxis_core.console.pages.requests import requests_page
from synaxis_core.console.pages.tenants import limits, new_key, revoke, tenants_page
from synaxis_core.console.pages.usage import usage_csv, usage_page
from synaxis_core.console.pages.validate import run_validate, validate_page
from synaxis_core.console.render import PREFIX, STATIC, page, template_config
from synaxis_core.errors import SynaxisError

__all__ = ["console_routes", "template_config", "PREFIX"]

HANDLERS = [
    login_page, login, logout, overview, models_page, set_state, providers_page, sync_now,
    tenants_page, new_key, revoke, limits, usage_page, usage_csv, requests_page, validate_page, run_validate,
]


def _error_page(request: Request[Any, Any, Any], exc: SynaxisError) -> Response[Any]:
    """A Synaxis error on a console page is shown as a page, not as the API's JSON."""
    return page(request, "error.html", status=exc.status, title="Something went wrong", message=str(exc))


def console_routes() -> list[Router]:
    """The console's pages (guarded by the session) and its static files."""
    static = create_static_files_router(
        path=f"{PREFIX}/static", directories=[STATIC], include_in_schema=False,
        cache_control=CacheControlHeader(max_age=3600), name="console-static",
    )
    pages = Router(
        path=PREFIX, route_handlers=HANDLERS, guards=[require_session], include_in_schema=False,
        exception_handlers={Interrupt: interrupted, SynaxisError: _error_page},  # type: ignore[dict-item]
    )
    return [pages, static]
