"""The unit page in headless Chromium: a dispatcher's correction of the incident the crew is on is
shown on the phone, read aloud, and the task shows the new priority."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from core.roles import Role
from tests.conftest import Center
from tests.test_pages import PHONE, SCENE, SEEN, add_unit, browser, call, opened

__all__ = ["browser"]  # the session's browser fixture, shared with the other page tests


async def test_the_phone_shows_and_speaks_a_correction_of_its_incident(
    browser: Browser, center: Center
) -> None:
    unit_id = await add_unit(center, "P-61", (SCENE[0] + 0.002, SCENE[1]))
    async with opened(browser, center, "/unit", PHONE, center.token(Role.UNIT, unit_id)) as phone:
        page = phone.page
        await page.evaluate(  # record what the page asks the browser to say
            "window.__said = []; speechSynthesis.speak = (u) => window.__said.push(u.text); 0"
        )
        await expect(page.locator("#callsign")).to_have_text("P-61", timeout=SEEN)
        incident_id = await call(center, "assault", priority=3)
        await expect(page.locator("#offer")).to_be_visible(timeout=SEEN)
        await page.locator("#accept").click()
        await expect(page.locator("#task")).to_have_attribute("data-status", "accepted", timeout=SEEN)

        async with center.client(Role.DISPATCHER) as desk:
            reply = await desk.patch(f"/api/v1/incidents/{incident_id}", json={"priority": 1})
            assert reply.status_code == 200, reply.text
        news = page.locator("#news")
        await expect(news).to_contain_text("priority 3 → 1", timeout=SEEN)
        said = await page.evaluate("window.__said")
        assert said and "3 → 1" in said[-1]
        phone.assert_stayed_home()
