"""The category catalogue: the shipped one is complete and sensible; a broken one is refused precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.catalogue import Catalogue, CatalogueError, Channel, PlanItem, ResponseTargets, load_catalogue
from units.kinds import load_kinds

GOOD = """
[default_targets]
1 = { dispatch_s = 60, arrive_s = 300 }
4 = { dispatch_s = 1800, arrive_s = 7200 }

[related_groups]
violence = ["robbery_in_progress", "fight"]

[categories.robbery_in_progress]
name_zh = "抢劫"
name_en = "Robbery in progress"
channels = ["110"]
priority = 1
plan = [{ kinds = ["patrol_car"], count = 2, tiers = [1] }]
auto_dispatch = true
duplicate_radius_m = 500
duplicate_window_s = 1800

[categories.fight]
name_zh = "打架斗殴"
name_en = "Fight"
channels = ["110"]
priority = 1
plan = [{ kinds = ["patrol_car", "motorcycle_patrol"], count = 2, tiers = [1, 2] }]
auto_dispatch = true
duplicate_radius_m = 200
duplicate_window_s = 1800
targets = { dispatch_s = 60, arrive_s = 600 }

[categories.stray_animals]
name_zh = "流浪动物"
name_en = "Stray animals"
channels = ["grid"]
priority = 4
auto_dispatch = false
duplicate_radius_m = 300
duplicate_window_s = 86400
related = ["neighbour_dispute"]
case_limit_days = [0, 1]

[categories.neighbour_dispute]
name_zh = "邻里纠纷"
name_en = "Neighbour dispute"
channels = ["grid"]
priority = 4
plan = [{ kinds = ["grid_worker"], count = 1, tiers = [2, 3] }]
auto_dispatch = false
duplicate_radius_m = 100
duplicate_window_s = 86400
"""

KINDS = ["patrol_car", "motorcycle_patrol", "grid_worker"]


def load(tmp_path: Path, text: str, kinds: list[str] | None = KINDS) -> Catalogue:
    path = tmp_path / "categories.toml"
    path.write_text(text, encoding="utf-8")
    return load_catalogue(path, kinds)


def refused(tmp_path: Path, text: str, kinds: list[str] | None = KINDS) -> CatalogueError:
    with pytest.raises(CatalogueError) as info:
        load(tmp_path, text, kinds)
    return info.value


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    return load_catalogue(unit_kinds=load_kinds())


def test_shipped_catalogue_loads_and_covers_every_channel(shipped: Catalogue) -> None:
    """The shipped catalogue loads against the shipped unit kinds, with >= 40 categories on every channel."""
    assert len(shipped) >= 40
    for channel in Channel:
        assert shipped.for_channel(channel), channel


def test_shipped_catalogue_has_the_core_categories(shipped: Catalogue) -> None:
    """Call takers find the categories they expect, with realistic urgency and plans."""
    robbery = shipped.get("robbery_in_progress")
    assert robbery.priority == 1 and robbery.auto_dispatch
    assert robbery.plan == (PlanItem(("patrol_car",), 2, (1,)),)
    fire = shipped.get("building_fire")
    assert {k for item in fire.plan for k in item.kinds} >= {"fire_engine", "ladder_truck", "ambulance"}
    assert fire.duplicate_radius_m == 300 and fire.duplicate_window_s == 1800
    assert sum(i.count for i in shipped.get("high_rise_fire").plan) > sum(i.count for i in fire.plan)
    dispute = shipped.get("neighbour_dispute")
    assert dispute.plan[0].tiers == (2, 3) and not dispute.auto_dispatch
    assert shipped.get("cardiac_arrest").targets == ResponseTargets(60, 300)


def test_shipped_grid_emergencies_go_straight_to_dispatch(shipped: Catalogue) -> None:
    """Grid reports of violence, fire or someone hurt are emergencies dispatched without waiting."""
    emergencies = [c for c in shipped.for_channel(Channel.GRID) if c.emergency]
    assert len(emergencies) >= 3
    assert all(c.plan and c.auto_dispatch and c.priority == 1 for c in emergencies)


def test_shipped_related_groups_link_fires_and_collisions(shipped: Catalogue) -> None:
    """Fire calls can be linked to each other, and so can traffic collisions; never to unrelated ones."""
    assert {"high_rise_fire", "grid_fire", "building_fire"} <= shipped.get("building_fire").related
    assert "collision_property" in shipped.get("collision_injury").related
    assert "noise_complaint" not in shipped.get("building_fire").related
    for category in shipped:
        assert category.code in category.related
        assert all(category.code in shipped.get(other).related for other in category.related)


def test_for_channel_lists_most_urgent_first(shipped: Catalogue) -> None:
    """A channel's pick list starts with priority 1 and accepts the channel's plain string."""
    police = shipped.for_channel("110")
    assert [c.priority for c in police] == sorted(c.priority for c in police)
    assert police[0].priority == 1


def test_catalogue_lookup_and_membership(tmp_path: Path) -> None:
    """Lookup by code works, an unknown code is a KeyError, and iteration yields the categories."""
    catalogue = load(tmp_path, GOOD)
    assert "fight" in catalogue and catalogue.get("fight") in catalogue and "nope" not in catalogue
    assert len(catalogue) == 4 and {c.code for c in catalogue} == set(catalogue.categories)
    with pytest.raises(KeyError, match="nope"):
        catalogue.get("nope")


def test_defaults_relations_and_case_limits_are_filled_in(tmp_path: Path) -> None:
    """Targets fall back to the priority default, relations are symmetric, and 0 case days is same-day."""
    catalogue = load(tmp_path, GOOD)
    assert catalogue.get("robbery_in_progress").targets == ResponseTargets(60, 300)
    assert catalogue.get("fight").targets == ResponseTargets(60, 600)
    assert catalogue.get("fight").related == {"fight", "robbery_in_progress"}
    assert catalogue.get("neighbour_dispute").related == {"neighbour_dispute", "stray_animals"}
    strays = catalogue.get("stray_animals")
    assert strays.case_limit_days == (0, 1) and not strays.dispatchable


def test_malformed_value_names_entry_and_field(tmp_path: Path) -> None:
    """A bad priority is reported with the file, the entry and the field, and what was wrong."""
    err = refused(tmp_path, GOOD.replace("priority = 1", "priority = 7", 1))
    assert (err.entry, err.field) == ("robbery_in_progress", "priority")
    assert str(err) == (
        "categories.toml: entry 'robbery_in_progress', field 'priority': must be an integer 1..4, got 7"
    )


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    """A misspelt key is refused rather than silently ignored."""
    err = refused(tmp_path, GOOD.replace("auto_dispatch = true", "autodispatch = true", 1))
    assert (err.entry, err.field) == ("robbery_in_progress", "autodispatch")
    assert "unknown key" in err.reason


def test_unknown_key_in_a_plan_line_is_refused(tmp_path: Path) -> None:
    """A misspelt key inside a plan line names the plan line."""
    err = refused(tmp_path, GOOD.replace("count = 2, tiers = [1] }", "cuont = 2 }", 1))
    assert (err.entry, err.field) == ("robbery_in_progress", "plan[0].cuont")


def test_plan_kind_not_in_kinds_file_is_refused(tmp_path: Path) -> None:
    """A plan naming a unit kind that is not in the kinds file is refused."""
    err = refused(tmp_path, GOOD.replace('kinds = ["patrol_car"]', 'kinds = ["patrol_cart"]'))
    assert (err.entry, err.field) == ("robbery_in_progress", "plan[0].kinds")
    assert "'patrol_cart' is not a known unit kind" in str(err)


def test_shipped_kinds_file_rejects_a_made_up_kind(tmp_path: Path) -> None:
    """Checked against the real kinds file, a made-up kind such as a helicopter is refused."""
    text = GOOD.replace('kinds = ["patrol_car"]', 'kinds = ["police_helicopter"]')
    err = refused(tmp_path, text, kinds=list(load_kinds()))
    assert err.field == "plan[0].kinds"


def test_kinds_are_not_checked_without_a_kind_list(tmp_path: Path) -> None:
    """Without a kind list (e.g. a catalogue-only tool), plan kinds are accepted as written."""
    text = GOOD.replace('kinds = ["patrol_car"]', 'kinds = ["police_helicopter"]')
    assert load(tmp_path, text, kinds=None).get("robbery_in_progress").plan[0].kinds == ("police_helicopter",)


ROB = "robbery_in_progress"
BAD_VALUES = [
    ('channels = ["110"]', 'channels = ["911"]', ROB, "channels", "not a known channel"),
    ('channels = ["110"]', "channels = []", ROB, "channels", "non-empty"),
    ("priority = 1", "priority = true", ROB, "priority", "integer"),
    ("auto_dispatch = true", 'auto_dispatch = "yes"', ROB, "auto_dispatch", "true or false"),
    ("count = 2", "count = 0", ROB, "plan[0].count", ">= 1"),
    ("tiers = [1] }", "tiers = [4] }", ROB, "plan[0].tiers", "1..3"),
    ("tiers = [1] }", "tiers = [1, 1] }", ROB, "plan[0].tiers", "twice"),
    ("duplicate_radius_m = 500", "duplicate_radius_m = 0", ROB, "duplicate_radius_m", "> 0"),
    ("duplicate_window_s = 1800", "duplicate_window_s = -5", ROB, "duplicate_window_s", ">= 1"),
    ("arrive_s = 600", "arrive_s = 0", "fight", "targets.arrive_s", ">= 1"),
    ("arrive_s = 600", "arrive_s = 30", "fight", "targets.arrive_s", "before dispatch_s"),
    ('related = ["neighbour_dispute"]', 'related = ["nope"]', "stray_animals", "related", "not a known"),
    ("case_limit_days = [0, 1]", "case_limit_days = [-1, 1]", "stray_animals", "case_limit_days", ">= 0"),
    ("case_limit_days = [0, 1]", "case_limit_days = [3]", "stray_animals", "case_limit_days", "2 limits"),
    ('name_zh = "抢劫"', 'name_zh = ""', ROB, "name_zh", "non-empty"),
]


@pytest.mark.parametrize(("old", "new", "entry", "field", "reason"), BAD_VALUES)
def test_bad_values_are_refused(
    tmp_path: Path, old: str, new: str, entry: str, field: str, reason: str
) -> None:
    """Each kind of wrong value is refused, naming the entry and the field."""
    assert old in GOOD
    err = refused(tmp_path, GOOD.replace(old, new, 1))
    assert (err.entry, err.field) == (entry, field)
    assert reason in err.reason


def test_call_category_needs_a_plan(tmp_path: Path) -> None:
    """A police category with no plan is refused: a 110 call must always send someone."""
    text = GOOD.replace('plan = [{ kinds = ["patrol_car"], count = 2, tiers = [1] }]\n', "", 1)
    err = refused(tmp_path, text)
    assert (err.entry, err.field) == ("robbery_in_progress", "plan")


def test_grid_emergency_needs_a_plan(tmp_path: Path) -> None:
    """A grid category marked emergency must send someone; only ordinary grid cases may send nobody."""
    text = GOOD.replace("case_limit_days = [0, 1]", "case_limit_days = [0, 1]\nemergency = true")
    err = refused(tmp_path, text)
    assert (err.entry, err.field) == ("stray_animals", "plan")


def test_auto_dispatch_with_nothing_to_send_is_refused(tmp_path: Path) -> None:
    """A grid case with no plan cannot be auto-dispatched."""
    text = GOOD.replace("auto_dispatch = false", "auto_dispatch = true", 1)
    err = refused(tmp_path, text)
    assert (err.entry, err.field) == ("stray_animals", "auto_dispatch")


def test_grid_only_fields_are_refused_on_calls(tmp_path: Path) -> None:
    """Emergency flags and case limits belong to grid categories, not to calls."""
    text = GOOD.replace("duplicate_window_s = 1800\n", "duplicate_window_s = 1800\nemergency = true\n", 1)
    assert refused(tmp_path, text).field == "emergency"
    text = GOOD.replace(
        "duplicate_window_s = 1800\n", "duplicate_window_s = 1800\ncase_limit_days = [1, 3]\n", 1
    )
    assert refused(tmp_path, text).field == "case_limit_days"


def test_missing_targets_without_a_default_is_refused(tmp_path: Path) -> None:
    """A category whose priority has no default targets must give its own."""
    err = refused(tmp_path, GOOD.replace("1 = { dispatch_s = 60, arrive_s = 300 }\n", ""))
    assert (err.entry, err.field) == ("robbery_in_progress", "targets")


def test_bad_top_level_and_groups_are_refused(tmp_path: Path) -> None:
    """Unknown top-level tables, unknown priorities and unknown group members are all refused."""
    assert refused(tmp_path, "[extras]\nx = 1\n" + GOOD).entry == "(top level)"
    err = refused(tmp_path, GOOD.replace("4 = { dispatch_s", "5 = { dispatch_s"))
    assert (err.entry, err.field) == ("default_targets", "5")
    err = refused(tmp_path, GOOD.replace('"robbery_in_progress", "fight"]', '"robbery", "fight"]'))
    assert (err.entry, err.field) == ("related_groups", "violence")


def test_syntax_error_and_missing_file_are_catalogue_errors(tmp_path: Path) -> None:
    """A file that is not TOML, or is missing, is reported as a catalogue error, not a bare exception."""
    assert "not valid TOML" in refused(tmp_path, GOOD + "\n[categories.broken\n").reason
    with pytest.raises(CatalogueError, match="cannot be read"):
        load_catalogue(tmp_path / "missing.toml")
