"""The conformance kit run against the bare OpenAI-compatible base, on both transports."""

from __future__ import annotations

from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.testing import ProviderConformanceTests
from synaxis_core.types import ModelSpec


class AcmeProvider(OpenAICompatibleProvider):
    """An OpenAI-shaped provider with nothing overridden."""

    name = "acme"
    default_base_url = "https://api.acme.test/v1"
    api_key_env = "ACME_API_KEY"
    base_url_env = "ACME_BASE_URL"
    static_models = (ModelSpec(id="model-1-acme", upstream_id="acme/model-1"),)


class HttpxAcmeProvider(AcmeProvider):
    """The same on httpx's default transport instead of pyreqwest."""

    transport = "httpx"


class TestOpenAIConformancePyreqwest(ProviderConformanceTests):
    provider_class = AcmeProvider
    flavor = "openai"
    sample_model = "acme/model-1"


class TestOpenAIConformanceHttpx(ProviderConformanceTests):
    provider_class = HttpxAcmeProvider
    flavor = "openai"
    sample_model = "acme/model-1"


class TestConfigStyleProvider(ProviderConformanceTests):
    """A provider built like the config-file ones: base URL passed in, no variables."""

    provider_class = OpenAICompatibleProvider
    flavor = "openai"
    sample_model = "acme/model-1"

    def make_provider(self, settings, base_url):
        return OpenAICompatibleProvider(
            settings,
            name="local",
            base_url=base_url,
            api_key_env="LOCAL_KEY",
            models=[ModelSpec(id="model-1-local", upstream_id="acme/model-1")],
        )

    def key_variable(self):
        return "LOCAL_KEY"

    def test_static_catalog(self):
        """The bare base has no static catalog of its own."""
        assert OpenAICompatibleProvider.static_models == ()
