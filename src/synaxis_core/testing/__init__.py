"""Test kit for Synaxis plugins: conformance suites, strategies, a gateway in a test.

`ProviderConformanceTests` checks a provider plugin against the fake upstream
(`synaxis_core.fake`, re-exported here: `FakeUpstream`, `Behavior`); `ScorerConformanceTests`
checks a scorer with hypothesis; `gateway_harness` runs a whole gateway in a test.
"""

from synaxis_core.fake import KINDS, MODELS_BEHAVIORS, NVIDIA_NON_CHAT_MODELS, FLAVORS, Behavior, FakeUpstream, RecordedRequest

__all__ = [
    "FLAVORS",
    "KINDS",
    "MODELS_BEHAVIORS",
    "NVIDIA_NON_CHAT_MODELS",
    "Behavior",
    "FakeUpstream",
    "ProviderConformanceTests",
    "RecordedRequest",
]


def __getattr__(name: str) -> object:
    """``ProviderConformanceTests`` needs pytest, so it is imported on first use only."""
    if name == "ProviderConformanceTests":
        from .conformance import ProviderConformanceTests

        return ProviderConformanceTests
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
