"""The console's replay in a real browser (Debian's headless Chromium, the outside network cut off, as in
test_pages.py): an incident's history is made through the public API (a call, an offer, the unit
accepting, driving with explicit fix times, arriving, clearing), then played on the console's map. The
test drives the replay's clock through its scrubber, never through the machine's speed."""

from __future__ import annotations

import asyncio
import math
import re
import time
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from core.roles import Role
from tests.conftest import Center
from tests.helpers import wait_until
from tests.test_pages import (  # noqa: F401  (browser: the session's Chromium, a fixture)
    DESK,
    SCENE,
    SEEN,
    add_unit,
    browser,
    call,
    opened,
    shot,
)

STEP = 0.0012  # degrees of latitude between the unit's fixes: about 133 m, never a suspect jump
START = (SCENE[0] - 4 * STEP, SCENE[1] + 0.0004)  # where the unit waits when the call comes


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    rad = math.pi / 180
    h = (math.sin((b[0] - a[0]) * rad / 2) ** 2
         + math.cos(a[0] * rad) * math.cos(b[0] * rad) * math.sin((b[1] - a[1]) * rad / 2) ** 2)  # fmt: skip
    return 2 * 6371000 * math.asin(math.sqrt(h))


def between(fixes: list[list[float]], t: float) -> tuple[float, float]:
    """Where the unit was at t: linear between the stored fixes either side of t."""
    before = [f for f in fixes if f[0] <= t][-1]
    after = next(f for f in fixes if f[0] > t)
    k = (t - before[0]) / (after[0] - before[0])
    return before[1] + (after[1] - before[1]) * k, before[2] + (after[2] - before[2]) * k


async def history(center: Center) -> tuple[int, int]:
    """A theft answered by one patrol car, through the public API: the dispatcher sends it, the crew
    accepts, drives four fixes (explicit times) to the scene, arrives and clears. (incident, unit)."""
    unit_id = await add_unit(center, "R-1", START, home_zone="huangpu-1")
    incident_id = await call(center, "theft")
    async with center.client(Role.DISPATCHER) as dispatcher:

        async def waiting() -> bool:
            reply = await dispatcher.get(f"/api/v1/incidents/{incident_id}")
            return bool(reply.json()["status"] == "awaiting_confirmation")

        ready: bool = await wait_until(waiting)
        assert ready
        body = {"unit_ids": [unit_id]}
        sent = await dispatcher.post(f"/api/v1/incidents/{incident_id}/assignments", json=body)
        assert sent.status_code == 201, sent.text
        assignment_id = sent.json()["offered"][0]["id"]
    async with center.client(Role.UNIT, unit_id) as unit:
        await asyncio.sleep(0.3)  # the offer and the acceptance apart on the timeline
        step = await unit.post(f"/api/v1/assignments/{assignment_id}/accept")
        assert step.status_code == 200, step.text
        for k in range(1, 5):
            await asyncio.sleep(0.3)
            here = (START[0] + k * STEP, START[1] - k * 0.0001)
            fix = await unit.put(f"/api/v1/units/{unit_id}/location",
                                 json={"lat": here[0], "lon": here[1], "at": time.time()})  # fmt: skip
            assert fix.status_code == 200 and fix.json()["verdict"] == "ok", fix.text
        for name in ("arrive", "clear"):
            await asyncio.sleep(0.3)
            step = await unit.post(f"/api/v1/assignments/{assignment_id}/{name}")
            assert step.status_code == 200, step.text
    return incident_id, unit_id


async def where(marker: Locator) -> tuple[float, float]:
    """Where the replay put a unit's marker (the latitude and longitude it was drawn at)."""
    lat, lon = (await marker.get_attribute("data-lat"), await marker.get_attribute("data-lon"))
    assert lat and lon, "the marker is on the map"
    return float(lat), float(lon)


async def drawn_centre(marker: Locator) -> tuple[float, float]:
    """The centre of a circle marker as drawn (Leaflet's SVG path: M x-r,y a r,r 0 1,0 2r,0 ...)."""
    d = await marker.get_attribute("d") or ""
    x, y, r = (float(v) for v in re.findall(r"-?[\d.]+", d)[:3])
    return x + r, y


async def drawn_end(line: Locator) -> tuple[float, float]:
    """The last point of a polyline as drawn (Leaflet's SVG path: Mx yLx y...)."""
    d = await line.get_attribute("d") or ""
    x, y = (float(v) for v in re.findall(r"-?[\d.]+", d)[-2:])
    return x, y


async def scrub(page: Page, t: int) -> None:
    """Set the replay clock through its scrubber, as a drag of the range input would."""
    await page.eval_on_selector(
        "#replay-scrub",
        "(s, t) => { s.value = String(t); s.dispatchEvent(new Event('input', { bubbles: true })); }",
        t,
    )
    await expect(page.locator("#replay")).to_have_attribute("data-t", str(t))


async def test_the_console_replays_an_incident_on_its_map(browser: Browser, center: Center) -> None:  # noqa: F811
    """Replay on an incident draws the unit's trail and moves its marker along it as the clock is
    scrubbed, marks the events the clock has passed, plays to the end at 300x, and closes back to the
    live view."""
    incident_id, unit_id = await history(center)
    async with center.client(Role.DISPATCHER) as dispatcher:
        answer: dict[str, Any] = (await dispatcher.get(f"/api/v1/incidents/{incident_id}/replay")).json()
    fixes = answer["units"][0]["fixes"]
    assert len(fixes) == 5, fixes  # where it waited (before the call) and the four on its way
    kinds = [e["kind"] for e in answer["events"]]
    for kind in ("offered", "accepted", "on_scene", "cleared"):
        assert f"assignment.{kind}" in kinds, kinds

    async with opened(browser, center, "/console", DESK, center.token(Role.DISPATCHER)) as console:
        page = console.page
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=SEEN)
        await expect(page.locator('path.unit-marker[data-callsign="R-1"]')).to_have_count(1, timeout=SEEN)
        await page.locator(f'#queue li[data-incident="{incident_id}"]').click()
        await page.locator("#replay-open").click()
        panel = page.locator("#replay")
        await expect(panel).to_be_visible(timeout=SEEN)
        await expect(panel).to_have_attribute("data-incident", str(incident_id))
        # the live layers are off the map; the replay's scene, trail and unit are on it
        await expect(page.locator("path.unit-marker")).to_have_count(0)
        await expect(page.locator(f'[data-replay-scene="{incident_id}"]')).to_be_visible()
        await expect(page.locator("path.replay-trail")).to_have_count(1)
        assert await page.locator("#replay-events li").count() == len(answer["events"])
        start = int(await page.locator("#replay-scrub").get_attribute("min") or 0)
        end = int(await page.locator("#replay-scrub").get_attribute("max") or 0)
        assert start == answer["start_ms"] and end >= answer["end_ms"]

        # halfway between the second and the third fix on its way
        t = (fixes[2][0] + fixes[3][0]) // 2
        await scrub(page, t)
        marker = page.locator(f'path.replay-unit[data-unit="{unit_id}"]')
        shown = await where(marker)
        assert metres(shown, between(fixes, t)) < 3, (shown, between(fixes, t))
        trail = page.locator(f'path.replay-trail[data-unit="{unit_id}"]')
        # as drawn: the circle's centre is where the trail drawn so far ends
        assert await drawn_centre(marker) == pytest.approx(await drawn_end(trail), abs=1.5)
        await expect(trail).to_have_attribute("data-fixes", str(sum(f[0] <= t for f in fixes)))
        await expect(trail).to_have_attribute("data-points", str(sum(f[0] <= t for f in fixes) + 1))
        events = page.locator("#replay-events li")
        for n, e in enumerate(answer["events"]):
            await expect(events.nth(n)).to_have_attribute("data-passed", "1" if e["at_ms"] <= t else "0")
        await expect(page.locator('#replay-events li[data-kind="assignment.accepted"]')).to_have_class(
            re.compile(r"\bpassed\b")
        )
        await expect(page.locator('#replay-events li[data-kind="assignment.on_scene"]')).to_have_attribute(
            "data-passed", "0"
        )
        await expect(page.locator("path.replay-offered")).to_have_count(1)  # where it was when asked
        await expect(page.locator("path.replay-on_scene")).to_have_count(0)  # not there yet
        await shot(page, "console-replay")

        # back before the call's first fix on the way: the trail holds only where it waited
        await scrub(page, start)
        await expect(trail).to_have_attribute("data-fixes", str(sum(f[0] <= start for f in fixes)))
        await expect(page.locator("path.replay-offered")).to_have_count(0)
        # the arrow keys step the clock a hundredth of the span
        await page.locator("#replay-scrub").press("ArrowRight")
        await expect(panel).to_have_attribute("data-t", str(math.floor(start + (end - start) / 100 + 0.5)))

        # played at 300x it reaches the end: every event passed, the unit at the scene's last fix
        await page.locator("#replay-speed").select_option("300")
        await page.locator("#replay-play").click()
        await expect(panel).to_have_attribute("data-state", "ended", timeout=SEEN)
        await expect(panel).to_have_attribute("data-t", str(end))
        await expect(page.locator('#replay-events li[data-passed="0"]')).to_have_count(0)
        await expect(trail).to_have_attribute("data-fixes", str(len(fixes)))
        last = await where(marker)
        assert metres(last, (fixes[-1][1], fixes[-1][2])) < 1
        await expect(page.locator("path.replay-on_scene")).to_have_count(1)

        # close: the replay goes, the live view is back
        await page.locator("#replay-close").click()
        await expect(panel).to_have_count(0)
        await expect(page.locator("path.replay-trail")).to_have_count(0)
        await expect(page.locator('path.unit-marker[data-callsign="R-1"]')).to_have_count(1, timeout=SEEN)
        await expect(page.locator(f'.incident[data-incident="{incident_id}"]')).to_be_visible()
        console.assert_stayed_home()


async def test_the_replay_clock_is_pure_functions(browser: Browser, center: Center) -> None:  # noqa: F811
    """replay.js on its own, in the browser: positions between fixes, before the first and after the last,
    the trail and the events at a time, the clock stopping at the end."""
    async with opened(browser, center, "/console", DESK) as console:
        got = await console.page.evaluate(
            """async () => {
              const r = await import("/static/js/replay.js");
              const fixes = [[1000, 31, 121], [2000, 31.001, 121.002], [4000, 31.003, 121.002]];
              const events = [{ at_ms: 500 }, { at_ms: 2000 }, { at_ms: 3000 }];
              return {
                before: r.positionAt(fixes, 999), at: r.positionAt(fixes, 2000),
                mid: r.positionAt(fixes, 3000), after: r.positionAt(fixes, 9000),
                none: r.positionAt([], 1000),
                trail: r.trailAt(fixes, 1500), onFix: r.trailAt(fixes, 2000), empty: r.trailAt(fixes, 0),
                passed: [0, 500, 2999, 3000].map((t) => r.eventsPassed(events, t)),
                clock: [r.advance(1000, 16, 300, 20000), r.advance(1000, 1000, 300, 20000),
                        r.clamp(-5, 0, 10)],
              };
            }"""
        )
        console.assert_stayed_home()
    assert got["before"] is None and got["none"] is None
    assert got["at"] == [31.001, 121.002]
    assert got["mid"] == pytest.approx([31.002, 121.002])
    assert got["after"] == [31.003, 121.002]
    assert got["trail"]["fixes"] == 1
    assert got["trail"]["points"][0] == [31, 121]
    assert got["trail"]["points"][1] == pytest.approx([31.0005, 121.001])
    assert got["onFix"] == {"fixes": 2, "points": [[31, 121], [31.001, 121.002]]}
    assert got["empty"] == {"fixes": 0, "points": []}
    assert got["passed"] == [0, 1, 2, 3]
    assert got["clock"] == [5800, 20000, 0]


async def test_the_replay_button_is_for_those_who_may_read_replays(browser: Browser, center: Center) -> None:  # noqa: F811
    """A call taker's console has no Replay (the center would refuse it); a wall's token may watch one."""
    await add_unit(center, "R-2", START)
    incident_id = await call(center, "theft")
    for role, shown in ((Role.CALL_TAKER, 0), (Role.DISPLAY, 1)):
        async with opened(browser, center, "/console", DESK, center.token(role)) as console:
            page = console.page
            await page.locator(f'#queue li[data-incident="{incident_id}"]').click(timeout=SEEN)
            await expect(page.locator("#d-timeline li").first).to_be_visible(timeout=SEEN)
            await expect(page.locator("#replay-open")).to_have_count(shown)
            if shown:
                await page.locator("#replay-open").click()
                await expect(page.locator("#replay")).to_be_visible(timeout=SEEN)
                await page.locator("#replay-close").click()
                await expect(page.locator("#replay")).to_have_count(0)
            console.assert_stayed_home()
