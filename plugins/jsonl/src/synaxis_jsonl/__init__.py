"""The JSON-lines observer plugin for Synaxis: every finished request, one line in a file.

Off unless ``SYNAXIS_JSONL_PATH`` is set. Each line is one ``ObservedRequest`` as JSON:
the ledger row (``usage``), the tenant, the dialect, the provider and, when
``SYNAXIS_OBSERVE_BODIES`` allows, the request and the answer. The file is rotated by
size (``SYNAXIS_JSONL_MAX_BYTES``), keeping ``SYNAXIS_JSONL_BACKUPS`` older files
(``requests.jsonl.1`` the newest of them).
"""

from synaxis_core import hookimpl
from synaxis_jsonl.writer import JsonLinesObserver

__all__ = ["JsonLinesObserver"]


@hookimpl
def register_observers(register, settings):
    """The JSON-lines writer, when ``SYNAXIS_JSONL_PATH`` is set."""
    observer = JsonLinesObserver.from_settings(settings)
    if observer is not None:
        register(observer)
