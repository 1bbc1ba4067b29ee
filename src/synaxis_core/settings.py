"""Settings: the one place that reads configuration (pydantic-settings, prefix ``SYNAXIS_``).

Provider plugins read their own variables (``SYNTHETIC_API_KEY``, ``TOGETHER_BASE_URL``
...) through ``Settings.env`` / ``Settings.secret`` so that tests can pass a complete
environment in one object instead of patching ``os.environ``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, Mapping

from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./synaxis.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNAXIS_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_prefix: str = "synaxis:"
    """Every Redis key starts with it: one Redis can serve several separate gateways."""
    admin_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    load_plugins: str | None = None
    """Unset: every installed plugin; empty: none; ``a,b``: only those entry points."""
    modelsdev_url: str = "https://models.dev/api.json"
    config: Path | None = None
    """A TOML file of extra OpenAI-compatible deployments (see the README)."""

    # upstream calls
    connect_timeout_s: float = 5.0
    timeout_s: float = 60.0
    """Per-attempt timeout (a provider or a config-file deployment may set its own)."""
    request_deadline_s: float = 120.0
    """Overall deadline for one client request, all attempts included."""
    max_connections: int = 512
    upstream_retries: int = 2
    """Quick retries of connection errors and 502/503/504 inside one attempt."""

    # server
    max_body_bytes: int = 4 * 1024 * 1024
    reasoning_mode: Literal["separate", "strip", "keep"] = "separate"
    demo: bool | None = None
    """Force demo mode on/off; unset: demo when no provider has a key."""

    # health and routing
    failure_threshold: int = 3
    disable_cooldown_s: float = 300.0
    retry_after_cap_s: float = 300.0
    default_retry_after_s: float = 30.0
    scorer_weights: dict[str, float] = Field(default_factory=dict)
    language_monitor_models: list[str] = Field(default_factory=lambda: ["glm"])
    """Substrings of model ids whose output is checked for unexpected CJK answers."""

    # sync
    catalog_interval_s: float = 86400.0
    discover_interval_s: float = 3600.0

    # usage ledger
    ledger_batch_size: int = 500
    ledger_flush_interval_s: float = 0.5
    ledger_queue_max: int = 100_000

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
        """A plain environment variable (a provider's base URL override, say)."""
        # straight from pydantic's private store: ``self._environ`` goes through
        # pydantic's ``__getattr__`` (1.4 µs; the router asks for each deployment's key)
        value = self.__pydantic_private__["_environ"].get(name)
        return value if value not in (None, "") else default

    def secret(self, name: str) -> SecretStr | None:
        """A secret environment variable (a provider's API key), or None when unset."""
        value = self.env(name)
        return SecretStr(value) if value else None


_JSON_FIELDS = (dict[str, float], list[str])
