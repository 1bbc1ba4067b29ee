"""The standard provider tests (``synaxis_core.testing.ProviderConformanceTests``) for NvidiaProvider."""

from synaxis_nvidia import NvidiaProvider

from synaxis_core.testing import ProviderConformanceTests


class TestNvidiaConformance(ProviderConformanceTests):
    provider_class = NvidiaProvider
    flavor = "nvidia"
    sample_model = "openai/gpt-oss-120b"
