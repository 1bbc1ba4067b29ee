"""The catalog contract: a source of global model metadata and per-provider prices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import httpx

    from synaxis_core.types import CatalogData, CatalogState


@runtime_checkable
class Catalog(Protocol):
    """A model-metadata source (models.dev is the built-in one).

    ``fetch`` returns every model it knows (``CatalogData.models``) and what each
    catalog provider charges for it (``CatalogData.prices``). It must not raise on a
    single bad entry (skip and count it) nor when the source is unreachable (fall back
    to a bundled snapshot and say so in ``CatalogData.from_snapshot``); it sends a
    conditional request with ``state`` and returns ``not_modified=True`` on a 304.
    """

    name: str

    async def fetch(self, client: httpx.AsyncClient, state: CatalogState | None) -> CatalogData: ...
