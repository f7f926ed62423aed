"""Field mapping: how the fields of one side become the fields of the other.

A mapping's ``field_map`` is a list of rules:

    {"left": "priority", "right": "severity", "direction": "both",
     "values": {"High": "Major", "Low": "Minor"}, "default": "Minor"}

``direction`` is ``both``, ``left_to_right`` or ``right_to_left``. ``values`` maps a
value of the source side to the other side's (read backwards for right-to-left); a
value missing from it takes ``default`` if the rule has one, and is otherwise an
unmappable value, a permanent error naming the field, the value and the mapping. A
rule without ``values`` copies the value as it is. List values (labels) are mapped
item by item.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from synchronizations.engine.errors import UnmappableValue

LEFT, RIGHT = "left", "right"
DIRECTIONS = {"both", "left_to_right", "right_to_left"}
RULE_KEYS = {"left", "right", "direction", "values", "default"}


def field_map_problems(field_map: Any) -> list[str]:
    """What is wrong with a field map, in words an administrator can act on."""
    if not isinstance(field_map, list):
        return ["The field map must be a list of rules."]
    problems = []
    for number, rule in enumerate(field_map, start=1):
        where = f"Rule {number}"
        if not isinstance(rule, dict):
            problems.append(f"{where} must be an object with left, right and direction.")
            continue
        unknown = set(rule) - RULE_KEYS
        if unknown:
            problems.append(f"{where} has unknown keys: {', '.join(sorted(unknown))}.")
        for side in (LEFT, RIGHT):
            if not isinstance(rule.get(side), str) or not rule.get(side, "").strip():
                problems.append(f"{where} needs the name of the {side} field.")
        direction = rule.get("direction", "both")
        if direction not in DIRECTIONS:
            problems.append(f"{where}: direction {direction!r} is not one of {', '.join(sorted(DIRECTIONS))}.")
        values = rule.get("values", {})
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            problems.append(f"{where}: values must map each value to a text value.")
        elif direction == "both" and len(set(values.values())) != len(values):
            problems.append(
                f"{where}: values must map one to one when the direction is both, or the way back is ambiguous."
            )
        if "default" in rule and not isinstance(rule["default"], str):
            problems.append(f"{where}: default must be a text value.")
    problems += _written_twice(field_map)
    return problems


def _written_twice(field_map: list) -> list[str]:
    """A sentence for each field that two rules write on the same side (which
    value it should get would depend on the rules' order; the same rule twice is
    the usual cause). One rule may read a field another reads: that is a fan-out."""
    problems, writers = [], {}
    for number, rule in enumerate(field_map, start=1):
        if not isinstance(rule, dict) or rule.get("direction", "both") not in DIRECTIONS:
            continue
        for source in (LEFT, RIGHT):
            target = RIGHT if source == LEFT else LEFT
            name = rule.get(target)
            if not isinstance(name, str) or not carries(rule, source):
                continue
            first = writers.setdefault((target, name), number)
            if first != number:
                problems.append(
                    f"Rule {number} writes the {target} field {name!r}, which rule {first} writes already: each field "
                    "can be written by one rule only."
                )
    return problems


@dataclass(frozen=True)
class Rule:
    source: str
    target: str
    values: dict[str, str] | None
    default: str | None
    has_default: bool


def rule_for(rule: dict, source_side: str) -> Rule:
    """One field map rule read from ``source_side`` to the other side (its value map
    turned around for right to left)."""
    values = rule.get("values")
    if values is not None and source_side == RIGHT:
        values = {target: source for source, target in values.items()}
    target_side = RIGHT if source_side == LEFT else LEFT
    return Rule(rule[source_side], rule[target_side], values, rule.get("default"), "default" in rule)


def carries(rule: dict, source_side: str) -> bool:
    """Whether ``rule`` carries values from ``source_side`` (its direction allows it)."""
    target_side = RIGHT if source_side == LEFT else LEFT
    return rule.get("direction", "both") in ("both", f"{source_side}_to_{target_side}")


def _rules(field_map: list[dict], source_side: str) -> list[Rule]:
    return [rule_for(rule, source_side) for rule in field_map if carries(rule, source_side)]


ARROWS = {"both": ("↔", "both ways"), "left_to_right": ("→", "left to right"), "right_to_left": ("←", "right to left")}


def describe(field_map: Any) -> list[dict]:
    """The rules in a form a person reads: fields, an arrow, the value pairs."""
    if not isinstance(field_map, list):
        return []
    return [
        {
            "left": rule.get("left"),
            "right": rule.get("right"),
            "arrow": ARROWS.get(rule.get("direction", "both"), ("?", "unknown direction"))[0],
            "direction": ARROWS.get(rule.get("direction", "both"), ("?", "unknown direction"))[1],
            "values": sorted((rule.get("values") or {}).items()),
            "default": rule.get("default"),
        }
        for rule in field_map
        if isinstance(rule, dict)
    ]


def relevant_fields(field_map: list[dict], side: str) -> list[str]:
    """The fields of ``side`` that the field map reads or writes."""
    return sorted({rule[side] for rule in field_map})


def transform(field_map: list[dict], source_side: str, fields: dict, mapping_name: str) -> dict:
    """The fields to write on the other side, from the source side's ``fields``."""
    return {
        rule.target: convert(rule, fields.get(rule.source), mapping_name) for rule in _rules(field_map, source_side)
    }


def convert(rule: Rule, value, mapping_name: str):
    """``value`` of the rule's source field as the target field takes it: through
    the value map (item by item for a list), an empty value as the default if the
    rule has one. Raises UnmappableValue for a value the map does not have and no
    default covers."""
    if rule.values is None:
        return rule.default if value in (None, "") and rule.has_default else value
    if isinstance(value, list):
        return [_map_value(rule, item, mapping_name) for item in value]
    if value in (None, ""):
        return rule.default if rule.has_default else value
    return _map_value(rule, value, mapping_name)


def _map_value(rule: Rule, value, mapping_name: str):
    if isinstance(value, str) and value in rule.values:
        return rule.values[value]
    if rule.has_default:
        return rule.default
    raise UnmappableValue(field=rule.source, target=rule.target, value=value, mapping=mapping_name)


def fingerprint(fields: dict, names: list[str]) -> str:
    """A digest of the named fields: equal digests mean nothing we sync has changed."""
    relevant = {name: fields.get(name) for name in names}
    encoded = json.dumps(relevant, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()
