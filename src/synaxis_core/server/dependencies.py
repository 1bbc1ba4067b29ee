"""What the Litestar routes are given by dependency injection: the running gateway and
the tenant of the request's key."""

from __future__ import annotations

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from synaxis_core.runtime.gateway import Gateway
from synaxis_core.tenants import TenantInfo


def running_gateway(state: State) -> Gateway:
    """The gateway the app's lifespan opened."""
    return state.gateway  # type: ignore[no-any-return]


def calling_tenant(request: Request, gateway: NamedDependency[Gateway]) -> TenantInfo:
    """The tenant of the bearer key (401 without a valid one)."""
    return gateway.authenticate(request.headers.get("authorization"))


DEPENDENCIES = {
    "gateway": Provide(running_gateway, sync_to_thread=False),
    "tenant": Provide(calling_tenant, sync_to_thread=False),
}
