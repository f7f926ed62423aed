"""Field-level merge: what changed on each side since the two last agreed, what to
write where, and which fields conflict.

A sync remembers, per side, the value of each mapped field when the two sides last
agreed (Synchronization.synced, its *baseline*). A field whose value differs from
its baseline changed on that side. For each rule of the field map:

- changed on one side only: carried to the other side (so a title edited on the
  left and a priority edited on the right both survive);
- changed on both sides to values that agree (through the value map): nothing to
  write;
- changed on both sides to values that do not: a conflict, decided for that field
  by the mapping's conflict policy (the newest artifact, the left side, the right
  side), and logged with both values; under the policy "raise an error" the field
  is left as it is on both sides and the sync goes to the error queue, where an
  operator chooses a side per field (the choice is in ``choices``);
- one-way rules carry from their source only: an edit of the field on its target
  side is overwritten with the source's value, and a warning says so (the field
  belongs to the source side; it is not silently taken as synced).

A field the field map reads but the artifact does not have (a renamed or deleted
custom field) is an error naming the field and the repository, never an empty
value written on the other side.

Syncs processed before baselines existed (empty ``synced``) fall back to the
side-level rule they were made with: a side changed if its fingerprint did.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from synchronizations.connectors import Artifact
from synchronizations.engine import fieldmap, wording
from synchronizations.engine.errors import PermanentError
from synchronizations.engine.fieldmap import LEFT, RIGHT

Sides = dict[str, Artifact | None]
WARNING, INFO = "warning", "info"


def other(side: str) -> str:
    return RIGHT if side == LEFT else LEFT


class MissingField(PermanentError):
    """The field map reads a field the artifact does not have: renamed or deleted in
    the tracker, or not enabled for the artifact's type."""

    def __init__(self, name: str, key: str, repository: str, mapping: str):
        super().__init__(
            f"Field '{name}' is not in {key} in '{repository}' (renamed or deleted there?)",
            f"The field map of mapping '{mapping}' reads field '{name}'. Nothing was written, so that the other "
            "side is not blanked. Rename the field back in the tracker, or change the mapping's field map, then Retry.",
        )
        self.name = name


@dataclass(frozen=True)
class FieldConflict:
    """A rule whose fields changed on both sides to values that do not agree.
    ``rule``: the rule's key, rule_key() (its fields, not its position: the field
    map may be reordered before an operator resolves the conflict)."""

    rule: str
    left_field: str
    right_field: str
    left_value: Any
    right_value: Any

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "left_field": self.left_field,
            "right_field": self.right_field,
            "left_value": self.left_value,
            "right_value": self.right_value,
        }


@dataclass
class Merge:
    """What to write on each side ({side: {field: value}}, empty when nothing), the
    log lines decided while merging, and the conflicts left for an operator."""

    writes: dict[str, dict] = field(default_factory=lambda: {LEFT: {}, RIGHT: {}})
    messages: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[FieldConflict] = field(default_factory=list)


def plain(value: Any) -> Any:
    """``value`` as it is stored in a baseline (JSON: tuples as lists, times as text),
    so that a value read now and one stored compare equal when they are. Scalars,
    most values, are their own JSON form and are given back as they are."""
    if value is None or type(value) in _SCALARS:
        return value
    return json.loads(json.dumps(value, default=str))


_SCALARS = (str, int, bool)


@dataclass(frozen=True)
class Context:
    """What merging needs besides the artifacts: the mapping's field map, name,
    conflict policy (its value and how it reads), the repository names per side,
    the sync's baseline and fingerprints, and an operator's choices per rule
    ({rule_key() or "*": side})."""

    field_map: list[dict]
    mapping: str
    policy: str
    policy_label: str
    repositories: dict[str, str]
    synced: dict
    fingerprints: dict[str, str]
    choices: dict


def merge(read: Sides, context: Context) -> Merge:
    """Decides, rule by rule, what to write on each side (see the module's
    docstring). ``read``: both artifacts as read (None: not created yet; at least
    one exists). Raises MissingField for a field an artifact does not have, and
    UnmappableValue for a value the field map cannot carry."""
    result = Merge()
    for side in (LEFT, RIGHT):
        if read[side] is not None:
            _check_fields(read[side], side, context)
    missing = [side for side in (LEFT, RIGHT) if read[side] is None]
    if missing:
        source = other(missing[0])
        result.writes[missing[0]] = fieldmap.transform(context.field_map, source, read[source].fields, context.mapping)
        return result
    legacy = _legacy_changes(read, context)
    for rule in context.field_map:
        _merge_rule(rule_key(rule), rule, read, context, legacy, result)
    return result


def _check_fields(artifact: Artifact, side: str, context: Context) -> None:
    if artifact.open_schema:
        return
    for rule in context.field_map:
        if fieldmap.carries(rule, side) and rule[side] not in artifact.fields:
            raise MissingField(rule[side], artifact.key, context.repositories[side], context.mapping)


def _legacy_changes(read: Sides, context: Context) -> dict[str, bool] | None:
    """For a sync without a baseline: which sides changed, by fingerprint (None when
    the sync has a baseline)."""
    if context.synced:
        return None
    names = {side: fieldmap.relevant_fields(context.field_map, side) for side in (LEFT, RIGHT)}
    return {
        side: fieldmap.fingerprint(read[side].fields, names[side]) != context.fingerprints.get(side, "")
        for side in (LEFT, RIGHT)
    }


def _changed(side: str, name: str, value: Any, context: Context, legacy: dict[str, bool] | None) -> bool:
    if legacy is not None:
        return legacy[side]
    baseline = context.synced.get(side, {})
    return name not in baseline or plain(value) != baseline[name]


def rule_key(rule: dict) -> str:
    """A field map rule's key: its left and right field names, ``left|right``."""
    return f"{rule[LEFT]}|{rule[RIGHT]}"


def describe_key(key: str) -> str:
    """A rule key as a person reads it: ``title``, or ``priority ↔ severity``."""
    left, _, right = key.partition("|")
    return left if left == right or not right else f"{left} ↔ {right}"


def _merge_rule(number: str, rule: dict, read: Sides, context: Context, legacy, result: Merge) -> None:
    names = {LEFT: rule[LEFT], RIGHT: rule[RIGHT]}
    values = {side: read[side].fields.get(names[side]) for side in (LEFT, RIGHT)}
    changed = {side: _changed(side, names[side], values[side], context, legacy) for side in (LEFT, RIGHT)}
    sources = [side for side in (LEFT, RIGHT) if fieldmap.carries(rule, side)]

    def converted(source: str) -> Any:
        return fieldmap.convert(fieldmap.rule_for(rule, source), values[source], context.mapping)

    def agree(source: str) -> bool:
        return plain(converted(source)) == plain(values[other(source)])

    if len(sources) == 1:  # one way: the source side owns the field
        source = sources[0]
        target = other(source)
        if agree(source):
            return
        if changed[target] and not changed[source]:
            result.messages.append(
                (
                    WARNING,
                    wording.one_way_restored(
                        names[target], read[target].key, values[target], converted(source), context.repositories[source]
                    ),
                )
            )
        result.writes[target][names[target]] = converted(source)
        return

    edited = [side for side in (LEFT, RIGHT) if changed[side]]
    if not edited:
        return  # neither side changed it since they last agreed
    if len(edited) == 1:
        source = edited[0]
        if not agree(source):
            result.writes[other(source)][names[other(source)]] = converted(source)
        return
    if agree(LEFT):
        return  # both edited it, to the same value
    winner = _decide(number, read, context)
    if winner is None:
        conflict = FieldConflict(number, names[LEFT], names[RIGHT], plain(values[LEFT]), plain(values[RIGHT]))
        result.conflicts.append(conflict)
        result.messages.append(
            (
                WARNING,
                wording.field_conflict(
                    names[LEFT], names[RIGHT], read[LEFT].key, values[LEFT], read[RIGHT].key, values[RIGHT], None, ""
                ),
            )
        )
        return
    chosen = context.choices.get(number) or context.choices.get("*")
    how = "operator's choice" if chosen else context.policy_label
    result.messages.append(
        (
            WARNING,
            wording.field_conflict(
                names[LEFT], names[RIGHT], read[LEFT].key, values[LEFT], read[RIGHT].key, values[RIGHT], winner, how
            ),
        )
    )
    result.writes[other(winner)][names[other(winner)]] = converted(winner)


def _decide(key: str, read: Sides, context: Context) -> str | None:
    """The side whose value wins a conflict on the rule ``key``: the operator's
    choice if there is one, else the policy; None under "raise an error"."""
    chosen = context.choices.get(key) or context.choices.get("*")
    if chosen in (LEFT, RIGHT):
        return chosen
    if context.policy == LEFT:
        return LEFT
    if context.policy == RIGHT:
        return RIGHT
    if context.policy == "newest":
        return LEFT if read[LEFT].updated_at >= read[RIGHT].updated_at else RIGHT
    return None


def baseline(field_map: list[dict], after: Sides, previous: dict, conflicts: list[FieldConflict]) -> dict:
    """The new Synchronization.synced: each mapped field's value on each side as it
    is now (``after``: the artifacts after the writes), except the fields of
    unresolved conflicts, which keep their previous baseline (they stay changed on
    both sides until an operator decides)."""
    open_rules = {conflict.rule for conflict in conflicts}
    synced: dict[str, dict] = {LEFT: {}, RIGHT: {}}
    for rule in field_map:
        for side in (LEFT, RIGHT):
            name = rule[side]
            if rule_key(rule) in open_rules:
                if name in previous.get(side, {}):
                    synced[side][name] = previous[side][name]
            else:
                synced[side][name] = plain(after[side].fields.get(name))
    return synced
