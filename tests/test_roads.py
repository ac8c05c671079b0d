"""The embedded road router on the shipped Baltimore extract: its answers equal scipy's Dijkstra on the
same graph exactly, it keeps to one-way streets, and its prepared form is reused on the next start."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roads.engines import UNREACHABLE, CchEngine, DijkstraEngine, node_order
from roads.graph import build_graph
from roads.osm import read_ways
from roads.prepared import Loaded, load_router
from roads.profiles import PROFILES, directions, parse_maxspeed_kmh, speed_kmh
from roads.router import EmbeddedRouter, Miss, Network
from roads.snap import Snapper

EXTRACT = Path(__file__).resolve().parent.parent / "simulation" / "data" / "baltimore.osm.pbf"
# inside the extract's clip box
SOUTH, NORTH, WEST, EAST = 39.2586, 39.3065, -76.6081, -76.5288


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped extract in a folder of its own, so its prepared form is this module's alone."""
    path = tmp_path_factory.mktemp("roads") / EXTRACT.name
    shutil.copyfile(EXTRACT, path)
    return path


@pytest.fixture(scope="module")
def loaded(copied: Path) -> Loaded:
    return load_router(copied)


@pytest.fixture(scope="module")
def reference(loaded: Loaded) -> EmbeddedRouter:
    """The same graphs and snapping, answered by scipy's Dijkstra."""
    nets = {}
    for name in loaded.router.profiles():
        net = loaded.router.network(name)
        assert net is not None
        nets[name] = Network(net.graph, net.snapper, DijkstraEngine(net.graph))
    return EmbeddedRouter(nets)


def net_of(loaded: Loaded, profile: str) -> Network:
    net = loaded.router.network(profile)
    assert net is not None
    return net


def test_every_profile_is_built_from_the_extract(loaded: Loaded) -> None:
    """Cars, emergency vehicles, motorcycles and walkers each get a graph of thousands of crossings,
    and walkers have more (footways, paths) than cars."""
    assert loaded.router.profiles() == frozenset(PROFILES)
    sizes = {p: net_of(loaded, p).graph.node_count for p in PROFILES}
    assert all(n > 10_000 for n in sizes.values()), sizes
    assert sizes["foot"] > sizes["car"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), profile=st.sampled_from(sorted(PROFILES)))
def test_contraction_hierarchy_equals_dijkstra_exactly(
    loaded: Loaded, data: st.DataObject, profile: str
) -> None:
    """Many sources to one target: every answer, in integer milliseconds, is the Dijkstra one."""
    net = net_of(loaded, profile)
    n = net.graph.node_count
    sources = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=40))
    target = data.draw(st.integers(0, n - 1))
    got = net.engine.many_to_one(sources, target)
    want = DijkstraEngine(net.graph).many_to_one(sources, target)
    assert got.tolist() == want.tolist()
    assert UNREACHABLE not in got.tolist()  # one strongly connected piece: everything is reachable


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lat=st.floats(SOUTH, NORTH), lon=st.floats(WEST, EAST), to_lat=st.floats(SOUTH, NORTH),
    to_lon=st.floats(WEST, EAST),
)  # fmt: skip
def test_routes_by_coordinates_equal_dijkstra(
    loaded: Loaded, reference: EmbeddedRouter, lat: float, lon: float, to_lat: float, to_lon: float
) -> None:
    """From a point to a point, the route's time and length are the reference ones, its line starts
    at the origin and ends at the target, and the batch query gives the same time."""
    got = loaded.router.route("emergency", (lat, lon), (to_lat, to_lon))
    want = reference.route("emergency", (lat, lon), (to_lat, to_lon))
    if isinstance(want, Miss):
        assert got == want
        return
    assert not isinstance(got, Miss)
    assert got.seconds == want.seconds
    assert got.metres == pytest.approx(want.metres, rel=0.01)  # equally fast paths may differ a little
    assert got.geometry[0] == (lat, lon) and got.geometry[-1] == (to_lat, to_lon)
    batch = loaded.router.many_to_one("emergency", [(lat, lon)], (to_lat, to_lon))
    assert batch == [got.seconds]


def test_one_way_streets_are_kept_to(loaded: Loaded) -> None:
    """For cars, a one-way arc's end is farther back to its start than forward; on foot it is not."""
    car = net_of(loaded, "car").graph
    arcs = set(zip(car.tail.tolist(), car.head.tolist(), strict=True))
    one_way = [(a, b) for a, b in arcs if (b, a) not in arcs]
    assert len(one_way) > 100  # the extract has many one-way streets (Fells Point, Canton)
    engine = net_of(loaded, "car").engine
    for a, b in one_way[:200]:
        assert int(engine.many_to_one([a], b)[0]) < int(engine.many_to_one([b], a)[0])
    points = [(float(car.lat[a]), float(car.lon[a])) for a, _ in one_way[:50]]
    ends = [(float(car.lat[b]), float(car.lon[b])) for _, b in one_way[:50]]
    walk = loaded.router
    both_ways = 0
    for start, end in zip(points, ends, strict=True):
        there = walk.many_to_one("foot", [start], end)[0]
        back = walk.many_to_one("foot", [end], start)[0]
        if isinstance(there, float) and isinstance(back, float):  # not on a motorway
            assert there == pytest.approx(back, abs=0.002)
            both_ways += 1
    assert both_ways >= 20


def test_a_point_far_from_any_road_is_not_snapped(loaded: Loaded) -> None:
    """A fix in the harbour water 2 km from the shore is a miss with its reason, not a wild time."""
    router = loaded.router
    scene = (39.2850, -76.5800)
    far = (39.2450, -76.5000)
    assert router.many_to_one("car", [far, scene], scene)[0] == Miss.ORIGIN_OFF_ROAD
    assert isinstance(router.many_to_one("car", [far, scene], scene)[1], float)
    assert router.many_to_one("car", [scene], far) == [Miss.TARGET_OFF_ROAD]
    assert router.route("car", far, scene) == Miss.ORIGIN_OFF_ROAD


def test_the_prepared_form_is_reused_and_renewed_when_the_file_changes(copied: Path, loaded: Loaded) -> None:
    """The second start reads what the first prepared (and answers the same); a different extract
    under the same name is prepared afresh rather than mistaken for the old one."""
    again = load_router(copied, ["car"])
    assert again.prepared == ()
    assert again.digest == loaded.digest
    a, b = (39.2900, -76.5900), (39.2800, -76.5600)
    assert again.router.many_to_one("car", [a], b) == loaded.router.many_to_one("car", [a], b)
    other = copied.parent / "other" / copied.name
    other.parent.mkdir()
    data = bytearray(copied.read_bytes())
    other.write_bytes(bytes(data))
    assert load_router(other, ["car"]).prepared == ("car",)  # a new folder: nothing to reuse
    assert load_router(other, ["car"]).prepared == ()


def test_profiles_read_the_tags_a_mapper_writes() -> None:
    """maxspeed in mph and km/h caps speeds; footways are for walkers only; motorways are one-way."""
    car, foot = PROFILES["car"], PROFILES["foot"]
    assert parse_maxspeed_kmh("25 mph") == pytest.approx(40.2336)
    assert parse_maxspeed_kmh("30") == 30.0 and parse_maxspeed_kmh("walk") is None
    assert speed_kmh(car, {"highway": "primary", "maxspeed": "25 mph"}) == pytest.approx(40.2336)
    assert speed_kmh(car, {"highway": "footway"}) is None
    assert speed_kmh(car, {"highway": "residential", "access": "private"}) is None
    assert speed_kmh(foot, {"highway": "footway"}) == 5.0
    assert speed_kmh(foot, {"highway": "motorway"}) is None
    assert speed_kmh(PROFILES["emergency"], {"highway": "primary", "maxspeed": "30"}) == pytest.approx(39.0)
    assert directions(car, {"highway": "motorway"}) == (True, False)
    assert directions(car, {"highway": "residential", "oneway": "-1"}) == (False, True)
    assert directions(foot, {"highway": "residential", "oneway": "yes"}) == (True, True)


def test_graph_keeps_only_its_strongly_connected_piece(tmp_path: Path) -> None:
    """Every node of a built graph reaches every other: a snapped point is never stranded."""
    ways = list(read_ways(EXTRACT))
    graph = build_graph(PROFILES["car"], ways)
    engine = CchEngine(graph, node_order(graph))
    rng = np.random.default_rng(7)
    sources = rng.integers(0, graph.node_count, 500).tolist()
    for target in rng.integers(0, graph.node_count, 5).tolist():
        assert UNREACHABLE not in engine.many_to_one(sources, target).tolist()
    snapper = Snapper(graph, 50.0)
    node = int(rng.integers(0, graph.node_count))
    hit = snapper.snap([(float(graph.lat[node]), float(graph.lon[node]))])[0]
    assert hit is not None and hit[0] == node and hit[1] == pytest.approx(0.0, abs=1e-6)
