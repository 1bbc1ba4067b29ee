"""The Together AI provider plugin for Synaxis.

Set ``TOGETHER_API_KEY`` (and ``TOGETHER_BASE_URL`` to point elsewhere). Registers the
provider and a think-tag stripper for its reasoning models.
"""

from synaxis_core import hookimpl
from synaxis_core.postprocess.think import ThinkTagStripper, template_supplies_open_tag
from synaxis_together.models import TOGETHER_MODELS
from synaxis_together.provider import TogetherProvider, emits_reasoning

__all__ = ["TOGETHER_MODELS", "TogetherProvider"]


@hookimpl
def register_providers(register, settings):
    """Register ``TogetherProvider``."""
    register(TogetherProvider(settings))


@hookimpl
def register_postprocessors(register, settings):
    """Move Together reasoning (``reasoning`` field or ``<think>`` tags) out of content."""
    register(ThinkTagStripper(name="think-tags-together", applies=emits_reasoning, close_only=template_supplies_open_tag))
