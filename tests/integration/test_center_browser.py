"""The monitoring center in a real headless Chromium (Debian's, driven by Playwright) against the embedded stack.

A city operator signs in, a bad-review scenario is injected through the
gateway, the alert appears on their board live, they acknowledge it, and a
province operator's board in a second browser shows the acknowledgement
without reloading. A city operator never sees another city's alert, on the
page or through the API. A duty officer makes a statistics report from the
page and receives the file, and uploads hand-entered indicator values, seeing
every refused row. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.integration.center import PASSWORD, add_user, post_events

pytestmark = pytest.mark.integration
playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# The flags keep Chromium from reaching for Google services on a machine with no way out.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def city_pair(claim_module_city) -> tuple[int, int]:
    """The city whose operator's board is watched, and another city whose alerts must never reach that board."""
    return claim_module_city(2)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium, checked before the event loop is involved; the screenshot folder made."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium (tests/debian-packages.txt)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def _board(browser, stack, username: str, errors: list[str]):
    """A fresh browser context signed in as `username` through the login form."""
    context = await browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = await context.new_page()
    # The page asks GET /api/v1/session before signing in; Chromium logs that expected 401 as a console error.
    page.on(
        "console",
        lambda m: (
            errors.append(f"{username}: {m.text}") if m.type == "error" and "status of 401" not in m.text else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(f"{username}: {e}"))
    await page.goto(stack.base_url + "/")
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("user-badge").wait_for()
    await page.locator('[data-testid="live-status"][data-state="live"]').wait_for(timeout=10_000)
    return context, page


def _scenario(stack, city: int, minutes: float = 4.0, hall_index: int = 0) -> tuple[str, list[dict]]:
    """The simulator's bad_review_burst on one of the city's halls, as evaluation events of the last minutes."""
    from streams.simulator import Simulation

    hall = stack.registry.halls_in_city(city)[hall_index]
    sim = Simulation(stack.registry, rate_eps=60.0, seed=city)
    start = datetime.now(UTC) - timedelta(minutes=minutes)
    sim.inject("bad_review_burst", start, target=hall.hall_id, duration_s=minutes * 60 - 30)
    events = []
    for i in range(int(minutes * 6)):
        for stream, source, event in sim.step(start + timedelta(seconds=10 * (i + 1)), 10.0):
            if stream == "evaluation" and source == f"node-{city}" and event.get("hall_id") == hall.hall_id:
                events.append(event)
    return hall.hall_id, events


async def test_duty_officers_see_alerts_live_act_on_them_and_see_each_others_actions(stack, browser, city_pair) -> None:
    city, other_city = city_pair
    city_name = stack.registry.city(city).name
    city_user = add_user(stack, "web-city", "city_operator", str(city))
    province_user = add_user(stack, "web-province", "province_operator")
    errors: list[str] = []
    city_ctx, city_page = await _board(browser, stack, city_user, errors)
    prov_ctx, prov_page = await _board(browser, stack, province_user, errors)
    try:
        await city_page.screenshot(path=str(ARTIFACTS / "01-city-board-before.png"), full_page=True)
        tiles = city_page.get_by_test_id("city-tile")
        await tiles.first.wait_for()  # the overview loads after sign-in, beside the live feed
        assert await tiles.count() == 1 and await tiles.first.get_attribute("data-city") == str(city)
        await prov_page.get_by_test_id("city-tile").nth(20).wait_for()
        assert await prov_page.get_by_test_id("city-tile").count() == 21

        hall_id, events = _scenario(stack, city)
        await post_events(stack, city, "evaluation", events)
        posted = time.monotonic()
        # The burst's row: a long test session has other alerts of the city too (video nodes that never beat).
        row = (
            city_page.locator(f'[data-testid="alert-row"][data-city="{city}"][data-state="firing"]')
            .filter(has_text="差评")
            .first
        )
        await row.wait_for(timeout=15_000)  # pushed over SSE: the page never reloads or polls
        appeared_s = time.monotonic() - posted
        print(f"alert on the city board {appeared_s:.2f} s after the gateway accepted the scenario")
        fingerprint = await row.get_attribute("data-fingerprint")
        count = city_page.locator(f'[data-testid="city-tile"][data-city="{city}"] [data-testid="city-count"]')
        assert int(await count.inner_text()) >= 1
        await city_page.screenshot(path=str(ARTIFACTS / "02-city-board-alert-live.png"), full_page=True)

        # Drill-down: rule, message, trend from ClickHouse, evidence with event ids, org path, Grafana, history.
        await row.click()
        detail = city_page.get_by_test_id("alert-detail")
        await detail.wait_for()
        assert "差评" in await city_page.get_by_test_id("detail-title").inner_text()
        assert (
            hall_id in await city_page.get_by_test_id("detail-message").inner_text()
            or city_name.removesuffix("市") in await city_page.get_by_test_id("org-path").inner_text()
        )
        assert city_name in await city_page.get_by_test_id("org-path").inner_text()
        await city_page.locator('[data-testid="trend-chart"], [data-testid="trend-empty"]').first.wait_for()
        assert await city_page.get_by_test_id("trend-chart").count() == 1
        ids = await city_page.get_by_test_id("event-ids").inner_text()
        assert any(e["event_id"] in ids for e in events)
        link = await city_page.get_by_test_id("grafana-link").get_attribute("href")
        assert link.startswith(stack.settings.grafana_url + "/d/govpulse-evaluations")
        await city_page.locator('[data-testid="history-item"][data-kind="firing"]').first.wait_for()
        await city_page.screenshot(path=str(ARTIFACTS / "03-city-drilldown.png"), full_page=True)

        # The city operator acknowledges; the province operator's board shows it without a reload.
        prov_row = prov_page.locator(f'[data-testid="alert-row"][data-fingerprint="{fingerprint}"]')
        await prov_row.wait_for()
        await city_page.get_by_test_id("ack-comment").fill("已联系大厅负责人核实")
        clicked = time.monotonic()
        await city_page.get_by_test_id("ack-submit").click()
        await prov_page.locator(
            f'[data-testid="alert-row"][data-fingerprint="{fingerprint}"][data-state="acknowledged"]'
        ).wait_for(timeout=10_000)
        seen_s = time.monotonic() - clicked
        print(f"acknowledgement on the province board {seen_s:.2f} s after the click")
        assert city_user in await prov_row.inner_text()
        await city_page.locator('[data-testid="history-item"][data-kind="acknowledged"]').wait_for(timeout=5_000)
        assert "已联系大厅负责人核实" in await city_page.get_by_test_id("history").inner_text()
        await prov_page.screenshot(path=str(ARTIFACTS / "04-province-board-sees-ack.png"), full_page=True)
        await city_page.screenshot(path=str(ARTIFACTS / "05-city-after-ack.png"), full_page=True)

        # Another city's alert: on the province board, never on the first city's board or through its API.
        _, other = _scenario(stack, other_city)
        await post_events(stack, other_city, "evaluation", other)
        await (
            prov_page.locator(f'[data-testid="alert-row"][data-city="{other_city}"]')
            .filter(has_text="差评")
            .first.wait_for(timeout=15_000)
        )
        await city_page.wait_for_timeout(1500)  # the same feed delivered it to the province board already
        assert await city_page.locator(f'[data-testid="alert-row"][data-city="{other_city}"]').count() == 0
        listing = await city_page.request.get(stack.base_url + "/api/v1/alerts")
        assert {a["city"] for a in (await listing.json())["alerts"]} == {str(city)}
        other_fp = await prov_page.locator(f'[data-testid="alert-row"][data-city="{other_city}"]').first.get_attribute(
            "data-fingerprint"
        )
        assert (await city_page.request.get(f"{stack.base_url}/api/v1/alerts/{other_fp}")).status == 404
        assert (
            await city_page.request.post(f"{stack.base_url}/api/v1/alerts/{other_fp}/ack", data={"comment": "x"})
        ).status in (403, 404)
        await prov_page.screenshot(path=str(ARTIFACTS / "06-province-board-two-cities.png"), full_page=True)
        assert errors == []
    finally:
        await city_ctx.close()
        await prov_ctx.close()


def _in_state(fingerprint: str, state: str) -> str:
    return f'[data-testid="alert-row"][data-fingerprint="{fingerprint}"][data-state="{state}"]'


async def test_silence_and_unsilence_from_the_page_and_a_viewer_cannot_act(stack, browser, city_pair) -> None:
    city, _ = city_pair
    city_user = add_user(stack, "web-city2", "city_operator", str(city))
    viewer = add_user(stack, "web-viewer", "viewer")
    errors: list[str] = []
    ctx, page = await _board(browser, stack, city_user, errors)
    vctx, vpage = await _board(browser, stack, viewer, errors)
    try:
        _, events = _scenario(stack, city, minutes=3.0, hall_index=1)
        await post_events(stack, city, "evaluation", events)
        row = (
            page.locator(f'[data-testid="alert-row"][data-city="{city}"][data-state="firing"]')
            .filter(has_text="差评")
            .first
        )
        await row.wait_for(timeout=15_000)
        fingerprint = await row.get_attribute("data-fingerprint")
        await row.click()
        await page.get_by_test_id("silence-open").click()
        await page.get_by_test_id("silence-form").wait_for()
        await page.get_by_test_id("silence-comment").fill("大厅已在处理，屏蔽1小时")
        await page.get_by_test_id("silence-submit").click()
        await page.get_by_test_id("silence-row").first.wait_for(timeout=10_000)
        await page.locator(_in_state(fingerprint, "silenced")).wait_for(timeout=10_000)
        await page.screenshot(path=str(ARTIFACTS / "07-silenced.png"), full_page=True)
        await page.get_by_test_id("unsilence").first.click()
        await page.get_by_test_id("silence-row").first.wait_for(state="detached", timeout=10_000)
        await page.locator(_in_state(fingerprint, "firing")).wait_for(timeout=10_000)

        # A viewer reads the same board but has no actions, and the API refuses them anyway.
        await vpage.locator(f'[data-testid="alert-row"][data-fingerprint="{fingerprint}"]').click()
        await vpage.get_by_test_id("alert-detail").wait_for()
        assert (
            await vpage.get_by_test_id("ack-submit").count() == 0
            or not await vpage.get_by_test_id("ack-submit").is_enabled()
        )
        resp = await vpage.request.post(f"{stack.base_url}/api/v1/alerts/{fingerprint}/ack", data={"comment": "x"})
        assert resp.status == 403
        await vpage.screenshot(path=str(ARTIFACTS / "08-viewer-read-only.png"), full_page=True)

        # Chinese by default, English with one click, remembered across a reload.
        assert await vpage.evaluate("document.documentElement.lang") == "zh-CN" and "全省概览" in await vpage.content()
        await vpage.get_by_test_id("lang-toggle").click()
        await vpage.reload()
        await vpage.get_by_test_id("user-badge").wait_for()
        assert (
            await vpage.evaluate("document.documentElement.lang") == "en"
            and "Province overview" in await vpage.content()
        )
        await vpage.screenshot(path=str(ARTIFACTS / "09-english.png"), full_page=True)
        assert errors == []
    finally:
        await ctx.close()
        await vctx.close()


async def _option_values(page, testid: str) -> list[str]:
    return await page.get_by_test_id(testid).locator("option").evaluate_all("els => els.map(e => e.value)")


async def test_a_report_is_made_from_the_reports_panel_and_a_city_operator_gets_only_their_city(
    stack, browser, city_pair
) -> None:
    """A province operator makes one day's department report of a city from the panel and the browser saves the
    XLSX; a period the server refuses shows its reason in the panel; a city operator's panel has no 全省 and their
    city fixed."""
    city, _ = city_pair
    province_user = add_user(stack, "web-reports", "province_operator")
    city_user = add_user(stack, "web-reports-city", "city_operator", str(city))
    errors: list[str] = []
    ctx, page = await _board(browser, stack, province_user, errors)
    cctx, cpage = await _board(browser, stack, city_user, errors)
    try:
        panel = page.get_by_test_id("reports-panel")
        await panel.wait_for()
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        assert await page.get_by_test_id("report-period").input_value() == last_month
        assert await _option_values(page, "report-level") == ["province", "city", "dept"]
        assert await page.get_by_test_id("report-city").is_hidden()  # the province's report names no city
        await page.get_by_test_id("city-tile").nth(20).wait_for()  # the city select lists the overview's cities
        await page.get_by_test_id("report-archive").locator("li").first.wait_for()

        # A period the server refuses: its reason, in the panel.
        await page.get_by_test_id("report-period").fill("2026-13")
        await page.get_by_test_id("report-download").click()
        await page.locator('[data-testid="reports-panel"][data-state="error"]').wait_for(timeout=10_000)
        assert "2026-13" in await page.get_by_test_id("report-error").inner_text()

        # One day at department level, to keep the report quick.
        day = (today - timedelta(days=1)).isoformat()
        await page.get_by_test_id("report-period").fill(f"{day}..{day}")
        await page.get_by_test_id("report-level").select_option("dept")
        assert await page.get_by_test_id("report-city").is_visible()
        await page.get_by_test_id("report-city").select_option(str(city))
        await page.get_by_test_id("report-format").select_option("xlsx")
        asked = time.monotonic()
        async with (
            page.expect_response(lambda r: "/api/v1/reports?" in r.url, timeout=120_000) as answered,
            page.expect_download(timeout=120_000) as downloaded,
        ):
            await page.get_by_test_id("report-download").click()
            assert await page.get_by_test_id("report-download").is_disabled()  # busy while the server makes it
            assert await panel.get_attribute("data-state") == "busy"
        print(f"report made and saved {time.monotonic() - asked:.2f} s after the click")
        response = await answered.value
        assert response.status == 200
        assert parse_qs(urlsplit(response.url).query) == {
            "period": [f"{day}..{day}"],
            "level": ["dept"],
            "format": ["xlsx"],
            "city": [str(city)],
        }
        download = await downloaded.value
        assert download.suggested_filename == f"report-{day}..{day}-dept-{city}.xlsx"
        saved = Path(await download.path())
        assert (await asyncio.to_thread(saved.read_bytes))[:2] == b"PK"  # an XLSX is a zip
        await page.locator('[data-testid="reports-panel"][data-state="done"]').wait_for()
        assert download.suggested_filename in await page.get_by_test_id("report-status").inner_text()
        assert await page.get_by_test_id("report-error").is_hidden()
        await page.screenshot(path=str(ARTIFACTS / "10-report-downloaded.png"), full_page=True)

        # A city operator: their city's levels only, the city fixed to theirs.
        await cpage.get_by_test_id("reports-panel").wait_for()
        assert await _option_values(cpage, "report-level") == ["city", "dept"]
        for level in ("city", "dept"):
            await cpage.get_by_test_id("report-level").select_option(level)
            city_select = cpage.get_by_test_id("report-city")
            assert await city_select.is_visible() and await city_select.is_disabled()
            assert await _option_values(cpage, "report-city") == [str(city)]
        await cpage.get_by_test_id("lang-toggle").click()
        assert await cpage.locator("#reports-title").inner_text() == "Statistics reports"
        assert await cpage.get_by_test_id("report-level").locator("option").all_inner_texts() == ["City", "Departments"]
        await cpage.screenshot(path=str(ARTIFACTS / "11-city-reports-panel.png"), full_page=True)
        # Chromium logs the refused request of the bad period as a console error; nothing else may be there.
        assert [e for e in errors if "status of 400" not in e] == []
    finally:
        await ctx.close()
        await cctx.close()


async def test_manual_values_are_uploaded_from_the_page_refused_rows_listed_and_a_viewer_has_no_form(
    stack, browser, city_pair
) -> None:
    """A province operator's CSV with a bad row is refused whole and the panel lists the row's line and reason; sent
    again with 只保存合格行 its good row is stored; a viewer's page has no upload form."""
    city, _ = city_pair
    operator = add_user(stack, "web-manual", "province_operator")
    viewer = add_user(stack, "web-manual-viewer", "viewer")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    last_month = today.replace(day=1) - timedelta(days=1)
    month_before = last_month.replace(day=1) - timedelta(days=1)
    note = f"browser-{time.time_ns()}"  # tells this run's value from any other upload for the city
    csv = (
        "indicator,entity_kind,entity,period,value,note\n"
        f"onsite_inspection_score,city,{city},{last_month:%Y-%m},91,{note}\n"
        f"onsite_inspection_score,city,{city},{month_before:%Y-%m},150,{note}\n"
    ).encode()
    errors: list[str] = []
    ctx, page = await _board(browser, stack, operator, errors)
    vctx, vpage = await _board(browser, stack, viewer, errors)

    async def notes() -> set[str]:
        query = f"indicator=onsite_inspection_score&entity={city}"
        values = (await (await page.request.get(f"{stack.base_url}/api/v1/manual-values?{query}")).json())["values"]
        return {u["note"] for v in values for u in [v, *v["history"]]}

    try:
        panel = page.get_by_test_id("manual-panel")
        await panel.wait_for()
        await page.get_by_test_id("manual-file").set_input_files(
            files=[{"name": "现场检查.csv", "mimeType": "text/csv", "buffer": csv}]
        )
        # The answer is held back until the busy state is seen: a small file is checked faster than a test looks.
        release = asyncio.Event()

        async def hold(route) -> None:
            await release.wait()
            await route.continue_()

        await page.route("**/api/v1/manual-values*", hold)
        await page.get_by_test_id("manual-submit").click()
        await page.locator('[data-testid="manual-panel"][data-state="busy"]').wait_for()
        assert await page.get_by_test_id("manual-submit").is_disabled()
        release.set()
        await page.locator('[data-testid="manual-panel"][data-state="refused"]').wait_for(timeout=10_000)
        await page.unroute("**/api/v1/manual-values*")
        rows = page.get_by_test_id("manual-refused-row")
        assert await rows.count() == 1
        assert (await rows.first.get_attribute("data-line"), await rows.first.get_attribute("data-reason")) == (
            "3",
            "out_of_range",
        )
        assert "值超出范围" in await rows.first.inner_text()
        assert "未保存任何数据" in await page.get_by_test_id("manual-error").inner_text()
        assert note not in await notes()
        await panel.screenshot(path=str(ARTIFACTS / "12-manual-refused.png"))

        # The same file, kept in the form, with only the good rows stored.
        await page.get_by_test_id("manual-partial").check()
        await page.get_by_test_id("manual-submit").click()
        await page.locator('[data-testid="manual-panel"][data-state="done"]').wait_for(timeout=10_000)
        assert "已保存 1 条" in await page.get_by_test_id("manual-status").inner_text()
        assert await page.get_by_test_id("manual-error").is_hidden()
        assert await rows.count() == 1  # the refused row is still listed: it was not stored
        assert note in await notes()
        await page.get_by_test_id("lang-toggle").click()
        assert await page.locator("#manual-title").inner_text() == "Manual data upload"
        assert "Out of range" in await rows.first.inner_text()
        await panel.screenshot(path=str(ARTIFACTS / "13-manual-stored.png"))

        assert await vpage.get_by_test_id("manual-panel").is_hidden()
        assert await vpage.get_by_test_id("manual-form").count() == 0
        # Chromium logs the refused upload (422) as a console error; nothing else may be there.
        assert [e for e in errors if "status of 422" not in e] == []
    finally:
        await ctx.close()
        await vctx.close()
