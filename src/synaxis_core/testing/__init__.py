"""Test kit for Synaxis plugins: conformance suites, strategies, a gateway in a test.

`ProviderConformanceTests` checks a provider plugin against the fake upstream
(`synaxis_core.fake`, re-exported here: `FakeUpstream`, `Behavior`, `Flavor`, so that a
plugin can describe its vendor's wire format and test against it); `ScorerConformanceTests`
checks a scorer with hypothesis; `gateway_harness` runs a whole gateway in a test.
"""

from synaxis_core.fake import KINDS, MODELS_BEHAVIORS, OPENAI, Behavior, ErrorText, Flavor, FlavorUsage, RecordedRequest
from synaxis_core.fake.upstream import FakeUpstream

__all__ = [
    "KINDS",
    "MODELS_BEHAVIORS",
    "OPENAI",
    "Behavior",
    "ErrorText",
    "FakeUpstream",
    "Flavor",
    "FlavorUsage",
    "ProviderConformanceTests",
    "RecordedRequest",
]


def __getattr__(name: str) -> object:
    """``ProviderConformanceTests`` needs pytest, so it is imported on first use only."""
    if name == "ProviderConformanceTests":
        from .conformance import ProviderConformanceTests

        return ProviderConformanceTests
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
