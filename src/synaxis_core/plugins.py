"""The plugin manager: installed plugins (entry-point group ``synaxis``) and built-ins.

Built-in behaviour lives in ``synaxis_core.default_plugins`` and is registered exactly
like an installed plugin. ``SYNAXIS_LOAD_PLUGINS`` selects installed plugins: unset =
all, empty = none, ``a,b`` = only the entry points named ``a`` and ``b``.

``collect_extensions`` calls each ``register_*`` hook once, validates what comes back
and returns it as ``Extensions``; a duplicate name is an error naming both plugins. How
the hooks are called (one implementation at a time, return values ignored, no hook
wrappers): see ``hookspecs``.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable

import pluggy

from synaxis_core import hookspecs
from synaxis_core.catalog.base import Catalog
from synaxis_core.errors import PluginError
from synaxis_core.fake.flavor import Flavor
from synaxis_core.postprocess.base import PostProcessor
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.routing.scoring import Scorer
from synaxis_core.runtime.observed import Observer
from synaxis_core.settings import Settings
from synaxis_core.types import ModelSpec

ENTRY_POINT_GROUP = "synaxis"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "synaxis_core.default_plugins.scorers",
    "synaxis_core.default_plugins.config_file",
)


def get_plugin_manager(
    load_plugins: str | None = None,
    *,
    installed: bool = True,
    extra: Iterable[object] = (),
) -> pluggy.PluginManager:
    """A new plugin manager with the built-ins, the selected installed plugins and ``extra``.

    :param load_plugins: the value of ``SYNAXIS_LOAD_PLUGINS`` (None: all installed).
    :param installed: False skips entry points entirely (tests that want only ``extra``).
    :param extra: plugin objects (modules or instances) to register as well.
    """
    pm = pluggy.PluginManager("synaxis")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        module = _import_default(name)
        if module is not None:
            pm.register(module, name=name)
    if installed:
        wanted = None if load_plugins is None else {n.strip() for n in load_plugins.split(",") if n.strip()}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if wanted is not None and ep.name not in wanted:
                continue
            if pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the gateway down silently
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
            pm.register(plugin, name=ep.name)
    for plugin in extra:
        pm.register(plugin, name=getattr(plugin, "__name__", None) or _plugin_name(plugin))
    pm.check_pending()
    return pm


def _import_default(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:  # not written yet in this checkout
            return None
        raise


def _plugin_name(plugin: object) -> str:
    return f"{type(plugin).__name__}-{id(plugin):x}"


def plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or _plugin_name(plugin)


@dataclass
class Extensions:
    """Everything the plugins contributed, validated."""

    providers: dict[str, OpenAICompatibleProvider] = field(default_factory=dict)
    catalogs: dict[str, Catalog] = field(default_factory=dict)
    postprocessors: list[PostProcessor] = field(default_factory=list)
    scorers: dict[str, Scorer] = field(default_factory=dict)
    fake_flavors: dict[str, Flavor] = field(default_factory=dict)
    """Flavour name (the provider it imitates) -> the fake upstream's ``Flavor``."""
    observers: dict[str, Observer] = field(default_factory=dict)
    """Observer name -> the ``Observer`` that gets every finished request's record."""
    models: dict[str, tuple[OpenAICompatibleProvider, ModelSpec]] = field(default_factory=dict)
    """Provider-model id -> (provider, spec), over every provider."""
    owners: dict[str, str] = field(default_factory=dict)
    """``"<kind>:<name>"`` -> the plugin that contributed it (for error messages)."""

    def claim(self, kind: str, name: str, plugin: str) -> None:
        """Record that ``plugin`` contributed the ``kind`` called ``name``; a missing
        name or one already taken is a ``PluginError`` (naming both plugins)."""
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered a {kind} without a name")
        key = f"{kind}:{name}"
        if key in self.owners:
            raise PluginError(f"{kind} {name!r} is registered by two plugins: {self.owners[key]!r} and {plugin!r}")
        self.owners[key] = plugin

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()


def _add_provider(ext: Extensions, provider: Any, plugin: str) -> None:
    if not isinstance(provider, OpenAICompatibleProvider):
        raise PluginError(f"plugin {plugin!r} registered {provider!r}, which is not a Provider")
    ext.claim("provider", provider.name, plugin)
    ext.providers[provider.name] = provider
    for spec in provider.models:
        if not isinstance(spec, ModelSpec):
            raise PluginError(f"plugin {plugin!r}: provider {provider.name!r} lists {spec!r}, not a ModelSpec")
        ext.claim("model", spec.id, plugin)
        ext.models[spec.id] = (provider, spec)


def _add_catalog(ext: Extensions, catalog: Any, plugin: str) -> None:
    if not isinstance(catalog, Catalog):
        raise PluginError(f"plugin {plugin!r} registered {catalog!r}, which is not a Catalog")
    ext.claim("catalog", catalog.name, plugin)
    ext.catalogs[catalog.name] = catalog


def _add_postprocessor(ext: Extensions, postprocessor: Any, plugin: str) -> None:
    if not isinstance(postprocessor, PostProcessor):
        raise PluginError(f"plugin {plugin!r} registered {postprocessor!r}, which is not a PostProcessor")
    scope = getattr(postprocessor, "provider", None)
    if scope is not None and (not isinstance(scope, str) or not scope):
        raise PluginError(
            f"plugin {plugin!r}: post-processor {postprocessor.name!r} has provider {scope!r}, not a name"
        )
    ext.claim("postprocessor", postprocessor.name, plugin)
    ext.postprocessors.append(postprocessor)


def _add_scorer(ext: Extensions, scorer: Any, plugin: str) -> None:
    if not isinstance(scorer, Scorer):
        raise PluginError(f"plugin {plugin!r} registered {scorer!r}, which is not a Scorer")
    ext.claim("scorer", scorer.name, plugin)
    ext.scorers[scorer.name] = scorer


def _add_fake_flavor(ext: Extensions, flavor: Any, plugin: str) -> None:
    if not isinstance(flavor, Flavor):
        raise PluginError(f"plugin {plugin!r} registered {flavor!r}, which is not a fake-upstream Flavor")
    ext.claim("fake flavor", flavor.name, plugin)
    ext.fake_flavors[flavor.name] = flavor


def _add_observer(ext: Extensions, observer: Any, plugin: str) -> None:
    if not isinstance(observer, Observer):
        raise PluginError(f"plugin {plugin!r} registered {observer!r}, which is not an Observer (a name and an observe)")
    if not inspect.iscoroutinefunction(observer.observe):
        raise PluginError(f"plugin {plugin!r}: observer {observer.name!r} needs an `async def observe(records)`")
    ext.claim("observer", observer.name, plugin)
    ext.observers[observer.name] = observer


_HOOKS: tuple[tuple[str, Callable[[Extensions, Any, str], None]], ...] = (
    ("register_providers", _add_provider),
    ("register_catalogs", _add_catalog),
    ("register_postprocessors", _add_postprocessor),
    ("register_scorers", _add_scorer),
    ("register_fake_flavors", _add_fake_flavor),
    ("register_observers", _add_observer),
)


def collect_extensions(pm: pluggy.PluginManager, settings: Settings) -> Extensions:
    """Call every ``register_*`` hook once and validate the contributions."""
    ext = Extensions()
    for hook_name, add in _HOOKS:
        _call_each(pm, hook_name, partial(add, ext), settings)
    ext.postprocessors.sort(key=lambda p: (p.order, p.name))
    return ext


def installed_fake_flavors() -> dict[str, Flavor]:
    """The fake-upstream flavours of every installed plugin (``SYNAXIS_LOAD_PLUGINS``
    is not consulted: a fake imitates every vendor it knows), validated like
    ``collect_extensions`` does; only ``register_fake_flavors`` is called."""
    ext = Extensions()
    add = partial(_add_fake_flavor, ext)
    _call_each(get_plugin_manager(None), "register_fake_flavors", add, Settings.from_env({}))
    return ext.fake_flavors


def _call_each(
    pm: pluggy.PluginManager, hook_name: str, add: Callable[[Any, str], None], settings: Settings
) -> None:
    """Call one hook implementation at a time, so each contribution knows its plugin."""
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):  # pluggy's own call order
        plugin = impl.plugin_name
        kwargs = {"register": lambda obj, _p=plugin: add(obj, _p), "settings": settings}
        impl.function(**{name: kwargs[name] for name in impl.argnames})


def load_extensions(settings: Settings, *, extra: Iterable[object] = ()) -> Extensions:
    """The usual way in: a plugin manager from settings, then its contributions."""
    return collect_extensions(get_plugin_manager(settings.load_plugins, extra=extra), settings)
