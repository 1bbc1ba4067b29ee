"""A provider plugin in a few lines: ``VendorProvider`` and ``provider_hooks``.

What every OpenAI-compatible vendor's plugin would otherwise repeat lives here, so that
the plugin keeps only its vendor's quirks::

    class AcmeProvider(VendorProvider):
        name = "acme"                        # ACME_API_KEY, ACME_BASE_URL, catalog "acme"
        default_base_url = "https://api.acme.example/v1"
        finish_reasons = {"eos": "stop"}     # a quirk, as data

    register_providers, register_postprocessors, register_fake_flavors = provider_hooks(
        AcmeProvider, flavor=ACME_FLAVOR)

``VendorProvider`` derives from ``name`` what is not set: the key and base-URL
variables (``ACME_API_KEY``, ``ACME_BASE_URL``), the catalog id (``acme``) and the
static models (``ACME_MODELS`` of the generated ``models`` module beside the class's
module). ``provider_hooks`` returns the three hook implementations that register the
provider, a think-tag stripper scoped to it (and any other post-processors) and its
fake-upstream flavour.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Literal, Mapping, NamedTuple

import msgspec

from synaxis_core.hookspecs import hookimpl
from synaxis_core.postprocess.think import ThinkTagStripper
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.providers.discovery import generic_entry, per_million, per_token
from synaxis_core.types import DiscoveredModel, ModelSpec

if TYPE_CHECKING:
    from synaxis_core.fake.flavor import Flavor
    from synaxis_core.postprocess.base import PostProcessor
    from synaxis_core.settings import Settings

NON_CHAT_TYPES = frozenset(
    {"embedding", "image", "rerank", "moderation", "audio", "transcribe", "tts", "stt", "video"}
)
"""``type`` values of ``GET /models`` entries (Together's, among others) that cannot chat."""

_DERIVED = ("api_key_env", "base_url_env", "catalog_provider")


def variable_prefix(name: str) -> str:
    """``NAME`` of ``NAME_API_KEY`` for a provider name (``acme-ai`` -> ``ACME_AI``)."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class VendorProvider(OpenAICompatibleProvider):
    """An OpenAI-compatible vendor's provider, with the defaults a plugin would repeat.

    Unless the class (or a parent that set it itself) says otherwise: ``api_key_env`` is
    ``NAME_API_KEY`` (``""``: no key), ``base_url_env`` is ``NAME_BASE_URL``,
    ``catalog_provider`` is ``name`` and ``static_models`` is ``NAME_MODELS`` from the
    ``catalog_module`` beside the class's module (none there: no static models).
    """

    catalog_module: ClassVar[str] = "models"
    """The generated catalog module, beside the class's module, whose ``NAME_MODELS`` are the static models."""
    listing_prices: ClassVar[Literal["per_million", "per_token"] | None] = None
    """The unit of ``GET /models`` prices (an entry's ``pricing.prompt``/``input`` and
    ``completion``/``output``): USD per million tokens, or per token (``"$0.00000055"``);
    None: the listing's prices are not read."""
    finish_reasons: ClassVar[Mapping[str, str]] = {}
    """The vendor's finish reasons OpenAI names otherwise (``{"eos": "stop"}``), renamed in
    answers and stream chunks."""
    _derived: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.name:
            return
        inherited = cls._derived  # a parent's derived values follow the new name
        derived = {a for a in _DERIVED if a not in cls.__dict__ and (getattr(cls, a) is None or a in inherited)}
        prefix = variable_prefix(cls.name)
        values = {"api_key_env": f"{prefix}_API_KEY", "base_url_env": f"{prefix}_BASE_URL", "catalog_provider": cls.name}
        for attribute in derived:
            setattr(cls, attribute, values[attribute])
        cls._derived = frozenset(derived)
        if "static_models" not in cls.__dict__:
            cls.static_models = _generated_models(cls, f"{prefix}_MODELS")

    def normalize_response(self, data: dict[str, Any]) -> dict[str, Any]:
        """Rename ``finish_reasons``; an override should call ``super()``."""
        if self.finish_reasons:
            _rename(data.get("choices"), self.finish_reasons)
        return data

    def normalize_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        """Rename ``finish_reasons`` in a stream chunk; an override should call ``super()``."""
        if self.finish_reasons:
            _rename(chunk.get("choices"), self.finish_reasons)
        return chunk

    def parse_model_entry(self, entry: Mapping[str, Any]) -> DiscoveredModel | None:
        """The usual field names; a ``type`` in `NON_CHAT_TYPES` or ``output_modalities``
        without ``text`` marks a non-chat model; prices in the ``listing_prices`` unit."""
        model = generic_entry(entry)
        kind, modalities = entry.get("type"), entry.get("output_modalities")
        chat = model.chat and not (isinstance(kind, str) and kind.lower() in NON_CHAT_TYPES)
        chat = chat and not (isinstance(modalities, list) and "text" not in modalities)
        prices: dict[str, float | None] = {}
        if self.listing_prices is not None:
            pricing = entry.get("pricing") if isinstance(entry.get("pricing"), Mapping) else {}
            unit = per_token if self.listing_prices == "per_token" else per_million
            prices["input_price"] = unit(pricing.get("prompt", pricing.get("input")))
            prices["output_price"] = unit(pricing.get("completion", pricing.get("output")))
        return msgspec.structs.replace(model, chat=chat, **prices)


def _generated_models(cls: type, attribute: str) -> tuple[ModelSpec, ...]:
    package = cls.__module__.rpartition(".")[0]
    if not package:
        return tuple(cls.static_models)
    module_name = f"{package}.{cls.catalog_module}"  # type: ignore[attr-defined]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return tuple(cls.static_models)
    if not hasattr(module, attribute):
        raise TypeError(f"{cls.__name__}: {module_name} has no {attribute}; set static_models on the class")
    return tuple(getattr(module, attribute))


def _rename(choices: Any, names: Mapping[str, str]) -> None:
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict) and choice.get("finish_reason") in names:
                choice["finish_reason"] = names[choice["finish_reason"]]


class ProviderHooks(NamedTuple):
    """The hook implementations of a provider plugin (assign them to module names)."""

    register_providers: Callable[..., None]
    register_postprocessors: Callable[..., None]
    register_fake_flavors: Callable[..., None]


def reasoning_models(spec: ModelSpec) -> bool:
    """The default ``reasoning`` of `provider_hooks`: the deployments marked ``reasoning``."""
    return spec.reasoning


def provider_hooks(
    provider_class: type[OpenAICompatibleProvider],
    *,
    reasoning: Callable[[ModelSpec], bool] | bool = True,
    flavor: Flavor | None = None,
    postprocessors: Callable[[Settings], Iterable[PostProcessor]] | None = None,
) -> ProviderHooks:
    """The hooks of a plugin contributing ``provider_class``.

    :param reasoning: which of its deployments get a think-tag stripper scoped to the
        provider (``think-tags-NAME``): a predicate on the ``ModelSpec``, True for the
        reasoning ones (`reasoning_models`), False for none.
    :param flavor: the vendor's fake-upstream ``Flavor`` (None: none registered).
    :param postprocessors: more post-processors to register, made from the settings.
    """
    name = provider_class.name
    applies = reasoning_models if reasoning is True else reasoning or None

    @hookimpl
    def register_providers(register: Callable[[Any], None], settings: Settings) -> None:
        register(provider_class(settings))

    @hookimpl
    def register_postprocessors(register: Callable[[Any], None], settings: Settings) -> None:
        if applies is not None:
            register(ThinkTagStripper(name=f"think-tags-{name}", applies=applies, provider=name))
        for postprocessor in postprocessors(settings) if postprocessors is not None else ():
            register(postprocessor)

    @hookimpl
    def register_fake_flavors(register: Callable[[Any], None], settings: Settings) -> None:
        if flavor is not None:
            register(flavor)

    register_providers.__doc__ = f"Register ``{provider_class.__name__}``."
    register_postprocessors.__doc__ = f"The reasoning stripper scoped to {name!r}, and the plugin's other post-processors."
    register_fake_flavors.__doc__ = f"{name!r}'s wire format, for the fake upstream."
    return ProviderHooks(register_providers, register_postprocessors, register_fake_flavors)
