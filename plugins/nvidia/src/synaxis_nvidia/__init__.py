"""The NVIDIA NIM provider plugin for Synaxis.

Set ``NVIDIA_API_KEY`` (and ``NVIDIA_BASE_URL`` to point elsewhere). Registers the
provider and a think-tag stripper for its reasoning models.
"""

from synaxis_core import hookimpl
from synaxis_core.postprocess.think import ThinkTagStripper, template_supplies_open_tag
from synaxis_nvidia.models import NVIDIA_MODELS
from synaxis_nvidia.provider import NvidiaProvider, emits_reasoning

__all__ = ["NVIDIA_MODELS", "NvidiaProvider"]


@hookimpl
def register_providers(register, settings):
    """Register ``NvidiaProvider``."""
    register(NvidiaProvider(settings))


@hookimpl
def register_postprocessors(register, settings):
    """Move NVIDIA reasoning (``reasoning_content`` or ``<think>`` tags) out of content."""
    register(ThinkTagStripper(name="think-tags-nvidia", applies=emits_reasoning, close_only=template_supplies_open_tag))
