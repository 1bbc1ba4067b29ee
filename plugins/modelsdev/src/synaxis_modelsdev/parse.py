"""Parse the models.dev ``api.json`` into ``CatalogData``.

The document is an object keyed by provider id; each provider has a ``models`` object
keyed by model id (required and optional fields: the Structs below). Validation is per
entry:

- the top level must be a JSON object, else ``CatalogFormatError``;
- top-level keys starting with ``_`` are metadata (the bundled snapshot's ``_meta``),
  not providers, and are ignored;
- a provider that fails validation counts as one skipped entry, a model that fails
  validation (or repeats a model id already seen under the same provider) counts as one
  skipped entry; neither is fatal;
- unknown fields are ignored everywhere, so new optional fields do not break parsing.

**Provider prices.** One ``ProviderPrice`` per (provider key, model ``id``) with that
provider's own cost and limits. A limit of 0 (image and speech models) becomes None.

**Global models.** Entries are grouped by ``normalize_model_id(model id)``; each group
becomes one ``GlobalModelInfo``:

- *primary entry* (name, family, context window, max output, capabilities): the first by
  status (none, then any other such as ``beta``, then ``deprecated``), then most complete
  (most optional fields set, positive limits), then most recent ``last_updated``, then
  provider id, then model id;
- *global price* (input, output, cache read, cache write): taken whole from one entry,
  never mixed: among the entries that charge (input or output price above 0, which
  leaves out free tiers such as NVIDIA's), the lower median by (input, output,
  provider, model id); when no entry charges, the primary entry's cost (0 when free
  everywhere, None when no entry has a cost);
- ``capabilities["status"]`` (``deprecated``, ``beta``) is the primary entry's, so a
  global model is deprecated only when every provider lists it as deprecated, and has
  no status as soon as one provider lists it without one;
  ``capabilities["offered_by"]`` lists the catalog providers that carry it;
  ``capabilities["kind"]`` is ``embedding`` for a text-embedding model (by its id:
  models.dev marks them no other way), absent for the rest.

Models are returned sorted by id and prices by (provider, model id): the same document
always gives the same ``CatalogData``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec

from synaxis_core.catalog.normalize import normalize_model_id
from synaxis_core.providers.discovery import looks_like_embedding_model
from synaxis_core.types import CatalogData, GlobalModelInfo, ProviderPrice

log = logging.getLogger(__name__)

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
NonNegFloat = Annotated[float, msgspec.Meta(ge=0)]
NonEmptyStr = Annotated[str, msgspec.Meta(min_length=1, pattern=r"\S")]


class CatalogFormatError(ValueError):
    """The document is not a models.dev catalog at all (not JSON, not an object)."""


class Modalities(msgspec.Struct, frozen=True):
    input: list[str]
    output: list[str]


class Limit(msgspec.Struct, frozen=True):
    context: NonNegInt
    output: NonNegInt
    input: NonNegInt | None = None


class Cost(msgspec.Struct, frozen=True):
    """USD per million tokens."""

    input: NonNegFloat
    output: NonNegFloat
    reasoning: NonNegFloat | None = None
    cache_read: NonNegFloat | None = None
    cache_write: NonNegFloat | None = None
    input_audio: NonNegFloat | None = None
    output_audio: NonNegFloat | None = None
    context_over_200k: Any = None
    tiers: Any = None


class ModelEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One model under one provider."""

    id: NonEmptyStr
    name: str
    attachment: bool
    reasoning: bool
    tool_call: bool
    release_date: str
    last_updated: str
    modalities: Modalities
    open_weights: bool
    limit: Limit
    family: str | None = None
    reasoning_options: Any = None
    interleaved: Any = None
    structured_output: bool | None = None
    temperature: bool | None = None
    knowledge: str | None = None
    status: str | None = None
    experimental: Any = None
    provider: Any = None
    cost: Cost | None = None


class ProviderEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One provider; its models stay raw so that one bad model does not sink the rest."""

    id: NonEmptyStr
    name: str
    models: dict[str, msgspec.Raw]
    env: list[str] = []
    npm: str | None = None
    api: str | None = None
    doc: str | None = None


class Offer(msgspec.Struct, frozen=True):
    """A validated model entry and the provider key it was listed under."""

    provider: str
    model: ModelEntry


def parse_api_json(data: bytes | str, *, source: str = "modelsdev") -> CatalogData:
    """Parse a models.dev ``api.json`` document (see the module docstring for the rules).

    :param data: the raw JSON document.
    :param source: ``CatalogData.source`` (the catalog's name).
    :raises CatalogFormatError: the document is not JSON or its top level is not an object.
    """
    try:
        providers = msgspec.json.decode(data, type=dict[str, msgspec.Raw])
    except msgspec.DecodeError as exc:
        raise CatalogFormatError(f"not a models.dev catalog: {exc}") from exc
    skipped = 0
    offers: list[Offer] = []
    for key in sorted(providers):
        if key.startswith("_"):
            continue
        if not key.strip():
            log.debug("models.dev: skipping a provider with a blank key")
            skipped += 1
            continue
        try:
            provider = msgspec.json.decode(providers[key], type=ProviderEntry)
        except msgspec.DecodeError as exc:
            log.debug("models.dev: skipping provider %r: %s", key, exc)
            skipped += 1
            continue
        seen: set[str] = set()
        for model_key in sorted(provider.models):
            try:
                model = msgspec.json.decode(provider.models[model_key], type=ModelEntry)
            except msgspec.DecodeError as exc:
                log.debug("models.dev: skipping model %r of %r: %s", model_key, key, exc)
                skipped += 1
                continue
            if model.id in seen:
                log.debug("models.dev: skipping duplicate model id %r of %r", model.id, key)
                skipped += 1
                continue
            seen.add(model.id)
            offers.append(Offer(key, model))
    if skipped:
        log.warning("models.dev: skipped %d invalid provider or model entries", skipped)
    return build_catalog_data(offers, source=source, skipped=skipped)


def build_catalog_data(offers: list[Offer], *, source: str, skipped: int = 0) -> CatalogData:
    """Group validated entries into global models and per-provider prices."""
    groups: dict[str, list[Offer]] = {}
    prices: list[ProviderPrice] = []
    for offer in offers:
        global_id = normalize_model_id(offer.model.id)
        groups.setdefault(global_id, []).append(offer)
        prices.append(_provider_price(offer, global_id))
    models = [_merge(global_id, groups[global_id]) for global_id in sorted(groups)]
    prices.sort(key=lambda p: (p.catalog_provider, p.model_id))
    return CatalogData(source=source, models=models, prices=prices, skipped=skipped)


def _positive(value: int | None) -> int | None:
    return value if value else None


def _provider_price(offer: Offer, global_id: str) -> ProviderPrice:
    model, cost = offer.model, offer.model.cost
    return ProviderPrice(
        catalog_provider=offer.provider,
        model_id=model.id,
        global_id=global_id,
        input_price=cost.input if cost else None,
        output_price=cost.output if cost else None,
        cache_read_price=cost.cache_read if cost else None,
        context_window=_positive(model.limit.context),
        max_output=_positive(model.limit.output),
    )


def _completeness(model: ModelEntry) -> int:
    optional = (
        model.family, model.knowledge, model.structured_output, model.temperature,
        model.interleaved, model.reasoning_options, model.cost,
    )
    return sum(v is not None for v in optional) + (model.limit.context > 0) + (model.limit.output > 0)


def _primary(group: list[Offer]) -> Offer:
    ranked = sorted(group, key=lambda o: (o.provider, o.model.id))
    ranked.sort(key=lambda o: o.model.last_updated, reverse=True)
    ranked.sort(key=lambda o: (_status_rank(o.model.status), -_completeness(o.model)))
    return ranked[0]


def _status_rank(status: str | None) -> int:
    """Generally available first, then any other status (``beta``...), ``deprecated`` last."""
    return 0 if status is None else 2 if status == "deprecated" else 1


def _price_source(group: list[Offer], primary: Offer) -> Cost | None:
    charging = sorted(
        (o for o in group if o.model.cost and (o.model.cost.input > 0 or o.model.cost.output > 0)),
        key=lambda o: (o.model.cost.input, o.model.cost.output, o.provider, o.model.id),  # type: ignore[union-attr]
    )
    if charging:
        return charging[(len(charging) - 1) // 2].model.cost
    if primary.model.cost is not None:
        return primary.model.cost
    return next((o.model.cost for o in group if o.model.cost is not None), None)


def _capabilities(model: ModelEntry, group: list[Offer]) -> dict[str, Any]:
    caps: dict[str, Any] = {
        "reasoning": model.reasoning,
        "tool_call": model.tool_call,
        "attachment": model.attachment,
        "modalities": {"input": list(model.modalities.input), "output": list(model.modalities.output)},
        "open_weights": model.open_weights,
        "release_date": model.release_date,
        "last_updated": model.last_updated,
    }
    optional = {
        "structured_output": model.structured_output,
        "temperature": model.temperature,
        "knowledge": model.knowledge,
        "interleaved": model.interleaved,
        "reasoning_options": model.reasoning_options,
        "input_limit": model.limit.input,
        "status": model.status,
        "experimental": model.experimental,
    }
    caps.update({k: v for k, v in optional.items() if v is not None})
    if looks_like_embedding_model(model.id):  # models.dev has no field for it: the id says
        caps["kind"] = "embedding"
    caps["offered_by"] = sorted({o.provider for o in group})
    return caps


def _merge(global_id: str, group: list[Offer]) -> GlobalModelInfo:
    primary = _primary(group)
    model = primary.model
    cost = _price_source(group, primary)
    return GlobalModelInfo(
        id=global_id,
        name=model.name.strip() or model.id,
        family=model.family or None,
        context_window=_positive(model.limit.context),
        max_output=_positive(model.limit.output),
        input_price=cost.input if cost else None,
        output_price=cost.output if cost else None,
        cache_read_price=cost.cache_read if cost else None,
        cache_write_price=cost.cache_write if cost else None,
        capabilities=_capabilities(model, group),
    )
