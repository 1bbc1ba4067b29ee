"""Demo mode: every provider answers from the fake upstream, in its plugin's flavour."""

from __future__ import annotations

import httpx

from synaxis_core import hookimpl
from synaxis_core.fake import Flavor
from synaxis_core.plugins import collect_extensions, get_plugin_manager
from synaxis_core.runtime.demo import DEMO_KEY_VALUE, start_fake_upstream, wants_demo
from synaxis_core.testing.plugin_manager import make_provider, make_settings
from synaxis_core.types import ModelSpec

ACME = Flavor(name="acme", error_shape="flat", listing="array")


class AcmePlugin:
    """Two providers: ``acme`` brings its flavour, ``plain`` does not."""

    @hookimpl
    def register_providers(self, register, settings):
        for name in ("acme", "plain"):
            spec = ModelSpec(id=f"m-{name}", upstream_id=f"org/{name}-model", reasoning=name == "plain")
            provider = make_provider(settings, name, [spec], api_key_env=f"{name.upper()}_KEY")
            provider.base_url_env = f"{name.upper()}_BASE_URL"
            register(provider)

    @hookimpl
    def register_fake_flavors(self, register, settings):
        register(ACME)


async def test_demo_points_each_provider_at_its_flavour_else_openai():
    settings = make_settings()
    ext = collect_extensions(get_plugin_manager("", extra=[AcmePlugin()]), settings)
    assert wants_demo(settings, ext)
    fake, effective = await start_fake_upstream(settings, ext)
    try:
        assert set(fake.flavors) == {"openai", "acme"}
        assert effective.env("ACME_BASE_URL") == fake.base_url("acme")
        assert effective.env("PLAIN_BASE_URL") == fake.base_url("openai")
        assert effective.env("ACME_KEY") == effective.env("PLAIN_KEY") == DEMO_KEY_VALUE
        assert effective.demo is True
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {DEMO_KEY_VALUE}"}) as http:
            listed = (await http.get(fake.base_url("acme") + "/models")).json()
            plain = (await http.get(fake.base_url("openai") + "/models")).json()
            body = {"model": "org/plain-model", "messages": [{"role": "user", "content": "hi"}]}
            answer = (await http.post(fake.base_url("openai") + "/chat/completions", json=body)).json()
    finally:
        await fake.astop()
    assert [entry["id"] for entry in listed] == ["org/acme-model"]  # acme's bare-array listing
    assert [entry["id"] for entry in plain["data"]] == ["org/plain-model"]
    assert answer["choices"][0]["message"]["content"].startswith("<think>")  # reasoning made visible
