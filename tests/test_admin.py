"""The Django admin: every model is there for an admin; history cannot be edited."""

import io

import pytest
from django.core.management import call_command
from pytest_django.asserts import assertContains

pytestmark = pytest.mark.django_db

CHANGELISTS = {
    "synchronizations/repository": "Jira · Web shop",
    "synchronizations/sandboxartifact": "Jira · Web shop",
    "synchronizations/mapping": "Web defects",
    "synchronizations/synchronization": "200 synchronizations",
    "synchronizations/logentry": "New artifact",
    "synchronizations/operation": "0 operations",
    "metrics/syncevent": "Created",
    "metrics/hourlyrollup": "mapping",
}
HISTORY = ["synchronizations/logentry", "synchronizations/operation", "metrics/syncevent", "metrics/hourlyrollup"]


@pytest.fixture
def demo_data():
    call_command("seed_demo", "--syncs", "200", stdout=io.StringIO())


@pytest.mark.parametrize(("model", "text"), CHANGELISTS.items())
def test_admin_lists_every_model(client_as, admin_user, demo_data, model, text):
    assertContains(client_as(admin_user).get(f"/sync/admin/{model}/"), text)


def test_sync_changelist_filters_and_searches(client_as, admin_user, demo_data):
    from synchronizations.models import Mapping, Synchronization

    mapping = Mapping.objects.first()
    Synchronization.objects.create(mapping=mapping, left_key="X-1", status="error", error_message="token expired")
    Synchronization.objects.create(mapping=mapping, left_key="X-2", status="ok", title="expired coupons")
    client = client_as(admin_user)
    response = client.get("/sync/admin/synchronizations/synchronization/", {"status__exact": "error", "q": "expired"})
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert rows and all(s.status == "error" and "expired" in s.error_message for s in rows)


def test_sync_changelist_query_count_does_not_grow_with_rows(
    client_as, admin_user, demo_data, django_assert_max_num_queries
):
    client = client_as(admin_user)
    with django_assert_max_num_queries(12):
        client.get("/sync/admin/synchronizations/synchronization/")


@pytest.mark.parametrize("model", HISTORY)
def test_history_cannot_be_added_changed_or_deleted(client_as, admin_user, demo_data, model):
    client = client_as(admin_user)
    assert client.get(f"/sync/admin/{model}/add/").status_code == 403
    response = client.get(f"/sync/admin/{model}/")
    assert response.status_code == 200
    assert not response.context["cl"].model_admin.get_actions(response.wsgi_request)
    from django.apps import apps

    model_class = apps.get_model(*model.split("/"))
    obj = model_class.objects.first()
    if obj is not None:
        page = client.get(f"/sync/admin/{model}/{obj.pk}/change/")
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
        assert client.post(f"/sync/admin/{model}/{obj.pk}/delete/").status_code == 403


def test_repository_secret_is_never_sent_to_the_browser(client_as, admin_user, demo_data):
    from synchronizations.models import Repository

    repository = Repository.objects.first()
    repository.secret = "tok-very-secret"
    repository.save()
    response = client_as(admin_user).get(f"/sync/admin/synchronizations/repository/{repository.pk}/change/")
    assert b"tok-very-secret" not in response.content


def test_saving_a_mapping_with_a_bad_field_map_says_what_is_wrong(client_as, admin_user, demo_data):
    from synchronizations.models import Mapping

    mapping = Mapping.objects.first()
    response = client_as(admin_user).post(
        f"/sync/admin/synchronizations/mapping/{mapping.pk}/change/",
        {
            "name": mapping.name,
            "left": mapping.left_id,
            "right": mapping.right_id,
            "field_map": '[{"left": "status", "right": "state", "direction": "sideways"}]',
            "conflict_policy": "newest",
            "detection_interval": 60,
        },
    )
    assertContains(response, "Rule 1: direction &#x27;sideways&#x27; is not one of")
    mapping.refresh_from_db()
    assert mapping.field_map[0]["left"] == "title"  # unchanged


def admin_action(client, action, ids):
    return client.post(
        "/sync/admin/synchronizations/synchronization/",
        {"action": action, "_selected_action": ids, "index": 0},
        follow=True,
    )


def test_admin_actions_go_through_operations(client_as, admin_user, django_capture_on_commit_callbacks):
    from synchronizations.models import Operation, Synchronization
    from tests import factories

    web = factories.mapping()
    error, ok = factories.sync(web, "WEB-1", "error"), factories.sync(web, "WEB-2")
    client = client_as(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_action(client, "clear_errors_action", [error.pk])
    assertContains(response, "Clear Errors: <a href=")
    assert Synchronization.objects.get(pk=error.pk).status == "ok"
    operation = Operation.objects.get()
    assert (operation.source, operation.requested_by, operation.state) == ("admin", admin_user, "finished")
    response = admin_action(client, "clear_errors_ignore_action", [ok.pk])
    assertContains(response, "1 of the selected syncs is not in error")
    assert Operation.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        admin_action(client, "retry_action", [ok.pk])
    assert Operation.objects.filter(action="retry").exists()


def test_admin_actions_need_the_run_permission(client_as, make_user):
    from django.contrib.auth.models import Permission

    from tests import factories

    factories.sync(factories.mapping(), "WEB-1", "error")
    # a staff user who may see syncs in the admin but not run actions on them
    user = make_user(None, "auditor")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="view_synchronization"))
    response = client_as(user).get("/sync/admin/synchronizations/synchronization/")
    assert response.status_code == 200
    assert b"retry_action" not in response.content


def test_an_admin_action_on_more_than_100_syncs_asks_first(client_as, admin_user, django_capture_on_commit_callbacks):
    from synchronizations.models import Operation
    from tests import factories

    web = factories.mapping()
    ids = [factories.sync(web, f"WEB-{n}", "error").pk for n in range(101)]
    client = client_as(admin_user)
    asked = admin_action(client, "clear_errors_action", ids)
    assertContains(asked, "Clear Errors 101 syncs?")
    assert not Operation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/sync/admin/synchronizations/synchronization/",
            {"action": "clear_errors_action", "_selected_action": ids, "index": 0, "confirmed": "1"},
            follow=True,
        )
    assertContains(response, "operation #")
    assert Operation.objects.get().done == 101


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"settings": "null"}, "Settings must be a JSON object"),
        ({"settings": "[1, 2]"}, "Settings must be a JSON object"),
        ({"kind": "redmine", "base_url": "ftp://example.com/"}, "must start with http:// or https://"),
        ({"kind": "redmine", "base_url": ""}, "needs its web address"),
    ],
)
def test_a_repository_with_unusable_settings_is_refused_with_a_message(client_as, admin_user, changes, message):
    form = {"name": "R", "kind": "sandbox", "base_url": "", "username": "", "secret": "", "settings": "{}"}
    response = client_as(admin_user).post("/sync/admin/synchronizations/repository/add/", {**form, **changes})
    assert response.status_code == 200
    assertContains(response, message)


@pytest.mark.parametrize("action", ["delete_selected", "rescan_mappings", "reprocess_mappings"])
def test_an_admin_action_with_ids_that_are_not_ids_changes_nothing_and_says_so(client, admin_user, action):
    from synchronizations.models import Mapping
    from tests import factories

    mapping = factories.mapping()
    client.force_login(admin_user)
    url = "/sync/admin/synchronizations/mapping/"
    response = client.post(url, {"action": action, "_selected_action": [str(mapping.pk), "abc"]}, follow=True)
    assert response.status_code == 200
    assert "1 selected id(s) are not ids (&#x27;abc&#x27;); nothing was done." in response.content.decode()
    assert Mapping.objects.filter(pk=mapping.pk).exists()
