"""The provider contract and its OpenAI-compatible base class.

A provider plugin subclasses ``OpenAICompatibleProvider``, sets the class attributes
(name, default base URL, API-key variable, static model catalog) and overrides only
what its upstream does differently (``parse_models``, ``normalize_response``...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterator, ClassVar, Sequence

from pydantic import SecretStr

from synaxis_core.types import DiscoveredModel, ModelSpec

if TYPE_CHECKING:
    from synaxis_core.settings import Settings


class OpenAICompatibleProvider:
    """A provider that speaks the OpenAI chat-completions API.

    Class attributes give the defaults; the constructor lets the config-file provider
    (``SYNAXIS_CONFIG``) build instances without subclassing.
    """

    name: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    api_key_env: ClassVar[str | None] = None
    base_url_env: ClassVar[str | None] = None
    """Variable that overrides the base URL (``SYNTHETIC_BASE_URL``...)."""
    catalog_provider: ClassVar[str | None] = None
    """This provider's id in model catalogs (models.dev: ``synthetic``, ``togetherai``...)."""
    static_models: ClassVar[Sequence[ModelSpec]] = ()

    def __init__(
        self,
        settings: Settings,
        *,
        name: str | None = None,
        base_url: str | None = None,
        api_key_env: str | None = None,
        models: Sequence[ModelSpec] | None = None,
        timeout_s: float | None = None,
        catalog_provider: str | None = None,
    ) -> None:
        self.settings = settings
        if name is not None:
            self.name = name  # type: ignore[misc]
        if api_key_env is not None:
            self.api_key_env = api_key_env  # type: ignore[misc]
        if catalog_provider is not None:
            self.catalog_provider = catalog_provider  # type: ignore[misc]
        override = settings.env(self.base_url_env) if self.base_url_env else None
        self.base_url: str = (override or base_url or self.default_base_url).rstrip("/")
        self.models: tuple[ModelSpec, ...] = tuple(models if models is not None else self.static_models)
        self.timeout_s: float = timeout_s if timeout_s is not None else settings.timeout_s
        self._client: Any = None

    @property
    def api_key(self) -> SecretStr | None:
        """The provider's key from its variable (None: not set, or no key needed)."""
        return self.settings.secret(self.api_key_env) if self.api_key_env else None

    @property
    def missing_key(self) -> str | None:
        """The variable to set when this provider needs a key and has none, else None."""
        if self.api_key_env and self.api_key is None:
            return self.api_key_env
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.base_url} ({len(self.models)} models)>"

    # --- calls (implemented in the provider layer) ----------------------------------

    async def chat(self, body: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """POST ``/chat/completions`` (non-streaming); ``body["model"]`` is the upstream id.

        Returns the response as a dict, normalised to the OpenAI shape. Raises an
        ``UpstreamError`` subclass on failure.
        """
        raise NotImplementedError

    def stream(self, body: dict[str, Any], *, timeout: float | None = None) -> AsyncIterator[dict[str, Any]]:
        """POST ``/chat/completions`` with ``stream: true``; yield each chunk as a dict."""
        raise NotImplementedError

    async def discover(self) -> list[DiscoveredModel]:
        """GET ``/models`` and parse it (see ``parse_models``)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the HTTP client (called on shutdown)."""


Provider = OpenAICompatibleProvider
