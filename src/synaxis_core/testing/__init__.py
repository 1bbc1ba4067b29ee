"""Test kit for Synaxis and its plugins.

`FakeUpstream` is an OpenAI-compatible fake of the real providers (openai, synthetic,
together, nvidia flavors) with scripted per-model failures (`Behavior`); it serves the
tests, the demo mode and the benchmarks. Traffic stays on 127.0.0.1.
"""

from .fake_behavior import KINDS, MODELS_BEHAVIORS, Behavior, RecordedRequest
from .fake_formats import FLAVORS, NVIDIA_NON_CHAT_MODELS
from .fake_upstream import FakeUpstream

__all__ = [
    "FLAVORS",
    "KINDS",
    "MODELS_BEHAVIORS",
    "NVIDIA_NON_CHAT_MODELS",
    "Behavior",
    "FakeUpstream",
    "RecordedRequest",
]


def __getattr__(name: str) -> object:
    """``ProviderConformanceTests`` needs pytest, so it is imported on first use only
    (the fake upstream also serves the demo mode, where pytest is not installed)."""
    if name == "ProviderConformanceTests":
        from .conformance import ProviderConformanceTests

        return ProviderConformanceTests
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
