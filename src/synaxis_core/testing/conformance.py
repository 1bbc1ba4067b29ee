"""``ProviderConformanceTests``: the standard tests every provider plugin inherits.

A plugin's test module subclasses it and fills in three attributes::

    from synaxis_core.testing import ProviderConformanceTests
    from synaxis_acme import ACME_FLAVOR, AcmeProvider

    class TestAcmeConformance(ProviderConformanceTests):
        provider_class = AcmeProvider
        flavor = ACME_FLAVOR         # the wire format it speaks: a Flavor, or "openai"
        sample_model = "acme/model-1"  # an upstream id from its static catalog
        prices_in_listing = True     # when the vendor's /models carries prices

The kit runs a ``FakeUpstream`` (background thread, 127.0.0.1) that serves the flavour,
points the provider at it with ``Settings.from_env`` (key and base-URL variables;
``os.environ`` is untouched)
and checks the static catalog, missing key, base-URL override, ``/models`` parsing,
chat, streaming and the error mapping. Override ``make_provider`` (and
``key_variable``) for a provider whose base URL or key variable is not a class attribute.
"""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator, ClassVar, Iterator

import pytest
from tenacity import wait_none

from synaxis_core.errors import (
    ModelUnavailable,
    ProviderAuthError,
    RateLimited,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from synaxis_core.fake.behavior import DEFAULT_ANSWER, Behavior
from synaxis_core.fake.flavor import Flavor
from synaxis_core.fake.upstream import FakeUpstream
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.settings import Settings
from synaxis_core.types import ModelSpec

OPENAI_FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter", "function_call"}
NON_CHAT_ID = "acme-ai/acme-embed-text-v1"


class ProviderConformanceTests:
    """Inherit, set ``provider_class``, ``flavor`` and ``sample_model``; get the tests."""

    provider_class: ClassVar[type[OpenAICompatibleProvider]]
    flavor: ClassVar[str | Flavor] = "openai"
    """The fake upstream's wire format: a ``Flavor`` (the plugin's own), or the name of
    one the fake knows (``openai``, or an installed plugin's)."""
    sample_model: ClassVar[str]
    """An upstream model id to call (from the static catalog when there is one)."""
    api_key: ClassVar[str] = "conformance-test-key"
    prices_in_listing: ClassVar[bool] = False
    """Whether ``/models`` carries prices and context sizes (checked by ``test_discover``)."""

    # --- fixtures and helpers ---------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def fake_upstream(cls) -> Iterator[FakeUpstream]:
        """One fake upstream per test class, requiring ``api_key``, serving ``flavor``."""
        flavors = [cls.flavor] if isinstance(cls.flavor, Flavor) else None
        with FakeUpstream(api_key=cls.api_key, flavors=flavors) as fake:
            yield fake

    @property
    def flavor_name(self) -> str:
        """The name of ``flavor`` (the path segment of the fake's base URL)."""
        return self.flavor.name if isinstance(self.flavor, Flavor) else self.flavor

    @pytest.fixture
    def fake(self, fake_upstream: FakeUpstream) -> FakeUpstream:
        """The class's fake upstream, reset, listing ``sample_model`` and a non-chat model."""
        fake_upstream.reset()
        name = self.flavor_name
        fake_upstream.add_model(name, self.sample_model, context_length=65536, input_price=0.5, output_price=1.5)
        fake_upstream.add_model(name, NON_CHAT_ID, type="embedding")
        return fake_upstream

    def key_variable(self) -> str | None:
        """The variable holding the provider's key (None: it needs none)."""
        return self.provider_class.api_key_env

    def environ(self, fake: FakeUpstream, *, key: str | None = None) -> dict[str, str]:
        """The variables that point the provider at the fake (``key=""``: no key)."""
        env = {"SYNAXIS_UPSTREAM_RETRIES": "2"}
        if self.provider_class.base_url_env:
            env[self.provider_class.base_url_env] = fake.base_url(self.flavor_name)
        variable = self.key_variable()
        if variable and key != "":
            env[variable] = key or self.api_key
        return env

    def make_provider(self, settings: Settings, base_url: str) -> OpenAICompatibleProvider:
        """Build the provider under test (override when the base URL is not a variable)."""
        if self.provider_class.base_url_env:
            return self.provider_class(settings)
        return self.provider_class(settings, base_url=base_url)

    @contextlib.asynccontextmanager
    async def provider(self, fake: FakeUpstream, **environ_kw: Any) -> AsyncIterator[OpenAICompatibleProvider]:
        """A provider pointed at ``fake`` with zero retry wait, closed afterwards."""
        settings = Settings.from_env(self.environ(fake, **environ_kw))
        provider = self.make_provider(settings, fake.base_url(self.flavor_name))
        provider.retry_wait = wait_none()
        try:
            yield provider
        finally:
            await provider.aclose()

    def body(self, **extra: Any) -> dict[str, Any]:
        """A chat body for ``sample_model``."""
        return {"model": self.sample_model, "messages": [{"role": "user", "content": "Predict the match."}], **extra}

    async def failure(
        self, fake: FakeUpstream, behavior: Any, *, stream: bool = False, key: str | None = None
    ) -> UpstreamError:
        """The error a call raises while the fake answers with ``behavior``."""
        fake.set(self.sample_model, behavior)
        async with self.provider(fake, key=key) as provider:
            with pytest.raises(UpstreamError) as info:
                if stream:
                    async for _ in provider.stream(self.body(), timeout=10):
                        pass
                else:
                    await provider.chat(self.body(), timeout=10)
        return info.value

    # --- catalog and configuration ----------------------------------------------------

    def test_static_catalog(self) -> None:
        cls = self.provider_class
        assert cls.name and cls.default_base_url.startswith(("http://", "https://"))
        specs = list(cls.static_models)
        assert all(isinstance(spec, ModelSpec) for spec in specs)
        assert len({spec.id for spec in specs}) == len(specs), "provider-model ids must be unique"
        assert all(spec.upstream_id for spec in specs)
        if specs:
            assert self.sample_model in {spec.upstream_id for spec in specs}

    def test_missing_key_names_the_variable(self, fake: FakeUpstream) -> None:
        variable = self.key_variable()
        if not variable:
            pytest.skip("this provider needs no key")
        settings = Settings.from_env(self.environ(fake, key=""))
        provider = self.make_provider(settings, fake.base_url(self.flavor_name))
        assert provider.missing_key == variable
        assert provider.api_key is None
        with_key = self.make_provider(Settings.from_env(self.environ(fake)), fake.base_url(self.flavor_name))
        assert with_key.missing_key is None

    @pytest.mark.asyncio
    async def test_missing_key_fails_without_calling(self, fake: FakeUpstream) -> None:
        variable = self.key_variable()
        if not variable:
            pytest.skip("this provider needs no key")
        async with self.provider(fake, key="") as provider:
            with pytest.raises(ProviderAuthError, match=variable):
                await provider.chat(self.body())
        assert fake.calls[self.sample_model] == 0

    def test_base_url_override(self, fake: FakeUpstream) -> None:
        cls = self.provider_class
        if not cls.base_url_env:
            pytest.skip("the base URL is not set by a variable")
        default = self.make_provider(Settings.from_env({}), cls.default_base_url)
        assert default.base_url == cls.default_base_url.rstrip("/")
        overridden = self.make_provider(Settings.from_env(self.environ(fake)), "")
        assert overridden.base_url == fake.base_url(self.flavor_name)

    # --- discovery --------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_discover(self, fake: FakeUpstream) -> None:
        async with self.provider(fake) as provider:
            models = {m.upstream_id: m for m in await provider.discover()}
        assert self.sample_model in models
        assert NON_CHAT_ID not in models, "non-chat models must be dropped"
        assert all(m.chat for m in models.values())
        sample = models[self.sample_model]
        if self.prices_in_listing:
            assert sample.input_price == pytest.approx(0.5)
            assert sample.output_price == pytest.approx(1.5)
            assert sample.context_window == 65536

    @pytest.mark.asyncio
    async def test_discover_without_key_when_not_needed(self, fake: FakeUpstream) -> None:
        if self.provider_class.discovery_needs_key or not self.key_variable():
            pytest.skip("this provider's /models needs its key")
        async with self.provider(fake, key="") as provider:
            assert self.sample_model in {m.upstream_id for m in await provider.discover()}

    @pytest.mark.asyncio
    @pytest.mark.parametrize("mode", ["garbage", "invalid_json"])
    async def test_discover_refuses_unreadable_listing(self, fake: FakeUpstream, mode: str) -> None:
        fake.set_models_behavior(self.flavor_name, mode)
        async with self.provider(fake) as provider:
            with pytest.raises(UpstreamProtocolError):
                await provider.discover()

    @pytest.mark.asyncio
    async def test_discover_error(self, fake: FakeUpstream) -> None:
        fake.set_models_behavior(self.flavor_name, "error")
        async with self.provider(fake) as provider:
            with pytest.raises(UpstreamError) as info:
                await provider.discover()
        assert info.value.upstream_status == 500

    # --- chat and stream ----------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_chat(self, fake: FakeUpstream) -> None:
        body = self.body(temperature=0.2, top_k=5, vendor_extra={"keep": [1, 2]})
        async with self.provider(fake) as provider:
            response = await provider.chat(body, timeout=10)
        choice = response["choices"][0]
        assert choice["message"]["content"] == DEFAULT_ANSWER
        assert choice["finish_reason"] in OPENAI_FINISH_REASONS
        assert response["usage"]["total_tokens"] > 0
        sent = fake.requests[-1]
        assert sent.body == body, "every field must pass through untouched"
        assert sent.headers["authorization"] == f"Bearer {self.api_key}"

    @pytest.mark.asyncio
    @pytest.mark.parametrize("include_usage", [False, True])
    async def test_stream(self, fake: FakeUpstream, include_usage: bool) -> None:
        extra = {"stream_options": {"include_usage": True}} if include_usage else {}
        async with self.provider(fake) as provider:
            chunks = [chunk async for chunk in provider.stream(self.body(**extra), timeout=10)]
        assert all(c.get("object") == "chat.completion.chunk" for c in chunks)
        text = "".join(
            choice["delta"].get("content") or "" for c in chunks for choice in c["choices"]
        )
        assert text == DEFAULT_ANSWER
        finishes = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch.get("finish_reason")]
        assert finishes and set(finishes) <= OPENAI_FINISH_REASONS
        assert fake.requests[-1].body["stream"] is True
        if include_usage:
            assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0

    @pytest.mark.asyncio
    async def test_transient_503_is_retried(self, fake: FakeUpstream) -> None:
        fake.set(self.sample_model, [Behavior(kind="error", status=503), Behavior()])
        async with self.provider(fake) as provider:
            response = await provider.chat(self.body(), timeout=10)
        assert response["choices"][0]["message"]["content"] == DEFAULT_ANSWER
        assert fake.calls[self.sample_model] == 2

    # --- error mapping --------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_rate_limit_carries_retry_after(self, fake: FakeUpstream) -> None:
        error = await self.failure(fake, Behavior(kind="rate_limit", retry_after="30"))
        assert isinstance(error, RateLimited) and error.retry_after == 30
        assert fake.calls[self.sample_model] == 1, "a 429 is not retried in place"

    @pytest.mark.asyncio
    async def test_server_error_is_retryable(self, fake: FakeUpstream) -> None:
        error = await self.failure(fake, Behavior(kind="error", status=500))
        assert type(error) is UpstreamError and error.retryable and error.upstream_status == 500

    @pytest.mark.asyncio
    async def test_bad_key_is_a_provider_failure(self, fake: FakeUpstream) -> None:
        if not self.key_variable():
            pytest.skip("this provider sends no key")
        error = await self.failure(fake, Behavior(), key="wrong-key-123456")
        assert isinstance(error, ProviderAuthError) and error.scope == "provider"
        assert "wrong-key-123456" not in str(error)

    @pytest.mark.asyncio
    async def test_unavailable_model_is_a_model_failure(self, fake: FakeUpstream) -> None:
        error = await self.failure(fake, Behavior(kind="model_not_available"))
        assert isinstance(error, ModelUnavailable) and error.scope == "model"
        error = await self.failure(fake, Behavior(kind="model_not_available", status=404))
        assert isinstance(error, ModelUnavailable)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("stream", [False, True])
    async def test_invalid_json(self, fake: FakeUpstream, stream: bool) -> None:
        error = await self.failure(fake, Behavior(kind="invalid_json"), stream=stream)
        assert isinstance(error, UpstreamProtocolError)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("kind", ["cut", "no_done"])
    async def test_unfinished_stream(self, fake: FakeUpstream, kind: str) -> None:
        error = await self.failure(fake, Behavior(kind=kind), stream=True)
        assert isinstance(error, UpstreamProtocolError), repr(error)

    @pytest.mark.asyncio
    async def test_error_event_in_stream(self, fake: FakeUpstream) -> None:
        error = await self.failure(fake, Behavior(kind="stream_error", content="boom"), stream=True)
        assert isinstance(error, UpstreamError) and "boom" in error.message

    @pytest.mark.asyncio
    async def test_stall_times_out(self, fake: FakeUpstream) -> None:
        fake.set(self.sample_model, Behavior(kind="stall", delay_s=5))
        async with self.provider(fake) as provider:
            with pytest.raises(UpstreamTimeout):
                await provider.chat(self.body(), timeout=0.3)
            with pytest.raises(UpstreamTimeout):
                async for _ in provider.stream(self.body(), timeout=0.3):
                    pass

    @pytest.mark.asyncio
    async def test_reset_is_a_connection_error(self, fake: FakeUpstream) -> None:
        error = await self.failure(fake, Behavior(kind="reset"))
        assert isinstance(error, UpstreamConnectionError) and error.retryable
        assert fake.calls[self.sample_model] == 3, "connection failures are retried quickly"
