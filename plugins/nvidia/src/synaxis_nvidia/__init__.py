"""The NVIDIA NIM provider plugin for Synaxis.

Set ``NVIDIA_API_KEY`` (and ``NVIDIA_BASE_URL`` to point elsewhere). Registers the
provider, a think-tag stripper for its reasoning models and NIM's flavour of the fake
upstream.
"""

from synaxis_core import hookimpl
from synaxis_core.postprocess.think import ThinkTagStripper
from synaxis_nvidia.fake_flavor import NVIDIA_FLAVOR
from synaxis_nvidia.models import NVIDIA_MODELS
from synaxis_nvidia.provider import NvidiaProvider, emits_reasoning

__all__ = ["NVIDIA_FLAVOR", "NVIDIA_MODELS", "NvidiaProvider"]


@hookimpl
def register_providers(register, settings):
    """Register ``NvidiaProvider``."""
    register(NvidiaProvider(settings))


@hookimpl
def register_postprocessors(register, settings):
    """Move NVIDIA reasoning (``reasoning_content`` or ``<think>`` tags) out of content."""
    register(ThinkTagStripper(name="think-tags-nvidia", applies=emits_reasoning, provider=NvidiaProvider.name))


@hookimpl
def register_fake_flavors(register, settings):
    """NIM's wire format, for the fake upstream."""
    register(NVIDIA_FLAVOR)
