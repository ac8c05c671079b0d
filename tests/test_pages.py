"""The pages in a real browser: Debian's Chromium, headless, driven by Playwright (which never downloads a
browser of its own). A dispatcher and a unit log in through the login box; every request the pages make
must stay on the center (127.0.0.1): no CDN, no tile server. Screenshots go to test-artifacts/pages/."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    ViewportSize,
    WebSocketRoute,
    async_playwright,
    expect,
)

from accounts.users import NewUser, UserStore
from center.connections import open_pool
from center.runtime import Roles
from core.roles import Role
from tests.conftest import Center, Stores, center_settings, serving, wipe

# Debian's, installed by ./run tests (apt-get install chromium); if it is missing the launch fails the
# tests, it never skips them
CHROMIUM = Path("/usr/bin/chromium")

SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "pages"
PASSWORD = "correct horse battery"
SCENE = (31.2350, 121.4750)  # Nanjing Road
WALL = ViewportSize(width=1920, height=1080)
DESK = ViewportSize(width=1600, height=900)
PHONE = ViewportSize(width=390, height=844)
SEEN = 10_000  # ms: how long a page may take to show a change
REFUSAL = re.compile(r"status of (403|409)")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the run: Debian's, not one that Playwright downloads."""
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class Opened:
    """A page in a context of its own, with every request it made and every error it logged."""

    context: BrowserContext
    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_stayed_home(self) -> None:
        away = [u for u in self.requests if urlsplit(u).hostname not in ("127.0.0.1", None) and
                not u.startswith(("data:", "blob:"))]  # fmt: skip
        assert away == [], f"requests left the center: {away}"
        assert self.errors == [], f"script errors: {self.errors}"


@contextlib.asynccontextmanager
async def opened(
    browser: Browser, center: Center, path: str, viewport: ViewportSize, token: str | None = None,
    **context: Any,
) -> AsyncIterator[Opened]:  # fmt: skip
    """Open a page of the center. The network beyond 127.0.0.1 is cut off (requests to it are aborted and
    recorded); with ``token`` the page starts logged in (as after a login, the token in sessionStorage)."""
    ctx = await browser.new_context(viewport=viewport, **context)
    page = await ctx.new_page()
    result = Opened(ctx, page)
    page.on("request", lambda r: result.requests.append(r.url))
    page.on("websocket", lambda ws: result.requests.append(ws.url))
    page.on("pageerror", lambda exc: result.errors.append(str(exc)))

    def logged(message: ConsoleMessage) -> None:
        # a missing file shows up as a console error; the center's refusals (403, 409) are shown on purpose
        if message.type == "error" and not REFUSAL.search(message.text):
            result.errors.append(message.text)

    page.on("console", logged)

    async def offline(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            await route.abort("internetdisconnected")

    await ctx.route("**/*", offline)
    if token:
        await ctx.add_init_script(f"sessionStorage.setItem('dispatch.token', {token!r})")
    # record the offer's vibration and beeps (a headless browser has no motor and no speaker)
    await ctx.add_init_script(
        "window.__vibrations = []; navigator.vibrate = (p) => { window.__vibrations.push(p); return true; };"
        "window.__beeps = 0; const start = OscillatorNode.prototype.start;"
        "OscillatorNode.prototype.start = function (...a) { window.__beeps++; return start.apply(this, a); };"
    )
    await page.goto(center.url + path)
    try:
        yield result
    finally:
        await ctx.close()


async def log_in(page: Page, username: str) -> None:
    box = page.locator(".login")
    await box.get_by_label("Username").fill(username)
    await box.get_by_label("Password").fill(PASSWORD)
    await box.get_by_role("button", name="Log in").click()
    await expect(page.locator(".login-backdrop")).to_have_count(0)


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.fixture
async def users(center: Center, stores: Stores) -> AsyncIterator[UserStore]:
    """The center's accounts, to create people who log in."""
    pool = await open_pool(stores.database_url, min_size=1, max_size=2)
    try:
        yield UserStore(pool)
    finally:
        await pool.close()


async def add_unit(center: Center, callsign: str, at: tuple[float, float] | None = None, **more: Any) -> int:
    async with center.client(Role.ADMIN) as admin:
        reply = await admin.post(
            "/api/v1/units", json={"callsign": callsign, "kind": "patrol_car", "status": "available", **more}
        )
        assert reply.status_code == 201, reply.text
        unit_id: int = reply.json()["id"]
    if at:
        await move(center, unit_id, at, ago_s=30)  # so that a move of a few hundred metres is plausible
    return unit_id


async def move(center: Center, unit_id: int, at: tuple[float, float], ago_s: float = 0) -> None:
    async with center.client(Role.UNIT, unit_id) as unit:
        fix = await unit.put(
            f"/api/v1/units/{unit_id}/location", json={"lat": at[0], "lon": at[1], "at": time.time() - ago_s}
        )
        assert fix.status_code == 200 and fix.json()["verdict"] == "ok", fix.text


async def call(center: Center, category: str, at: tuple[float, float] = SCENE, **more: Any) -> int:
    async with center.client(Role.CALL_TAKER) as taker:
        reply = await taker.post(
            "/api/v1/alerts",
            json={"channel": "110", "category": category, "caller_phone": "13800138000",
                  "location": {"lat": at[0], "lon": at[1], "address": "Nanjing Rd E 300"}, **more},
        )  # fmt: skip
    assert reply.status_code == 202, reply.text
    incident_id: int = reply.json()["incident_id"]
    return incident_id


async def test_wall_shows_units_moving_and_a_new_incident_live(browser: Browser, center: Center) -> None:
    """The wall draws the units from the snapshot, moves one when it reports, and shows calls posted
    through the API as incidents, assignment lines and KPI figures as they happen, without a reload."""
    await add_unit(center, "P-11", (SCENE[0] + 0.004, SCENE[1]), home_zone="huangpu-1")
    await add_unit(center, "P-12", (SCENE[0] - 0.006, SCENE[1] + 0.005), home_zone="huangpu-1")
    moving = await add_unit(center, "P-13", (SCENE[0] + 0.002, SCENE[1] - 0.008), home_zone="huangpu-2")
    await add_unit(
        center, "A-1", (SCENE[0] - 0.008, SCENE[1] - 0.006), kind="ambulance", home_zone="huangpu-2"
    )
    async with opened(browser, center, "/wall", WALL, center.token(Role.DISPLAY)) as wall:
        page = wall.page

        def kpi(name: str) -> Locator:
            return page.locator(f'[data-kpi="{name}"]')

        for callsign in ("P-11", "P-12", "P-13", "A-1"):
            await expect(page.locator(".unit-label", has_text=callsign)).to_be_visible(timeout=SEEN)
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        marker = page.locator('path[data-callsign="P-13"]')
        before = await marker.get_attribute("d")

        await move(center, moving, (SCENE[0] + 0.002, SCENE[1] - 0.006))
        await expect(marker).not_to_have_attribute("d", before or "", timeout=SEEN)

        robbery = await call(center, "robbery_in_progress", zone="huangpu-1")
        await expect(page.locator(f'.incident[data-incident="{robbery}"]')).to_be_visible(timeout=SEEN)
        await expect(kpi("open-total")).to_have_text("1")
        await expect(page.locator("#events")).to_contain_text(f"#{robbery}")
        # robbery in progress asks for two patrol cars: two assignment lines, both units committed
        await expect(page.locator("path.assignment-line")).to_have_count(2, timeout=SEEN)
        await expect(kpi("units-by-kind").locator('[data-kind="patrol_car"] .committed')).to_have_text("2")
        await expect(page.locator(".zone-label", has_text="huangpu-1")).to_be_visible()

        # the ambulance reaches a cardiac arrest: the arrival figures fill in
        cardiac = await call(center, "cardiac_arrest", (SCENE[0] - 0.006, SCENE[1] - 0.004), channel="120")
        async with center.client(Role.DISPATCHER) as dispatcher:
            for _ in range(50):
                sent = (await dispatcher.get(f"/api/v1/incidents/{cardiac}")).json()["assignments"]
                if sent:
                    break
                await asyncio.sleep(0.1)
            for step in ("accept", "arrive"):
                reply = await dispatcher.post(f"/api/v1/assignments/{sent[0]['id']}/{step}")
                assert reply.status_code == 200, reply.text
        await expect(page.locator(f'.incident[data-incident="{cardiac}"]')).to_have_attribute(
            "data-status", "on_scene", timeout=SEEN
        )
        await expect(kpi("arrive-p50")).to_have_text(re.compile(r"^\d+:\d\d$"))
        await expect(kpi("within-3")).to_have_text("100%")
        # a fire with no engine anywhere waits: the pending tile raises its alarm
        fire = await call(center, "building_fire", (SCENE[0] + 0.006, SCENE[1] + 0.008), channel="119")
        await expect(page.locator(f'.incident[data-incident="{fire}"]')).to_have_attribute(
            "data-status", "pending", timeout=SEEN
        )
        await expect(kpi("unserved")).to_have_text("1")
        await expect(page.locator("#tile-unserved")).to_have_class(re.compile("alarm"))
        await expect(page.locator("body")).not_to_contain_text("13800138000")  # walls never see callers
        await asyncio.sleep(0.5)  # let the map settle for the picture
        await shot(page, "wall")
        wall.assert_stayed_home()


async def test_console_confirms_in_one_click_and_the_unit_accepts(
    browser: Browser, center: Center, users: UserStore
) -> None:
    """A dispatcher and a unit log in; the unit's phone shares its position; a call the dispatcher must
    confirm is confirmed in one click; the unit's phone rings and accepts, then arrives; the console and
    the wall follow each step."""
    unit_id = await add_unit(center, "P-7", home_zone="huangpu-1")
    await add_unit(center, "P-8", (SCENE[0] + 0.03, SCENE[1] + 0.03), home_zone="huangpu-2")  # far away
    await users.create(NewUser("dispatcher1", Role.DISPATCHER, PASSWORD, "Dispatcher One"), "test:setup")
    await users.create(NewUser("p7", Role.UNIT, PASSWORD, unit_id=unit_id), "test:setup")
    here = {"latitude": SCENE[0] + 0.003, "longitude": SCENE[1] + 0.001, "accuracy": 8}

    async with (
        opened(browser, center, "/unit", PHONE, geolocation=here, permissions=["geolocation"], is_mobile=True,
               has_touch=True) as phone,
        opened(browser, center, "/console", DESK) as console,
        opened(browser, center, "/wall", WALL, center.token(Role.DISPLAY)) as wall,
    ):  # fmt: skip
        await log_in(phone.page, "p7")
        await expect(phone.page.locator("#callsign")).to_have_text("P-7", timeout=SEEN)
        # the phone's position reached the center and was taken
        await expect(phone.page.locator('#gps [data-verdict="ok"]')).to_be_visible(timeout=SEEN)
        await expect(wall.page.locator('path[data-callsign="P-7"]')).to_have_count(1, timeout=SEEN)

        await log_in(console.page, "dispatcher1")
        await expect(console.page.locator("#conn")).to_have_attribute("data-state", "live")
        incident_id = await call(center, "theft")  # a theft waits for a dispatcher to confirm
        item = console.page.locator(f'#queue li[data-incident="{incident_id}"]')
        await expect(item).to_have_attribute("data-status", "awaiting_confirmation", timeout=SEEN)
        await item.click()
        confirm = console.page.locator("#confirm")
        await expect(confirm).to_contain_text("P-7", timeout=SEEN)
        await expect(console.page.locator("#d-rec")).to_contain_text("nearest by travel time")
        await expect(console.page.locator("#d-alerts")).to_contain_text(
            "13800138000"
        )  # dispatchers see callers
        await confirm.click()

        offer = phone.page.locator("#offer")
        await expect(offer).to_be_visible(timeout=SEEN)
        await expect(offer).to_contain_text("盗窃")
        await expect(offer).to_contain_text("Nanjing Rd E 300")
        assert await phone.page.evaluate("window.__vibrations.length") >= 1
        assert await phone.page.evaluate("window.__beeps") >= 1
        await shot(phone.page, "unit-offer")
        await expect(console.page.locator('#d-assignments tr[data-status="offered"]')).to_be_visible(
            timeout=SEEN
        )
        await expect(item).to_have_attribute("data-status", "dispatched", timeout=SEEN)

        await phone.page.locator("#accept").click()
        await expect(phone.page.locator("#task")).to_have_attribute("data-status", "accepted", timeout=SEEN)
        await expect(console.page.locator('#d-assignments tr[data-status="accepted"]')).to_be_visible(
            timeout=SEEN
        )
        await expect(wall.page.locator('path.assignment-line[data-assignment$=":accepted"]')).to_have_count(
            1, timeout=SEEN
        )
        await shot(phone.page, "unit")

        await phone.page.locator("#arrive").click()
        await expect(item).to_have_attribute("data-status", "on_scene", timeout=SEEN)
        await expect(wall.page.locator(f'.incident[data-incident="{incident_id}"]')).to_have_attribute(
            "data-status", "on_scene", timeout=SEEN
        )
        await expect(console.page.locator("#d-timeline")).to_contain_text("Arrived", timeout=SEEN)
        await asyncio.sleep(0.5)
        await shot(console.page, "console")
        for page in (phone, console, wall):
            page.assert_stayed_home()


async def test_console_alarms_when_nobody_can_serve(
    browser: Browser, center: Center, users: UserStore
) -> None:
    """An urgent call with no unit free sounds an alarm on the console that names the incident."""
    await users.create(NewUser("dispatcher2", Role.DISPATCHER, PASSWORD), "test:setup")
    await add_unit(center, "P-9", (SCENE[0] + 0.01, SCENE[1]), status="off_duty")
    async with opened(browser, center, "/console", DESK) as console:
        await log_in(console.page, "dispatcher2")
        await expect(console.page.locator("#conn")).to_have_attribute("data-state", "live")
        incident_id = await call(center, "robbery_in_progress")
        alarm = console.page.locator(f'.alarm[data-alarm="pending"][data-incident="{incident_id}"]')
        await expect(alarm).to_be_visible(timeout=SEEN)
        await expect(alarm).to_contain_text("nobody can serve")
        assert await console.page.evaluate("window.__beeps") >= 1
        await alarm.get_by_role("button", name=f"#{incident_id}").click()
        await expect(console.page.locator("#d-rec")).to_contain_text("no unit of this kind", timeout=SEEN)
        console.assert_stayed_home()


async def test_a_wall_token_cannot_use_the_console(browser: Browser, center: Center) -> None:
    """A display token pasted into the console may watch but every action is refused: the page shows
    the center's 403, and nothing changes."""
    await add_unit(center, "P-21", (SCENE[0] + 0.003, SCENE[1]))
    incident_id = await call(center, "theft")
    async with opened(browser, center, "/console", DESK) as console:
        page = console.page
        await page.locator(".login summary").click()
        await page.get_by_label("Access token").fill(center.token(Role.DISPLAY))
        await page.get_by_role("button", name="Use").click()
        item = page.locator(f'#queue li[data-incident="{incident_id}"]')
        await expect(item).to_be_visible(timeout=SEEN)
        await item.click()
        await expect(page.locator("#d-rec")).to_contain_text("403", timeout=SEEN)
        await expect(page.locator("#d-head")).to_contain_text("read-only")
        await page.locator("#send").click()
        await expect(page.locator("#d-error")).to_contain_text("403")
        await page.locator("#close").click()
        await expect(page.locator("#d-error")).to_contain_text(re.compile(r"403 .*display"))
        await expect(page.locator("#d-alerts")).not_to_contain_text("13800138000")  # masked for displays
        console.assert_stayed_home()
    async with center.client(Role.DISPATCHER) as dispatcher:
        incident = (await dispatcher.get(f"/api/v1/incidents/{incident_id}")).json()
    assert incident["status"] == "awaiting_confirmation" and incident["assignments"] == []


async def test_pages_load_offline_and_refuse_the_wrong_role(browser: Browser, center: Center) -> None:
    """Each page loads its map library from the center itself, with the outside network cut off; a token
    of a role the page is not for is refused at the login box."""
    unit_id = await add_unit(center, "P-31", (SCENE[0], SCENE[1]))
    for path, viewport in (("/wall", WALL), ("/console", DESK), ("/unit", PHONE)):
        async with opened(browser, center, path, viewport, center.token(Role.UNIT, unit_id)) as opened_page:
            page = opened_page.page
            reply = await page.request.get(center.url + "/static/vendor/leaflet/leaflet.js")
            assert reply.ok, "the map library is served by the center"
            assert await page.evaluate("typeof window.L") == "object"
            if path == "/unit":
                await expect(page.locator(".leaflet-container")).to_be_visible(timeout=SEEN)
            else:  # a unit's token is not for the wall or the console
                await expect(page.locator(".login-error")).to_contain_text("cannot use this page")
            csp = (await page.request.get(center.url + path)).headers["content-security-policy"]
            assert "default-src 'self'" in csp
            opened_page.assert_stayed_home()
            assert any("/static/vendor/leaflet/leaflet.js" in u for u in opened_page.requests)


async def test_a_configured_tile_server_is_used(
    browser: Browser, stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With DISPATCH_TILE_URL set, the map asks that tile server (and the page's policy allows it)."""
    monkeypatch.setenv("DISPATCH_TILE_URL", "https://{s}.tiles.example/{z}/{x}/{y}.png")
    await wipe(stores)
    async with (
        serving(center_settings(stores, data_dir=tmp_path)) as center,
        opened(browser, center, "/wall", WALL, center.token(Role.DISPLAY)) as wall,
    ):
        await expect(wall.page.locator("#conn")).to_have_attribute("data-state", "live", timeout=SEEN)
        await expect(wall.page.locator(".leaflet-tile-container img").first).to_be_attached(timeout=SEEN)
        asked = {urlsplit(u).hostname for u in wall.requests} - {"127.0.0.1"}
        assert asked and all(h and h.endswith(".tiles.example") for h in asked), asked
        csp = (await wall.page.request.get(center.url + "/wall")).headers["content-security-policy"]
        assert "img-src 'self' data: blob: https://*.tiles.example" in csp


async def test_wall_resumes_after_a_dropped_connection(browser: Browser, center: Center) -> None:
    """When the wall's socket drops, it reconnects with its epoch and sequence number, gets what it
    missed (a `resumed` frame, not a new snapshot) and shows the call that came in meanwhile."""
    await add_unit(center, "P-41", (SCENE[0] + 0.004, SCENE[1]))
    async with opened(browser, center, "/wall", WALL, center.token(Role.DISPLAY)) as wall:
        page = wall.page
        routes: list[WebSocketRoute] = []
        frames: list[str] = []

        def through(ws: WebSocketRoute) -> None:
            """The page's socket goes through the test, which sees every frame from the center."""
            server = ws.connect_to_server()

            def forward(message: str | bytes) -> None:
                frames.append(str(message))
                ws.send(message)

            server.on_message(forward)
            routes.append(ws)

        await page.route_web_socket(re.compile(r"/ws/ops$"), through)
        await page.reload()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=SEEN)
        await expect(page.locator(".unit-label", has_text="P-41")).to_be_visible(timeout=SEEN)
        assert len(routes) == 1 and sum('"type":"snapshot"' in f for f in frames) == 1

        await routes[0].close(code=4000, reason="test: the network dropped")
        await expect(page.locator("#conn")).not_to_have_attribute("data-state", "live", timeout=SEEN)
        incident_id = await call(center, "robbery_in_progress")
        await expect(page.locator(f'.incident[data-incident="{incident_id}"]')).to_be_visible(timeout=SEEN)
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        assert len(routes) == 2
        assert sum('"type":"resumed"' in f for f in frames) == 1
        assert sum('"type":"snapshot"' in f for f in frames) == 1, "resumed, not started over"
        wall.assert_stayed_home()


async def test_a_year_without_holiday_data_alarms_on_the_wall_and_the_console(
    browser: Browser, stores: Stores, tmp_path: Path
) -> None:
    """Grid-case deadlines in a year the working-day calendar has no holidays for are counted Monday to
    Friday: the wall shows a banner and the console an alarm, naming the year, until one is added."""
    await wipe(stores)
    settings = center_settings(stores, data_dir=tmp_path)
    async with serving(settings, Roles(), lambda: datetime(2099, 12, 20, tzinfo=UTC)) as center:
        async with opened(browser, center, "/wall", WALL, center.token(Role.DISPLAY)) as wall:
            banner = wall.page.locator("#calendar-alarm")
            await expect(banner).to_be_visible(timeout=SEEN)
            await expect(banner).to_contain_text("no holiday data for 2099")
            await shot(wall.page, "wall-calendar-alarm")
            wall.assert_stayed_home()
        async with opened(browser, center, "/console", DESK, center.token(Role.DISPATCHER)) as console:
            alarm = console.page.locator('.alarm[data-alarm="calendar"]')
            await expect(alarm).to_be_visible(timeout=SEEN)
            await expect(alarm).to_contain_text("no holiday data for 2099")
            await shot(console.page, "console-calendar-alarm")
            console.assert_stayed_home()
    async with (
        serving(settings, Roles(), lambda: datetime(2026, 6, 1, tzinfo=UTC)) as known,
        opened(browser, known, "/wall", WALL, known.token(Role.DISPLAY)) as wall,
    ):
        await expect(wall.page.locator("#conn")).to_have_attribute("data-state", "live", timeout=SEEN)
        await expect(wall.page.locator("#calendar-alarm")).to_be_hidden()


async def test_the_unit_page_reopens_a_silent_socket(browser: Browser, center: Center) -> None:
    """A half-open socket looks open to the phone but delivers nothing: the unit page closes a socket it
    has heard nothing on for too long (here 3 s, `?silence_s=3`, instead of 45) and opens a new one. The
    center pings every 20 s when idle; the test stands in for it with a ping every half second on the
    sockets it lets through, and mutes the first one after its hello."""
    unit_id = await add_unit(center, "P-51", (SCENE[0] + 0.002, SCENE[1]))
    async with opened(browser, center, "/unit?silence_s=3", PHONE, center.token(Role.UNIT, unit_id)) as phone:
        page = phone.page
        routes: list[WebSocketRoute] = []
        muted: set[int] = set()
        hellos: list[int] = []

        def through(ws: WebSocketRoute) -> None:
            index = len(routes)
            routes.append(ws)
            server = ws.connect_to_server()

            def forward(message: str | bytes) -> None:
                if index in muted:
                    return  # the connection went half-open: nothing reaches the phone any more
                if '"type":"hello"' in str(message):
                    hellos.append(index)
                ws.send(message)

            server.on_message(forward)

        async def ping() -> None:
            while True:
                await asyncio.sleep(0.5)
                for index, ws in enumerate(routes):
                    if index not in muted:
                        with contextlib.suppress(Exception):
                            ws.send('{"type":"ping"}')

        await page.route_web_socket(re.compile(r"/ws/unit$"), through)
        # the closes the page asks for, with their code and reason
        await page.add_init_script(
            "window.__closes = []; const close = WebSocket.prototype.close;"
            "WebSocket.prototype.close = function (code, reason) {"
            " window.__closes.push([code, reason]); return close.call(this, code, reason); };"
        )
        pinger = asyncio.create_task(ping())
        try:
            await page.reload()
            await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=SEEN)
            await expect(page.locator("#callsign")).to_have_text("P-51")
            assert hellos == [0]
            muted.add(0)
            for _ in range(SEEN // 100):
                if len(hellos) == 2:
                    break
                await asyncio.sleep(0.1)
            await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=SEEN)
            assert await page.evaluate("window.__closes") == [[4000, "silent"]]
            assert hellos == [0, 1], "a new socket, and its hello"
            await asyncio.sleep(4)  # pinged, the new socket stays open past the silence limit
            assert await page.evaluate("window.__closes") == [[4000, "silent"]]
            assert len(routes) == 2
            await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        finally:
            pinger.cancel()
        phone.assert_stayed_home()


async def test_the_api_docs_load_offline(browser: Browser, center: Center) -> None:
    """/docs is Swagger UI from the center's own npm packages: with the outside network cut off it shows
    every group of operations, by their short ids."""
    async with opened(browser, center, "/docs", DESK) as docs:
        page = docs.page
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
            "Dispatch center", timeout=SEEN
        )
        await expect(page.locator("#operations-units-get_unit")).to_be_visible(timeout=SEEN)
        await expect(page.locator("#operations-incidents-list_incidents")).to_be_visible()
        docs.assert_stayed_home()
        assert any("/static/vendor/swagger-ui/swagger-ui-bundle.js" in u for u in docs.requests)


async def test_the_unit_page_warns_when_its_fix_is_not_used(browser: Browser, center: Center) -> None:
    """A phone whose position jumps 50 km from the unit's last fix in seconds is taken as suspect, and the
    crew sees a warning, not the green of a fix in use."""
    unit_id = await add_unit(center, "P-33", SCENE)
    far = {"latitude": SCENE[0] + 0.45, "longitude": SCENE[1], "accuracy": 8}
    async with opened(browser, center, "/unit", PHONE, center.token(Role.UNIT, unit_id), geolocation=far,
                      permissions=["geolocation"], is_mobile=True) as phone:  # fmt: skip
        warned = phone.page.locator('#gps .gps-warn[data-verdict="suspect"]')
        await expect(warned).to_be_visible(timeout=SEEN)
        await expect(warned).to_contain_text("not trusted for dispatch")
        assert await phone.page.locator("#gps .gps-ok").count() == 0
        phone.assert_stayed_home()
