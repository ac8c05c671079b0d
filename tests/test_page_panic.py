"""The panic button in headless Chromium: held on the unit's phone, it raises the alarm on a dispatcher's
console (the unit and the incident, its offers to the two nearest units); the dispatcher's
acknowledgement reaches the phone, and the phone's cancel, confirmed, ends the alarm on the console."""

from __future__ import annotations

from playwright.async_api import Browser, Dialog, expect

from core.roles import Role
from tests.conftest import Center
from tests.test_pages import DESK, PHONE, SCENE, SEEN, add_unit, browser, opened

__all__ = ["browser"]  # the session's browser fixture, shared with the other page tests


def north(metres: float) -> tuple[float, float]:
    return (SCENE[0] + metres / 111_320, SCENE[1])


async def test_holding_the_panic_button_raises_the_alarm_on_the_console(
    browser: Browser, center: Center
) -> None:
    me = await add_unit(center, "P-0", SCENE)
    for callsign, metres in (("P-300", 300), ("P-600", 600), ("P-3000", 3000)):
        await add_unit(center, callsign, north(metres))
    async with (
        opened(browser, center, "/console", DESK, center.token(Role.DISPATCHER)) as console,
        opened(browser, center, "/unit", PHONE, center.token(Role.UNIT, me)) as phone,
    ):
        desk, hand = console.page, phone.page
        await expect(desk.locator("#conn")).to_have_attribute("data-state", "live", timeout=SEEN)
        await expect(hand.locator("#conn")).to_have_attribute("data-state", "live", timeout=SEEN)
        box = hand.locator("#panic")

        await hand.locator("#panic-button").hover()
        await hand.mouse.down()
        await expect(box).to_have_attribute("data-state", "raised", timeout=SEEN)  # held until it went
        await hand.mouse.up()

        alarm = desk.locator(f'.panic-alarm[data-unit="{me}"]')
        await expect(alarm).to_be_visible(timeout=SEEN)
        await expect(alarm).to_contain_text("P-0")
        await expect(alarm).to_have_attribute("data-acknowledged", "0")
        incident_id = await alarm.get_attribute("data-incident")
        await alarm.get_by_role("button", name=f"#{incident_id}").click()
        offers = desk.locator("#d-assignments")
        await expect(offers).to_contain_text("P-300", timeout=SEEN)
        await expect(offers).to_contain_text("P-600", timeout=SEEN)
        await expect(offers.locator("td.callsign")).to_have_count(2)
        assert sorted(await offers.locator("td.callsign").all_text_contents()) == ["P-300", "P-600"]
        await expect(offers.locator("option", has_text="P-0 ")).to_have_count(0)  # not even to swap in

        await alarm.locator("button.ack").click()
        await expect(alarm).to_have_attribute("data-acknowledged", "1", timeout=SEEN)
        await expect(box).to_have_attribute("data-state", "acknowledged", timeout=SEEN)

        async def agree(dialog: Dialog) -> None:
            await dialog.accept()

        hand.on("dialog", agree)
        await hand.locator("#panic-cancel").click()
        await expect(box).to_have_attribute("data-state", "idle", timeout=SEEN)
        await expect(alarm).to_have_count(0, timeout=SEEN)
        console.assert_stayed_home()
        phone.assert_stayed_home()
