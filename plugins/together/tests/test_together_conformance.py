"""The standard provider tests (``synaxis_core.testing.ProviderConformanceTests``) for TogetherProvider."""

from synaxis_together import TOGETHER_FLAVOR, TogetherProvider

from synaxis_core.testing import ProviderConformanceTests


class TestTogetherConformance(ProviderConformanceTests):
    provider_class = TogetherProvider
    flavor = TOGETHER_FLAVOR
    prices_in_listing = True
    sample_model = "openai/gpt-oss-120b"
