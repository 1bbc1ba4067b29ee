"""``JsonLinesObserver``: finished requests appended to a file, one JSON object a line.

Writes happen in a worker thread (``asyncio.to_thread``), one batch at a time, under a
lock (a batch whose call timed out may still be writing when the next one comes). A
line that would take the file past ``max_bytes`` first rotates it: ``path`` becomes
``path.1``, ``path.1`` becomes ``path.2``..., and the oldest beyond ``backups`` is
deleted. ``{pid}`` in the path is replaced by the process id, so that the workers of
``synaxis serve --workers N`` each write their own file.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import BinaryIO

import msgspec

from synaxis_core.errors import ConfigError
from synaxis_core.runtime.observers import ObservedRequest
from synaxis_core.settings import Settings

PATH = "SYNAXIS_JSONL_PATH"
"""The file the JSON-lines observer appends every finished request to (unset: the observer is off);
``{pid}`` in it becomes the process id."""
MAX_BYTES = "SYNAXIS_JSONL_MAX_BYTES"
"""The size at which the JSON-lines file is rotated (default 100 MiB)."""
BACKUPS = "SYNAXIS_JSONL_BACKUPS"
"""How many rotated JSON-lines files are kept besides the current one (default 5; 0: none)."""

_encode = msgspec.json.Encoder().encode


def _int_setting(settings: Settings, name: str, default: int, minimum: int) -> int:
    raw = settings.env(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"{name} must be an integer of at least {minimum}, not {raw!r}", param=name)
    return value


class JsonLinesObserver:
    """Appends each ``ObservedRequest`` to ``path`` as one line of JSON, rotating by size."""

    name = "jsonl"

    def __init__(self, path: str | Path, *, max_bytes: int = 100 * 1024 * 1024, backups: int = 5) -> None:
        self.template = str(path)
        self.max_bytes, self.backups = max_bytes, backups
        self._file: BinaryIO | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> JsonLinesObserver | None:
        """The observer the variables describe; None when ``SYNAXIS_JSONL_PATH`` is unset."""
        path = settings.env(PATH)
        if path is None:
            return None
        return cls(path, max_bytes=_int_setting(settings, MAX_BYTES, 100 * 1024 * 1024, 1),
                   backups=_int_setting(settings, BACKUPS, 5, 0))

    @property
    def path(self) -> Path:
        return Path(self.template.replace("{pid}", str(os.getpid())))

    async def observe(self, records: list[ObservedRequest]) -> None:
        await asyncio.to_thread(self._write, records)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close)

    def _write(self, records: list[ObservedRequest]) -> None:
        with self._lock:
            file = self._file or self._open()
            for record in records:
                line = _encode(record) + b"\n"
                if file.tell() and file.tell() + len(line) > self.max_bytes:
                    file = self._rotate()
                file.write(line)
            file.flush()

    def _open(self) -> BinaryIO:
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")  # noqa: SIM115 - kept open between batches
        return self._file

    def _rotate(self) -> BinaryIO:
        self._close()
        path = self.path
        for index in range(self.backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{index}")
            if older.exists():
                os.replace(older, path.with_name(f"{path.name}.{index + 1}"))
        if self.backups:
            os.replace(path, path.with_name(f"{path.name}.1"))
        else:
            path.unlink()
        return self._open()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
