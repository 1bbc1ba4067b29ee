"""The synthetic provider plugin for Synaxis."""

from synaxis_core import hookimpl


@hookimpl
def register_providers(register, settings):
    """Filled in by the provider layer."""
