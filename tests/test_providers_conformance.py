"""The conformance kit run against the bare OpenAI-compatible base, on both transports, and
against a new vendor whose flavour of the fake upstream is defined by the test alone."""

from __future__ import annotations

from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.providers.discovery import as_int, looks_like_chat_model, per_million
from synaxis_core.testing import ErrorText, Flavor, ProviderConformanceTests
from synaxis_core.types import DiscoveredModel, ModelSpec


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


# --- a vendor the core has never heard of: its quirks live in its own flavour and provider


def _acme_entry(model_id: str, extras: dict) -> dict:
    cost = {"in": extras.pop("input_price", 0.0), "out": extras.pop("output_price", 0.0)}
    return {"id": model_id, "window": extras.pop("context_length", 8192), "cost": cost, **extras}


ROCKET_FLAVOR = Flavor(
    name="rocket",
    error_shape="problem",
    model_missing=ErrorText(message="Model {model} is retired", status=400),
    listing="array",
    model_entry=_acme_entry,
    finish_reason="end_turn",
    reasoning_field="thinking",
)


def _fix_finish(choices) -> None:
    for choice in choices or ():
        if choice.get("finish_reason") == "end_turn":
            choice["finish_reason"] = "stop"


class RocketProvider(OpenAICompatibleProvider):
    """Problem-JSON errors, "is retired" for a missing model, its own listing, ``end_turn``."""

    name = "rocket"
    default_base_url = "https://api.rocket.test/v1"
    api_key_env = "ROCKET_API_KEY"
    base_url_env = "ROCKET_BASE_URL"
    static_models = (ModelSpec(id="model-1-rocket", upstream_id="acme/model-1"),)
    model_missing_phrases = ("is retired",)

    def normalize_response(self, data):
        _fix_finish(data.get("choices"))
        return data

    def normalize_chunk(self, chunk):
        _fix_finish(chunk.get("choices"))
        return chunk

    def parse_model_entry(self, entry):
        cost = entry.get("cost") or {}
        return DiscoveredModel(
            upstream_id=entry["id"],
            context_window=as_int(entry.get("window")),
            input_price=per_million(cost.get("in")),
            output_price=per_million(cost.get("out")),
            chat=looks_like_chat_model(entry["id"]),
        )


class TestNewVendorWithItsOwnFlavor(ProviderConformanceTests):
    """The whole kit against a flavour and a provider defined here, none of it in the core."""

    provider_class = RocketProvider
    flavor = ROCKET_FLAVOR
    sample_model = "acme/model-1"
    prices_in_listing = True

    def test_the_fake_serves_only_this_flavor_besides_openai(self, fake):
        assert set(fake.flavors) == {"openai", "rocket"}
