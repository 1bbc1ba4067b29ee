"""The Synthetic provider plugin for Synaxis: 14 ``hf:`` models behind one key.

Set ``SYNTHETIC_API_KEY`` (and ``SYNTHETIC_BASE_URL`` to point elsewhere). Registers
the provider, a think-tag stripper for its reasoning models and the language monitor
(GLM models sometimes answer in Chinese).
"""

from synaxis_core import hookimpl
from synaxis_core.postprocess.language import LanguageMonitor
from synaxis_core.postprocess.think import ThinkTagStripper, template_supplies_open_tag
from synaxis_synthetic.models import SYNTHETIC_MODELS
from synaxis_synthetic.provider import SyntheticProvider, emits_think_tags

__all__ = ["SYNTHETIC_MODELS", "SyntheticProvider"]


@hookimpl
def register_providers(register, settings):
    """Register ``SyntheticProvider``."""
    register(SyntheticProvider(settings))


@hookimpl
def register_postprocessors(register, settings):
    """Strip ``<think>`` reasoning from Synthetic models; watch configured models' language."""
    register(ThinkTagStripper(name="think-tags-synthetic", applies=emits_think_tags, close_only=template_supplies_open_tag))
    patterns = tuple(settings.language_monitor_models)
    register(
        LanguageMonitor(
            name="language-monitor",
            applies=lambda spec: any(p in spec.id for p in patterns),
        )
    )
