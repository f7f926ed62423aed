"""End to end through the engine between the fakes of GitHub and GitLab: change
detection and processing as a worker runs them (in this process), field maps with
value maps across the two trackers, no echo, and a webhook delivery that starts
detection at once (issue 19). The trackers are fakes of their documented APIs
(tests/fakes/); the live trackers' end to end is tests/test_trackers_end_to_end.py."""

import hashlib
import hmac
import json

import pytest
from django.utils import timezone

from hooks.models import Webhook
from synchronizations import jobs, tasks
from synchronizations.connectors import connector_for
from synchronizations.engine import detect, process
from synchronizations.models import Mapping, Synchronization, SyncStatus
from tests.harness_github import OWNER, github_repository
from tests.harness_gitlab import gitlab_repository

pytestmark = pytest.mark.django_db

FIELD_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {"left": "body", "right": "description", "direction": "both"},
    {"left": "state", "right": "state", "direction": "both", "values": {"open": "opened", "closed": "closed"}},
    {"left": "labels", "right": "labels", "direction": "both", "values": {"bug": "bug", "enhancement": "frontend"}},
]
HOOK_SECRET = "a-webhook-secret-for-the-test"


@pytest.fixture
def linked(github_fake, gitlab_fake):
    """A mapping GitHub octo/web (left) ↔ GitLab acme/web (right)."""
    github = github_repository(github_fake, name="GitHub")
    gitlab = gitlab_repository(gitlab_fake.url, gitlab_fake.token, name="GitLab")
    mapping = Mapping.objects.create(
        name="GitHub ↔ GitLab", left=github, left_scope=f"{OWNER}/web", right=gitlab, right_scope="acme/web",
        field_map=FIELD_MAP,
    )  # fmt: skip
    return mapping, github_fake, gitlab_fake


def run_round(mapping: Mapping) -> None:
    """One change detection, then every pending sync processed in jobs as a worker
    runs them (what jobs.queue_processing would send)."""
    detect.detect_changes(mapping.pk)
    pending = list(
        Synchronization.objects.filter(mapping=mapping, status=SyncStatus.PENDING).values_list("pk", flat=True)
    )
    for start in range(0, len(pending), jobs.QUEUE_BATCH):
        process.process_batch(pending[start : start + jobs.QUEUE_BATCH], f"test-{start}")


def the_sync(mapping: Mapping) -> Synchronization:
    [sync] = Synchronization.objects.filter(mapping=mapping)
    assert sync.status == SyncStatus.OK, sync.error_message
    return sync


def test_an_issue_crosses_both_ways_with_mapped_values_and_never_echoes(linked):
    mapping, github_fake, gitlab_fake = linked
    issue = github_fake.add_issue(
        OWNER, "web", "Checkout fails", body="Steps:\n\n1. pay", labels=["bug", "enhancement"]
    )
    run_round(mapping)
    sync = the_sync(mapping)
    assert sync.left_key == f"{OWNER}/web#{issue.number}"
    gitlab = connector_for(mapping.right).get(sync.right_key).fields
    assert gitlab["title"] == "Checkout fails"
    assert gitlab["description"] == "Steps:\n\n1. pay"
    assert gitlab["state"] == "opened"
    assert sorted(gitlab["labels"]) == ["bug", "frontend"]

    # Closed and retitled in GitLab: both reach GitHub, mapped back.
    right = connector_for(mapping.right)
    right.update(
        sync.right_key, {"title": "Checkout fails on Safari", "state": "closed"}, right.get(sync.right_key).version
    )
    run_round(mapping)
    github = connector_for(mapping.left).get(sync.left_key).fields
    assert github["title"] == "Checkout fails on Safari"
    assert github["state"] == "closed"
    assert sorted(github["labels"]) == ["bug", "enhancement"]

    # Nothing changed since: another round writes nothing on either side.
    versions = (the_sync(mapping).left_version, the_sync(mapping).right_version)
    writes = len([r for r in github_fake.seen if r.method in ("POST", "PATCH")]) + len(
        [r for r in gitlab_fake.seen if r.method in ("POST", "PUT")]
    )
    run_round(mapping)
    assert (the_sync(mapping).left_version, the_sync(mapping).right_version) == versions
    assert writes == len([r for r in github_fake.seen if r.method in ("POST", "PATCH")]) + len(
        [r for r in gitlab_fake.seen if r.method in ("POST", "PUT")]
    )
    assert Synchronization.objects.filter(mapping=mapping).count() == 1


def test_a_github_webhook_starts_detection_at_once_and_the_new_issue_crosses(linked, client, monkeypatch):
    """The delivery queues detection of the repository's mappings (jobs.DETECT_MAPPING,
    run here as a worker would); the interval is an hour, so only the delivery can
    have started it."""
    mapping, github_fake, _ = linked
    Mapping.objects.filter(pk=mapping.pk).update(detection_interval=3600, last_detection_at=timezone.now())
    webhook = Webhook(repository=mapping.left)
    webhook.set_secret(HOOK_SECRET, timezone.now())
    webhook.save()
    sent = []
    monkeypatch.setattr(jobs, "send", lambda name, *args: sent.append((name, args)) or True)
    assert detect.mappings_due() == []

    issue = github_fake.add_issue(OWNER, "web", "Login button hidden")
    body = json.dumps({"action": "opened", "issue": {"number": issue.number}}).encode()
    signature = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    answer = client.post(
        f"/sync/hooks/{mapping.left_id}/", body, content_type="application/json",
        headers={"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": signature},
    )  # fmt: skip
    assert answer.status_code == 202, answer.content
    assert sent == [(jobs.DETECT_MAPPING, (mapping.pk,))]

    tasks.detect_mapping(mapping.pk)  # the worker runs the job
    pending = list(Synchronization.objects.filter(mapping=mapping).values_list("pk", flat=True))
    process.process_batch(pending, "test")
    sync = the_sync(mapping)
    assert connector_for(mapping.right).get(sync.right_key).fields["title"] == "Login button hidden"


def test_a_scope_re_spelled_in_another_case_links_the_same_issues(linked):
    """GitHub's and GitLab's names ignore case, and so do their keys here: a full
    rescan after ``octo/web`` became ``Octo/Web`` (and ``acme/web`` ``ACME/Web``)
    finds the issues it knows, and copies nothing again."""
    mapping, github_fake, gitlab_fake = linked
    github_fake.add_issue(OWNER, "web", "Known issue")
    run_round(mapping)
    the_sync(mapping)
    issues = len(gitlab_fake.projects[min(gitlab_fake.projects)].issues)
    Mapping.objects.filter(pk=mapping.pk).update(
        left_scope=f"{OWNER.capitalize()}/Web", right_scope="ACME/Web", rescan_requested_at=timezone.now()
    )
    run_round(mapping)
    the_sync(mapping)  # still one sync, OK
    assert len(gitlab_fake.projects[min(gitlab_fake.projects)].issues) == issues
    assert len(github_fake.repo(OWNER, "web").issues) == 1


@pytest.mark.parametrize(("kind", "scope"), [("github", "octo"), ("github", "octo/web#1"), ("gitlab", "web")])
def test_a_scope_the_connector_cannot_read_is_refused_when_the_mapping_is_saved(kind, scope):
    from django.core.exceptions import ValidationError

    from synchronizations.models import Repository

    tracker = Repository.objects.create(name="Tracker", kind=kind, base_url="https://tracker.example.com")
    sandbox = Repository.objects.create(name="Sandbox", kind="sandbox")
    mapping = Mapping(name="M", left=sandbox, left_scope="SB", right=tracker, right_scope=scope)
    with pytest.raises(ValidationError) as refused:
        mapping.clean()
    assert list(refused.value.message_dict) == ["right_scope"]
