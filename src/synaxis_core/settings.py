"""Settings: the one place that reads configuration (pydantic-settings, prefix ``SYNAXIS_``).

Plugins read their own variables (their API key and base-URL variables, and their own
options, which may use the ``SYNAXIS_`` prefix too) through ``Settings.env`` /
``Settings.secret``, with their own default and parsing, so that tests can pass a
complete environment in one object instead of patching ``os.environ``. Variables this
class does not define are ignored here and left to the plugins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal, Mapping

from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./synaxis.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNAXIS_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_prefix: str = "synaxis:"
    """Every Redis key starts with it: one Redis can serve several separate gateways."""
    redis_max_connections: int = Field(default=64, ge=1)
    """Redis connections per process; when all are busy a call waits for one."""
    redis_pool_timeout_s: float = Field(default=2.0, gt=0)
    """The longest wait for a free Redis connection; then 503 (busy, not an outage)."""
    admin_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    load_plugins: str | None = None
    """Unset: every installed plugin; empty: none; ``a,b``: only those entry points."""
    modelsdev_url: str = "https://models.dev/api.json"
    config: Path | None = None
    """A TOML file of extra OpenAI-compatible deployments (see the manual)."""

    # upstream calls
    connect_timeout_s: float = 5.0
    timeout_s: float = 60.0
    """Per-attempt timeout (a provider or a config-file deployment may set its own)."""
    request_deadline_s: float = 120.0
    """Overall deadline for one client request, all attempts included."""
    max_connections: int = 512
    upstream_retries: int = 2
    """Quick retries of connection errors and 502/503/504 inside one attempt."""
    max_upstream_response_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    """The longest non-streamed upstream answer read (beyond: ``upstream_protocol_error``,
    a failure that counts for health); the body is never held whole past it."""
    max_sse_event_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    """The longest line or event of an upstream stream (same error beyond)."""

    # server
    max_body_bytes: int = 4 * 1024 * 1024
    header_timeout_s: float = Field(10.0, gt=0)
    """Time a client has to send a request's headers (from the connection's opening, or
    from the request's first byte on a kept-alive connection): 408 and closed beyond."""
    body_timeout_s: float = Field(30.0, gt=0)
    """Time a client has to send a request's body, once its headers are in: 408 beyond."""
    reasoning_mode: Literal["separate", "strip", "keep"] = "separate"
    demo: bool | None = None
    """Force demo mode on/off; unset: demo when no provider has a key."""
    workers: Annotated[int, Field(ge=1)] | Literal["auto"] = 1
    """Gateway processes serving the one port (``synaxis serve --workers``); ``auto``: one
    per core this process may run on. More than one needs Redis (see the next setting)."""
    allow_per_process_limits: bool = False
    """With several workers and no ``redis_url``, start anyway: each worker then keeps its
    own limits, budgets, health and cool-downs (N workers admit up to N times an RPM)."""

    # health and routing
    failure_threshold: int = 3
    disable_cooldown_s: float = 300.0
    retry_after_cap_s: float = 300.0
    default_retry_after_s: float = 30.0
    scorer_weights: dict[str, float] = Field(default_factory=dict)

    # sync
    catalog_interval_s: float = 86400.0
    discover_interval_s: float = 3600.0

    # usage ledger
    ledger_batch_size: int = 500
    ledger_flush_interval_s: float = 0.5
    ledger_queue_max: int = 100_000
    ledger_full_wait_s: float = Field(default=1.0, ge=0)
    """With the ledger queue full, how long a request waits for room before a 503."""
    ledger_durable: bool = False
    """Each request's row is committed before its response ends (slower; see the manual)."""

    # tenant budgets and admin authentication
    budget_reservation_ttl_s: float = Field(default=900.0, gt=0)
    """A budget reservation nobody settles (its process died) stops counting after this."""
    auth_max_failures: int = Field(default=10, ge=1)
    """Failed admin authentications per client (and per key prefix) in the window..."""
    auth_failure_window_s: float = Field(default=60.0, gt=0)
    """...before further attempts are refused with 429 until the window frees."""

    # response cache
    cache_backend: Literal["auto", "memory", "redis"] = "auto"
    """Where cached answers live: ``memory`` (this process, LRU), ``redis`` (shared by every
    instance, under ``redis_prefix``; needs ``redis_url``), ``auto``: Redis when
    ``redis_url`` is set, else memory. The cache is off until a tenant or a request turns
    it on (``synaxis tenants limit T --cache-ttl N``, ``x-synaxis-cache: on``)."""
    cache_ttl_s: int = Field(default=3600, ge=1, le=2_592_000)
    """How long an answer stays cached when a request turns the cache on and neither the
    request (``x-synaxis-cache-ttl``) nor its tenant (``synaxis tenants limit --cache-ttl``) says."""
    cache_max_entries: int = Field(default=10_000, ge=1)
    """The in-process cache keeps at most this many answers (least recently used out first)."""
    cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    """...and at most this many bytes of them."""
    cache_max_entry_bytes: int = Field(default=1024 * 1024, ge=1)
    """An answer longer than this (as stored JSON) is not cached, in either backend."""

    # tracing (OpenTelemetry)
    otel_endpoint: str | None = None
    """An OTLP/HTTP collector (``http://127.0.0.1:4318``; ``/v1/traces`` is added unless
    given): turns tracing on. The standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` and
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` do too. Unset: no spans at all."""
    otel_capture_content: bool = False
    """Record the messages and the answer in the request span (``gen_ai.input.messages``,
    ``gen_ai.output.messages``). Off: no message content is ever recorded."""

    # observers (plugins' register_observers)
    observe_bodies: bool = False
    """Observers also get each request's body and its answer (in chat-completions terms).
    Off: the ledger row only, and no body is kept for them."""
    observe_queue_max: int = Field(default=10_000, ge=1)
    """Records waiting for each observer at most: beyond, the oldest are dropped (counted
    in ``synaxis_observer_records_total{outcome="dropped"}`` and logged)."""
    observe_batch_size: int = Field(default=100, ge=1)
    """An observer gets the records in batches of at most this many..."""
    observe_flush_interval_s: float = Field(default=1.0, gt=0)
    """...or whatever waits, this long after the first of them arrived."""
    observe_timeout_s: float = Field(default=10.0, gt=0)
    """The longest one observer call may take: past it the call is cancelled, its batch
    dropped, and the failure logged and counted; also the longest shutdown waits for an
    observer to take what is still queued."""

    _environ: Mapping[str, str] = PrivateAttr(default_factory=lambda: dict(os.environ))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from ``environ`` (default: the process environment)."""
        if environ is None:
            settings = cls(**overrides)  # type: ignore[arg-type]
        else:
            values = {
                key[len("SYNAXIS_"):].lower(): value
                for key, value in environ.items()
                if key.startswith("SYNAXIS_")
            }
            for key, value in list(values.items()):
                field = cls.model_fields.get(key)
                if field is not None and field.annotation in _JSON_FIELDS and isinstance(value, str):
                    values[key] = json.loads(value)
            values.update(overrides)
            settings = cls.model_validate(values)
            settings._environ = dict(environ)
        return settings

    def env(self, name: str, default: str | None = None) -> str | None:
        """A plain environment variable (a provider's base URL override, a plugin's own
        option), or ``default`` when unset or empty."""
        # straight from pydantic's private store: ``self._environ`` goes through
        # pydantic's ``__getattr__`` (1.4 µs; the router asks for each deployment's key)
        value = self.__pydantic_private__["_environ"].get(name)
        return value if value not in (None, "") else default

    def secret(self, name: str) -> SecretStr | None:
        """A secret environment variable (a provider's API key), or None when unset."""
        value = self.env(name)
        return SecretStr(value) if value else None

    def env_list(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A plugin's option holding a JSON list of strings (``["glm", "qwen"]``), or
        ``default`` when unset; anything else is a ``ConfigError`` naming the variable."""
        from synaxis_core.errors import ConfigError

        raw = self.env(name)
        if raw is None:
            return default
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f'{name} must be a JSON list of strings such as ["a", "b"], not {raw!r}', param=name)
        return tuple(value)


_JSON_FIELDS = (dict[str, float], list[str])
