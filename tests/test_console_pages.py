"""The console without a browser: sessions, CSRF, the console switched off, the request
log's keyset pagination on both databases, and demo mode with its data flowing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from synaxis_core.console.session import SESSION_TTL_S, SessionSigner
from synaxis_core.db.models import Tenant, UsageRecord
from synaxis_core.fake import FakeUpstream
from synaxis_core.ledger.browse import LogFilter, request_log
from synaxis_core.testing.gateway import GatewayHarness, gateway_harness
from synaxis_core.testing.server_process import GatewayProcess
from synaxis_core.testing.waiting import wait_until


def test_a_session_is_signed_and_expires() -> None:
    signer = SessionSigner("admin-key")
    value, session = signer.issue(now=1_000_000)
    assert signer.verify(value, now=1_000_000 + SESSION_TTL_S - 1) == session
    assert signer.verify(value, now=1_000_000 + SESSION_TTL_S) is None  # expired
    expires, nonce, signature = value.split(".")
    assert signer.verify(f"{int(expires) + 3600}.{nonce}.{signature}", now=1_000_000) is None  # extended by hand
    assert SessionSigner("another-admin-key").verify(value, now=1_000_000) is None  # the admin key changed
    assert SessionSigner("admin-key").verify(value, now=1_000_000) == session  # any instance with the key
    other_value, other = signer.issue(now=1_000_000)
    assert signer.csrf_ok(session, signer.csrf_token(session))
    assert not signer.csrf_ok(session, signer.csrf_token(other)) and not signer.csrf_ok(session, None)


async def _signed_in(h: GatewayHarness) -> httpx.AsyncClient:
    client = h.client
    login = await client.get("/ui/login")
    token = re.search(r'name="_login" value="([^"]+)"', login.text).group(1)
    response = await client.post("/ui/login", data={"_login": token, "key": h.admin_key, "next": "/ui"})
    assert response.status_code == 303 and "synaxis_console=" in response.headers["set-cookie"]
    return client


@pytest.fixture
async def h(sqlite_url):
    async with FakeUpstream() as fake, gateway_harness(fake, database_url=sqlite_url) as harness:
        yield harness


async def test_without_an_admin_key_the_console_says_how_to_enable_it(h: GatewayHarness) -> None:
    h.gateway.settings = h.gateway.settings.model_copy(update={"admin_key": None})
    for path in ("/ui", "/ui/login", "/ui/models"):
        response = await h.client.get(path)
        assert response.status_code == 403
        assert "The console is off" in response.text and "SYNAXIS_ADMIN_KEY" in response.text


async def test_the_sign_in_form_needs_its_own_token(h: GatewayHarness) -> None:
    response = await h.client.post("/ui/login", data={"key": h.admin_key})
    assert response.status_code == 403 and "synaxis_console=" not in response.headers.get("set-cookie", "")


async def test_a_post_from_another_origin_is_refused(h: GatewayHarness) -> None:
    client = await _signed_in(h)
    page = await client.get("/ui/models")
    token = re.search(r'name="_csrf" value="([^"]+)"', page.text).group(1)
    model = (await h.gateway.models())[0]["id"]
    form = {"_csrf": token, "model": model, "active": "false", "reason": "x"}
    response = await client.post("/ui/models/state", data=form, headers={"origin": "http://evil.example"})
    assert response.status_code == 403
    assert (await h.gateway.model(model))["active"] is True
    response = await client.post("/ui/models/state", data=form, headers={"origin": "http://gateway.test"})
    assert response.status_code == 303 and (await h.gateway.model(model))["active"] is False


async def test_the_request_log_pages_through_every_row_once(sessions) -> None:
    """Keyset pagination with ties on ``created_at``, filters and a time range, on SQLite and PostgreSQL."""
    at = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    async with sessions.begin() as session:
        session.add_all([Tenant(name="acme"), Tenant(name="other")])
    async with sessions.begin() as session:
        session.add_all(
            UsageRecord(request_id=f"r{n:03d}", tenant_id=1 + n % 2, status="error" if n % 5 == 0 else "ok",
                        requested_model="m", created_at=at + timedelta(seconds=n // 3))  # three rows a second
            for n in range(95)
        )
    newest_first = [f"r{n:03d}" for n in range(94, -1, -1)]

    seen, cursor = [], None
    while True:
        page = await request_log(sessions, before=cursor, limit=20)
        seen += [r["request_id"] for r in page.rows]
        if page.older is None:
            break
        cursor = page.older
    assert seen == newest_first  # every row once, newest first, ties broken by id

    assert page.newer is not None
    back = await request_log(sessions, after=page.newer, limit=20)  # from the last page, one page newer
    assert [r["request_id"] for r in back.rows] == newest_first[60:80]

    acme_errors = await request_log(sessions, LogFilter(tenant="other", status="error"), limit=100)
    assert [r["request_id"] for r in acme_errors.rows] == [f"r{n:03d}" for n in range(94, -1, -1) if n % 10 == 5]
    assert {r["tenant"] for r in acme_errors.rows} == {"other"}
    window = LogFilter(since=at + timedelta(seconds=10), until=at + timedelta(seconds=12))
    assert [r["request_id"] for r in (await request_log(sessions, window)).rows] == [
        f"r{n:03d}" for n in range(35, 29, -1)]
    assert (await request_log(sessions, LogFilter(tenant="nobody"))).rows == []


async def test_demo_mode_shows_the_console_with_its_data_flowing(tmp_path) -> None:
    """``synaxis serve`` with no key: the banner gives a console key, and demo requests fill the log."""
    gateway = GatewayProcess({"SYNAXIS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"},
                             log_path=tmp_path / "serve.log", args=("--demo",)).start()
    try:
        await gateway.wait_ready()
        found = await wait_until(lambda: re.search(r"sign in with (demo-admin-\S+)\)", gateway.log(200)),
                                 what="the console's key in the demo banner")
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            login = await client.get("/ui/login")
            token = re.search(r'name="_login" value="([^"]+)"', login.text).group(1)
            signed = await client.post("/ui/login", data={"_login": token, "key": found.group(1)})
            assert signed.status_code == 303

            async def demo_rows() -> bool:
                page = await client.get("/ui/requests?tenant=demo-traffic")
                return page.text.count("data-request=") >= 2

            await wait_until(demo_rows, timeout=30, what="two demo requests in the request log")
            overview = await client.get("/ui")
            assert overview.status_code == 200 and "demo mode" in overview.text
            today = re.search(r'data-stat="requests">([\d,]+)<', overview.text).group(1)
            assert int(today.replace(",", "")) >= 2
    finally:
        gateway.stop()


async def test_closed_days_are_read_once_and_today_every_time(h: GatewayHarness) -> None:
    from synaxis_core.console.daycache import daily_groups

    now = datetime(2026, 3, 10, 15, tzinfo=timezone.utc)
    first, end = now.date() - timedelta(days=3), now.date() + timedelta(days=1)

    async def add(n: int, at: datetime) -> None:
        async with h.gateway.sessions.begin() as session:
            session.add(UsageRecord(request_id=f"d{n}", status="ok", requested_model="m", cost_usd=1.0, created_at=at))

    def per_day(groups: list[dict]) -> dict[str, int]:
        return {g["day"]: g["requests"] for g in groups}

    await add(1, now - timedelta(days=2))
    await add(2, now)
    assert per_day(await daily_groups(h.gateway, first, end, now=now)) == {"2026-03-08": 1, "2026-03-10": 1}
    await add(3, now - timedelta(days=2))  # a closed day changed behind the cache's back: not re-read
    await add(4, now)  # today is read on every call
    assert per_day(await daily_groups(h.gateway, first, end, now=now)) == {"2026-03-08": 1, "2026-03-10": 2}
    wider = await daily_groups(h.gateway, first - timedelta(days=5), end, now=now)  # only the new days are read
    assert per_day(wider) == {"2026-03-08": 1, "2026-03-10": 2}
    other = await daily_groups(h.gateway, first, end, model="m", now=now)  # another filter: its own entries
    assert per_day(other) == {"2026-03-08": 2, "2026-03-10": 2}
