"""The Together AI provider plugin for Synaxis.

Set ``TOGETHER_API_KEY`` (and ``TOGETHER_BASE_URL`` to point elsewhere). Registers the
provider, a think-tag stripper for its reasoning models (``reasoning`` field or
``<think>`` tags) and Together's flavour of the fake upstream.
"""

from synaxis_core.providers.plugin import provider_hooks
from synaxis_together.fake_flavor import TOGETHER_FLAVOR
from synaxis_together.models import TOGETHER_MODELS
from synaxis_together.provider import TogetherProvider

__all__ = ["TOGETHER_FLAVOR", "TOGETHER_MODELS", "TogetherProvider"]

register_providers, register_postprocessors, register_fake_flavors = provider_hooks(
    TogetherProvider, flavor=TOGETHER_FLAVOR
)
