"""The standard provider tests (``synaxis_core.testing.ProviderConformanceTests``) for SyntheticProvider."""

from synaxis_synthetic import SYNTHETIC_FLAVOR, SyntheticProvider

from synaxis_core.testing import ProviderConformanceTests


class TestSyntheticConformance(ProviderConformanceTests):
    provider_class = SyntheticProvider
    flavor = SYNTHETIC_FLAVOR
    prices_in_listing = True
    sample_model = "hf:openai/gpt-oss-120b"
