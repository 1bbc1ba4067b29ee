"""The models.dev catalog plugin for Synaxis.

Registers ``ModelsDevCatalog`` (name ``modelsdev``): global models, capabilities and
per-provider prices from ``SYNAXIS_MODELSDEV_URL`` (default
``https://models.dev/api.json``; a ``file://`` URL or a path works too), with a bundled
snapshot when the source is unreachable.
"""

from __future__ import annotations

from synaxis_core import hookimpl
from synaxis_modelsdev.catalog import ModelsDevCatalog, snapshot_date
from synaxis_modelsdev.parse import CatalogFormatError, parse_api_json

__all__ = ["CatalogFormatError", "ModelsDevCatalog", "parse_api_json", "register_catalogs", "snapshot_date"]


@hookimpl
def register_catalogs(register, settings):
    """Register the models.dev catalog, configured from ``settings.modelsdev_url``."""
    register(ModelsDevCatalog(settings))
