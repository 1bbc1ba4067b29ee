"""Build plugin managers and extensions inside a test, with fake plugins.

    class Plugin:
        @hookimpl
        def register_providers(self, register, settings):
            register(make_provider(settings, "acme", [ModelSpec(id="m-acme", upstream_id="m")]))

    ext = make_extensions(Plugin())

Build them inside the test body (not in a fixture shared across hypothesis examples).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import pluggy

from synaxis_core.plugins import Extensions, collect_extensions, get_plugin_manager
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.settings import Settings
from synaxis_core.types import ModelSpec


def make_plugin_manager(*plugins: object, installed: bool = False) -> pluggy.PluginManager:
    """The built-ins plus ``plugins`` (and the installed ones when ``installed``)."""
    return get_plugin_manager(None, installed=installed, extra=plugins)


def make_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from exactly ``environ`` (nothing leaks in from the real environment)."""
    return Settings.from_env(dict(environ or {}), **overrides)


def make_extensions(
    *plugins: object, settings: Settings | None = None, installed: bool = False
) -> Extensions:
    settings = settings or make_settings()
    return collect_extensions(make_plugin_manager(*plugins, installed=installed), settings)


def make_provider(
    settings: Settings,
    name: str,
    models: Sequence[ModelSpec],
    *,
    base_url: str = "http://127.0.0.1:9/v1",
    api_key_env: str | None = None,
) -> OpenAICompatibleProvider:
    """An OpenAI-compatible provider without a plugin class of its own."""
    return OpenAICompatibleProvider(
        settings, name=name, base_url=base_url, api_key_env=api_key_env, models=models
    )
