"""The demo city: Huangpu District, Shanghai (黄浦区), around 31.23 N 121.48 E.

Its ten subdistricts (街道) are the towns of the grid ladder and the patrol zones; each has three
communities (居委会) of four grid cells, named ``TOWN/COMMUNITY/CELL`` as grid cases expect. Places are
approximate (a few hundred metres): real-looking, not a survey. The roster, about 200 units of every
kind in ``units/kinds.toml`` and all three force tiers, is in ``simulation/roster.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from simulation.geo import Point, distance_m, offset


@dataclass(frozen=True, slots=True)
class Cell:
    name: str  # TOWN/COMMUNITY/CELL
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Community:
    town: str
    code: str
    lat: float
    lon: float
    cells: tuple[Cell, ...]

    @property
    def area(self) -> str:
        """How a community seat names its area on the grid ladder: TOWN/COMMUNITY."""
        return f"{self.town}/{self.code}"


@dataclass(frozen=True, slots=True)
class Town:
    code: str  # also the patrol zone
    name_zh: str
    name_en: str
    lat: float
    lon: float
    communities: tuple[Community, ...]


@dataclass(frozen=True, slots=True)
class Site:
    """A named place: a station, a hospital."""

    code: str
    name: str
    lat: float
    lon: float

    @property
    def point(self) -> Point:
        return self.lat, self.lon


@dataclass(frozen=True, slots=True)
class Hotspot:
    """Where and when calls cluster, and which kinds of call."""

    name: str
    lat: float
    lon: float
    radius_m: float
    weight: float
    categories: frozenset[str]
    hours: tuple[int, int]  # local hours [from, to), wrapping past midnight

    def active(self, hour: int) -> bool:
        start, end = self.hours
        return start <= hour < end if start < end else hour >= start or hour < end


@dataclass(frozen=True)
class City:
    name: str
    name_zh: str
    lat: float
    lon: float
    towns: tuple[Town, ...]
    stations: dict[str, Site]
    hospitals: tuple[Site, ...]
    hotspots: tuple[Hotspot, ...]

    @cached_property
    def cells(self) -> tuple[Cell, ...]:
        return tuple(cell for t in self.towns for c in t.communities for cell in c.cells)

    @cached_property
    def communities(self) -> tuple[Community, ...]:
        return tuple(c for t in self.towns for c in t.communities)

    def town_at(self, lat: float, lon: float) -> Town:
        """The town (patrol zone) whose centre is nearest."""
        return min(self.towns, key=lambda t: distance_m((lat, lon), (t.lat, t.lon)))

    def cell_at(self, lat: float, lon: float) -> Cell:
        return min(self.cells, key=lambda c: distance_m((lat, lon), (c.lat, c.lon)))

    def nearest_hospital(self, point: Point) -> Site:
        return min(self.hospitals, key=lambda h: distance_m(point, h.point))


# code, Chinese name, English name, centre, and three communities (named after their streets)
_TOWNS: Sequence[tuple[str, str, str, float, float, tuple[str, str, str]]] = (
    ("nanjingdonglu", "南京东路街道", "Nanjing Road East", 31.2372, 121.4795, ("hankou", "fuzhou", "yunnan")),
    ("waitan", "外滩街道", "The Bund", 31.2398, 121.4895, ("jinling", "beijing", "yuanmingyuan")),
    ("yuyuan", "豫园街道", "Yuyuan", 31.2282, 121.4905, ("fangbang", "anren", "houjia")),
    ("xiaodongmen", "小东门街道", "Xiaodongmen", 31.2205, 121.4985, ("dongjiadu", "shiliupu", "wangjia")),
    ("laoximen", "老西门街道", "Laoximen", 31.2180, 121.4840, ("penglai", "wenmiao", "dajing")),
    (
        "bansongyuanlu",
        "半淞园路街道",
        "Bansongyuan Road",
        31.2055,
        121.4930,
        ("gaoxiong", "yaojiang", "xizang"),
    ),
    ("wuliqiao", "五里桥街道", "Wuliqiao", 31.1995, 121.4785, ("qiaoyi", "ruinan", "jinan")),
    ("dapuqiao", "打浦桥街道", "Dapuqiao", 31.2065, 121.4680, ("tianzifang", "jianguo", "sinan")),
    (
        "huaihaizhonglu",
        "淮海中路街道",
        "Huaihai Road Middle",
        31.2220,
        121.4720,
        ("xintiandi", "yandang", "shunchang"),
    ),
    ("ruijinerlu", "瑞金二路街道", "Ruijin Road No. 2", 31.2130, 121.4620, ("fuxing", "yongjia", "maoming")),
)

COMMUNITY_FROM_TOWN_M = 420
CELL_FROM_COMMUNITY_M = 140


def _town(code: str, zh: str, en: str, lat: float, lon: float, names: tuple[str, str, str]) -> Town:
    communities = []
    # three communities around the town centre, 120 degrees apart; four cells around each community
    for i, name in enumerate(names):
        north, east = [(COMMUNITY_FROM_TOWN_M, 0), (-210, 364), (-210, -364)][i]
        clat, clon = offset(lat, lon, north, east)
        cells = tuple(
            Cell(f"{code}/{name}/{n + 1:02d}", *offset(clat, clon, dn, de))
            for n, (dn, de) in enumerate(
                [
                    (CELL_FROM_COMMUNITY_M, -CELL_FROM_COMMUNITY_M),
                    (CELL_FROM_COMMUNITY_M, CELL_FROM_COMMUNITY_M),
                    (-CELL_FROM_COMMUNITY_M, -CELL_FROM_COMMUNITY_M),
                    (-CELL_FROM_COMMUNITY_M, CELL_FROM_COMMUNITY_M),
                ]
            )
        )
        communities.append(Community(code, name, clat, clon, cells))
    return Town(code, zh, en, lat, lon, tuple(communities))


_STATIONS = (
    # one police station (派出所) per subdistrict: its code is the town's
    *(
        Site(f"ps-{t[0]}", f"{t[1].removesuffix('街道')}派出所", *offset(t[3], t[4], -120, 90))
        for t in _TOWNS
    ),
    Site("fire-north", "黄浦消防救援站 (north)", 31.2335, 121.4860),
    Site("fire-east", "小东门消防救援站 (east)", 31.2215, 121.5010),
    Site("fire-south", "打浦桥消防救援站 (south)", 31.2045, 121.4715),
    Site("ems-north", "120 急救分站 (People's Square)", 31.2345, 121.4760),
    Site("ems-east", "120 急救分站 (Laoximen)", 31.2150, 121.4895),
    Site("ems-south", "120 急救分站 (Ruijin)", 31.2070, 121.4630),
    Site("traffic-north", "黄浦交警支队 (north)", 31.2310, 121.4800),
    Site("traffic-south", "黄浦交警支队 (south)", 31.2045, 121.4835),
    Site("special-police", "特警快反基地 (People's Square)", 31.2315, 121.4735),
    Site("city-management", "黄浦城管执法大队", 31.2165, 121.4770),
    Site("militia", "民兵应急分队营房", 31.2005, 121.4885),
)

_HOSPITALS = (
    Site("ruijin", "瑞金医院", 31.2117, 121.4670),
    Site("renji-west", "仁济医院 (西院)", 31.2338, 121.4823),
    Site("ninth-peoples", "第九人民医院", 31.2040, 121.4790),
    Site("huangpu-central", "黄浦区中心医院", 31.2365, 121.4870),
)


def _hotspot(
    name: str, lat: float, lon: float, radius: float, weight: float, cats: str, hours: tuple[int, int]
) -> Hotspot:
    return Hotspot(name, lat, lon, radius, weight, frozenset(cats.split()), hours)


_HOTSPOTS = (
    _hotspot(
        "南京路步行街",
        31.2352,
        121.4790,
        350,
        3.0,
        "theft pickpocketing lost_property assistance_request fraud fight suspicious_person",
        (10, 23),
    ),
    _hotspot(
        "外滩",
        31.2400,
        121.4905,
        300,
        2.5,
        "pickpocketing lost_property crowd_disturbance assistance_request missing_child water_rescue",
        (9, 24),
    ),
    _hotspot(
        "豫园商城",
        31.2272,
        121.4921,
        250,
        2.0,
        "pickpocketing theft lost_property fraud missing_child",
        (9, 21),
    ),
    _hotspot(
        "新天地",
        31.2195,
        121.4745,
        250,
        2.0,
        "drunk_disorderly fight theft noise_complaint assault drunk_driving",
        (18, 3),
    ),
    _hotspot(
        "人民广场",
        31.2318,
        121.4737,
        300,
        1.5,
        "fraud telecom_fraud theft assistance_request suspicious_person",
        (8, 22),
    ),
    _hotspot("田子坊", 31.2087, 121.4685, 200, 1.0, "theft lost_property drunk_disorderly", (10, 23)),
    _hotspot(
        "老西门居民区",
        31.2178,
        121.4860,
        400,
        2.0,
        "domestic_dispute elderly_fall noise_complaint neighbour_dispute elderly_welfare_check "
        "minor_illness gas_leak",
        (0, 24),
    ),
    _hotspot(
        "延安路高架-西藏路口",
        31.2290,
        121.4795,
        300,
        2.0,
        "collision_property collision_injury breakdown_obstruction signal_failure",
        (7, 20),
    ),
    _hotspot(
        "董家渡/南外滩",
        31.2140,
        121.5020,
        400,
        1.5,
        "collision_property road_hazard illegal_parking illegal_construction",
        (7, 20),
    ),
    _hotspot(
        "打浦桥隧道",
        31.2035,
        121.4850,
        250,
        1.0,
        "collision_property breakdown_obstruction pileup collision_injury",
        (7, 10),
    ),
)


def huangpu() -> City:
    """The demo city."""
    return City(
        name="Huangpu District, Shanghai",
        name_zh="上海市黄浦区",
        lat=31.2230,
        lon=121.4810,
        towns=tuple(_town(*t) for t in _TOWNS),
        stations={s.code: s for s in _STATIONS},
        hospitals=_HOSPITALS,
        hotspots=_HOTSPOTS,
    )
