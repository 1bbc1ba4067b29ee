"""The plugin's own setting: which models the language monitor watches.

``SYNAXIS_LANGUAGE_MONITOR_MODELS`` is a JSON list of substrings of provider-model ids
(default ``["glm"]``; ``[]`` watches none). Like every plugin option it is read from the
gateway's ``Settings`` (``settings.env_list(...)``: a malformed value stops start-up
with a ``ConfigError`` naming it), so a test passes it in the same environment mapping
as everything else.
"""

from __future__ import annotations

from synaxis_core.postprocess.language import LanguageMonitor
from synaxis_core.settings import Settings

VARIABLE = "SYNAXIS_LANGUAGE_MONITOR_MODELS"


def language_monitors(settings: Settings) -> list[LanguageMonitor]:
    """The language monitor, watching the models whose id contains one of the substrings."""
    patterns = settings.env_list(VARIABLE, ("glm",))
    return [LanguageMonitor(name="language-monitor", applies=lambda spec: any(p in spec.id for p in patterns))]
