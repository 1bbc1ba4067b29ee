"""The in-process cache: least recently used out first, bounded by entries and by bytes."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable


class MemoryCache:
    """Entries are bytes with an expiry on ``clock`` (``time.monotonic``). An expired
    entry is dropped when it is read; the bounds evict the least recently used first.
    A value larger than ``max_bytes`` is not kept. One event loop; not thread-safe."""

    kind = "memory"

    def __init__(
        self, *, max_entries: int, max_bytes: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self.bytes = 0
        """Bytes held (keys and values)."""
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self.clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self.store(key, value, ttl_s)

    def store(self, key: str, value: bytes, ttl_s: float) -> None:
        """``set`` without awaiting (nothing here waits)."""
        size = len(key) + len(value)
        if size > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (self.clock() + ttl_s, value)
        self.bytes += size
        entries = self._entries
        while len(entries) > self.max_entries or self.bytes > self.max_bytes:
            old_key, (_, old_value) = entries.popitem(last=False)
            self.bytes -= len(old_key) + len(old_value)

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self.bytes -= len(key) + len(value)

    async def aclose(self) -> None:
        self._entries.clear()
        self.bytes = 0
