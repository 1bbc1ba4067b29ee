"""Domain types shared by the core and the plugins (msgspec Structs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

import msgspec

ModelKind = Literal["chat", "embedding"]
"""What a deployment serves: chat completions (and the dialects built on them) or embeddings."""


class ModelSpec(msgspec.Struct, kw_only=True, frozen=True):
    """One deployment a provider plugin can serve: a model at one provider.

    Prices are USD per million tokens; ``None`` means "not known here", and the
    catalog sync fills it from the provider's own catalog entry (models.dev), with the
    global model's price as the last fallback.
    """

    id: str
    """Provider-model id, unique across all providers, e.g. ``deepseek-r1-0528-syn``."""
    upstream_id: str
    """The id the provider's API knows, e.g. ``hf:deepseek-ai/DeepSeek-R1-0528``."""
    global_id: str | None = None
    """The global model this deployment serves (links deployments across providers)."""
    display_name: str = ""
    is_premium: bool = False
    reasoning: bool = False
    """The model emits reasoning (think tags or reasoning fields)."""
    input_price: float | None = None
    output_price: float | None = None
    cache_read_price: float | None = None
    context_window: int | None = None
    max_output: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    kind: ModelKind = "chat"
    """``embedding``: served by ``POST /v1/embeddings`` only; ``chat``: by every other API."""


class DiscoveredModel(msgspec.Struct, kw_only=True, frozen=True):
    """A model as a provider's ``/models`` endpoint lists it."""

    upstream_id: str
    display_name: str | None = None
    context_window: int | None = None
    max_output: int | None = None
    input_price: float | None = None
    output_price: float | None = None
    chat: bool = True
    """False for models the provider lists that cannot serve chat completions."""


class GlobalModelInfo(msgspec.Struct, kw_only=True, frozen=True):
    """The golden record of a model, as a catalog describes it."""

    id: str
    name: str
    family: str | None = None
    context_window: int | None = None
    max_output: int | None = None
    input_price: float | None = None
    output_price: float | None = None
    cache_read_price: float | None = None
    cache_write_price: float | None = None
    capabilities: dict[str, Any] = msgspec.field(default_factory=dict)


class ProviderPrice(msgspec.Struct, kw_only=True, frozen=True):
    """What one catalog provider charges for one model (keyed by both, never by model alone)."""

    catalog_provider: str
    """The provider's id in the catalog, e.g. ``togetherai``."""
    model_id: str
    """The model's id under that provider, e.g. ``openai/gpt-oss-120b``."""
    global_id: str
    input_price: float | None = None
    output_price: float | None = None
    cache_read_price: float | None = None
    context_window: int | None = None
    max_output: int | None = None


class CatalogData(msgspec.Struct, kw_only=True):
    """What a catalog fetch returns."""

    source: str
    models: list[GlobalModelInfo] = msgspec.field(default_factory=list)
    prices: list[ProviderPrice] = msgspec.field(default_factory=list)
    skipped: int = 0
    """Entries that failed validation and were left out."""
    not_modified: bool = False
    """The source answered 304: nothing changed since ``etag`` / ``last_modified``."""
    from_snapshot: str | None = None
    """Set to the snapshot's date when the bundled snapshot was used instead of a fetch."""
    etag: str | None = None
    last_modified: str | None = None


class CatalogState(msgspec.Struct, kw_only=True):
    """What the last successful fetch of a catalog left behind (for conditional requests)."""

    etag: str | None = None
    last_modified: str | None = None
    fetched_at: datetime | None = None


class Usage(msgspec.Struct, kw_only=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ChatRequest:
    """A request in the pipeline's terms: the chat-completions shape, whatever API it came in.

    ``body`` is what goes to the upstream (unknown fields kept); the other attributes are
    the checked values the pipeline reads. The HTTP edge builds one per request
    (``server.request`` for chat completions).
    """

    __slots__ = (
        "body", "model", "messages", "stream", "include_usage", "max_output", "reasoning_mode", "dialect",
        "cache", "cache_ttl_s", "traceparent", "tracestate", "upstream_headers",
    )
    kind: ClassVar[ModelKind] = "chat"
    """The kind of deployment that may serve it (``ModelSpec.kind``)."""

    def __init__(
        self,
        body: dict[str, Any],
        *,
        model: str,
        stream: bool = False,
        include_usage: bool = False,
        max_output: int | None = None,
        reasoning_mode: str = "separate",
        dialect: str = "chat",
    ) -> None:
        self.body = body
        self.model = model
        self.messages: list[dict[str, Any]] = body["messages"]
        self.stream = stream
        self.include_usage = include_usage
        """The client asked for the usage chunk of a stream (the ledger gets usage anyway)."""
        self.max_output = max_output
        self.reasoning_mode = reasoning_mode
        """``separate``, ``strip`` or ``keep`` (see the post-processors)."""
        self.dialect = dialect
        """The API the client spoke: ``chat``, ``messages``, ``responses``... (ledger, metrics)."""
        self.cache: str | None = None
        """``x-synaxis-cache``: ``on``, ``off`` or ``force``; None: as the tenant says."""
        self.cache_ttl_s: int | None = None
        """``x-synaxis-cache-ttl``: seconds the answer stays cached (turns the cache on)."""
        self.traceparent: str | None = None
        """The W3C ``traceparent`` the client sent (the parent of the request's span)."""
        self.tracestate: str | None = None
        self.upstream_headers: dict[str, str] | None = None
        """The client's headers that go to the upstream, checked (``server.edge.FORWARDED_HEADERS``)."""


class EmbeddingRequest:
    """``POST /v1/embeddings`` in the pipeline's terms (``dialects.embeddings`` builds it).

    ``body`` goes to the upstream as the client sent it (``model`` rewritten per
    deployment); ``estimated_tokens`` is the input's size for routing, limits and the
    ledger when the upstream reports no usage. The other attributes are the ones the
    pipeline shares with ``ChatRequest`` (no stream, no output, no response cache).
    """

    __slots__ = ("body", "model", "estimated_tokens", "traceparent", "tracestate", "upstream_headers")
    kind: ClassVar[ModelKind] = "embedding"
    dialect: ClassVar[str] = "embeddings"
    stream: ClassVar[bool] = False
    max_output: ClassVar[int] = 0
    messages: ClassVar[list[dict[str, Any]]] = []
    """No chat messages (what the telemetry would record of them)."""

    def __init__(self, body: dict[str, Any], *, model: str, estimated_tokens: int) -> None:
        self.body = body
        self.model = model
        self.estimated_tokens = estimated_tokens
        self.traceparent: str | None = None
        self.tracestate: str | None = None
        self.upstream_headers: dict[str, str] | None = None
        """As ``ChatRequest.upstream_headers`` (``server.edge.forwarded_headers``)."""
