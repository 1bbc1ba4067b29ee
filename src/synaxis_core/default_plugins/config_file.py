"""Built-in plugin: the deployments of the TOML file named by ``SYNAXIS_CONFIG``.

Each ``[[providers]]`` table becomes an ``OpenAICompatibleProvider`` (see
``synaxis_core.providers.config_file`` for the format). No ``SYNAXIS_CONFIG``: nothing
is registered. A malformed file stops start-up with a ``ConfigError`` naming the file,
the line and the key. Models with ``reasoning = true`` get the think-tag stripper, with
its close-only rule for templates that supply the opening tag (Qwen3 Thinking-2507, QwQ),
like any other reasoning deployment. Models with ``kind = "embedding"`` are served by
``POST /v1/embeddings`` only (``ModelSpec.kind``).
"""

from __future__ import annotations

from synaxis_core.hookspecs import hookimpl
from synaxis_core.postprocess.think import ThinkTagStripper
from synaxis_core.providers.config_file import load_config_providers


@hookimpl
def register_providers(register, settings):
    """Register one provider per ``[[providers]]`` table of ``settings.config``."""
    for provider in load_config_providers(settings):
        register(provider)


@hookimpl
def register_postprocessors(register, settings):
    """Deployments marked ``reasoning = true`` get the think-tag stripper.

    The file is read a second time here (start-up only; the providers hold no
    connections until their first call), so each hook stays independent.
    """
    ids = frozenset(
        spec.id for provider in load_config_providers(settings) for spec in provider.models if spec.reasoning
    )
    if ids:
        register(ThinkTagStripper(name="think-tags-config", applies=lambda spec: spec.id in ids))
