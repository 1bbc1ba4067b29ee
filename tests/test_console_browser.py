"""The operator console in a real browser: headless Chromium (Debian's package) driven by
Playwright against a whole gateway on a loopback port, wired to the fake upstream.

Without Chromium or Playwright these tests skip with the reason (``make browser``
installs Chromium); under ``CI=true`` they fail instead. Each page is kept as a
screenshot under ``tests/artifacts/console/`` (git-ignored).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from synaxis_core.db.models import UsageRecord
from synaxis_core.fake import FakeUpstream
from synaxis_core.tenants.service import create_key
from synaxis_core.testing.gateway import GatewayHarness, gateway_harness
from synaxis_core.testing.live_server import live_server

CHROMIUM = Path(os.environ.get("SYNAXIS_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts" / "console"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
LAPTOP = {"width": 1366, "height": 768}


def _no_browser(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true the console's browser tests must run")
    pytest.skip(reason)


@pytest.fixture
async def browser() -> Any:
    if importlib.util.find_spec("playwright") is None:
        _no_browser("Playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        _no_browser(f"no Chromium at {CHROMIUM} (run `make browser`, or apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Console:
    h: GatewayHarness
    base_url: str
    context: Any
    page: Any

    async def sign_in(self, key: str | None = None, *, path: str | None = "/ui") -> None:
        if path is not None:
            await self.page.goto(path)
        await self.page.get_by_label("Admin key").fill(key or self.h.admin_key)
        await self.page.get_by_role("button", name="Sign in").click()

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    async def heading(self) -> str:
        return (await self.page.locator("h1").inner_text()).strip()


@pytest.fixture
async def console(sqlite_url: str, browser: Any) -> Any:
    async with FakeUpstream() as fake, gateway_harness(fake, database_url=sqlite_url) as h:
        async with live_server(h.app) as base_url:
            context = await browser.new_context(base_url=base_url, viewport=LAPTOP, accept_downloads=True)
            context.set_default_timeout(15_000)
            try:
                yield Console(h, base_url, context, await context.new_page())
            finally:
                await context.close()


async def seed(h: GatewayHarness, rows: list[dict[str, Any]]) -> None:
    """Ledger rows, written straight to ``usage_records``."""
    async with h.gateway.sessions.begin() as session:
        session.add_all(UsageRecord(**row) for row in rows)


async def tenant_id(h: GatewayHarness, name: str) -> int:
    info, _ = await create_key(h.gateway.sessions, name)
    await h.gateway.reload_auth()
    return info.id


def row(n: int, at: datetime, **values: Any) -> dict[str, Any]:
    return {"request_id": f"req-{n:05d}", "created_at": at, "status": "ok", "http_status": 200,
            "requested_model": "gpt-oss-120b", "provider_model_id": "gpt-oss-120b-nvidia", "attempts": 1,
            "latency_ms": 100.0 + n, "prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.01, **values}


# --- signing in and out ---------------------------------------------------------------


async def test_sign_in_and_out(console: Console) -> None:
    page = console.page
    await page.goto("/ui/models")
    assert await console.heading() == "Sign in"
    await console.shot("login")
    await console.sign_in(path=None)
    await page.wait_for_url("**/ui/models")  # back where we were going
    assert await console.heading() == "Models"
    cookie = next(c for c in await console.context.cookies() if c["name"] == "synaxis_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert 7 * 3600 < cookie["expires"] - datetime.now(timezone.utc).timestamp() <= 8 * 3600

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/ui/login")
    assert await page.get_by_role("status").inner_text() == "You are signed out."
    await page.goto("/ui")
    assert await console.heading() == "Sign in"


async def test_a_wrong_key_is_refused(console: Console) -> None:
    await console.sign_in("not-the-admin-key")
    assert await console.page.get_by_role("alert").inner_text() == "That is not the admin key."
    assert await console.heading() == "Sign in"
    assert [c["name"] for c in await console.context.cookies() if c["name"] == "synaxis_console"] == []
    await console.shot("login-wrong-key")


async def test_a_tenant_key_cannot_open_any_console_page(console: Console) -> None:
    await console.sign_in(console.h.key)
    assert "tenant key" in await console.page.get_by_role("alert").inner_text()
    await console.context.set_extra_http_headers({"authorization": f"Bearer {console.h.key}"})
    for path in ("/ui", "/ui/models", "/ui/providers", "/ui/tenants", "/ui/usage", "/ui/requests",
                 "/ui/validate", "/ui/usage.csv"):
        response = await console.page.request.get(path, max_redirects=0)
        assert response.status == 303 and response.headers["location"].startswith("/ui/login"), path
        if not path.endswith(".csv"):
            await console.page.goto(path)
            assert await console.heading() == "Sign in", path


async def test_a_form_posted_without_its_csrf_token_is_refused(console: Console) -> None:
    await console.sign_in()
    model = (await console.h.gateway.models())[0]["id"]
    form = {"model": model, "active": "false", "reason": "forged", "back": "/ui/models"}
    for extra in ({}, {"_csrf": "a-token-of-another-session"}):
        response = await console.page.request.post("/ui/models/state", form={**form, **extra}, max_redirects=0)
        assert response.status == 403
        assert "CSRF" in await response.text()
    assert (await console.h.gateway.model(model))["active"] is True  # nothing changed
    # the same post with the page's own token goes through
    token = await console.page.locator("input[name=_csrf]").first.get_attribute("value")
    response = await console.page.request.post("/ui/models/state", form={**form, "_csrf": token}, max_redirects=0)
    assert response.status == 303
    assert (await console.h.gateway.model(model))["active"] is False


# --- the pages ------------------------------------------------------------------------


async def test_the_models_page_lists_the_registry_and_disables_with_a_reason(console: Console) -> None:
    h, page = console.h, console.page
    registry = await h.gateway.models()
    target = next(m for m in registry if m["active"] and m["provider"] == "nvidia" and m["kind"] == "chat")["id"]
    await console.sign_in()
    await page.goto("/ui/models")
    listed = await page.locator("table.models tbody tr[data-model]").evaluate_all("rows => rows.map(r => r.dataset.model)")
    assert sorted(listed) == sorted(m["id"] for m in registry)
    await console.shot("models")

    await page.get_by_label("Search").fill(target)
    await page.wait_for_function("n => document.querySelectorAll('tr[data-model]').length === n", arg=1)
    await page.get_by_label("Provider").select_option("nvidia")
    assert await page.locator("#models-count").inner_text() == "1"

    row_ = page.locator(f'tr[data-model="{target}"]')
    await row_.get_by_label(f"Reason to disable {target}").fill("upstream maintenance")
    await row_.get_by_role("button", name=f"Disable {target}").click()
    await page.get_by_role("status").filter(has_text=f"{target} disabled").wait_for()
    assert "by admin: upstream maintenance" in await page.locator(f'tr[data-model="{target}"] td.status').inner_text()
    await console.shot("models-disabled")

    admin = (await h.client.get(f"/admin/models/{target}", headers=h.admin())).json()
    assert (admin["active"], admin["disabled_by"], admin["disabled_reason"]) == (False, "admin", "upstream maintenance")
    chat = await h.client.post("/v1/chat/completions", headers=h.auth(),
                               json={"model": target, "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 503
    assert "upstream maintenance" in chat.json()["error"]["message"]

    await page.locator(f'tr[data-model="{target}"]').get_by_role("button", name=f"Enable {target}").click()
    await page.get_by_role("status").filter(has_text=f"{target} enabled").wait_for()
    chat = await h.client.post("/v1/chat/completions", headers=h.auth(),
                               json={"model": target, "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200


async def test_a_new_key_is_shown_once_and_works(console: Console) -> None:
    h, page = console.h, console.page
    await console.sign_in()
    await page.goto("/ui/tenants")
    await page.get_by_label("Tenant (created if new)").fill("acme")
    await page.get_by_role("button", name="Create key").click()
    key = await page.get_by_label("API key").input_value()
    assert key.startswith("sk-syn-")
    await console.shot("tenants-new-key")
    chat = await h.client.post("/v1/chat/completions", headers=h.auth(key),
                               json={"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200

    await page.goto("/ui/tenants")
    assert key not in await page.content()  # shown once: only its prefix is left
    acme = page.locator('section[data-tenant="acme"]')
    await acme.locator(f'tr[data-prefix="{key[:12]}"]').wait_for()

    await acme.get_by_text("Set limits for acme").click()
    await acme.get_by_label("Monthly budget (USD)").fill("25")
    await acme.get_by_label("Requests per minute").fill("600")
    await acme.get_by_role("button", name="Save limits").click()
    await page.get_by_role("status").filter(has_text="Limits of acme for all models saved.").wait_for()
    limit_row = page.locator('section[data-tenant="acme"] tr[data-limit="*"]')
    assert "$25.00" in await limit_row.inner_text() and "600" in await limit_row.inner_text()
    tenants = (await h.client.get("/admin/tenants", headers=h.admin())).json()
    assert next(t for t in tenants if t["name"] == "acme")["limits"]["*"]["budget_usd"] == 25

    await acme.get_by_role("button", name=f"Revoke key {key[:12]}").click()
    await page.get_by_role("status").filter(has_text=f"Key {key[:12]} revoked").wait_for()
    chat = await h.client.post("/v1/chat/completions", headers=h.auth(key),
                               json={"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 401


BLUEISH_ROWS = """sel => {
  const canvas = document.querySelector(sel + ' canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const rows = new Set();
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) rows.add(Math.floor(i / 4 / canvas.width));
  }
  return rows.size;
}"""
"""How many pixel rows of a chart's canvas hold a series' colour (grid, axes and text are grey)."""


async def test_the_charts_render_the_seeded_ledger(console: Console) -> None:
    h, page = console.h, console.page
    acme = await tenant_id(h, "acme")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    noon = now.replace(hour=12, minute=0, second=0)
    rows = []
    for day in range(10):  # one request today, then a rising number per day over the 9 days before
        for n in range(day + 1):
            at = now if day == 0 else noon - timedelta(days=day, minutes=n)
            rows.append(row(len(rows), at, tenant_id=acme, cost_usd=0.5,
                            provider_model_id="gpt-oss-120b-nvidia" if n % 2 else "deepseek-r1-0528-syn"))
    await seed(h, rows)
    await console.sign_in()
    await page.goto("/ui")
    await page.locator("#chart-daily canvas").wait_for()
    assert await page.evaluate(BLUEISH_ROWS, "#chart-daily") > 40  # bars of real height
    today = page.get_by_role("region", name="Today")
    assert await today.locator("[data-stat=requests]").inner_text() == "1"
    assert await today.locator("[data-stat=spend]").inner_text() == "$0.5000"
    top_tenants = page.get_by_role("region", name="Top tenants by spend")
    assert "acme" in await top_tenants.inner_text()
    await console.shot("overview")

    await page.get_by_role("link", name="Usage").click()
    await page.wait_for_url("**/ui/usage")
    for n in (1, 2):
        await page.locator(f"#chart-usage-{n} canvas").wait_for()
        assert await page.evaluate(BLUEISH_ROWS, f"#chart-usage-{n}") > 40
    assert await page.locator("#usage-table tbody tr").count() == 19  # 10 days, both models from day 1 on
    await console.shot("usage")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Export CSV").click()
    download = await info.value
    exported = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text())))
    assert sum(int(r["requests"]) for r in exported) == len(rows)
    assert {r["tenant"] for r in exported} == {"acme"}


async def test_the_request_log_paginates_and_filters(console: Console) -> None:
    h, page = console.h, console.page
    acme = await tenant_id(h, "acme")
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    await seed(h, [  # req-00119 is the newest; every 7th row is acme's and failed
        row(n, start + timedelta(seconds=n), **({"tenant_id": acme, "status": "error", "http_status": 502}
                                                 if n % 7 == 0 else {}))
        for n in range(120)
    ])
    await console.sign_in()
    await page.goto("/ui/requests")

    async def shown() -> list[str]:
        return await page.locator("#log tbody tr").evaluate_all("rows => rows.map(r => r.dataset.request)")

    first = await shown()
    assert first == [f"req-{n:05d}" for n in range(119, 69, -1)]
    await console.shot("requests")
    await page.get_by_role("link", name="Older →").first.click()
    await page.wait_for_url("**before=*")
    assert await shown() == [f"req-{n:05d}" for n in range(69, 19, -1)]
    await page.get_by_role("link", name="Older →").first.click()
    await page.wait_for_function("() => document.querySelectorAll('#log tbody tr').length === 20")
    assert await shown() == [f"req-{n:05d}" for n in range(19, -1, -1)]
    assert await page.get_by_role("link", name="Older →").count() == 0
    await page.get_by_role("link", name="← Newer").first.click()
    await page.wait_for_url("**after=*")
    assert await shown() == [f"req-{n:05d}" for n in range(69, 19, -1)]

    await page.goto("/ui/requests")
    await page.get_by_label("Tenant").select_option("acme")
    await page.get_by_label("Status").select_option("error")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url("**status=error*")
    assert await shown() == [f"req-{n:05d}" for n in range(119, -1, -1) if n % 7 == 0]
    texts = await page.locator("#log tbody tr").all_inner_texts()
    assert all("acme" in t and "error" in t for t in texts)
    await console.shot("requests-filtered")


async def test_providers_sync_now_and_validate(console: Console) -> None:
    h, page = console.h, console.page
    for m in await h.gateway.models("synthetic"):  # what the discovery will find listed
        h.fake.add_model("synthetic", m["upstream_id"])
    await console.sign_in()
    await page.goto("/ui/providers")
    synthetic = page.locator('tr[data-provider="synthetic"]')
    assert "never" in await synthetic.inner_text()
    assert "present" in await synthetic.inner_text() and "SYNTHETIC_API_KEY" in await synthetic.inner_text()
    for target in ("providers", "catalog"):
        await page.locator(f"input[name=targets][value={target}]").uncheck()
    await page.get_by_role("button", name="Sync now").click()
    await page.get_by_role("heading", name="Sync finished: discover").wait_for()
    assert "never" not in await page.locator('tr[data-provider="synthetic"]').inner_text()  # discovery ran
    await console.shot("providers")

    model = next(m for m in await h.gateway.models() if m["active"] and m["provider"] == "together")["id"]
    await page.get_by_role("link", name="Validate").click()
    await page.get_by_label("Model (optional)").fill(model)
    await page.get_by_role("button", name="Run validate").click()
    await page.get_by_role("heading", name="This run: 1 passed, 0 failed").wait_for()
    assert "ok" in await page.locator(f'table.results tr[data-model="{model}"]').inner_text()
    await console.shot("validate")


async def test_demo_mode_shows_the_console_with_demo_traffic(browser: Any, tmp_path: Path) -> None:
    """``synaxis serve`` with no provider key: sign in with the banner's key, see the demo requests."""
    import re

    from synaxis_core.testing.server_process import GatewayProcess
    from synaxis_core.testing.waiting import wait_until

    served = GatewayProcess({"SYNAXIS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"},
                            log_path=tmp_path / "serve.log", args=("--demo",)).start()
    context = await browser.new_context(base_url=served.url, viewport=LAPTOP)
    try:
        await served.wait_ready()
        found = await wait_until(lambda: re.search(r"sign in with (demo-admin-\S+)\)", served.log(200)),
                                 what="the console's key in the demo banner")
        demo = Console(None, served.url, context, await context.new_page())  # type: ignore[arg-type]
        await demo.sign_in(found.group(1))
        page = demo.page
        assert await page.locator(".badge-demo").inner_text() == "demo mode"
        await page.goto("/ui/requests?tenant=demo-traffic")

        async def three_rows() -> bool:
            await page.reload()
            return await page.locator("#log tbody tr").count() >= 3

        await wait_until(three_rows, timeout=30, what="three demo requests in the request log")
        await demo.shot("demo-requests")
        await page.goto("/ui")
        assert int((await page.get_by_role("region", name="Today").locator("[data-stat=requests]").inner_text())
                   .replace(",", "")) >= 3
        await demo.shot("demo-overview")
    finally:
        await context.close()
        served.stop()
