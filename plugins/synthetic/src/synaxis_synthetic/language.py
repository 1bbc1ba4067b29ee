"""The plugin's own setting: which models the language monitor watches.

``SYNAXIS_LANGUAGE_MONITOR_MODELS`` is a JSON list of substrings of provider-model ids
(default ``["glm"]``; ``[]`` watches none). Like every plugin option it is read from the
gateway's ``Settings`` with ``settings.env(...)``, so a test passes it in the same
environment mapping as everything else.
"""

from __future__ import annotations

import json

from synaxis_core.errors import ConfigError
from synaxis_core.settings import Settings

VARIABLE = "SYNAXIS_LANGUAGE_MONITOR_MODELS"
DEFAULT = ("glm",)


def monitored_models(settings: Settings) -> tuple[str, ...]:
    """The id substrings of ``SYNAXIS_LANGUAGE_MONITOR_MODELS`` (``ConfigError`` when it
    is not a JSON list of strings)."""
    raw = settings.env(VARIABLE)
    if raw is None:
        return DEFAULT
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f'{VARIABLE} must be a JSON list of strings such as ["glm"], not {raw!r}', param=VARIABLE)
    return tuple(value)
