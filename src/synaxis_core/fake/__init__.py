"""The fake upstream: an OpenAI-compatible imitation of the real providers on a loopback port.

`FakeUpstream` serves the demo mode (``synaxis serve`` with no provider key), the
``synaxis fake-upstream`` command, the tests and the benchmarks. Each model answers as
scripted (`Behavior`: answers, reasoning, tool calls, failures, stalls...); each vendor's
wire format is a `Flavor` (``openai`` built in, the others contributed by the provider
plugins). Traffic stays on 127.0.0.1. The test kit for plugin authors
(``synaxis_core.testing``) builds on it.

`Flavor` and `Behavior` are plain data: importing them does not load the HTTP server
(plugins describe their flavour at every start-up); `FakeUpstream` is imported on first use.
"""

from .behavior import KINDS, MODELS_BEHAVIORS, Behavior, RecordedRequest
from .flavor import OPENAI, ErrorText, Flavor, FlavorUsage

__all__ = [
    "KINDS",
    "MODELS_BEHAVIORS",
    "OPENAI",
    "Behavior",
    "ErrorText",
    "FakeUpstream",
    "Flavor",
    "FlavorUsage",
    "RecordedRequest",
]


def __getattr__(name: str) -> object:
    """``FakeUpstream`` needs aiohttp's server, so it is imported on first use only."""
    if name == "FakeUpstream":
        from .upstream import FakeUpstream

        return FakeUpstream
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
