"""Repositories and a mapping for the local trackers of `make run-trackers` (the
`trackers` package starts them): Redmine's project on the left and the Roundup
tracker on the right, or, where Redmine is not installed, a sandbox repository on
the left. The field map is the README's example of connecting Redmine and Roundup."""

from django.db import transaction

from synchronizations.models import Mapping, Repository

REDMINE = "Redmine (local)"
ROUNDUP = "Roundup (local)"
SANDBOX = "Sandbox (local)"
MAPPING = "Local Redmine ↔ Roundup"
SANDBOX_MAPPING = "Local sandbox ↔ Roundup"

# Redmine's default statuses and priorities against Roundup's classic template. Left
# out on purpose: Redmine's "Rejected" and Roundup's "deferred", "need-eg" and
# "testing", so that a sync in error for an unmappable value is easy to make.
FIELD_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {
        "left": "status",
        "right": "status",
        "direction": "both",
        "values": {
            "New": "unread",
            "In Progress": "in-progress",
            "Feedback": "chatting",
            "Resolved": "resolved",
            "Closed": "done-cbb",
        },
    },
    {
        "left": "priority",
        "right": "priority",
        "direction": "both",
        "values": {"Low": "wish", "Normal": "feature", "High": "bug", "Urgent": "urgent", "Immediate": "critical"},
        "default": "Normal",
    },
]


@transaction.atomic
def connect(description: dict, *, detection_interval: int = 5) -> Mapping:
    """Creates or updates the repositories and the mapping for the trackers that
    ``description`` (trackers.local.LocalTrackers.describe()) says were started;
    returns the mapping. The credentials are stored encrypted, as the admin does.
    Raises ValidationError when the mapping would overlap another one on these
    repositories (Mapping.clean()), such as the other variant (sandbox or Redmine
    on the left) once it has syncs."""
    roundup = description["roundup"]
    right = _repository(
        ROUNDUP, Repository.Kind.ROUNDUP, roundup["base_url"], roundup["user"]["username"], roundup["user"]["password"]
    )
    redmine = description.get("redmine", {})
    if "skipped" in redmine or not redmine:
        left, left_scope, name = _repository(SANDBOX, Repository.Kind.SANDBOX, "", "", ""), "LOCAL", SANDBOX_MAPPING
    else:
        left = _repository(REDMINE, Repository.Kind.REDMINE, redmine["base_url"], "", redmine["api_key"])
        left_scope, name = redmine["scope"], MAPPING
    # The other variant covers the same Roundup tracker (scope ""): the two would
    # overlap. Never used (no sync), it gives way; otherwise clean() says so.
    other = SANDBOX_MAPPING if name == MAPPING else MAPPING
    Mapping.objects.filter(name=other, right=right).exclude(synchronizations__isnull=False).delete()
    mapping = Mapping.objects.filter(name=name).first() or Mapping(name=name)
    mapping.left, mapping.left_scope, mapping.right, mapping.right_scope = left, left_scope, right, ""
    mapping.field_map, mapping.enabled, mapping.detection_interval = FIELD_MAP, True, detection_interval
    mapping.full_clean()
    mapping.save()
    return mapping


def _repository(name: str, kind: str, base_url: str, username: str, secret: str) -> Repository:
    repository = Repository.objects.filter(name=name).first() or Repository(name=name)
    repository.kind, repository.base_url, repository.username = kind, base_url, username
    repository.set_secret(secret)
    repository.save()
    return repository
