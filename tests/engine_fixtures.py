"""Helpers for the engine tests: a mapping between two sandbox repositories."""

import pytest

from synchronizations.connectors import connector_for
from synchronizations.models import Mapping, Repository

FIELD_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {"left": "status", "right": "state", "direction": "both", "values": {"Open": "New", "Done": "Closed"}},
    {"left": "priority", "right": "severity", "direction": "left_to_right", "values": {"High": "Major"}},
]


@pytest.fixture
def mapping(db):
    left = Repository.objects.create(name="Left", kind="sandbox", settings={"key_prefix": "L"})
    right = Repository.objects.create(name="Right", kind="sandbox", settings={"key_prefix": "R", "required": ["title"]})
    return Mapping.objects.create(name="L to R", left=left, right=right, field_map=FIELD_MAP)


@pytest.fixture
def left(mapping):
    return connector_for(mapping.left)


@pytest.fixture
def right(mapping):
    return connector_for(mapping.right)


def set_repository(repository, **settings):
    repository.settings = {**repository.settings, **settings}
    repository.save()
