"""The usage ledger writer: a bounded queue, batched multi-row INSERTs, graceful close.

Requests put a ``UsageEntry`` on an ``asyncio.Queue`` (``record``: waits when the queue
is full, which is the back-pressure that keeps memory bounded; ``record_nowait``: for
code that cannot await, drops and logs when full). One background task takes entries
off the queue and writes them with ``INSERT ... ON CONFLICT (request_id) DO NOTHING``
in one transaction per flush, when ``batch_size`` entries are waiting or
``flush_interval_s`` after the oldest arrived, whichever comes first; a flush takes the
whole backlog (up to ``BACKLOG_FACTOR`` batches). A retried flush never doubles a row.

What a crash costs: by default ``record`` returns once the entry is queued, so a process
killed outright (``kill -9``, OOM) loses the entries not yet committed — those of the
last ``flush_interval_s`` (0.5 s) plus the flush in progress. With ``durable=True``
(``SYNAXIS_LEDGER_DURABLE``) ``record`` returns only once the entry's flush has
committed, and the writer flushes as soon as entries wait (the entries that arrive
during one flush go together in the next: a group commit); a request whose response
waits for ``record`` then never answers without its row.

A flush that fails is logged and retried with exponential backoff, for as long as it
takes; meanwhile :attr:`LedgerWriter.healthy` is False and :attr:`LedgerWriter.last_error`
says why (``/health``). A batch the database rejects as data (a constraint, a value it
cannot store), or that keeps failing while the database answers ``SELECT 1``, is
bisected until the bad entries are found; those are logged one by one as JSON on the
``synaxis.ledger.unwritten`` logger, as are entries given up at a timed-out ``aclose``:
nothing is dropped silently. A database that says it cannot write (a full disk, an I/O
error: :func:`~synaxis_core.ledger.failures.is_resource_error`) blames no row: the batch
waits, and the queue fills, until it can. With the queue full, :meth:`wait_for_room`
tells a request to answer 503 rather than wait. The writer belongs to one event loop;
it is not thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any, Callable, Literal

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.db.models import utcnow
from synaxis_core.ledger.failures import is_data_error, is_resource_error, reason
from synaxis_core.ledger.queries import insert_usage_rows

log = logging.getLogger("synaxis.ledger")
unwritten_log = logging.getLogger("synaxis.ledger.unwritten")

BACKLOG_FACTOR = 20
"""A flush takes up to this many batches' worth of waiting entries in one transaction.

Each flush costs several hops between the event loop and the database driver, and on a
saturated loop each hop waits its turn behind every ready request: at 128 clients
(~6,000 requests/s on one core) flushes of 500 rows fell behind until the queue was
full (100,000 entries, +40 MB). Taking the backlog whole keeps up."""

SUSPECT_AFTER = 4
"""Failures of one batch, with the database otherwise answering, that make it suspect."""


class UsageEntry(msgspec.Struct, kw_only=True, frozen=True):
    """One finished request, as it goes into ``usage_records``."""

    request_id: str
    tenant_id: int | None = None
    provider_model_id: str | None = None
    global_model_id: str | None = None
    requested_model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    status: Literal["ok", "error", "cancelled", "cached"] = "ok"
    """``cached``: answered from the response cache (``cost_usd`` 0, ``saved_usd`` set)."""
    http_status: int = 200
    attempts: int = 1
    stream: bool = False
    created_at: datetime = msgspec.field(default_factory=utcnow)
    saved_usd: float | None = None
    """What a cached answer would have cost upstream (None: not from the cache)."""
    dialect: str = "chat"
    """The API the client spoke (``chat``, ``messages``, ``responses``)."""


_STOP: Any = object()
_FIELDS = UsageEntry.__struct_fields__
"""Named like the ``usage_records`` columns they fill."""


class LedgerWriter:
    """Batches ``UsageEntry`` records into ``usage_records``; see the module docstring.

    ``on_flush(rows, seconds)`` is called after each successful INSERT, ``on_error(exc)``
    after each failed one (for metrics). ``durable``: ``record`` returns once committed.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        queue_max: int = 100_000,
        on_flush: Callable[[int, float], None] | None = None,
        retry_initial_s: float = 0.05,
        retry_max_s: float = 5.0,
        durable: bool = False,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        if batch_size < 1 or queue_max < 1:
            raise ValueError("batch_size and queue_max must be at least 1")
        self._sessions = sessions
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self._queue: asyncio.Queue[UsageEntry] = asyncio.Queue(maxsize=queue_max)
        self._batch_ready = asyncio.Event()
        """Set when a whole batch is waiting (or at close): the writer sleeps on it, not
        on every single entry (one wake-up per batch, ~10 µs less per request)."""
        self._on_flush = on_flush
        self._on_error = on_error
        self.durable = durable
        self._retry = (retry_initial_s, retry_max_s)
        self._room = asyncio.Event()
        """Set whenever the writer takes entries off the queue (``wait_for_room``)."""
        self._progress = asyncio.Event()
        """Set (and cleared) whenever entries were written or given up (durable ``record``)."""
        self._queued_total = 0
        """Entries ever queued: the position of each in the queue's order."""
        self._taken_total = 0
        self._done_total = 0
        """Entries written or given up, in queue order (the writer works in that order)."""
        self.last_error: str | None = None
        """Why the last flush failed; None once a flush succeeds again."""
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._pending = 0
        self._current: list[UsageEntry] = []
        self.written = 0
        """Rows inserted (duplicates of an existing ``request_id`` are not counted)."""
        self.failed_flushes = 0
        self.dropped = 0
        """Entries not written: refused when full or closed, rejected, or given up."""

    @property
    def pending(self) -> int:
        """Entries recorded but not yet written (queued or in a flush)."""
        return self._pending

    @property
    def full(self) -> bool:
        """The queue is full: ``record`` would wait."""
        return self._queue.full()

    @property
    def healthy(self) -> bool:
        """The last flush succeeded and the queue has room (what ``/health`` reports)."""
        return self.last_error is None and not self._queue.full()

    async def wait_for_room(self, timeout_s: float) -> bool:
        """True once the queue has room (at once, usually); False if it stays full for
        ``timeout_s`` seconds: the request should then answer 503 with Retry-After
        rather than hold its client while the database cannot write."""
        if not self._queue.full():
            return True
        try:
            async with asyncio.timeout(timeout_s):
                while self._queue.full():
                    self._room.clear()
                    await self._room.wait()
        except TimeoutError:
            return not self._queue.full()
        return True

    def start(self) -> None:
        """Launch the background flusher on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="synaxis-ledger-writer")

    async def record(self, entry: UsageEntry) -> None:
        """Queue ``entry``; waits while the queue is full (back-pressure).

        Durable: returns once the entry is committed (or given up and logged). Cancelled
        while it waits, the entry stays queued and is written all the same.
        """
        if self._closing:
            return self._lose([entry], "the ledger writer is closed")
        await self._queue.put(entry)
        self._queued()
        if self.durable:
            position = self._queued_total
            while self._done_total < position:
                await self._progress.wait()

    def record_nowait(self, entry: UsageEntry) -> bool:
        """Queue ``entry`` without waiting; False (and logged) when full or closed."""
        if self._closing:
            self._lose([entry], "the ledger writer is closed")
            return False
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            self._lose([entry], "the ledger queue is full")
            return False
        self._queued()
        return True

    def _queued(self) -> None:
        """Count an entry just queued; wake the writer once a whole batch waits."""
        self._pending += 1
        self._queued_total += 1
        if self.durable or self._queue.qsize() >= self.batch_size - 1:  # with the one the writer holds
            self._batch_ready.set()

    async def flush(self) -> None:
        """Wait until everything recorded so far is written (the writer must be started)."""
        await self._queue.join()

    async def aclose(self, timeout: float | None = None) -> None:
        """Write everything queued, then stop. Idempotent.

        With a ``timeout`` (seconds), entries still unwritten when it expires (say the
        database is down) are logged as JSON on ``synaxis.ledger.unwritten``.
        """
        if self._closing:
            if self._task is not None:
                await asyncio.shield(self._task)
            return
        self.start()
        self._closing = True
        assert self._task is not None
        try:
            async with asyncio.timeout(timeout):
                await self._queue.put(_STOP)
                self._batch_ready.set()
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            left = self._current + [e for e in self._drain() if e is not _STOP]
            self._lose(left, f"closed after {timeout}s with the database still failing", counted=True)
            self._done()  # durable ``record`` calls return: their entries are logged, not written

    # --- the background task ----------------------------------------------------------

    def _drain(self) -> list[UsageEntry]:
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                self._took(len(items))
                return items
            self._queue.task_done()

    def _took(self, count: int) -> None:
        """``count`` entries left the queue: there is room, and they are next to be done."""
        self._taken_total += count
        self._room.set()

    def _done(self) -> None:
        """Everything taken so far is written or given up: wake durable ``record`` calls."""
        self._done_total = self._taken_total
        self._progress.set()
        self._progress.clear()

    async def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = await self._collect()
            await self._process(batch)
        while True:  # entries whose ``record`` was already waiting when the close began
            await asyncio.sleep(0)
            late = [e for e in self._drain() if e is not _STOP]
            if not late:
                return
            for start in range(0, len(late), self.batch_size):
                self._current = late[start : start + self.batch_size]
                await self._write(self._current)
                self._current = []
            self._done()

    async def _process(self, batch: list[UsageEntry]) -> None:
        if batch:  # on cancellation ``_current`` keeps the batch for ``aclose`` to report
            await self._write(batch)
        self._current = []
        self._done()
        for _ in batch:
            self._queue.task_done()

    async def _collect(self) -> tuple[list[UsageEntry], bool]:
        """The next batch, waiting at most the interval for ``batch_size`` entries: everything
        waiting, up to ``BACKLOG_FACTOR * batch_size`` entries."""
        first = await self._queue.get()
        if first is _STOP:
            self._queue.task_done()
            return [], True
        self._took(1)
        batch = self._current = [first]
        if self._queue.qsize() < self.batch_size - 1 and not self._closing and not self.durable:
            self._batch_ready.clear()
            try:
                async with asyncio.timeout(self.flush_interval_s):
                    await self._batch_ready.wait()
            except TimeoutError:
                pass
        most = self.batch_size * BACKLOG_FACTOR
        while len(batch) < most:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if item is _STOP:
                self._queue.task_done()
                self._took(len(batch) - 1)
                return batch, True
            batch.append(item)
        self._took(len(batch) - 1)
        return batch, False

    async def _write(self, batch: list[UsageEntry]) -> None:
        """Insert ``batch``, retrying with backoff; bisect it when the data is at fault.

        The data is at fault when the error says so, or when the batch has failed
        ``SUSPECT_AFTER`` times while the database answers ``SELECT 1``.
        """
        delay, cap = self._retry
        failures = 0
        while True:
            started = time.perf_counter()
            try:
                inserted = await self._insert(batch)
            except Exception as exc:  # noqa: BLE001 - every failure is logged and handled
                self._failed(exc)
                if not is_resource_error(exc):  # a full disk is nobody's row's fault
                    failures += 1
                    if is_data_error(exc) or (failures >= SUSPECT_AFTER and await self._database_answers()):
                        return await self._bisect(batch, exc)
                log.warning("ledger flush of %d entries failed, retrying in %.2fs: %s", len(batch), delay, reason(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, cap)
                continue
            self.last_error = None
            self.written += inserted
            self._pending -= len(batch)
            if self._on_flush is not None:
                try:
                    self._on_flush(len(batch), time.perf_counter() - started)
                except Exception:  # noqa: BLE001
                    log.exception("ledger on_flush callback failed")
            return

    def _failed(self, exc: BaseException) -> None:
        self.failed_flushes += 1
        self.last_error = reason(exc)
        if self._on_error is not None:
            try:
                self._on_error(exc)
            except Exception:  # noqa: BLE001
                log.exception("ledger on_error callback failed")

    async def _bisect(self, batch: list[UsageEntry], exc: BaseException) -> None:
        if len(batch) == 1:
            return self._lose(batch, f"the database rejected it: {reason(exc)}", counted=True)
        middle = len(batch) // 2
        await self._write(batch[:middle])
        await self._write(batch[middle:])

    async def _database_answers(self) -> bool:
        try:
            async with self._sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - the database is down: the data is not to blame
            return False
        return True

    async def _insert(self, batch: list[UsageEntry]) -> int:
        async with self._sessions.begin() as session:
            connection = await session.connection()
            return await insert_usage_rows(connection, _FIELDS, [msgspec.structs.astuple(e) for e in batch])

    def _lose(self, entries: list[UsageEntry], why: str, *, counted: bool = False) -> None:
        """Log entries that will not be written: the count, then each as a JSON line."""
        if not entries:
            return
        self.dropped += len(entries)
        if counted:
            self._pending -= len(entries)
        unwritten_log.error("%d usage entries not written: %s", len(entries), why)
        for entry in entries:
            unwritten_log.error("%s", msgspec.json.encode(entry).decode())

