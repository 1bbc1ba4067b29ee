"""The usage ledger: cost math, the batched writer and the totals, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from synaxis_core.db.engine import create_engine, session_factory
from synaxis_core.db.migrate import upgrade
from synaxis_core.db.models import UsageRecord
from synaxis_core.errors import NotFound
from synaxis_core.ledger.cost import cost_usd, estimate_prompt_tokens, estimate_tokens
from synaxis_core.ledger.queries import month_spend, month_start, usage_totals
from synaxis_core.ledger.failures import is_data_error, is_resource_error
from synaxis_core.ledger.writer import BACKLOG_FACTOR, SUSPECT_AFTER, LedgerWriter, UsageEntry
from synaxis_core.tenants import service


class GatedSessions:
    """Wraps a session factory: ``begin()`` waits for ``gate`` and can fail on demand."""

    def __init__(self, sessions, *, fail_after_commit: int = 0, fail_before: int = 0):
        self.sessions = sessions
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        """Set once a flush has started (and waits for ``gate`` if it is cleared)."""
        self.fail_after_commit = fail_after_commit
        self.fail_before = fail_before

    def __call__(self):
        if self.fail_before:  # the database is down for everyone
            raise OperationalError("SELECT 1", {}, ConnectionError("database went away"))
        return self.sessions()

    @asynccontextmanager
    async def begin(self):
        self.entered.set()
        await self.gate.wait()
        if self.fail_before:
            self.fail_before -= 1
            raise OperationalError("INSERT", {}, ConnectionError("database went away"))
        async with self.sessions.begin() as session:
            yield session
        if self.fail_after_commit:  # committed, but the client never heard back
            self.fail_after_commit -= 1
            raise OperationalError("COMMIT", {}, ConnectionError("connection reset"))


def entry(n: int, **fields) -> UsageEntry:
    return UsageEntry(request_id=f"req-{n}", **{"provider_model_id": "m", "prompt_tokens": 1, **fields})


async def count_rows(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(UsageRecord))


async def eventually(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_cost_math():
    assert cost_usd(1_000_000, 500_000, 1.0, 2.0) == pytest.approx(2.0)
    assert cost_usd(1234, 567, 0.5, 1.5) == pytest.approx((1234 * 0.5 + 567 * 1.5) / 1e6)
    assert cost_usd(1000, 1000, None, None) == 0.0
    assert cost_usd(1000, 1000, None, 3.0) == pytest.approx(0.003)


def test_token_estimates():
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("abcd" * 10 + "x") == 11
    assert estimate_prompt_tokens([]) == 0
    messages = [
        {"role": "system", "content": "abcd" * 5},
        {"role": "user", "content": [{"type": "text", "text": "abcd" * 3}, {"type": "image_url", "image_url": {}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
    ]
    assert estimate_prompt_tokens(messages) == 3 + 3 * 3 + 5 + 3 + estimate_tokens("f {}")


async def test_writer_flushes_by_size(sessions):
    """A full batch is written at once (not after the 60 s interval), with everything else
    waiting by then; fewer than a batch wait for the interval (or the close)."""
    flushed: list[int] = []
    writer = LedgerWriter(sessions, batch_size=10, flush_interval_s=60, on_flush=lambda n, s: flushed.append(n))
    writer.start()
    for n in range(25):
        await writer.record(entry(n))
    await eventually(lambda: asyncio.sleep(0, len(flushed) == 1))
    assert flushed == [25] and writer.pending == 0 and await count_rows(sessions) == 25
    for n in range(25, 28):
        await writer.record(entry(n))
    await asyncio.sleep(0.05)
    assert flushed == [25] and writer.pending == 3
    await writer.aclose()
    assert flushed == [25, 3] and writer.pending == 0 and await count_rows(sessions) == 28


async def test_a_backlog_is_written_in_flushes_of_at_most_twenty_batches(sessions):
    flushed: list[int] = []
    writer = LedgerWriter(sessions, batch_size=2, flush_interval_s=60, on_flush=lambda n, s: flushed.append(n))
    for n in range(100):  # queued before the writer starts: a backlog
        await writer.record(entry(n))
    writer.start()
    await eventually(lambda: asyncio.sleep(0, sum(flushed) == 100))
    assert flushed == [2 * BACKLOG_FACTOR, 2 * BACKLOG_FACTOR, 20] and await count_rows(sessions) == 100
    await writer.aclose()


async def test_writer_flushes_by_time(sessions):
    flushed: list[int] = []
    writer = LedgerWriter(sessions, batch_size=1000, flush_interval_s=0.05, on_flush=lambda n, s: flushed.append(n))
    writer.start()
    for n in range(3):
        writer.record_nowait(entry(n))
    await eventually(lambda: asyncio.sleep(0, flushed == [3]), timeout=2.0)
    assert await count_rows(sessions) == 3
    await writer.record(entry(3))
    await writer.flush()
    assert flushed == [3, 1] and await count_rows(sessions) == 4
    await writer.aclose()


async def test_a_full_queue_makes_record_wait(sessions):
    writer = LedgerWriter(sessions, queue_max=10, batch_size=100, flush_interval_s=0.01)
    for n in range(10):
        await asyncio.wait_for(writer.record(entry(n)), 1)
    eleventh = asyncio.create_task(writer.record(entry(10)))
    await asyncio.sleep(0.05)
    assert not eleventh.done() and writer.pending == 10
    assert writer.record_nowait(entry(99)) is False and writer.dropped == 1
    writer.start()
    await asyncio.wait_for(eleventh, 5)
    await writer.aclose()
    assert await count_rows(sessions) == 11 and writer.written == 11


async def test_a_paused_flush_bounds_memory(sessions):
    gated = GatedSessions(sessions)
    gated.gate.clear()
    writer = LedgerWriter(gated, queue_max=10, batch_size=5, flush_interval_s=0.01)
    writer.start()
    for n in range(15):  # 5 in the stuck flush, 10 in the queue
        await asyncio.wait_for(writer.record(entry(n)), 1)
    blocked = asyncio.create_task(writer.record(entry(15)))
    await asyncio.sleep(0.05)
    assert not blocked.done() and writer.pending == 15
    gated.gate.set()
    await asyncio.wait_for(blocked, 5)
    await writer.aclose()
    assert await count_rows(sessions) == 16


async def test_aclose_writes_everything_queued(sessions):
    writer = LedgerWriter(sessions, batch_size=500, flush_interval_s=60)
    writer.start()
    for n in range(1234):
        await writer.record(entry(n))
    await writer.aclose()
    await writer.aclose()  # idempotent
    assert writer.pending == 0 and writer.written == 1234 and await count_rows(sessions) == 1234
    writer.record_nowait(entry(5000))
    assert writer.dropped == 1 and await count_rows(sessions) == 1234


async def test_aclose_without_start_still_writes(sessions):
    writer = LedgerWriter(sessions)
    await writer.record(entry(1))
    await writer.aclose()
    assert await count_rows(sessions) == 1


async def test_duplicate_request_ids_are_written_once(sessions):
    writer = LedgerWriter(sessions, flush_interval_s=0.01)
    writer.start()
    await writer.record(entry(1, prompt_tokens=7))
    await writer.record(entry(1, prompt_tokens=8))  # same batch
    await writer.flush()
    await writer.record(entry(1, prompt_tokens=9))  # later batch
    await writer.aclose()
    async with sessions() as session:
        rows = (await session.scalars(select(UsageRecord))).all()
    assert [(r.request_id, r.prompt_tokens) for r in rows] == [("req-1", 7)]
    assert writer.written == 1


async def test_a_failed_flush_is_retried_and_never_doubles_a_row(sessions, caplog):
    gated = GatedSessions(sessions, fail_after_commit=1, fail_before=2)
    writer = LedgerWriter(gated, flush_interval_s=0.01, retry_initial_s=0.001)
    writer.start()
    for n in range(20):
        await writer.record(entry(n))
    with caplog.at_level(logging.WARNING, logger="synaxis.ledger"):
        await writer.aclose()
    assert await count_rows(sessions) == 20 and writer.failed_flushes == 3 and writer.dropped == 0
    assert "retrying" in caplog.text


async def test_rejected_rows_are_isolated_and_logged(sessions, caplog):
    writer = LedgerWriter(sessions, flush_interval_s=0.01, retry_initial_s=0.001)
    writer.start()
    for n in range(9):
        await writer.record(entry(n))
    await writer.record(UsageEntry(request_id="bad", status=None))  # type: ignore[arg-type]  NOT NULL
    with caplog.at_level(logging.ERROR, logger="synaxis.ledger.unwritten"):
        await writer.aclose()
    assert await count_rows(sessions) == 9 and writer.dropped == 1 and writer.pending == 0
    assert '"request_id":"bad"' in caplog.text


class PoisonSessions(GatedSessions):
    """Fails any INSERT that contains ``poison`` with an error that does not say why."""

    def __init__(self, sessions, poison: str):
        super().__init__(sessions)
        self.poison = poison

    @asynccontextmanager
    async def begin(self):
        async with self.sessions.begin() as session:
            yield PoisonSession(await session.connection(), self.poison)


class PoisonSession:
    def __init__(self, connection, poison: str):
        self.conn, self.poison, self.dialect = connection, poison, connection.dialect

    async def connection(self):
        return self

    async def exec_driver_sql(self, sql, params):
        if self.poison in params:
            raise OperationalError(sql[:30], {}, RuntimeError("something odd"))
        return await self.conn.exec_driver_sql(sql, params)


async def test_an_unexplained_poison_row_is_isolated_while_the_database_answers(sessions, caplog):
    writer = LedgerWriter(PoisonSessions(sessions, "req-5"), flush_interval_s=0.01, retry_initial_s=0.001)
    writer.start()
    for n in range(8):
        await writer.record(entry(n))
    with caplog.at_level(logging.ERROR, logger="synaxis.ledger.unwritten"):
        await asyncio.wait_for(writer.aclose(), 10)
    assert await count_rows(sessions) == 7 and writer.dropped == 1 and writer.pending == 0
    assert '"request_id":"req-5"' in caplog.text


async def test_aclose_timeout_logs_what_could_not_be_written(sessions, caplog):
    gated = GatedSessions(sessions, fail_before=10**9)
    writer = LedgerWriter(gated, flush_interval_s=0.01, retry_initial_s=0.01, retry_max_s=0.01)
    writer.start()
    for n in range(3):
        await writer.record(entry(n))
    with caplog.at_level(logging.ERROR, logger="synaxis.ledger.unwritten"):
        await writer.aclose(timeout=0.2)
    assert writer.dropped == 3 and writer.pending == 0
    assert "3 usage entries not written" in caplog.text and '"request_id":"req-2"' in caplog.text


async def test_usage_totals_and_month_spend(sessions):
    acme, _ = await service.create_key(sessions, "acme")
    globex, _ = await service.create_key(sessions, "globex")
    today = datetime.now(timezone.utc).replace(hour=12)
    yesterday = today - timedelta(days=1)
    writer = LedgerWriter(sessions)
    rows = [
        entry(1, tenant_id=acme.id, provider_model_id="a", global_model_id="g", prompt_tokens=10, completion_tokens=5, cost_usd=0.5, created_at=today),
        entry(2, tenant_id=acme.id, provider_model_id="a", global_model_id="g", prompt_tokens=20, completion_tokens=1, cost_usd=0.25, status="error", created_at=today),
        entry(3, tenant_id=acme.id, provider_model_id="b", global_model_id="g", prompt_tokens=1, cost_usd=1.0, status="cancelled", created_at=today),
        entry(4, tenant_id=acme.id, provider_model_id=None, requested_model="nope", status="error", http_status=404, created_at=today),
        entry(5, tenant_id=acme.id, provider_model_id="a", cost_usd=2.0, created_at=yesterday),
        entry(6, tenant_id=globex.id, provider_model_id="a", cost_usd=4.0, created_at=today),
    ]
    for row in rows:
        await writer.record(row)
    await writer.aclose()

    totals = await usage_totals(sessions, tenant_name="acme")
    day, prev = today.date().isoformat(), yesterday.date().isoformat()
    assert [(t["day"], t["model"]) for t in totals] == [(prev, "a"), (day, "a"), (day, "b"), (day, "nope")]
    assert totals[1] == {
        "day": day, "tenant": "acme", "model": "a", "requests": 2, "ok": 1, "errors": 1, "cancelled": 0,
        "prompt_tokens": 30, "completion_tokens": 6, "cost_usd": pytest.approx(0.75),
    }
    assert totals[2]["cancelled"] == 1 and totals[3]["errors"] == 1
    everyone = await usage_totals(sessions, since=today.date())
    assert {(t["tenant"], t["model"]) for t in everyone} == {("acme", "a"), ("acme", "b"), ("acme", "nope"), ("globex", "a")}
    assert sum(t["requests"] for t in await usage_totals(sessions)) == 6
    with pytest.raises(NotFound):
        await usage_totals(sessions, tenant_name="nobody")

    spend = await month_spend(sessions, acme.id, yesterday - timedelta(minutes=1))
    assert spend == {"a": pytest.approx(2.75), "b": pytest.approx(1.0), "nope": 0.0}
    assert await month_spend(sessions, acme.id, today - timedelta(hours=1), by="global_model_id") == {
        "g": pytest.approx(1.75), "nope": 0.0,
    }
    assert month_start(datetime(2025, 3, 17, 5, tzinfo=timezone.utc)) == datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert month_start(date(2025, 3, 17)) == datetime(2025, 3, 1, tzinfo=timezone.utc)


# --- a full disk, a full queue, durable mode ---------------------------------------------


class FailureCounter:
    """``on_error`` for a writer: ``reached`` is set after ``count`` failed flushes."""

    def __init__(self, count: int) -> None:
        self.count, self.errors, self.reached = count, [], asyncio.Event()

    def __call__(self, exc: BaseException) -> None:
        self.errors.append(exc)
        if len(self.errors) >= self.count:
            self.reached.set()


async def test_a_full_sqlite_disk_is_waited_out_and_reported_never_blamed_on_the_rows(sqlite_url):
    """SQLite says "database or disk is full" (its page limit reached, as on a full disk):
    the rows wait, unhealthy, however many flushes fail; once space returns all are written."""
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    limit = {"pages": 1_073_741_823}

    @event.listens_for(engine.sync_engine, "checkout")
    def _space(dbapi_connection, record, proxy):  # every connection sees the current "disk"
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {limit['pages']}")
        cursor.close()

    sessions = session_factory(engine)
    async with sessions() as session:
        limit["pages"] = await session.scalar(text("PRAGMA page_count"))  # not one page more
    failures = FailureCounter(SUSPECT_AFTER * 3)
    writer = LedgerWriter(sessions, flush_interval_s=0.01, retry_initial_s=0.001, retry_max_s=0.005, on_error=failures)
    writer.start()
    try:
        for n in range(200):
            await writer.record(entry(n, provider_model_id="m" * 200))
        await asyncio.wait_for(failures.reached.wait(), 30)
        assert all(is_resource_error(exc) for exc in failures.errors)
        assert writer.dropped == 0 and writer.pending == 200
        assert not writer.healthy and "full" in (writer.last_error or "")
        limit["pages"] = 1_073_741_823  # space again
        await asyncio.wait_for(writer.flush(), 30)
        assert await count_rows(sessions) == 200 and writer.dropped == 0
        assert writer.healthy and writer.last_error is None
    finally:
        await writer.aclose()
        await engine.dispose()


class DiskFullSessions(GatedSessions):
    """The first ``times`` flushes fail as PostgreSQL fails on a full disk (SQLSTATE 53100),
    while the database answers ``SELECT 1``."""

    def __init__(self, sessions, times: int):
        super().__init__(sessions)
        self.times = times

    @asynccontextmanager
    async def begin(self):
        if self.times:
            self.times -= 1
            import asyncpg

            raise OperationalError("INSERT", {}, asyncpg.exceptions.DiskFullError("could not extend file"))
        async with self.sessions.begin() as session:
            yield session


async def test_a_disk_full_error_drops_no_row_while_the_database_answers(sessions):
    failures = FailureCounter(1)
    writer = LedgerWriter(
        DiskFullSessions(sessions, SUSPECT_AFTER * 3), flush_interval_s=0.01, retry_initial_s=0.001,
        retry_max_s=0.005, on_error=failures,
    )
    writer.start()
    for n in range(20):
        await writer.record(entry(n))
    await asyncio.wait_for(failures.reached.wait(), 10)
    assert not writer.healthy
    await asyncio.wait_for(writer.aclose(), 30)
    assert await count_rows(sessions) == 20 and writer.dropped == 0 and writer.failed_flushes == SUSPECT_AFTER * 3


def test_resource_errors_are_told_from_data_errors():
    import sqlite3

    import asyncpg

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]  # as sqlite3 raises it
    for exc in (
        OperationalError("INSERT", {}, full),
        OperationalError("INSERT", {}, asyncpg.exceptions.DiskFullError("could not extend file")),
        OperationalError("INSERT", {}, OSError(28, "No space left on device")),
    ):
        assert is_resource_error(exc) and not is_data_error(exc)
    bad_row = IntegrityError("INSERT", {}, asyncpg.exceptions.NotNullViolationError("null value"))
    assert is_data_error(bad_row) and not is_resource_error(bad_row)
    assert not is_resource_error(OperationalError("INSERT", {}, RuntimeError("something odd")))


async def test_a_full_queue_is_reported_at_once_instead_of_holding_the_request(sessions):
    gated = GatedSessions(sessions)
    gated.gate.clear()  # the database stops answering
    writer = LedgerWriter(gated, queue_max=10, batch_size=5, flush_interval_s=0.01)
    writer.start()
    assert await writer.wait_for_room(0) is True and writer.healthy
    await writer.record(entry(0))
    await gated.entered.wait()  # the writer is stuck in its flush
    for n in range(1, 11):
        await asyncio.wait_for(writer.record(entry(n)), 5)
    assert writer.full and not writer.healthy and writer.last_error is None  # slow, not failing
    assert await writer.wait_for_room(0.05) is False  # -> 503 + Retry-After, not a silent wait
    gated.gate.set()
    assert await writer.wait_for_room(5) is True
    await writer.aclose()
    assert await count_rows(sessions) == 11


async def test_durable_record_returns_only_once_its_row_is_committed(sessions, caplog):
    gated = GatedSessions(sessions)
    gated.gate.clear()
    writer = LedgerWriter(gated, durable=True, flush_interval_s=60)
    writer.start()
    recording = asyncio.create_task(writer.record(entry(1)))
    await asyncio.wait_for(gated.entered.wait(), 5)  # flushed at once, not after the 60 s interval
    assert not recording.done()
    gated.gate.set()
    await asyncio.wait_for(recording, 5)
    assert await count_rows(sessions) == 1
    await asyncio.wait_for(asyncio.gather(*(writer.record(entry(n)) for n in range(2, 202))), 30)
    assert await count_rows(sessions) == 201  # every record that returned is in the table
    with caplog.at_level(logging.ERROR, logger="synaxis.ledger.unwritten"):  # a rejected row does not hang
        await asyncio.wait_for(writer.record(UsageEntry(request_id="bad", status=None)), 10)  # type: ignore[arg-type]
    assert writer.dropped == 1 and '"request_id":"bad"' in caplog.text
    await writer.aclose()


async def test_durable_record_returns_when_a_closing_writer_gives_up(sessions):
    gated = GatedSessions(sessions, fail_before=10**9)
    writer = LedgerWriter(gated, durable=True, retry_initial_s=0.01, retry_max_s=0.01)
    writer.start()
    recording = asyncio.create_task(writer.record(entry(1)))
    await writer.aclose(timeout=0.1)
    await asyncio.wait_for(recording, 5)
    assert writer.dropped == 1
