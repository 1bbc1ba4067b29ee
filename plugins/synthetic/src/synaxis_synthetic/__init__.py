"""The Synthetic provider plugin for Synaxis: 14 ``hf:`` models behind one key.

Set ``SYNTHETIC_API_KEY`` (and ``SYNTHETIC_BASE_URL`` to point elsewhere). Registers
the provider, a think-tag stripper for its reasoning models, the language monitor (GLM
models sometimes answer in Chinese; ``SYNAXIS_LANGUAGE_MONITOR_MODELS`` picks the
models) and Synthetic's flavour of the fake upstream.
"""

from synaxis_core.providers.plugin import provider_hooks
from synaxis_synthetic.fake_flavor import SYNTHETIC_FLAVOR
from synaxis_synthetic.language import language_monitors
from synaxis_synthetic.models import SYNTHETIC_MODELS
from synaxis_synthetic.provider import SyntheticProvider, emits_think_tags

__all__ = ["SYNTHETIC_FLAVOR", "SYNTHETIC_MODELS", "SyntheticProvider"]

register_providers, register_postprocessors, register_fake_flavors = provider_hooks(
    SyntheticProvider, reasoning=emits_think_tags, flavor=SYNTHETIC_FLAVOR, postprocessors=language_monitors
)
