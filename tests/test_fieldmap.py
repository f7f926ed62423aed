import pytest

from synchronizations.engine.errors import UnmappableValue
from synchronizations.engine.fieldmap import LEFT, RIGHT, field_map_problems, fingerprint, transform

RULES = [
    {"left": "title", "right": "summary", "direction": "both"},
    {"left": "status", "right": "state", "direction": "both", "values": {"Open": "New", "Done": "Closed"}},
    {
        "left": "priority",
        "right": "severity",
        "direction": "left_to_right",
        "values": {"High": "Major"},
        "default": "Minor",
    },
    {"left": "notes", "right": "comment", "direction": "right_to_left"},
    {"left": "labels", "right": "tags", "direction": "both", "values": {"ui": "frontend", "api": "backend"}},
]


def test_left_to_right_renames_maps_values_and_applies_defaults():
    fields = {"title": "T", "status": "Open", "priority": "Low", "notes": "n", "labels": ["ui", "api"]}
    assert transform(RULES, LEFT, fields, "M") == {
        "summary": "T",
        "state": "New",
        "severity": "Minor",  # "Low" is not in the map: the default
        "tags": ["frontend", "backend"],
    }


def test_right_to_left_reads_value_maps_backwards_and_skips_one_way_rules():
    fields = {"summary": "T", "state": "Closed", "severity": "Major", "comment": "c", "tags": ["backend"]}
    assert transform(RULES, RIGHT, fields, "M") == {"title": "T", "status": "Done", "notes": "c", "labels": ["api"]}


def test_an_unmappable_value_names_field_value_and_mapping():
    with pytest.raises(UnmappableValue) as raised:
        transform(RULES, LEFT, {"status": "Blocked"}, "Web ↔ QA")
    assert str(raised.value) == "Field 'status' value 'Blocked' has no mapping to 'state' in mapping 'Web ↔ QA'"


def test_an_unmappable_list_item_is_refused_too():
    with pytest.raises(UnmappableValue, match="'labels' value 'db'"):
        transform(RULES, LEFT, {"labels": ["ui", "db"]}, "M")


def test_empty_values_pass_through_or_take_the_default():
    assert transform(RULES, LEFT, {"status": "", "priority": None}, "M")["state"] == ""
    assert transform(RULES, LEFT, {"priority": None}, "M")["severity"] == "Minor"


@pytest.mark.parametrize(
    ("field_map", "problem"),
    [
        ({"left": "a"}, "must be a list"),
        (["x"], "Rule 1 must be an object"),
        ([{"left": "a", "direction": "both"}], "Rule 1 needs the name of the right field"),
        ([{"left": "a", "right": "b", "direction": "sideways"}], "direction 'sideways' is not one of"),
        ([{"left": "a", "right": "b", "values": {"x": 1}}], "values must map each value to a text value"),
        ([{"left": "a", "right": "b", "values": {"x": "y", "z": "y"}}], "must map one to one"),
        ([{"left": "a", "right": "b", "colour": "red"}], "unknown keys: colour"),
        ([{"left": "a", "right": "b", "default": 3}], "default must be a text value"),
    ],
)
def test_field_map_problems_say_what_is_wrong(field_map, problem):
    assert any(problem in text for text in field_map_problems(field_map))


def test_a_good_field_map_has_no_problems():
    assert field_map_problems(RULES) == []


def test_fingerprint_depends_only_on_the_named_fields():
    a = fingerprint({"title": "T", "status": "Open", "other": 1}, ["status", "title"])
    assert a == fingerprint({"status": "Open", "title": "T", "other": 2}, ["title", "status"])
    assert a != fingerprint({"title": "T", "status": "Done"}, ["title", "status"])


def test_a_field_two_rules_write_on_one_side_is_refused_but_reading_one_twice_is_not():
    """Found by a user trial: the same rule twice was saved; which value such a
    field gets would depend on the rules' order."""
    from synchronizations.engine.fieldmap import field_map_problems

    twice = [{"left": "title", "right": "title", "direction": "both"}] * 2
    said = "which rule 1 writes already: each field can be written by one rule only."
    assert field_map_problems(twice) == [
        f"Rule 2 writes the right field 'title', {said}",
        f"Rule 2 writes the left field 'title', {said}",
    ]
    into_one = [
        {"left": "priority", "right": "severity", "direction": "left_to_right"},
        {"left": "impact", "right": "severity", "direction": "left_to_right"},
    ]
    assert "'severity', which rule 1 writes" in field_map_problems(into_one)[0]
    fan_out = [
        {"left": "title", "right": "title", "direction": "left_to_right"},
        {"left": "title", "right": "summary", "direction": "left_to_right"},
    ]
    assert field_map_problems(fan_out) == []
