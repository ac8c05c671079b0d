"""The /reports page in headless Chromium with the outside network cut off (as in test_pages.py), on the
generated history of tests/report_history.py: the table shows the figures the test computes itself, the
charts are drawn, the CSV and XLSX downloads made through the page hold the table's rows, a kept shift
report is listed and prints on one page, a call taker is told they may not read reports, and the
center's refusal of a bad period is shown. Every wait is an expect(...), never a sleep."""

from __future__ import annotations

import asyncio
import csv
import io
import math
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, Download, Page, Route, expect

from alerts.catalogue import load_catalogue
from center.connections import open_pool
from core.roles import Role
from reports.shift_book import ShiftBook
from reports.shifts import parse_starts
from tests.conftest import Center, Stores
from tests.report_history import START, History, expected_response_row, generate
from tests.test_pages import DESK, SEEN, opened, shot
from tests.test_pages import browser as browser  # the session's Chromium, a fixture
from units.kinds import load_kinds

SHIFT = timedelta(hours=8)  # 08:00 to 16:00 in Shanghai: START is 08:00 there
DASH = "\u2013"  # what the page writes between two times, and for a figure it does not have


@pytest.fixture
async def history(db: asyncpg.Connection) -> History:
    return await generate(db)


def local(center: Center, moment: datetime) -> str:
    """A moment as the page's from/until inputs take it: on the center's clock."""
    return moment.astimezone(ZoneInfo(center.settings.timezone)).strftime("%Y-%m-%dT%H:%M")


def minutes(seconds: float) -> str:
    """What the page shows for seconds: m:ss, rounded half up like the page's Math.round."""
    s = math.floor(seconds + 0.5)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


async def show(page: Page, center: Center, history: History, by: str) -> None:
    """Pick the history's week and a grouping, as a user would, and wait for the figures."""
    await expect(page.locator("#response")).to_have_attribute("data-state", "shown", timeout=SEEN)
    await page.locator("#since").fill(local(center, history.since()))
    await page.locator("#until").fill(local(center, history.until()))
    await page.locator("#by").select_option(by)
    await page.locator("#show").click()
    for name in ("response", "offers", "cases"):
        await expect(page.locator(f"#{name}")).to_have_attribute("data-state", "shown", timeout=SEEN)


async def api_report(center: Center, history: History, name: str, **params: Any) -> Any:
    period = {"since": history.since().isoformat(), "until": history.until().isoformat()}
    async with center.client(Role.DISPATCHER) as desk:
        reply = await desk.get(f"/api/v1/reports/{name}", params=period | params)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def table_values(page: Page, report: str) -> list[dict[str, str]]:
    """The page's table as {column key: the cell's exact value}, row by row."""
    rows: list[dict[str, str]] = await page.evaluate(
        """(name) => [...document.querySelectorAll(`#${name} table tbody tr`)].map((tr) => Object.fromEntries(
             [...tr.querySelectorAll("td")].map((td) => [td.dataset.key, td.dataset.value])))""",
        report,
    )  # fmt: skip
    return rows


def same(shown: str, value: Any) -> bool:
    return shown == "" if value is None else (shown == value if isinstance(value, str) else
                                               float(shown) == pytest.approx(float(value)))  # fmt: skip


async def saved(page: Page, section: str, form: str) -> bytes:
    """Click a download button of a section and read the file the browser saved."""
    async with page.expect_download() as info:
        await page.locator(f'#{section} button.download[data-format="{form}"]').click()
    download: Download = await info.value
    assert download.suggested_filename.endswith(f".{form}"), download.suggested_filename
    return await asyncio.to_thread(Path(await download.path()).read_bytes)


async def test_the_page_shows_the_known_figures_and_draws_them(
    browser: Browser, center: Center, history: History
) -> None:
    targets = {c.code: (c.targets.dispatch_s, c.targets.arrive_s) for c in load_catalogue()}
    theft = [i for i in history.incidents if i.category == "theft"]
    want = expected_response_row(theft, targets)  # computed from the rows written, not by the center
    given = await api_report(center, history, "response", by="category")
    async with opened(browser, center, "/reports", DESK, center.token(Role.DISPATCHER)) as seen:
        page = seen.page
        await show(page, center, history, "category")
        await expect(page.locator("#response")).not_to_contain_text("null")
        row = page.locator('#response tr[data-group="theft"]')
        theft_name = load_catalogue().get("theft").name_en
        await expect(row.locator('td[data-key="group"]')).to_contain_text(theft_name)
        await expect(row.locator('td[data-key="incidents"]')).to_have_text(str(want["incidents"]))
        await expect(row.locator('td[data-key="arrive_p90"]')).to_have_text(minutes(want["arrive_p90"]))
        await expect(row.locator('td[data-key="unreached"]')).to_have_text(str(want["unreached"]))
        share = row.locator('td[data-key="urgent_on_scene_5min"]')  # thefts are never urgent: no share
        await expect(share).to_have_text(DASH)
        in_target = row.locator('td[data-key="arrive_in_target"]')
        await expect(in_target).to_have_text(f"{want['arrive_in_target'] * 100:.1f}%")
        # the whole table is the API's, cell by cell
        shown = await table_values(page, "response")
        assert len(shown) == len(given["rows"]) == 6
        for cells, row_given in zip(shown, given["rows"], strict=True):
            assert all(same(cells[k], v) for k, v in row_given.items()), (cells, row_given)
        # the charts: Chart.js holds the table's figures, and the canvas has been painted
        drawn = await page.evaluate(
            """() => { const canvas = document.querySelector('#response canvas[data-chart="times"]');
                 const chart = Chart.getChart(canvas);
                 const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
                 let painted = 0; for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
                 return { labels: chart.data.labels, sets: chart.data.datasets.map((d) => d.data), painted,
                          pixels: pixels.length / 4 }; }"""
        )  # fmt: skip
        assert len(drawn["labels"]) == 6 and any("Theft" in label for label in drawn["labels"])
        p90s = [r["dispatch_p90"] / 60 for r in given["rows"]]
        assert drawn["sets"][1] == pytest.approx(p90s)
        assert drawn["painted"] > drawn["pixels"] * 0.01, "the times chart is blank"
        for chart in ("targets",):
            assert await page.evaluate(f"""() => Boolean(Chart.getChart(
                document.querySelector('#response canvas[data-chart="{chart}"]')))""")  # fmt: skip
        # offers per category: the timed-out offers the history made
        timed_out = sum(o.status == "timed_out" for i in history.incidents for o in i.offers)
        offers = await table_values(page, "offers")
        assert sum(int(r["timed_out"]) for r in offers) == timed_out > 0
        assert await page.locator("#offers canvas[data-chart=offers]").count() == 1
        await expect(page.locator("#cases .empty")).to_be_visible()  # no grid case that week
        await shot(page, "reports")
        seen.assert_stayed_home()


async def test_the_downloads_hold_the_tables_rows(browser: Browser, center: Center, history: History) -> None:
    """CSV and XLSX fetched through the page's buttons (with the token) are the API's table."""
    given = await api_report(center, history, "response", by="priority")
    keys = [c["key"] for c in given["columns"]]
    async with opened(browser, center, "/reports", DESK, center.token(Role.ADMIN)) as seen:
        page = seen.page
        await show(page, center, history, "priority")
        lines = list(csv.reader(io.StringIO((await saved(page, "response", "csv")).decode("utf-8-sig"))))
        assert lines[0][:2] == ["Group / 分组", "Incidents / 警情数"]
        assert lines[1:] == [["" if r[k] is None else str(r[k]) for k in keys] for r in given["rows"]]
        assert sum(int(line[1]) for line in lines[1:]) == len(history.incidents)
        book = load_workbook(io.BytesIO(await saved(page, "response", "xlsx")), read_only=True)
        sheet = [list(r) for r in book["response"].iter_rows(values_only=True)]
        assert sheet[1:] == [[r[k] for k in keys] for r in given["rows"]]
        cases = (await saved(page, "cases", "csv")).decode("utf-8-sig")
        assert cases.startswith("Level / 层级,Town / 街镇")
        seen.assert_stayed_home()


@pytest.fixture
async def shift_report(
    center: Center, stores: Stores, db: asyncpg.Connection, history: History
) -> AsyncIterator[int]:
    """The report of the history's first shift, made by the center's shift book and kept."""
    pool = await open_pool(stores.database_url, min_size=1, max_size=2)
    try:
        kinds = load_kinds()
        book = ShiftBook(pool, load_catalogue(unit_kinds=kinds.keys()), kinds,
                         parse_starts(center.settings.shift_starts), center.settings.timezone,
                         lambda: datetime.now(UTC))  # fmt: skip
        summary = await book.summarise(db, START, START + SHIFT)
        report_id: int = await db.fetchval(
            """insert into shift_reports (shift_start, shift_end, summary) values ($1, $2, $3::jsonb)
               returning id""",
            START, START + SHIFT, orjson.dumps(summary).decode(),
        )  # fmt: skip
        yield report_id
    finally:
        await pool.close()


async def test_a_shift_report_is_listed_and_prints_on_one_page(
    browser: Browser, center: Center, history: History, shift_report: int
) -> None:
    in_shift = [i for i in history.incidents if START <= i.received < START + SHIFT]
    async with opened(browser, center, "/reports", DESK, center.token(Role.DISPLAY)) as seen:
        page = seen.page
        listed = page.locator(f'#shift-list tr[data-shift-id="{shift_report}"]')
        incidents = listed.locator('td[data-key="incidents"]')
        await expect(incidents).to_have_text(str(len(in_shift)), timeout=SEEN)
        # record the print instead of opening the browser's dialog (the trailing 0: not a function to call)
        await page.evaluate("window.__printed = 0; window.print = () => { window.__printed++; }; 0")
        await listed.locator("button.open-shift").click()
        view = page.locator("#shift-view")
        await expect(view).to_be_visible()
        period = f"2026-03-02 08:00 {DASH} 2026-03-02 16:00"  # START and its end on Shanghai's clock
        await expect(view.locator(".shift-period")).to_contain_text(period)
        tile = view.locator('.tile[data-key="incidents"] b').first
        await expect(tile).to_have_text(str(len(in_shift)))
        unreached = sum(i.on_scene is None for i in in_shift)
        await expect(view.locator('.tile[data-key="unreached"] b')).to_have_text(str(unreached))
        # the worst first: never reached, then the longest to the scene
        first = min(in_shift, key=lambda i: (i.on_scene is not None, -(i.seconds(i.on_scene) or 0),
                                             i.received))  # fmt: skip
        worst = view.locator('[data-block="worst"] tbody tr')
        await expect(worst.first).to_contain_text(f"#{first.id}")
        await expect(worst).to_have_count(min(10, len(in_shift)))
        await view.locator("#print").click()
        assert await page.evaluate("window.__printed") == 1
        pdf = await page.pdf(format="A4", print_background=True)
        pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
        assert pages == 1, f"the shift report printed on {pages} pages"
        await shot(page, "reports-shift")
        seen.assert_stayed_home()


async def test_a_call_taker_is_told_they_may_not_read_reports(browser: Browser, center: Center) -> None:
    async with opened(browser, center, "/reports", DESK, center.token(Role.CALL_TAKER)) as seen:
        refused = seen.page.locator("#refused")
        await expect(refused).to_contain_text("Your role may not read reports", timeout=SEEN)
        await expect(refused).to_contain_text("403")
        await expect(seen.page.locator("#figures")).to_be_hidden()
        seen.assert_stayed_home()


async def test_the_centers_refusal_of_a_period_is_shown(browser: Browser, center: Center) -> None:
    """A display reads the figures; a period that ends before it starts is refused by the center (422), and
    the page says so in each section instead of going blank."""
    async with opened(browser, center, "/reports", DESK, center.token(Role.DISPLAY)) as seen:
        page = seen.page
        await expect(page.locator("#response")).to_have_attribute("data-state", "shown", timeout=SEEN)
        await page.locator("#since").fill("2026-03-09T08:00")
        await page.locator("#until").fill("2026-03-02T08:00")
        await page.locator("#show").click()
        failed = page.locator("#response .error-box")
        await expect(failed).to_contain_text("422 until: must be after since", timeout=SEEN)
        await expect(page.locator("#offers .error-box")).to_contain_text("422")
        assert [e for e in seen.errors if "status of 422" not in e] == []


async def test_presets_are_whole_days_on_the_centers_clock(browser: Browser, center: Center) -> None:
    """The presets fill from/until with local midnights of the center's zone, in a browser whose own
    clock is in another zone; the arithmetic holds across a change of summer time and a year's end."""
    zone = ZoneInfo(center.settings.timezone)
    days = {datetime.now(zone).date()}
    async with opened(browser, center, "/reports", DESK, center.token(Role.DISPLAY),
                      timezone_id="America/New_York") as seen:  # fmt: skip
        page = seen.page
        await expect(page.locator("#response")).to_have_attribute("data-state", "shown", timeout=SEEN)
        await page.get_by_role("button", name="Yesterday").click()
        await expect(page.locator("#response")).to_have_attribute("data-state", "shown", timeout=SEEN)
        days.add(datetime.now(zone).date())  # a midnight passed meanwhile: either day is right
        since, until = await page.locator("#since").input_value(), await page.locator("#until").input_value()
        expected = [(f"{d - timedelta(days=1)}T00:00", f"{d}T00:00") for d in days]
        assert (since, until) in expected, expected
        await expect(page.locator("#response .period-shown")).to_contain_text(f"{since[:10]} 00:00")
        got = await page.evaluate(
            """async () => { const p = await import("/static/js/reports-period.js");
                 return [p.instant({ y: 2026, m: 3, d: 8 }, "America/New_York"),
                         p.instant({ y: 2026, m: 3, d: 9 }, "America/New_York"),
                         p.presetPeriod("month", Date.UTC(2026, 11, 31, 20), "Asia/Shanghai"),
                         p.presetPeriod("last7", Date.UTC(2026, 2, 1, 12), "Asia/Shanghai")]; }"""
        )  # fmt: skip

    def ms(y: int, m: int, d: int, tz: str) -> float:
        return datetime(y, m, d, tzinfo=ZoneInfo(tz)).timestamp() * 1000

    assert got[0] == ms(2026, 3, 8, tz="America/New_York")  # still winter time (-05:00)
    assert got[1] == ms(2026, 3, 9, tz="America/New_York")  # summer time (-04:00): a 23-hour day before
    assert got[1] - got[0] == 23 * 3600 * 1000
    assert got[2] == [ms(2027, 1, 1, tz="Asia/Shanghai"), ms(2027, 2, 1, tz="Asia/Shanghai")]
    assert got[3] == [ms(2026, 2, 23, tz="Asia/Shanghai"), ms(2026, 3, 2, tz="Asia/Shanghai")]


async def test_a_truncated_table_says_so(browser: Browser, center: Center, history: History) -> None:
    """More groups than a table holds (1,000) cannot be made quickly, so the center's answer is marked
    truncated on its way to the page: the page must say so above that table only."""

    async def truncated(route: Route) -> None:
        reply = await route.fetch()
        await route.fulfill(response=reply, json=await reply.json() | {"truncated": True})

    async with opened(browser, center, "/reports", DESK, center.token(Role.DISPATCHER)) as seen:
        page = seen.page
        await page.route(re.compile(r"/api/v1/reports/offers\?"), truncated)
        await show(page, center, history, "zone")
        await expect(page.locator("#offers .truncated")).to_contain_text("the rest are left out")
        await expect(page.locator("#response .truncated")).to_have_count(0)
        no_zone = page.locator('#offers tr[data-group=""] td[data-key="group"]')  # calls taken for no zone
        await expect(no_zone).to_contain_text("no zone")
        seen.assert_stayed_home()
