"""The pages on a center with roads, in headless Chromium with the outside network cut off: the wall
draws the network's streets as its base layer (no tile server), the assignment line follows the roads,
the unit's phone shows the offer with its route and its distance by road, and the console's ETA of the
unit on its way shrinks as its fixes come in."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import httpx
from playwright.async_api import Browser, Geolocation, expect

from core.roles import Role
from roads.gridcity import GridCity
from tests.conftest import Stores, center_settings, serving, wipe
from tests.helpers import wait_until
from tests.test_pages import DESK, PHONE, SEEN, WALL, add_unit, browser, call, move, opened, shot

__all__ = ["browser"]  # the session's Chromium, shared with tests/test_pages.py

# a river between columns 5 and 6, bridged only at rows 0 and 11
CITY = GridCity(12, 12, river_after_col=5, bridges={0, 11})


async def ready(url: str) -> bool:
    async with httpx.AsyncClient(base_url=url) as client:
        return (await client.get("/readyz")).status_code == 200


async def test_streets_and_road_routes_on_the_wall_and_the_phone(
    browser: Browser, stores: Stores, tmp_path: Path
) -> None:
    await wipe(stores)
    extract = CITY.write(tmp_path / "city.osm.pbf")
    settings = center_settings(stores, data_dir=tmp_path / "data", roads_file=extract)
    async with serving(settings) as center:
        loaded: bool = await wait_until(partial(ready, center.url))
        assert loaded
        await add_unit(center, "P-ACROSS", CITY.point(3, 5))  # 100 m away, over the water
        along = await add_unit(center, "P-ALONG", CITY.point(5, 8))  # 400 m round a corner, same bank
        lat, lon = CITY.point(5, 8)  # where the phone says it is, too
        here = {"latitude": lat, "longitude": lon, "accuracy": 8}
        async with (
            opened(browser, center, "/wall", WALL, center.token(Role.DISPLAY)) as wall,
            opened(browser, center, "/console", DESK, center.token(Role.DISPATCHER)) as console,
            opened(browser, center, "/unit", PHONE, center.token(Role.UNIT, along), geolocation=here,
                   permissions=["geolocation"], is_mobile=True, has_touch=True) as phone,
        ):  # fmt: skip
            # the streets of the extract, from the center itself
            streets = wall.page.locator("#map[data-streets]")
            drawn_streets = re.compile(r"^\d:[1-9]\d*$")  # level : features drawn
            await expect(streets).to_have_attribute("data-streets", drawn_streets, timeout=SEEN)
            await expect(phone.page.locator("#callsign")).to_have_text("P-ALONG", timeout=SEEN)
            await call(center, "assault", at=CITY.point(3, 6))
            line = wall.page.locator('path.assignment-line[data-road="1"]')
            await expect(line).to_have_count(1, timeout=SEEN)
            # a line along the roads has corners: more than the two points of a straight one
            drawn = await line.get_attribute("d")
            assert drawn is not None and drawn.count("L") >= 2, drawn
            offer = phone.page.locator("#offer")
            await expect(offer).to_be_visible(timeout=SEEN)
            await expect(offer.locator('.facts[data-road="1"]')).to_contain_text("by road")
            await expect(phone.page.locator("path.route.road")).to_have_count(1)
            # the console: the unit's distance and ETA still ahead along its route, refreshed by its fixes
            incident = console.page.locator("#queue li[data-incident]")
            await expect(incident).to_have_count(1, timeout=SEEN)
            await incident.click()
            eta = console.page.locator("#d-assignments td.eta-ahead")
            await expect(eta).to_have_count(1, timeout=SEEN)
            first = int(await eta.get_attribute("data-eta-s") or 0)
            nearer = CITY.point(4, 7)  # a crossing nearer the scene, on the same bank
            there = Geolocation(latitude=nearer[0], longitude=nearer[1], accuracy=8)
            await phone.page.context.set_geolocation(there)  # so that the phone reports the same
            await move(center, along, nearer)
            await expect(eta).not_to_have_attribute("data-eta-s", str(first), timeout=SEEN)
            assert 0 <= int(await eta.get_attribute("data-eta-s") or first) < first
            await shot(wall.page, "wall-roads")
            await shot(phone.page, "unit-roads")
            wall.assert_stayed_home()
            phone.assert_stayed_home()
            console.assert_stayed_home()
