"""The unit-kind file: the shipped one is sensible, and a broken one is refused with entry and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from units.kinds import AGENCIES, KindsError, UnitKind, load_kinds

EXPECTED = {
    "patrol_car", "foot_patrol", "motorcycle_patrol", "rapid_response_team", "traffic_police",
    "fire_engine", "ladder_truck", "rescue_truck", "hazmat_unit", "ambulance", "grid_worker",
    "security_guard", "auxiliary_police", "joint_defence_team", "community_cadre", "militia_squad",
    "city_management",
}  # fmt: skip

GOOD = """
[kinds.patrol_car]
name_zh = "巡逻车"
name_en = "Patrol car"
agency = "police"
default_tier = 1
speed_kmh = 35
max_speed_kmh = 160
stale_after_s = 60
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kinds.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_kinds_cover_every_expected_kind() -> None:
    """The shipped file has every kind the dispatch center sends, each with sane values."""
    kinds = load_kinds()
    assert set(kinds) == EXPECTED
    for code, kind in kinds.items():
        assert kind.code == code
        assert kind.agency in AGENCIES
        assert 0 < kind.speed_kmh <= kind.max_speed_kmh
        assert kind.name_zh and kind.name_en


def test_shipped_tiers_follow_the_force_tier_rules() -> None:
    """Police, auxiliaries, joint defence are tier 1; grid, guards, city management 2; cadres, militia 3."""
    tiers = {code: kind.default_tier for code, kind in load_kinds().items()}
    assert tiers["patrol_car"] == tiers["auxiliary_police"] == tiers["joint_defence_team"] == 1
    assert tiers["grid_worker"] == tiers["security_guard"] == tiers["city_management"] == 2
    assert tiers["community_cadre"] == tiers["militia_squad"] == 3


def test_shipped_speeds_and_staleness_are_realistic() -> None:
    """A patrol car is faster than a foot patrol, and people on foot may report less often than vehicles."""
    kinds = load_kinds()
    assert kinds["foot_patrol"].speed_kmh < 8 < kinds["patrol_car"].speed_kmh
    assert kinds["foot_patrol"].stale_after_s == 300
    assert all(60 <= kinds[k].stale_after_s <= 120 for k in ("patrol_car", "fire_engine", "ambulance"))


def test_loads_a_minimal_file(tmp_path: Path) -> None:
    """A one-kind file loads into the expected record, and the mapping cannot be changed afterwards."""
    kinds = load_kinds(write(tmp_path, GOOD))
    assert kinds["patrol_car"] == UnitKind("patrol_car", "巡逻车", "Patrol car", "police", 1, 35.0, 160.0, 60)
    with pytest.raises(TypeError):
        kinds["x"] = kinds["patrol_car"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        ('agency = "police"', 'agency = "army"', "agency", "must be one of"),
        ("default_tier = 1", "default_tier = 4", "default_tier", "1..3"),
        ("default_tier = 1", "default_tier = true", "default_tier", "integer"),
        ("speed_kmh = 35", "speed_kmh = 0", "speed_kmh", "> 0"),
        ("speed_kmh = 35", 'speed_kmh = "fast"', "speed_kmh", "number"),
        ("max_speed_kmh = 160", "max_speed_kmh = 20", "max_speed_kmh", ">= speed_kmh"),
        ("stale_after_s = 60", "stale_after_s = 0", "stale_after_s", ">= 1"),
        ("stale_after_s = 60", "stale_after_s = 60.5", "stale_after_s", "integer"),
        ('name_en = "Patrol car"', 'name_en = ""', "name_en", "non-empty"),
        ('name_en = "Patrol car"', 'name_en = "Patrol car"\ncolour = "white"', "colour", "unknown key"),
        ('name_zh = "巡逻车"\n', "", "name_zh", "required"),
    ],
)
def test_bad_field_names_entry_and_field(tmp_path: Path, old: str, new: str, field: str, reason: str) -> None:
    """A wrong value is refused with an error naming the kind, the field and what was wrong."""
    with pytest.raises(KindsError) as info:
        load_kinds(write(tmp_path, GOOD.replace(old, new)))
    err = info.value
    assert (err.entry, err.field) == ("patrol_car", field)
    assert reason in err.reason
    assert "entry 'patrol_car'" in str(err) and f"field '{field}'" in str(err)


def test_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    """A stray top-level key (e.g. a kind written without the ``kinds.`` prefix) is refused."""
    with pytest.raises(KindsError, match="unknown key"):
        load_kinds(write(tmp_path, GOOD + "\n[ambulance]\nagency = 'medical'\n"))


def test_bad_code_and_bad_syntax_are_refused(tmp_path: Path) -> None:
    """Kind codes must be snake_case, and a file that is not TOML says so."""
    with pytest.raises(KindsError, match="lower-case"):
        load_kinds(write(tmp_path, GOOD.replace("kinds.patrol_car", 'kinds."Patrol Car"')))
    with pytest.raises(KindsError, match="not valid TOML"):
        load_kinds(write(tmp_path, GOOD + "\n[kinds.ambulance\n"))


def test_missing_file_is_a_kinds_error(tmp_path: Path) -> None:
    """A missing file is reported as a kinds error naming the file, not a bare OSError."""
    with pytest.raises(KindsError, match="cannot be read"):
        load_kinds(tmp_path / "nope.toml")
