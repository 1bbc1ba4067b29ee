"""Deployments from a TOML file (``SYNAXIS_CONFIG``): any OpenAI-compatible upstream.

The format (README, ARCHITECTURE.md)::

    [[providers]]
    name = "local-vllm"                  # required, unique in the file
    base_url = "http://127.0.0.1:8000/v1"  # required, http(s)
    api_key_env = "LOCAL_VLLM_KEY"       # optional: the variable holding the key
    timeout_s = 30                       # optional: per-attempt timeout, seconds
    forward_account_headers = false      # optional: send the clients' OpenAI-Organization/-Project

    [[providers.models]]
    id = "llama-3.3-70b-local"           # required, unique in the file
    upstream_id = "meta-llama/Llama-3.3-70B-Instruct"  # required
    global_id = "llama-3.3-70b"          # optional
    input_price = 0.0                    # optional, USD per million tokens
    output_price = 0.0                   # optional
    rpm = 600                            # optional; tpm too
    kind = "chat"                        # optional: "embedding" for POST /v1/embeddings

Also accepted per model: ``display_name``, ``context_window``, ``max_output``,
``cache_read_price``, ``is_premium``, ``reasoning``. Anything wrong (TOML syntax, a
missing or unknown key, a wrong type, a duplicate name or id) raises ``ConfigError``
naming the file, the line and the key: ``synaxis.toml:7: providers[0].models[0]:
missing required key 'upstream_id'``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from synaxis_core.errors import ConfigError
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.types import ModelSpec

if TYPE_CHECKING:
    from synaxis_core.settings import Settings

Where = tuple[Any, ...]
"""A position in the document: ``("providers", 0, "models", 1, "id")``."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER = re.compile(r"^\s*\[\[\s*(providers(?:\s*\.\s*models)?)\s*\]\]")
_TABLE = re.compile(r"^\s*\[\[?\s*[\"']?([A-Za-z0-9_-]*)")
_KEY = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")
_TOML_LINE = re.compile(r"\(at line (\d+)")


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


Check = tuple[Callable[[Any], bool], str]
PROVIDER_KEYS: dict[str, Check] = {
    "name": (lambda v: isinstance(v, str) and bool(_NAME.match(v)), "a name of letters, digits, '.', '_', '-'"),
    "base_url": (lambda v: isinstance(v, str) and v.startswith(("http://", "https://")), "an http(s) URL"),
    "api_key_env": (lambda v: isinstance(v, str) and bool(_ENV.match(v)), "an environment variable name"),
    "timeout_s": (lambda v: _number(v) and v > 0, "a positive number of seconds"),
    "forward_account_headers": (lambda v: isinstance(v, bool), "true or false"),
    "models": (lambda v: isinstance(v, list) and bool(v), "a non-empty [[providers.models]] list"),
}
MODEL_KEYS: dict[str, Check] = {
    "id": (lambda v: isinstance(v, str) and bool(_NAME.match(v)), "an id of letters, digits, '.', '_', '-'"),
    "upstream_id": (_text, "a non-empty string"),
    "global_id": (_text, "a non-empty string"),
    "display_name": (lambda v: isinstance(v, str), "a string"),
    "input_price": (_number, "a number >= 0 (USD per million tokens)"),
    "output_price": (_number, "a number >= 0 (USD per million tokens)"),
    "cache_read_price": (_number, "a number >= 0 (USD per million tokens)"),
    "context_window": (_positive_int, "a positive integer"),
    "max_output": (_positive_int, "a positive integer"),
    "rpm": (_positive_int, "a positive integer"),
    "tpm": (_positive_int, "a positive integer"),
    "is_premium": (lambda v: isinstance(v, bool), "true or false"),
    "reasoning": (lambda v: isinstance(v, bool), "true or false"),
    "kind": (lambda v: v in ("chat", "embedding"), "'chat' or 'embedding'"),
}
REQUIRED_PROVIDER = ("name", "base_url", "models")
REQUIRED_MODEL = ("id", "upstream_id")


def _line_index(text: str) -> dict[Where, int]:
    """Where each ``[[providers]]`` / ``[[providers.models]]`` table and key starts."""
    lines: dict[Where, int] = {}
    table: Where | None = ()
    provider = model = -1
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            if "models" in header.group(1):
                model += 1
                table = ("providers", provider, "models", model)
            else:
                provider, model = provider + 1, -1
                table = ("providers", provider)
            lines.setdefault(table, number)
            continue
        other = _TABLE.match(line)
        if other:
            table = None  # a table this format does not define
            lines.setdefault((other.group(1),), number)
            continue
        key = _KEY.match(line)
        if key and table is not None:
            lines.setdefault(table + (next(g for g in key.groups() if g),), number)
    return lines


class _Document:
    """A parsed config file that can point at the line of any position in it."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _line_index(text)

    def error(self, where: Where, problem: str) -> ConfigError:
        line = next((self.lines[where[:n]] for n in range(len(where), -1, -1) if where[:n] in self.lines), 1)
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".")
        prefix = f"{self.path}:{line}: " + (f"{dotted}: " if dotted else "")
        return ConfigError(prefix + problem, param=dotted or None)

    def check_table(self, table: Any, where: Where, keys: dict[str, Check], required: tuple[str, ...]) -> None:
        if not isinstance(table, dict):
            raise self.error(where, "must be a table")
        for key in required:
            if key not in table:
                raise self.error(where, f"missing required key {key!r}")
        for key, value in table.items():
            if key not in keys:
                raise self.error(where + (key,), f"unknown key {key!r} (expected one of {', '.join(keys)})")
            ok, expected = keys[key]
            if not ok(value):
                raise self.error(where + (key,), f"key {key!r} must be {expected}, not {value!r}")


def parse_config(path: Path, text: str, settings: Settings) -> list[OpenAICompatibleProvider]:
    """The providers a config file's text declares (``ConfigError`` when it is wrong)."""
    doc = _Document(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        raise ConfigError(f"{path}:{found.group(1) if found else 1}: invalid TOML: {exc}") from None
    for key in data:
        if key != "providers":
            raise doc.error((key,), f"unknown key {key!r} (expected [[providers]] tables)")
    providers = data.get("providers", [])
    if not isinstance(providers, list):
        raise doc.error(("providers",), "must be an array of tables: [[providers]]")
    names: dict[str, Where] = {}
    ids: dict[str, Where] = {}
    built: list[OpenAICompatibleProvider] = []
    for p, table in enumerate(providers):
        where: Where = ("providers", p)
        doc.check_table(table, where, PROVIDER_KEYS, REQUIRED_PROVIDER)
        if table["name"] in names:
            raise doc.error(where + ("name",), f"duplicate provider name {table['name']!r}")
        names[table["name"]] = where
        specs = []
        for m, model in enumerate(table["models"]):
            model_where = where + ("models", m)
            doc.check_table(model, model_where, MODEL_KEYS, REQUIRED_MODEL)
            if model["id"] in ids:
                raise doc.error(model_where + ("id",), f"duplicate model id {model['id']!r}")
            ids[model["id"]] = model_where
            specs.append(ModelSpec(**_model_fields(model)))
        built.append(
            OpenAICompatibleProvider(
                settings,
                name=table["name"],
                base_url=table["base_url"],
                api_key_env=table.get("api_key_env"),
                models=specs,
                timeout_s=float(table["timeout_s"]) if "timeout_s" in table else None,
                forward_account_headers=table.get("forward_account_headers"),
            )
        )
    return built


def _model_fields(model: dict[str, Any]) -> dict[str, Any]:
    fields = dict(model)
    for key in ("input_price", "output_price", "cache_read_price"):
        if key in fields:
            fields[key] = float(fields[key])
    return fields


def load_config_providers(settings: Settings, path: Path | str | None = None) -> list[OpenAICompatibleProvider]:
    """The providers of ``path`` (default ``settings.config``); none when no file is set."""
    path = Path(path) if path is not None else settings.config
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: SYNAXIS_CONFIG names a file that does not exist", param="config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}", param="config") from None
    return parse_config(path, text, settings)
