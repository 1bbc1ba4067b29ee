"""The NVIDIA NIM provider plugin for Synaxis.

Set ``NVIDIA_API_KEY`` (and ``NVIDIA_BASE_URL`` to point elsewhere). Registers the
provider, a think-tag stripper for its reasoning models (``reasoning_content`` or
``<think>`` tags) and NIM's flavour of the fake upstream.
"""

from synaxis_core.providers.plugin import provider_hooks
from synaxis_nvidia.fake_flavor import NVIDIA_FLAVOR
from synaxis_nvidia.models import NVIDIA_MODELS
from synaxis_nvidia.provider import NvidiaProvider

__all__ = ["NVIDIA_FLAVOR", "NVIDIA_MODELS", "NvidiaProvider"]

register_providers, register_postprocessors, register_fake_flavors = provider_hooks(
    NvidiaProvider, flavor=NVIDIA_FLAVOR
)
