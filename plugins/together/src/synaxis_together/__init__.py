"""The Together AI provider plugin for Synaxis.

Set ``TOGETHER_API_KEY`` (and ``TOGETHER_BASE_URL`` to point elsewhere). Registers the
provider, a think-tag stripper for its reasoning models and Together's flavour of the
fake upstream.
"""

from synaxis_core import hookimpl
from synaxis_core.postprocess.think import ThinkTagStripper
from synaxis_together.fake_flavor import TOGETHER_FLAVOR
from synaxis_together.models import TOGETHER_MODELS
from synaxis_together.provider import TogetherProvider, emits_reasoning

__all__ = ["TOGETHER_FLAVOR", "TOGETHER_MODELS", "TogetherProvider"]


@hookimpl
def register_providers(register, settings):
    """Register ``TogetherProvider``."""
    register(TogetherProvider(settings))


@hookimpl
def register_postprocessors(register, settings):
    """Move Together reasoning (``reasoning`` field or ``<think>`` tags) out of content."""
    register(ThinkTagStripper(name="think-tags-together", applies=emits_reasoning, provider=TogetherProvider.name))


@hookimpl
def register_fake_flavors(register, settings):
    """Together's wire format, for the fake upstream."""
    register(TOGETHER_FLAVOR)
