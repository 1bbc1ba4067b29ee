"""The hook specifications of Synaxis, and nothing else.

Every ``register_*`` hook receives a ``register`` callable and the ``Settings``; a
plugin calls ``register(obj)`` once per object it contributes. How the core calls them,
for every hook:

- Once, at start-up: ``plugins.collect_extensions`` calls every hook, in the order of
  this module, validates every object, and rejects duplicate names naming both plugins.
- The return value is ignored: only the objects passed to ``register`` count.
- Each implementation is called on its own by ``plugins._call_each``, in pluggy's order
  (``tryfirst``/``trylast`` honoured; otherwise the last registered first, the built-ins
  last), so that each object is known to come from its plugin. ``hookwrapper``/``wrapper``
  implementations and ``firstresult`` do not apply: a wrapper's body never runs.
- An implementation may take only ``register`` (or ``register`` and ``settings``, in
  any order).
- An exception raised by an implementation, or a validation failure (``PluginError``),
  stops start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    from synaxis_core.catalog.base import Catalog
    from synaxis_core.fake.flavor import Flavor
    from synaxis_core.postprocess.base import PostProcessor
    from synaxis_core.providers.base import Provider
    from synaxis_core.routing.scoring import Scorer
    from synaxis_core.runtime.observers import Observer
    from synaxis_core.settings import Settings

hookspec = pluggy.HookspecMarker("synaxis")
hookimpl = pluggy.HookimplMarker("synaxis")


@hookspec
def register_providers(register: Callable[[Provider], None], settings: Settings) -> None:
    """Contribute provider deployments: the upstreams Synaxis can call.

    :param register: call ``register(provider)`` once per ``Provider`` (usually an
        ``OpenAICompatibleProvider`` subclass instance) with its name, base URL,
        API-key variable and static model catalog (``ModelSpec``s).
    :param settings: the gateway's settings.

    The core collects every provider from every plugin. Provider names and
    provider-model ids must be unique across all plugins: a duplicate is an error
    that names both plugins. The start-up sync writes the models to
    ``provider_models``.
    """


@hookspec
def register_catalogs(register: Callable[[Catalog], None], settings: Settings) -> None:
    """Contribute model-metadata sources (prices, context windows, capabilities).

    :param register: call ``register(catalog)`` once per ``Catalog``.
    :param settings: the gateway's settings.

    ``synaxis sync catalog`` fetches every catalog and upserts ``global_models`` and
    the provider models' prices. Catalog names must be unique.
    """


@hookspec
def register_postprocessors(register: Callable[[PostProcessor], None], settings: Settings) -> None:
    """Contribute output transformers (reasoning-tag stripping, language monitoring).

    :param register: call ``register(postprocessor)`` once per ``PostProcessor``.
    :param settings: the gateway's settings.

    For each response the core applies, in ascending ``order``, every post-processor
    whose ``applies_to(model)`` is true: to the whole message when not streaming, and
    to each delta (with per-stream state and a final ``flush()``) when streaming. A
    post-processor whose ``provider`` attribute names a provider applies only to that
    provider's deployments (no attribute, or None: to every provider's).
    Post-processor names must be unique.
    """


@hookspec
def register_scorers(register: Callable[[Scorer], None], settings: Settings) -> None:
    """Contribute routing scorers.

    :param register: call ``register(scorer)`` once per ``Scorer``: a ``name``, a
        default ``weight`` and a pure ``score(request, candidate) -> float`` in
        ``[0, 1]`` where higher is better.
    :param settings: the gateway's settings (``scorer_weights`` overrides weights).

    The router ranks candidates by the weighted sum of all scores, ties broken by
    deployment id. Scorer names must be unique.
    """


@hookspec
def register_fake_flavors(register: Callable[[Flavor], None], settings: Settings) -> None:
    """Contribute the fake upstream's imitation of a vendor's wire format.

    :param register: call ``register(flavor)`` once per ``synaxis_core.fake.Flavor``,
        named after the provider it imitates: its error bodies, ``/models`` listing,
        finish reason, reasoning field, model-id rules and extra routes.
    :param settings: the gateway's settings.

    ``FakeUpstream`` serves each flavour under ``/{name}/v1`` (``openai`` is built
    in): demo mode points a provider at the flavour of its name (else ``openai``), and
    ``ProviderConformanceTests`` runs a provider against its flavour. Flavour names
    must be unique. ``FakeUpstream`` also calls it for every installed plugin, whatever
    ``SYNAXIS_LOAD_PLUGINS`` says, with settings from an empty environment: a flavour
    must not depend on settings.
    """


@hookspec
def register_observers(register: Callable[[Observer], None], settings: Settings) -> None:
    """Contribute observers: sinks that receive every finished request's record, off the request path.

    :param register: call ``register(observer)`` once per ``Observer``: a ``name``, an
        ``async observe(records)`` taking a list of ``ObservedRequest`` and, optionally,
        an ``async aclose()``.
    :param settings: the gateway's settings (``observe_bodies`` says whether records
        carry the request and response bodies).

    The gateway gives each observer its own bounded queue: every request's record (its
    ledger row, and its bodies when ``SYNAXIS_OBSERVE_BODIES`` allows) is queued without
    waiting, and a background task calls ``observe`` with batches of up to
    ``SYNAXIS_OBSERVE_BATCH_SIZE`` records (or what waits after
    ``SYNAXIS_OBSERVE_FLUSH_INTERVAL_S``), one call at a time, each within
    ``SYNAXIS_OBSERVE_TIMEOUT_S``. A call that raises or times out is logged and counted
    (``synaxis_observer_failures_total``) and its batch dropped; a full queue drops its oldest
    records (counted): an observer never delays or fails a request. At shutdown what is
    queued is delivered, then ``aclose`` is called. Observer names must be unique.
    """
