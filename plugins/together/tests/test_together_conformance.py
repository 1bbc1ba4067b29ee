"""The standard provider tests (``synaxis_core.testing.ProviderConformanceTests``) for TogetherProvider."""

from synaxis_together import TogetherProvider

from synaxis_core.testing import ProviderConformanceTests


class TestTogetherConformance(ProviderConformanceTests):
    provider_class = TogetherProvider
    flavor = "together"
    sample_model = "openai/gpt-oss-120b"
