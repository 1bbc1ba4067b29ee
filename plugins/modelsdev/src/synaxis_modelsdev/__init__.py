"""The models.dev catalog plugin for Synaxis."""

from synaxis_core import hookimpl


@hookimpl
def register_catalogs(register, settings):
    """Filled in by the catalog layer."""
