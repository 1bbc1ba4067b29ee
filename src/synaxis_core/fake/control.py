"""The fake upstream's HTTP control API and command line, for multi-process use.

Demos, benchmarks and end-to-end tests that run the gateway in other processes script
the fake over HTTP (no auth, same port)::

    POST /_fake/behaviors        {"<upstream id>": {behavior fields} | "kind" | [...] | null}
    GET  /_fake/calls            -> {"calls": {"<upstream id>": n}}
    POST /_fake/reset
    POST /_fake/models           {"flavor": ..., "id": ..., <extras>}  (or a list of them)
    POST /_fake/models_behavior  {"flavor": ..., "behavior": "ok|garbage|error|invalid_json"}
    POST /_fake/account_limit    {"flavor": ..., "requests": n | null, "retry_after": "s"}
    GET  /_fake/requests         -> {"requests": [{flavor, path, headers, body}]}

Bad input answers 400 ``{"error": "..."}``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .upstream import FakeUpstream

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guarded(handler: Callable[[web.Request], Awaitable[Any]]) -> Handler:
    """Answer JSON, and 400 on bad input instead of a 500."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            result = await handler(request)
        except (ValueError, TypeError, KeyError) as exc:
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)
        return web.json_response(result if result is not None else {"ok": True})

    return wrapper


def routes(fake: FakeUpstream) -> list[web.RouteDef]:
    """The ``/_fake`` routes bound to one `FakeUpstream`."""

    async def behaviors(request: web.Request) -> dict[str, Any]:
        payload = await request.json()
        if not isinstance(payload, dict):
            raise ValueError("expected an object keyed by upstream model id")
        for model_id, value in payload.items():
            fake.set(model_id, value)
        return {"ok": True, "models": sorted(payload)}

    async def calls(request: web.Request) -> dict[str, Any]:
        return {"calls": dict(fake.calls)}

    async def reset(request: web.Request) -> None:
        fake.reset()

    async def models(request: web.Request) -> None:
        payload = await request.json()
        for item in payload if isinstance(payload, list) else [payload]:
            extras = dict(item)
            fake.add_model(extras.pop("flavor"), extras.pop("id"), **extras)

    async def models_behavior(request: web.Request) -> None:
        payload = await request.json()
        fake.set_models_behavior(payload["flavor"], payload["behavior"])

    async def account_limit(request: web.Request) -> None:
        payload = await request.json()
        retry_after = payload.get("retry_after")
        fake.set_account_limit(payload["flavor"], payload.get("requests"), retry_after=retry_after)

    async def requests(request: web.Request) -> dict[str, Any]:
        recorded = [
            {"flavor": r.flavor, "path": r.path, "headers": dict(r.headers), "body": r.body}
            for r in list(fake.requests)
        ]
        return {"requests": recorded}

    return [
        web.post("/_fake/behaviors", _guarded(behaviors)),
        web.get("/_fake/calls", _guarded(calls)),
        web.post("/_fake/reset", _guarded(reset)),
        web.post("/_fake/models", _guarded(models)),
        web.post("/_fake/models_behavior", _guarded(models_behavior)),
        web.post("/_fake/account_limit", _guarded(account_limit)),
        web.get("/_fake/requests", _guarded(requests)),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Arguments of `fake_upstream.main`."""
    parser = argparse.ArgumentParser(
        prog="fake-upstream", description="Run the Synaxis fake upstream."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8089, help="TCP port, 0 = any free port (default 8089)"
    )
    parser.add_argument("--api-key", default=None, help="accept only this bearer token")
    return parser.parse_args(argv)
