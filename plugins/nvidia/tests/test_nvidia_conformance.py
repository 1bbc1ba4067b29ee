"""The standard provider tests (``synaxis_core.testing.ProviderConformanceTests``) for NvidiaProvider."""

from synaxis_nvidia import NVIDIA_FLAVOR, NvidiaProvider

from synaxis_core.testing import ProviderConformanceTests


class TestNvidiaConformance(ProviderConformanceTests):
    provider_class = NvidiaProvider
    flavor = NVIDIA_FLAVOR
    sample_model = "openai/gpt-oss-120b"
