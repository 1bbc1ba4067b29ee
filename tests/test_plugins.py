"""The plugin manager: loading, selection, validation of contributions."""

from __future__ import annotations

import pytest

from synaxis_core import hookimpl
from synaxis_core.errors import PluginError
from synaxis_core.plugins import get_plugin_manager, load_extensions
from synaxis_core.testing.plugin_manager import make_extensions, make_provider, make_settings
from synaxis_core.types import ModelSpec

INSTALLED = {"synthetic", "together", "nvidia", "modelsdev", "jsonl"}


def installed_names(pm) -> set[str]:
    return {name for name, _ in pm.list_name_plugin() if "." not in name}


def test_all_installed_plugins_load_when_unset():
    assert installed_names(get_plugin_manager(None)) == INSTALLED


def test_empty_load_plugins_loads_none_but_keeps_builtins():
    pm = get_plugin_manager("")
    assert installed_names(pm) == set()
    assert all(name.startswith("synaxis_core.default_plugins.") for name, _ in pm.list_name_plugin())


def test_load_plugins_selects_by_entry_point_name():
    assert installed_names(get_plugin_manager("synthetic, modelsdev")) == {"synthetic", "modelsdev"}


def test_misspelled_hook_implementation_fails_loudly():
    class Typo:
        @hookimpl
        def register_provider(self, register, settings):  # missing "s"
            pass

    with pytest.raises(Exception, match="register_provider"):
        get_plugin_manager(None, installed=False, extra=[Typo()])


def _provider_plugin(provider_name: str, *model_ids: str):
    class Plugin:
        @hookimpl
        def register_providers(self, register, settings):
            register(
                make_provider(settings, provider_name, [ModelSpec(id=m, upstream_id=m) for m in model_ids])
            )

    Plugin.__name__ = f"{provider_name}_plugin"
    return Plugin()


def test_register_providers_collects_providers_and_their_models():
    ext = make_extensions(_provider_plugin("acme", "a-1", "a-2"), _provider_plugin("zeta", "z-1"))
    assert set(ext.providers) == {"acme", "zeta"}
    assert set(ext.models) == {"a-1", "a-2", "z-1"}
    assert ext.models["z-1"][0].name == "zeta"


def test_register_providers_rejects_a_duplicate_model_id_naming_both_plugins():
    with pytest.raises(PluginError) as err:
        make_extensions(_provider_plugin("acme", "same-id"), _provider_plugin("zeta", "same-id"))
    message = str(err.value)
    assert "same-id" in message and "acme_plugin" in message and "zeta_plugin" in message


def test_register_providers_rejects_a_duplicate_provider_name():
    with pytest.raises(PluginError, match="provider 'acme' is registered by two plugins"):
        make_extensions(_provider_plugin("acme", "x"), _provider_plugin("acme", "y"))


def test_register_providers_rejects_an_object_that_is_not_a_provider():
    class Bad:
        @hookimpl
        def register_providers(self, register, settings):
            register("not a provider")

    with pytest.raises(PluginError, match="not a Provider"):
        make_extensions(Bad())


def test_register_catalogs_collects_catalogs_and_rejects_duplicates():
    class Cat:
        name = "cat"

        async def fetch(self, client, state):  # pragma: no cover - not called here
            raise NotImplementedError

    class Plugin:
        @hookimpl
        def register_catalogs(self, register, settings):
            register(Cat())

    assert list(make_extensions(Plugin()).catalogs) == ["cat"]
    with pytest.raises(PluginError, match="catalog 'cat'"):
        make_extensions(Plugin(), type("Other", (Plugin,), {})())


def test_register_postprocessors_orders_by_order_then_name():
    def pp(name: str, order: int):
        return type(
            "PP",
            (),
            {
                "name": name,
                "order": order,
                "applies_to": lambda self, spec: True,
                "process_message": lambda self, message, context: message,
                "stream_state": lambda self, context: None,
            },
        )()

    class Plugin:
        @hookimpl
        def register_postprocessors(self, register, settings):
            register(pp("late", 50))
            register(pp("b-early", 5))
            register(pp("a-early", 5))

    assert [p.name for p in make_extensions(Plugin()).postprocessors] == ["a-early", "b-early", "late"]


def test_register_scorers_collects_scorers_and_rejects_non_scorers():
    class Prefer:
        name = "prefer-free"
        weight = 5.0

        def score(self, request, candidate):
            return 1.0

    class Plugin:
        @hookimpl
        def register_scorers(self, register, settings):
            register(Prefer())

    assert "prefer-free" in make_extensions(Plugin()).scorers

    class Bad:
        @hookimpl
        def register_scorers(self, register, settings):
            register(object())

    with pytest.raises(PluginError, match="not a Scorer"):
        make_extensions(Bad())


def test_register_postprocessors_rejects_a_provider_scope_that_is_not_a_name():
    from synaxis_core.postprocess.think import ThinkTagStripper

    class Plugin:
        @hookimpl
        def register_postprocessors(self, register, settings):
            register(ThinkTagStripper("scoped", applies=lambda spec: True, provider=""))

    with pytest.raises(PluginError, match="'scoped' has provider ''"):
        make_extensions(Plugin())


def _flavor_plugin(plugin_name: str, *flavors):
    class Plugin:
        @hookimpl
        def register_fake_flavors(self, register, settings):
            for flavor in flavors:
                register(flavor)

    Plugin.__name__ = plugin_name
    return Plugin()


def test_register_fake_flavors_collects_flavors_by_name():
    from synaxis_core.fake import Flavor

    acme, zeta = Flavor(name="acme", error_shape="flat"), Flavor(name="zeta")
    ext = make_extensions(_flavor_plugin("acme_plugin", acme), _flavor_plugin("zeta_plugin", zeta))
    assert ext.fake_flavors == {"acme": acme, "zeta": zeta}
    assert ext.owners["fake flavor:acme"].startswith("acme_plugin")


def test_register_fake_flavors_rejects_duplicates_naming_both_plugins_and_non_flavors():
    from synaxis_core.fake import Flavor

    with pytest.raises(PluginError) as err:
        make_extensions(_flavor_plugin("one", Flavor(name="acme")), _flavor_plugin("two", Flavor(name="acme")))
    assert "fake flavor 'acme' is registered by two plugins" in str(err.value)
    assert "'one-" in str(err.value) and "'two-" in str(err.value)
    with pytest.raises(PluginError, match="not a fake-upstream Flavor"):
        make_extensions(_flavor_plugin("bad", {"name": "acme"}))


def test_register_fake_flavors_of_the_installed_plugins_name_their_providers():
    ext = load_extensions(make_settings())
    assert ext.fake_flavors and set(ext.fake_flavors) <= set(ext.providers)
    for name in ext.fake_flavors:
        assert ext.owners[f"fake flavor:{name}"] == ext.owners[f"provider:{name}"]


def test_load_extensions_with_installed_plugins_has_no_duplicates():
    ext = load_extensions(make_settings())
    assert len(ext.owners) == len(set(ext.owners))
