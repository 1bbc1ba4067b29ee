"""Rendering the console's pages: the Jinja configuration, its filters, the page context
every template gets (navigation, CSRF token, the flash message), redirects with a flash
message, and the security headers every console response carries."""

from __future__ import annotations

import functools
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template
from litestar.template import TemplateConfig

from synaxis_core import __version__
from synaxis_core.console.session import FLASH_COOKIE, SessionSigner

PREFIX = "/ui"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
NAV = (
    ("overview", "Overview", "/ui"),
    ("models", "Models", "/ui/models"),
    ("providers", "Providers", "/ui/providers"),
    ("tenants", "Tenants and keys", "/ui/tenants"),
    ("usage", "Usage", "/ui/usage"),
    ("requests", "Request log", "/ui/requests"),
    ("validate", "Validate", "/ui/validate"),
)
SECURITY_HEADERS = {
    # every script and style comes from the package; nothing inline runs, nothing frames us
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def usd(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    if abs(value) < 0.00005:
        return "<$0.0001"
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"


def price(value: float | None) -> str:
    """USD per million tokens."""
    return "—" if value is None else f"${value:,.2f}"


def num(value: float | int | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def ms(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.0f} ms"


def when(value: datetime | str | None) -> str:
    """UTC, to the second."""
    if value is None:
        return "never"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    value = int(math.ceil(value))
    return f"{value // 60} min {value % 60} s" if value >= 60 else f"{value} s"


FILTERS = {"usd": usd, "price": price, "num": num, "ms": ms, "when": when, "seconds": seconds}


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    def configure(engine: JinjaTemplateEngine) -> None:
        engine.engine.filters.update(FILTERS)
        engine.engine.trim_blocks = engine.engine.lstrip_blocks = True

    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=configure)


@functools.lru_cache(maxsize=4)
def _signer(admin_key: str) -> SessionSigner:
    return SessionSigner(admin_key)


def signer_of(request: Request[Any, Any, Any]) -> SessionSigner | None:
    """The signer for this gateway's admin key; None when no admin key is configured."""
    admin_key = request.app.state.gateway.settings.admin_key
    return None if admin_key is None else _signer(admin_key.get_secret_value())


def page(request: Request[Any, Any, Any], name: str, *, status: int = 200, **context: Any) -> Template:
    """The template ``name`` with the context every page needs (and the flash message, consumed)."""
    signer = signer_of(request)
    session = request.scope.get("state", {}).get("console_session")
    flash = signer.unsign(request.cookies.get(FLASH_COOKIE)) if signer is not None else None
    kind, _, message = (flash or "").partition(":")
    gateway = request.app.state.gateway
    base = {
        "nav": NAV,
        "csrf": signer.csrf_token(session) if signer is not None and session is not None else None,
        "signed_in": session is not None,
        "flash": {"kind": kind, "message": message} if flash else None,
        "demo": getattr(gateway, "demo", False),
        "version": __version__,
        "active": "",
    }
    response = Template(template_name=name, context={**base, **context}, status_code=status, headers=SECURITY_HEADERS)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def redirect(request: Request[Any, Any, Any], to: str, message: str | None = None, *, kind: str = "ok") -> Redirect:
    """303 to ``to`` (a path under /ui), carrying a one-time message for the next page."""
    cookies = []
    signer = signer_of(request)
    if message is not None and signer is not None:
        value = signer.sign(f"{kind}:{message}")
        cookies.append(Cookie(key=FLASH_COOKIE, value=value, path=PREFIX, max_age=60, httponly=True,
                              samesite="strict", secure=is_https(request)))
    return Redirect(path=to, status_code=303, headers=SECURITY_HEADERS, cookies=cookies)


def is_https(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"
