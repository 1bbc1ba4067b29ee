"""The fake upstream: an OpenAI-compatible imitation of the real providers on a loopback port.

`FakeUpstream` serves the demo mode (``synaxis serve`` with no provider key), the
``synaxis fake-upstream`` command, the tests and the benchmarks. Each model answers as
scripted (`Behavior`: answers, reasoning, tool calls, failures, stalls...). Traffic stays
on 127.0.0.1. The test kit for plugin authors (``synaxis_core.testing``) builds on it.
"""

from .behavior import KINDS, MODELS_BEHAVIORS, Behavior, RecordedRequest
from .formats import FLAVORS, NVIDIA_NON_CHAT_MODELS
from .upstream import FakeUpstream

__all__ = [
    "FLAVORS",
    "KINDS",
    "MODELS_BEHAVIORS",
    "NVIDIA_NON_CHAT_MODELS",
    "Behavior",
    "FakeUpstream",
    "RecordedRequest",
]
