"""Request log: the ledger newest first with filters, a keyset cursor per page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from synaxis_core.console.pages.common import moment, text
from synaxis_core.console.render import page
from synaxis_core.errors import InvalidRequest
from synaxis_core.ledger.browse import STATUSES, LogFilter, LogPage, request_log
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.tenants.service import list_tenants

FILTERS = ("tenant", "model", "status", "since", "until")


@get("/requests", include_in_schema=False)
async def requests_page(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Template:
    query = request.query_params
    kept = {name: text(query, name) for name in FILTERS if text(query, name)}
    error = None
    log = LogPage([], None, None)
    try:
        status = text(query, "status")
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
        filters = LogFilter(tenant=text(query, "tenant"), model=text(query, "model"), status=status,
                            since=moment(query, "since"), until=moment(query, "until"))
        log = await request_log(gateway.sessions, filters, before=text(query, "before"), after=text(query, "after"))
    except (InvalidRequest, ValueError) as exc:
        error = str(exc) if isinstance(exc, InvalidRequest) else "That page link is not valid any more."

    def link(**cursor: str) -> str:
        return "/ui/requests?" + urlencode({**kept, **cursor})

    return page(
        request, "requests.html", active="requests", log=log, error=error, statuses=STATUSES,
        tenants=[t["name"] for t in await list_tenants(gateway.sessions)],
        filters={name: kept.get(name, "") for name in FILTERS},
        older=link(before=log.older) if log.older else None,
        newer=link(after=log.newer) if log.newer else None,
        newest=link() if log.newer else None,
    )
