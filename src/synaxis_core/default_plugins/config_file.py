"""Built-in plugin: the deployments of the TOML file named by ``SYNAXIS_CONFIG``.

Each ``[[providers]]`` table becomes an ``OpenAICompatibleProvider`` (see
``synaxis_core.providers.config_file`` for the format). No ``SYNAXIS_CONFIG``: nothing
is registered. A malformed file stops start-up with a ``ConfigError`` naming the file,
the line and the key.
"""

from __future__ import annotations

from synaxis_core.hookspecs import hookimpl
from synaxis_core.providers.config_file import load_config_providers


@hookimpl
def register_providers(register, settings):
    """Register one provider per ``[[providers]]`` table of ``settings.config``."""
    for provider in load_config_providers(settings):
        register(provider)
