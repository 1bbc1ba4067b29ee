"""``ModelsDevCatalog``: fetch models.dev, conditionally, with a bundled snapshot as fallback.

Where the catalog comes from is ``Settings.modelsdev_url`` (``SYNAXIS_MODELSDEV_URL``):

- ``http://`` / ``https://`` (default ``https://models.dev/api.json``): a GET with
  ``If-None-Match`` / ``If-Modified-Since`` from the ``CatalogState`` of the last
  successful fetch, following redirects. 304 -> ``not_modified=True`` (no models);
  2xx -> parsed, with the response's ``ETag`` / ``Last-Modified``.
- ``file:///abs/api.json`` or a plain path (``./api.json``, ``/tmp/api.json``): the file
  is read (handy offline and in tests). Its ETag is a hash of its content, so a state
  carrying that ETag gives ``not_modified=True``; ``last_modified`` is None.

Any failure (connection error, timeout, a status other than 2xx or 304, a body that is
not a models.dev catalog or has no valid model, an unreadable file) logs one WARNING
naming the reason and the snapshot's date, and returns the bundled ``snapshot.json``
with ``from_snapshot`` set to that date and no ``etag`` / ``last_modified`` (the caller
must not store them as the new state). ``fetch`` never raises for the source's sake.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse
from urllib.request import url2pathname

import httpx

from synaxis_core.types import CatalogData
from synaxis_modelsdev.parse import CatalogFormatError, parse_api_json

if TYPE_CHECKING:
    from synaxis_core.settings import Settings
    from synaxis_core.types import CatalogState

log = logging.getLogger(__name__)

SNAPSHOT_RESOURCE = "snapshot.json"


class SourceUnavailable(Exception):
    """The configured source could not give a usable catalog; the message is the reason."""


@cache
def snapshot_bytes() -> bytes:
    """The bundled snapshot document (package data ``synaxis_modelsdev/snapshot.json``)."""
    return resources.files("synaxis_modelsdev").joinpath(SNAPSHOT_RESOURCE).read_bytes()


@cache
def snapshot_date() -> str:
    """The date of the bundled snapshot (its ``_meta.date``), e.g. ``2026-07-02``."""
    return str(json.loads(snapshot_bytes())["_meta"]["date"])


def local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path names; None for any other URL."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a relative path or a drive letter
        return Path(url)
    return None


class ModelsDevCatalog:
    """The models.dev catalog (see the module docstring for sources and fallback)."""

    name = "modelsdev"

    def __init__(self, settings: Settings | None = None, *, url: str | None = None) -> None:
        """:param settings: read for ``modelsdev_url``; :param url: overrides it."""
        if url is None:
            url = settings.modelsdev_url if settings is not None else "https://models.dev/api.json"
        self.url = url

    def __repr__(self) -> str:
        return f"ModelsDevCatalog(url={self.url!r})"

    async def fetch(self, client: httpx.AsyncClient, state: CatalogState | None) -> CatalogData:
        """Fetch and parse the catalog; see the module docstring for the rules."""
        try:
            path = local_path(self.url)
            if path is not None:
                return await self._fetch_file(path, state)
            return await self._fetch_http(client, state)
        except SourceUnavailable as exc:
            return await self._from_snapshot(str(exc))

    async def _fetch_http(self, client: httpx.AsyncClient, state: CatalogState | None) -> CatalogData:
        headers: dict[str, str] = {"Accept": "application/json"}
        if state is not None and state.etag:
            headers["If-None-Match"] = state.etag
        if state is not None and state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        conditional = "If-None-Match" in headers or "If-Modified-Since" in headers
        try:
            response = await client.get(self.url, headers=headers, follow_redirects=True)
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(f"timeout fetching {self.url} ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"network error fetching {self.url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 304 and conditional:
            return self._not_modified(
                response.headers.get("etag") or (state.etag if state else None),
                response.headers.get("last-modified") or (state.last_modified if state else None),
            )
        if not 200 <= response.status_code < 300:
            raise SourceUnavailable(f"HTTP {response.status_code} from {self.url}")
        data = self._parse(response.content, self.url)
        data.etag = response.headers.get("etag")
        data.last_modified = response.headers.get("last-modified")
        return data

    async def _fetch_file(self, path: Path, state: CatalogState | None) -> CatalogData:
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise SourceUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc
        etag = '"sha256-' + hashlib.sha256(content).hexdigest()[:32] + '"'
        if state is not None and state.etag == etag:
            return self._not_modified(etag, None)
        data = self._parse(content, str(path))
        data.etag = etag
        return data

    def _parse(self, content: bytes, where: str) -> CatalogData:
        try:
            data = parse_api_json(content, source=self.name)
        except CatalogFormatError as exc:
            raise SourceUnavailable(f"unparseable body from {where}: {exc}") from exc
        if not data.models:
            raise SourceUnavailable(f"no valid model in {where} ({data.skipped} entries skipped)")
        return data

    def _not_modified(self, etag: str | None, last_modified: str | None) -> CatalogData:
        return CatalogData(source=self.name, not_modified=True, etag=etag, last_modified=last_modified)

    async def _from_snapshot(self, reason: str) -> CatalogData:
        content = await asyncio.to_thread(snapshot_bytes)
        date = snapshot_date()
        log.warning("models.dev catalog unavailable (%s); using the bundled snapshot of %s", reason, date)
        data = parse_api_json(content, source=self.name)
        data.from_snapshot = date
        return data
