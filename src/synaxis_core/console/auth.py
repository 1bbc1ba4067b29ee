"""Signing in and out of the console, and the check in front of every other console page.

Sign-in compares the key with ``SYNAXIS_ADMIN_KEY`` exactly as the admin API does
(``Gateway.authorize_admin``: constant time; a tenant key is refused), then sets the
signed session cookie (``HttpOnly``, ``SameSite=Strict``, ``Path=/ui``, an expiry;
``Secure`` over HTTPS). ``require_session`` guards every page but the sign-in
form: no admin key configured -> the page that says how to enable the console; no valid
session -> the sign-in form; a post without the session's CSRF token, or from another
origin -> 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request, get, post
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.datastructures import Cookie
from litestar.response import Redirect, Response, Template

from synaxis_core.console.render import PREFIX, SECURITY_HEADERS, is_https, page, redirect, signer_of
from synaxis_core.console.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL_S,
    login_token,
    same_token,
)
from synaxis_core.errors import AuthenticationError, PermissionDenied, SynaxisError

SAFE_METHODS = ("GET", "HEAD")


def console_off(request: Request[Any, Any, Any]) -> Template:
    return page(request, "off.html", status=403)


def _session_cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=value, path=PREFIX, max_age=max_age, httponly=True,
                  samesite="strict", secure=is_https(request))


def _same_origin(request: Request[Any, Any, Any]) -> bool:
    """A post's ``Origin`` (sent by browsers) names this host (as the client or a reverse
    proxy's ``X-Forwarded-Host`` calls it), or is absent (non-browser clients)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")} - {""}
    return origin != "null" and urlsplit(origin).netloc in hosts


def _next_page(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX


def _login_form(request: Request[Any, Any, Any], *, error: str | None = None, status: int = 200) -> Template:
    token = login_token()
    response = page(request, "login.html", status=status, login_token=token, error=error,
                    next=_next_page(request.query_params.get("next")))
    response.set_cookie(key=LOGIN_COOKIE, value=token, path=PREFIX, max_age=3600, httponly=True,
                        samesite="strict", secure=is_https(request))
    return response


@get("/login", include_in_schema=False, opt={"public": True})
async def login_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    signer = signer_of(request)
    if signer is None:
        return console_off(request)
    if signer.verify(request.cookies.get(SESSION_COOKIE)) is not None:
        return Redirect(path=PREFIX, status_code=303, headers=SECURITY_HEADERS)
    return _login_form(request)


@post("/login", include_in_schema=False, status_code=303, opt={"public": True})
async def login(request: Request[Any, Any, Any]) -> Template | Redirect:
    signer = signer_of(request)
    if signer is None:
        return console_off(request)
    form = await request.form()
    if not _same_origin(request) or not same_token(request.cookies.get(LOGIN_COOKIE), form.get("_login")):
        return _login_form(request, error="The sign-in form had expired; please try again.", status=403)
    key = str(form.get("key") or "").strip()
    try:
        request.app.state.gateway.authorize_admin(f"Bearer {key}", request.client.host if request.client else "-")
    except PermissionDenied:
        return _login_form(request, status=403, error=(
            "This is a tenant key. The console needs the admin key (SYNAXIS_ADMIN_KEY)."))
    except AuthenticationError:
        return _login_form(request, status=401, error="That is not the admin key.")
    except SynaxisError as exc:  # e.g. too many failed attempts
        return _login_form(request, status=exc.status, error=str(exc))
    value, _ = signer.issue()
    response = Redirect(path=_next_page(str(form.get("next") or "")), status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(_session_cookie(request, value, SESSION_TTL_S))
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@post("/logout", include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    response = redirect(request, f"{PREFIX}/login", "You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


class Interrupt(Exception):
    """Raised by the guard with the response to send instead of the page."""

    def __init__(self, response: Response[Any]) -> None:
        super().__init__("console request interrupted")
        self.response = response


def interrupted(_: Request[Any, Any, Any], exc: Interrupt) -> Response[Any]:
    return exc.response


async def require_session(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The guard of every console page but sign-in (``opt={"public": True}``): the console
    is on, the session valid, a post genuine; else :raises Interrupt: with the answer."""
    if handler.opt.get("public"):
        return
    request: Request[Any, Any, Any] = connection  # type: ignore[assignment]  # HTTP routes get the Request
    signer = signer_of(request)
    if signer is None:
        raise Interrupt(console_off(request))
    session = signer.verify(request.cookies.get(SESSION_COOKIE))
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method not in SAFE_METHODS:
            target = PREFIX
        raise Interrupt(Redirect(path=f"{PREFIX}/login?next={quote(target, safe='')}", status_code=303,
                                 headers=SECURITY_HEADERS))
    request.scope.setdefault("state", {})["console_session"] = session
    if request.method not in SAFE_METHODS:
        token = request.headers.get(CSRF_HEADER)
        if token is None and "form" in request.headers.get("content-type", ""):
            token = (await request.form()).get(CSRF_FIELD)
        if not _same_origin(request) or not signer.csrf_ok(session, token):
            raise Interrupt(page(
                request, "error.html", status=403, title="Refused",
                message="This form was not sent from a page of this console (its CSRF token is missing or wrong). "
                        "Reload the page and try again."))
