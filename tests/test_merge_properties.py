"""Property-based tests of the field-level merge (hypothesis): random interleavings of
edits on both sides of a linked pair, with processing rounds in between.

A model keeps what each field should be. Between two rounds, a two-way field edited
on one side only must arrive on the other side with that side's last value; edited on
both sides to values that do not agree, the mapping's policy (left or right wins)
decides; a one-way field always ends with its source's value. After every round
both sides agree on every two-way field, and no edit made on one side only is lost.
The same program runs against the sandbox (many examples) and against the live
Roundup and Redmine trackers (a few)."""

import itertools
from dataclasses import dataclass

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synchronizations.connectors import connector_for
from synchronizations.engine import process
from synchronizations.engine.detect import detect_changes
from synchronizations.models import Mapping, Repository, Synchronization, SyncStatus
from tests.harness_redmine import redmine_repository
from tests.harness_roundup import create_keyword, roundup_connector

pytestmark = pytest.mark.django_db

_names = itertools.count(1)


@dataclass(frozen=True)
class Field:
    """A rule of the test mapping: the field on each side, the values each side may
    be edited to (paired through the value map), and its direction."""

    left: str
    right: str
    values: tuple[tuple[str, str], ...]  # (left value, right value)
    direction: str = "both"

    def rule(self) -> dict:
        rule = {"left": self.left, "right": self.right, "direction": self.direction}
        if any(left != right for left, right in self.values):
            rule["values"] = dict(self.values)
        return rule

    def to_right(self, value: str) -> str:
        return dict(self.values)[value]

    def to_left(self, value: str) -> str:
        return {right: left for left, right in self.values}[value]


SANDBOX_FIELDS = (
    Field("title", "title", (("A", "A"), ("B", "B"), ("C", "C"))),
    Field("priority", "severity", (("High", "Major"), ("Low", "Minor"))),
    Field("status", "state", (("Open", "Open"), ("Done", "Done"), ("Waiting", "Waiting"))),
    Field("component", "area", (("UI", "UI"), ("API", "API")), direction="left_to_right"),
)
ROUNDUP_FIELDS = (
    Field("title", "title", (("A", "A"), ("B", "B"), ("C", "C"))),
    Field("priority", "priority", (("High", "urgent"), ("Low", "wish"))),
    Field("status", "status", (("Open", "unread"), ("Talk", "chatting"), ("Done", "resolved"))),
)
REDMINE_FIELDS = (
    Field("title", "title", (("A", "A"), ("B", "B"), ("C", "C"))),
    Field("priority", "priority", (("High", "High"), ("Low", "Low"), ("Normal", "Normal"))),
)


def programs(fields: tuple[Field, ...], max_size: int):
    """Lists of steps: ("edit", side, field index, value index) or ("round",)."""
    edit = st.tuples(
        st.just("edit"),
        st.sampled_from(["left", "right"]),
        st.integers(0, len(fields) - 1),
        st.integers(0, 2),
    )
    return st.lists(st.one_of(edit, edit, st.just(("round",))), min_size=1, max_size=max_size)


class Pair:
    """A linked pair under a program, and the model of what it should hold."""

    def __init__(self, mapping: Mapping, fields: tuple[Field, ...], policy: str, detect: bool):
        self.mapping, self.fields, self.policy, self.detect = mapping, fields, policy, detect
        self.left, self.right = connector_for(mapping.left), connector_for(mapping.right)
        first = {field.left: field.values[0][0] for field in fields}
        artifact = self.left.create(mapping.left_scope, first)
        detect_changes(mapping.pk)  # the new artifact's sync
        self.process_all()
        self.sync = Synchronization.objects.get(mapping=mapping, left_key=artifact.key)
        assert self.sync.status == SyncStatus.OK, self.sync.error_message
        self.agreed = dict(first)  # the model: each field's left value when the sides last agreed
        self.edited: dict[tuple[str, int], str] = {}  # (side, field) -> last left-space value this round

    def keys(self) -> dict[str, str]:
        return {"left": self.sync.left_key, "right": self.sync.right_key}

    def apply_edit(self, side: str, index: int, choice: int) -> None:
        field = self.fields[index]
        left_value, right_value = field.values[choice % len(field.values)]
        connector = self.left if side == "left" else self.right
        key = self.keys()[side]
        name, value = (field.left, left_value) if side == "left" else (field.right, right_value)
        connector.update(key, {name: value}, connector.get(key).version)
        self.edited[(side, index)] = left_value

    def process_all(self) -> None:
        if self.detect:
            detect_changes(self.mapping.pk)
        else:  # live trackers: processing is under test, not their change feeds
            Synchronization.objects.filter(mapping=self.mapping).mark_changed(timezone.now())
        for sync in Synchronization.objects.filter(mapping=self.mapping, status=SyncStatus.PENDING):
            process.process_sync(sync.pk, f"job-{next(_names)}")

    def round(self) -> None:
        expected = dict(self.agreed)
        for index, field in enumerate(self.fields):
            left = self._changed("left", index)
            right = self._changed("right", index)
            if field.direction == "left_to_right":
                expected[field.left] = left if left is not None else self.agreed[field.left]
            elif left is not None and right is not None and left != right:
                expected[field.left] = left if self.policy == "left" else right
            elif left is not None:
                expected[field.left] = left
            elif right is not None:
                expected[field.left] = right
        self.process_all()
        self.sync.refresh_from_db()
        assert self.sync.status == SyncStatus.OK, self.sync.error_message
        self.check(expected)
        self.agreed, self.edited = expected, {}

    def _changed(self, side: str, index: int) -> str | None:
        """The field's new value (in left terms) if ``side`` changed it since the
        sides last agreed, else None (an edit back to the agreed value is no change)."""
        value = self.edited.get((side, index))
        return value if value is not None and value != self.agreed[self.fields[index].left] else None

    def check(self, expected: dict) -> None:
        left = self.left.get(self.sync.left_key).fields
        right = self.right.get(self.sync.right_key).fields
        for field in self.fields:
            assert left[field.left] == expected[field.left], f"left {field.left}"
            assert right[field.right] == field.to_right(expected[field.left]), f"right {field.right}"


def run_program(mapping: Mapping, fields, policy: str, program, detect: bool = True) -> None:
    pair = Pair(mapping, fields, policy, detect)
    for step in program:
        if step[0] == "round":
            pair.round()
        else:
            pair.apply_edit(*step[1:])
    pair.round()
    if detect:  # and nothing echoes
        assert detect_changes(mapping.pk).changed == 0


def sandbox_mapping(policy: str) -> Mapping:
    number = next(_names)
    left = Repository.objects.create(name=f"Left {number}", kind="sandbox", settings={"key_prefix": f"L{number}"})
    right = Repository.objects.create(name=f"Right {number}", kind="sandbox", settings={"key_prefix": f"R{number}"})
    return Mapping.objects.create(
        name=f"Property {number}",
        left=left,
        right=right,
        field_map=[field.rule() for field in SANDBOX_FIELDS],
        conflict_policy=policy,
    )


@pytest.mark.parametrize("policy", ["left", "right"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=programs(SANDBOX_FIELDS, max_size=14))
def test_sandbox_both_sides_agree_and_no_one_sided_edit_is_lost(db, policy, program):
    run_program(sandbox_mapping(policy), SANDBOX_FIELDS, policy, program)


@pytest.mark.live
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=programs(ROUNDUP_FIELDS, max_size=6), policy=st.sampled_from(["left", "right"]))
def test_roundup_both_sides_agree_and_no_one_sided_edit_is_lost(roundup_server, unique_name, program, policy):
    number = next(_names)
    keyword = f"{unique_name}-p{number}"
    create_keyword(roundup_server, keyword)
    left = Repository.objects.create(name=f"Sandbox {number}", kind="sandbox", settings={"key_prefix": f"P{number}"})
    mapping = Mapping.objects.create(
        name=f"Roundup property {number}",
        left=left,
        right=roundup_connector(roundup_server, "Roundup").repository,
        right_scope=keyword,
        field_map=[field.rule() for field in ROUNDUP_FIELDS],
        conflict_policy=policy,
    )
    run_program(mapping, ROUNDUP_FIELDS, policy, program, detect=False)


@pytest.mark.live
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=programs(REDMINE_FIELDS, max_size=6), policy=st.sampled_from(["left", "right"]))
def test_redmine_both_sides_agree_and_no_one_sided_edit_is_lost(redmine_server, redmine_project, program, policy):
    number = next(_names)
    left = Repository.objects.create(name=f"Sandbox {number}", kind="sandbox", settings={"key_prefix": f"Q{number}"})
    mapping = Mapping.objects.create(
        name=f"Redmine property {number}",
        left=left,
        right=redmine_repository(redmine_server, name=f"Redmine {number}"),
        right_scope=redmine_project["identifier"],
        field_map=[field.rule() for field in REDMINE_FIELDS],
        conflict_policy=policy,
    )
    run_program(mapping, REDMINE_FIELDS, policy, program, detect=False)
