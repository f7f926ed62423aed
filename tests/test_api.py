"""The JSON API (/sync/api/v1/): each endpoint answers what the console shows,
per role, with problems (RFC 9457) for every error."""

from datetime import timedelta

import pytest
from django.utils import timezone

from metrics import rollup
from metrics.models import EventKind
from synchronizations.models import SYNC_ORDERS, LogEntry, Operation, Synchronization, SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db
API = "/sync/api/v1"
PROBLEM = "application/problem+json"


@pytest.fixture
def data():
    web = factories.mapping("Web ↔ QA")
    other = factories.mapping("Ops ↔ Dev")
    made = {
        "ok": factories.sync(web, "WEB-1"),
        "error": factories.sync(web, "WEB-2", SyncStatus.ERROR, error_message="Connection to QA timed out after 30 s"),
        "error2": factories.sync(web, "WEB-3", SyncStatus.ERROR, error_message="Connection to QA timed out after 31 s"),
        "never": factories.sync(web, "WEB-4", SyncStatus.PENDING, last_processed_at=None),
        "other": factories.sync(other, "OPS-1", SyncStatus.ERROR, error_message="Field 'priority' has no mapping"),
        "web": web,
        "ops": other,
    }
    factories.log(made["error"], "Processing failed", minutes_ago=5)
    factories.log(made["error"], "Retried", minutes_ago=1)
    return made


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"] and body["detail"]
    return body


# --- Authentication and roles ---------------------------------------------------------


@pytest.mark.parametrize("url", ["/syncs/", "/operations/", "/mappings/", "/repositories/", "/logs/", "/dashboard/",
                                 "/metrics/", "/syncs/counts/"])  # fmt: skip
def test_anonymous_gets_a_401_problem_not_the_login_page(client, url):
    body = problem_of(client.get(API + url), 401)
    assert body["code"] == "not_authenticated"


def test_a_401_says_how_to_authenticate(client):
    assert client.get(f"{API}/syncs/")["WWW-Authenticate"] == 'Bearer realm="syncweb"'


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_reads(api_as, data, role):
    response = api_as(role).get(f"{API}/syncs/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert len(response.json()["results"]) == 5


def test_a_user_without_role_is_refused(api_as, data):
    assert problem_of(api_as(None).get(f"{API}/syncs/"), 403)["code"] == "permission_denied"


@pytest.mark.parametrize(
    "token_fields, says",
    [({"expires_at": timezone.now() - timedelta(minutes=1)}, "expired")],
)
def test_an_expired_token_is_refused(api_as, token_fields, says):
    body = problem_of(api_as("operator", **token_fields).get(f"{API}/syncs/"), 401)
    assert says in body["detail"] and body["code"] == "authentication_failed"


def test_a_revoked_token_is_refused(api_as):
    from api.models import ApiToken

    client = api_as("operator")
    assert client.get(f"{API}/syncs/").status_code == 200
    ApiToken.objects.revoke(timezone.now())
    assert "revoked" in problem_of(client.get(f"{API}/syncs/"), 401)["detail"]


@pytest.mark.parametrize("header", ["Bearer", "Bearer swt_nope", "Bearer swt_0123456789ab_wrong", "Bearer a b"])
def test_a_token_that_is_not_one_is_refused(client, header):
    assert problem_of(client.get(f"{API}/syncs/", HTTP_AUTHORIZATION=header), 401)["code"] == "authentication_failed"


def test_an_inactive_users_token_is_refused(api_as):
    from django.contrib.auth import get_user_model

    client = api_as("operator")
    get_user_model().objects.filter(username="api-operator").update(is_active=False)
    assert "inactive" in problem_of(client.get(f"{API}/syncs/"), 401)["detail"]


def test_a_session_reads_too(client_as, viewer, data):
    assert client_as(viewer).get(f"{API}/syncs/").status_code == 200


def test_a_session_post_needs_the_csrf_token(operator, data):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    response = browser.post(f"{API}/syncs/actions/", {"action": "retry", "ids": [data["ok"].pk]},
                            content_type="application/json")  # fmt: skip
    assert "CSRF" in problem_of(response, 403)["detail"]
    assert Operation.objects.count() == 0


# --- Syncs -----------------------------------------------------------------------------


def test_the_list_is_in_the_syncs_tabs_order_and_pages_by_cursor(api_as, data):
    client = api_as("viewer")
    first = client.get(f"{API}/syncs/", {"limit": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    ids = [row["id"] for page in (first, second, third) for row in page["results"]]
    processed = Synchronization.objects.exclude(last_processed_at=None)
    in_order = sorted(processed, key=lambda sync: (sync.last_processed_at, sync.pk), reverse=True)
    assert ids == [sync.pk for sync in in_order] + [data["never"].pk]
    assert third["next"] is None
    assert first["results"][0]["mapping"]["name"] in ("Web ↔ QA", "Ops ↔ Dev")


def test_the_ascending_order_puts_the_never_processed_last_as_the_tab_does(api_as, data):
    client = api_as("viewer")
    first = client.get(f"{API}/syncs/", {"ordering": "last_processed_at", "limit": 1}).json()
    rest = client.get(first["next"] + "&limit=10").json()["results"]
    processed = sorted(
        Synchronization.objects.exclude(last_processed_at=None), key=lambda x: (x.last_processed_at, x.pk)
    )
    assert [row["id"] for row in first["results"] + rest] == [sync.pk for sync in processed] + [data["never"].pk]


@pytest.mark.parametrize("ordering", list(SYNC_ORDERS))
def test_every_order_of_the_syncs_tab_pages_as_the_tab_does(api_as, client_as, viewer, data, ordering):
    factories.sync(data["web"], "WEB-5", SyncStatus.PENDING, last_processed_at=None, title="Title of WEB-1")
    factories.sync(data["ops"], "OPS-2", title="Title of WEB-1")
    client = api_as("viewer")
    ids, url, params = [], f"{API}/syncs/", {"ordering": ordering, "limit": 2}
    while url:
        page = client.get(url, params).json()
        ids += [row["id"] for row in page["results"]]
        url, params = page["next"], None
    tab = client_as(viewer).get("/sync/syncs/", {"sort": ordering, "per_page": 100})
    assert ids == [row.record.pk for row in tab.context["table"].paginated_rows]


def test_the_schema_offers_every_order_of_the_tab(client):
    schema = client.get("/sync/api/schema/?format=json").json()
    ordering = next(p for p in schema["paths"]["/sync/api/v1/syncs/"]["get"]["parameters"] if p["name"] == "ordering")
    assert set(ordering["schema"]["enum"]) == set(SYNC_ORDERS)


def test_the_filters_are_the_syncs_tabs(api_as, data):
    client = api_as("viewer")

    def ids(**params):
        return sorted(row["id"] for row in client.get(f"{API}/syncs/", params).json()["results"])

    assert ids(status="error") == sorted([data["error"].pk, data["error2"].pk, data["other"].pk])
    assert ids(status="error", mapping=data["ops"].pk) == [data["other"].pk]
    assert ids(q="timed out") == sorted([data["error"].pk, data["error2"].pk])
    assert ids(pattern="Connection to QA timed out after <n> s") == sorted([data["error"].pk, data["error2"].pk])


@pytest.mark.parametrize(
    "params, parameter",
    [({"status": "broken"}, "status"), ({"mapping": "²"}, "mapping"), ({"mapping": "999999"}, "mapping"),
     ({"limit": "0"}, "limit"), ({"limit": "9" * 30}, "limit"), ({"cursor": "nonsense"}, "cursor"),
     ({"cursor": "0001-01-01T00:00:00+14:00|1"}, "cursor"), ({"ordering": "--title"}, "ordering")],
)  # fmt: skip
def test_a_bad_parameter_is_a_400_naming_it(api_as, data, params, parameter):
    body = problem_of(api_as("viewer").get(f"{API}/syncs/", params), 400)
    assert [error["parameter"] for error in body["errors"]] == [parameter]
    assert f"'{parameter}'" in body["detail"]


def test_one_sync_with_its_fields_and_its_log(api_as, data):
    client = api_as("viewer")
    sync = client.get(f"{API}/syncs/{data['error'].pk}/").json()
    assert sync["status"] == "error" and sync["error_message"] == "Connection to QA timed out after 30 s"
    assert sync["left"] == {"key": "WEB-2", "url": "https://left.example/WEB-2"}
    assert sync["console_url"].endswith(f"/sync/syncs/{data['error'].pk}/")
    log = client.get(sync["log"], {"limit": 1}).json()
    assert [entry["message"] for entry in log["results"]] == ["Retried"]
    assert [entry["message"] for entry in client.get(log["next"]).json()["results"]] == ["Processing failed"]


@pytest.mark.parametrize("pk", ["0", "abc", "²", "9" * 30, "999999"])
def test_a_sync_that_does_not_exist_is_a_404_problem(api_as, pk):
    client = api_as("viewer")
    assert problem_of(client.get(f"{API}/syncs/{pk}/"), 404)["code"] == "not_found"
    problem_of(client.get(f"{API}/syncs/{pk}/log/"), 404)


def test_counts_per_status_under_the_other_filters(api_as, data):
    client = api_as("viewer")
    assert client.get(f"{API}/syncs/counts/").json() == {
        "counts": {"ok": 1, "pending": 1, "processing": 0, "error": 3, "ignored": 0}, "total": 5
    }  # fmt: skip
    by_mapping = client.get(f"{API}/syncs/counts/", {"mapping": data["ops"].pk, "status": "ok"}).json()
    assert by_mapping["counts"]["error"] == 1 and by_mapping["total"] == 1


# --- Actions ---------------------------------------------------------------------------


def test_retry_on_ids_answers_202_with_the_operation(api_as, data, django_capture_on_commit_callbacks):
    client = api_as("operator")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post_json(f"{API}/syncs/actions/", {"action": "retry", "ids": [data["error"].pk, 999999]})
    assert response.status_code == 202
    body = response.json()
    operation = Operation.objects.get()
    assert response["Location"] == body["url"] and body["url"].endswith(f"{API}/operations/{operation.pk}/")
    assert (operation.action, operation.source, operation.total, operation.requested_by.username) == (
        "retry", "api", 1, "api-operator"
    )  # fmt: skip
    assert operation.unknown_ids == [999999]
    assert client.get(body["url"]).json()["state"] == "finished"
    assert LogEntry.objects.filter(operation=operation, actor="api-operator", sync=data["error"]).count() == 1
    assert Synchronization.objects.get(pk=data["error"].pk).retry_count == 1


def test_retry_on_every_sync_matching_a_filter(api_as, data, django_capture_on_commit_callbacks):
    client = api_as("operator")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post_json(
            f"{API}/syncs/actions/", {"action": "clear", "filter": {"status": "error", "mapping": data["web"].pk}}
        )
    assert response.status_code == 202
    operation = Operation.objects.get()
    assert operation.sync_ids == sorted([data["error"].pk, data["error2"].pk])
    assert operation.filter_params == {"status": "error", "mapping": str(data["web"].pk)}
    assert Synchronization.objects.get(pk=data["other"].pk).status == SyncStatus.ERROR


def test_a_dry_run_counts_and_changes_nothing(api_as, data):
    response = api_as("operator").post_json(
        f"{API}/syncs/actions/", {"action": "clear_ignore", "filter": {"status": "error"}, "dry_run": True}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["confirmation_in_console"]) == (3, True)
    assert body["max_id"] == Synchronization.objects.order_by("-pk").first().pk
    assert Operation.objects.count() == 0 and LogEntry.objects.filter(actor="api-operator").count() == 0
    assert Synchronization.objects.filter(status=SyncStatus.ERROR).count() == 3


def test_max_id_from_a_dry_run_bounds_the_set(api_as, data, django_capture_on_commit_callbacks):
    client = api_as("operator")
    bound = client.post_json(
        f"{API}/syncs/actions/", {"action": "retry", "filter": {"status": "error"}, "dry_run": True}
    )
    later = factories.sync(data["web"], "WEB-9", SyncStatus.ERROR)
    with django_capture_on_commit_callbacks(execute=True):
        client.post_json(f"{API}/syncs/actions/", {"action": "retry", "filter": {"status": "error"},
                                                   "max_id": bound.json()["max_id"]})  # fmt: skip
    assert later.pk not in Operation.objects.get().sync_ids


def test_a_clear_with_a_sync_not_in_error_is_refused_and_changes_nothing(api_as, data):
    response = api_as("operator").post_json(
        f"{API}/syncs/actions/", {"action": "clear", "ids": [data["error"].pk, data["ok"].pk]}
    )
    body = problem_of(response, 409)
    assert body["code"] == "action_refused" and "not in error" in body["detail"]
    assert Operation.objects.count() == 0
    assert Synchronization.objects.get(pk=data["error"].pk).status == SyncStatus.ERROR


def test_a_viewers_token_cannot_act(api_as, data):
    response = api_as("viewer").post_json(f"{API}/syncs/actions/", {"action": "retry", "ids": [data["error"].pk]})
    assert "Operator" in problem_of(response, 403)["detail"]
    assert Operation.objects.count() == 0


def test_an_anonymous_action_is_a_401(client, data):
    response = client.post(f"{API}/syncs/actions/", {"action": "retry", "ids": [1]}, content_type="application/json")
    problem_of(response, 401)


@pytest.mark.parametrize(
    "body, pointer",
    [({"action": "explode", "ids": [1]}, "#/action"), ({"action": "retry", "ids": []}, "#/ids"),
     ({"action": "retry", "ids": [0]}, "#/ids/0"), ({"action": "retry", "ids": ["x"]}, "#/ids/0"),
     ({"action": "retry", "filter": {"status": "nope"}}, "#/filter/status"),
     ({"action": "retry", "filter": {"mapping": 999999}}, "#/filter/mapping"),
     ({"action": "retry", "ids": [1], "max_id": 3}, "#/max_id"), ({"action": "retry", "ids": [2**63]}, "#/ids/0")],
)  # fmt: skip
def test_a_bad_body_is_a_400_naming_the_member(api_as, data, body, pointer):
    problem = problem_of(api_as("operator").post_json(f"{API}/syncs/actions/", body), 400)
    assert pointer in [error.get("pointer") for error in problem["errors"]]
    assert Operation.objects.count() == 0


def test_neither_ids_nor_filter_is_a_400(api_as):
    problem = problem_of(api_as("operator").post_json(f"{API}/syncs/actions/", {"action": "retry"}), 400)
    assert "either ids or filter" in problem["detail"]


@pytest.mark.parametrize("body, content_type, status", [
    ("{not json", "application/json", 400), ('{"a": NaN}', "application/json", 400),
    ("action=retry", "application/x-www-form-urlencoded", 415), ("[1, 2]", "application/json", 400),
])  # fmt: skip
def test_a_body_that_is_not_the_json_object_is_a_4xx(api_as, body, content_type, status):
    response = api_as("operator").post(f"{API}/syncs/actions/", body, content_type=content_type)
    problem_of(response, status)


def test_get_on_the_actions_is_a_405_problem(api_as):
    assert problem_of(api_as("operator").get(f"{API}/syncs/actions/"), 405)["code"] == "method_not_allowed"


def test_a_write_to_a_read_only_list_is_a_405(api_as):
    problem_of(api_as("operator").post_json(f"{API}/syncs/", {}), 405)


# --- Operations, mappings, repositories ------------------------------------------------


def test_operations_newest_first_with_progress(api_as, data, operator):
    from synchronizations import operations

    first = operations.perform("retry", [data["ok"].pk], user=operator)
    second = operations.perform("clear", [data["error"].pk], user=operator)
    client = api_as("viewer")
    page = client.get(f"{API}/operations/", {"limit": 1}).json()
    assert [row["id"] for row in page["results"]] == [second.pk]
    assert [row["id"] for row in client.get(page["next"]).json()["results"]] == [first.pk]
    one = client.get(f"{API}/operations/{first.pk}/").json()
    assert (one["action"], one["state"], one["progress_percent"], one["requested_by"]) == (
        "retry", "finished", 100, "operator"
    )  # fmt: skip
    assert "sync_ids" not in one


def test_mappings_with_counts_and_repository_health(api_as, data):
    data["web"].left.__class__.objects.filter(pk=data["web"].left_id).record_failure(
        "401 Unauthorized", timezone.now(), unhealthy=True
    )
    client = api_as("viewer")
    mappings = {row["name"]: row for row in client.get(f"{API}/mappings/").json()}
    web = mappings["Web ↔ QA"]
    assert web["counts"] == {"ok": 1, "pending": 1, "processing": 0, "error": 2, "ignored": 0}
    assert web["left"]["healthy"] is False and "unhealthy" in web["paused_reason"]
    assert client.get(f"{API}/mappings/{data['ops'].pk}/").json()["counts"]["error"] == 1
    repositories = {row["name"]: row for row in client.get(f"{API}/repositories/").json()}
    assert repositories["Web ↔ QA left"]["last_failure"] == "401 Unauthorized"
    assert "secret" not in repositories["Web ↔ QA left"]
    problem_of(client.get(f"{API}/repositories/999999/"), 404)


# --- Logs, dashboard, metrics ----------------------------------------------------------


def test_logs_with_the_logs_tabs_filters(api_as, data):
    client = api_as("viewer")
    factories.log(data["other"], "Something else")
    rows = client.get(f"{API}/logs/", {"sync": data["error"].pk}).json()["results"]
    assert [row["message"] for row in rows] == ["Retried", "Processing failed"]
    assert [row["message"] for row in client.get(f"{API}/logs/", {"q": "else"}).json()["results"]] == ["Something else"]
    assert problem_of(client.get(f"{API}/logs/", {"level": "loud"}), 400)["errors"][0]["parameter"] == "level"
    assert problem_of(client.get(f"{API}/logs/", {"since": "9999-12-31T23:59:59-14:00"}), 400)


def test_the_dashboard_summary(api_as, data):
    body = api_as("viewer").get(f"{API}/dashboard/").json()
    assert body["status_counts"]["error"] == 3 and body["errors_24h"] == 3
    assert body["queue"]["waiting"] is None and "Redis" in body["queue"]["error"]
    assert {row["pattern"] for row in body["top_errors"]} >= {"Connection to QA timed out after <n> s"}
    assert {row["name"] for row in body["mappings_in_trouble"]} == {"Web ↔ QA", "Ops ↔ Dev"}


def test_metrics_are_the_metrics_pages_numbers(api_as, data, client_as, viewer):
    today = timezone.localdate()
    now = timezone.now()
    rollup.record(mapping_id=data["web"].pk, kind=EventKind.CREATED, sync_id=None, when=now)
    rollup.record(mapping_id=data["web"].pk, kind=EventKind.UPDATED, sync_id=None, when=now)
    rollup.record(mapping_id=data["web"].pk, kind=EventKind.UPDATED, sync_id=None, when=now - timedelta(days=10))
    params = {"end": today.isoformat(), "days": "7"}
    body = api_as("viewer").get(f"{API}/metrics/", params).json()
    assert body["period"] == {"start": (today - timedelta(days=6)).isoformat(), "end": today.isoformat(), "days": 7}
    assert body["totals"][2] == {"name": "All synchronizations", "current": 2, "previous": 1, "change": 100.0}
    assert len(body["daily"]) == 7 and body["daily"][-1] == {"date": today.isoformat(), "created": 1, "updated": 1,
                                                             "total": 2}  # fmt: skip
    local = timezone.localtime(now)
    assert body["grouped"] == [{"weekday": local.isoweekday(), "hour": local.hour, "created": 1, "updated": 1,
                                "total": 2}]  # fmt: skip
    page = client_as(viewer).get("/sync/metrics/", params)
    assert [(c.current, c.previous) for c in page.context["comparison"]] == [
        (row["current"], row["previous"]) for row in body["totals"]
    ]


@pytest.mark.parametrize(
    "params, parameter",
    [({"start": "2026-02-30"}, "start"), ({"days": "0"}, "days"), ({"days": "5000"}, "days"),
     ({"start": "0001-01-01"}, "start"), ({"start": "2026-05-10", "end": "2026-05-01"}, "end"),
     ({"mapping": "999999"}, "mapping"), ({"mapping": "²"}, "mapping")],
)  # fmt: skip
def test_a_bad_period_is_a_400_naming_the_parameter(api_as, params, parameter):
    body = problem_of(api_as("viewer").get(f"{API}/metrics/", params), 400)
    assert parameter in [error["parameter"] for error in body["errors"]]


# --- Rate limits -----------------------------------------------------------------------


def test_a_token_over_its_rate_gets_a_429_problem(api_as, settings):
    settings.SYNCWEB_API_RATE = "2/minute"
    client, other = api_as("viewer"), api_as("operator")
    assert [client.get(f"{API}/mappings/").status_code for _ in range(2)] == [200, 200]
    response = client.get(f"{API}/mappings/")
    body = problem_of(response, 429)
    assert body["code"] == "throttled" and int(response["Retry-After"]) > 0 and body["retry_after"] > 0
    assert other.get(f"{API}/mappings/").status_code == 200  # per token


# --- Found by a user trial ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["[" * 1000 + "]" * 1000, '{"action": ' + "[" * 1000 + "]" * 1000 + "}", '{"ids": ' + "[" * 40 + "]" * 40 + "}"],
)
def test_a_body_nested_too_deeply_is_a_400_naming_the_body(api_as, data, body):
    response = api_as("operator").post(f"{API}/syncs/actions/", body, content_type="application/json")
    assert "body" in problem_of(response, 400)["detail"]
    assert Operation.objects.count() == 0


@pytest.mark.parametrize(
    "body, pointers",
    [({"action": "retry", "ids": [1], "dryrun": True}, ["#/dryrun"]),
     ({"action": "retry", "filter": {"staus": "error"}, "dry_run": True}, ["#/filter/staus"]),
     ({"action": "retry", "filter": {"mapping_id": 3, "status": "error"}, "dryrun": 1},
      ["#/dryrun", "#/filter/mapping_id"])],
)  # fmt: skip
def test_an_unknown_body_member_is_a_400_naming_each_and_changes_nothing(api_as, data, body, pointers):
    problem = problem_of(api_as("operator").post_json(f"{API}/syncs/actions/", body), 400)
    assert sorted(error["pointer"] for error in problem["errors"]) == pointers
    assert Operation.objects.count() == 0
    assert Synchronization.objects.get(pk=data["error"].pk).retry_count == 0


@pytest.mark.parametrize(
    "url", ["/syncs/?staus=error", "/syncs/counts/?staus=error", "/syncs/1/?status=error", "/syncs/1/log/?level=error",
            "/operations/?status=x", "/mappings/?name=x", "/repositories/1/?x=1", "/logs/?levl=error",
            "/dashboard/?x=1", "/metrics/?mapping_id=3", "/syncs/actions/?dry_run=true"],
)  # fmt: skip
def test_an_unknown_query_parameter_is_a_400_naming_it(api_as, data, url):
    client = api_as("operator")
    response = (
        client.post_json(API + url, {"action": "retry", "ids": [1]}) if "actions" in url else client.get(API + url)
    )
    name = url.split("?")[1].split("=")[0]
    assert [error["parameter"] for error in problem_of(response, 400)["errors"]] == [name]
    assert Operation.objects.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "/syncs/?mapping=", "/syncs/?status=", "/syncs/?limit=", "/syncs/?ordering=", "/syncs/counts/?mapping=",
        "/logs/?mapping=", "/logs/?sync=", "/logs/?level=", "/logs/?since=", "/metrics/?days=", "/metrics/?start=",
        "/syncs/?mapping=3&mapping=",
    ],
)  # fmt: skip
def test_an_empty_value_of_a_typed_parameter_is_a_400_naming_it(api_as, data, url):
    """Found by schemathesis in CI: ``logs/?mapping=`` answered 200 (every mapping)
    where the schema says the parameter is an integer."""
    name = url.split("?")[1].split("=")[0]
    errors = problem_of(api_as("viewer").get(API + url), 400)["errors"]
    assert errors == [{"parameter": name, "detail": "Empty: give a value, or leave the parameter out."}]


@pytest.mark.parametrize("url", ["/syncs/?q=", "/logs/?q=", "/syncs/?pattern="])
def test_an_empty_text_parameter_means_no_filter(api_as, data, url):
    assert api_as("viewer").get(API + url).status_code == 200


def test_drfs_format_parameter_is_taken(api_as, data):
    assert api_as("viewer").get(f"{API}/syncs/", {"format": "json", "status": "error"}).status_code == 200


def test_a_body_over_the_upload_limit_is_a_413_problem_without_a_traceback(api_as, data, caplog):
    body = '{"action": "retry", "ids": [' + ", ".join(["1"] * 1_000_000) + "]}"
    assert len(body) > 3_000_000
    response = api_as("operator").post(f"{API}/syncs/actions/", body, content_type="application/json")
    assert problem_of(response, 413)["code"] == "too_large"
    assert not [record for record in caplog.records if record.exc_info]


@pytest.mark.parametrize(
    "path", ["/sync/api/v1/", "/sync/api/v1/nothing/", "/sync/api/v1/syncs/1/log/extra/", "/sync/api/",
             "/sync/api/v2/syncs/"],
)  # fmt: skip
def test_an_unknown_path_under_the_api_is_a_404_problem(api_as, path):
    client = api_as("viewer")
    assert problem_of(client.get(path), 404)["code"] == "not_found"
    problem_of(client.post(path, {}, content_type="application/json"), 404)


def test_a_console_page_under_the_api_still_gets_its_slash(client_as, viewer):
    assert client_as(viewer).get("/sync/api/tokens")["Location"] == "/sync/api/tokens/"


def test_a_server_error_under_the_api_is_a_500_problem(api_as, monkeypatch):
    from django.test import Client

    from syncweb import dashboard

    def broken(now):
        raise RuntimeError("a bug")

    monkeypatch.setattr(dashboard, "summary", broken)
    client = api_as("viewer")
    browser = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {client.token}")
    body = problem_of(browser.get(f"{API}/dashboard/"), 500)
    assert "a bug" not in body["detail"]


def test_a_session_post_without_csrf_to_a_plain_view_under_the_api_is_a_403_problem(operator):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    assert problem_of(browser.post("/sync/api/v1/nothing/"), 404)  # the catch-all needs no CSRF
    assert problem_of(browser.post("/sync/api/schema/"), 405)


def test_the_api_answers_without_the_trailing_slash(api_as, data, django_capture_on_commit_callbacks):
    client = api_as("operator")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post_json(f"{API}/syncs/actions", {"action": "retry", "ids": [data["error"].pk]})
    assert response.status_code == 202 and response.json()["url"].endswith("/")
    assert Operation.objects.count() == 1
    assert client.get(f"{API}/syncs/{data['error'].pk}").json()["id"] == data["error"].pk
    for path in ("/syncs", "/syncs/counts", "/operations", "/mappings", "/repositories", "/logs", "/dashboard",
                 "/metrics", f"/syncs/{data['error'].pk}/log"):  # fmt: skip
        assert client.get(API + path).status_code == 200, path
    assert client.get("/sync/api/schema?format=json").status_code == 200


def test_options_is_a_405_problem(api_as):
    client = api_as("operator")
    for path in ("/syncs/actions/", "/syncs/", "/metrics/"):
        response = client.options(API + path)
        assert problem_of(response, 405)["code"] == "method_not_allowed"
        assert "OPTIONS" not in response["Allow"]


def test_a_dry_run_that_matches_nothing_counts_0(api_as, data):
    client = api_as("operator")
    body = {"action": "retry", "filter": {"status": "ignored"}}
    response = client.post_json(f"{API}/syncs/actions/", {**body, "dry_run": True})
    assert response.status_code == 200 and response.json()["count"] == 0
    assert client.post_json(f"{API}/syncs/actions/", {"action": "retry", "ids": [999999], "dry_run": True}).json()[
        "unknown_ids"
    ] == [999999]
    problem_of(client.post_json(f"{API}/syncs/actions/", body), 409)
    assert Operation.objects.count() == 0


@pytest.mark.parametrize(
    "params, parameters, says",
    [({"start": "2026-05-10", "end": "2026-05-01"}, ["end"],
      "The end date 2026-05-01 is before the start date 2026-05-10."),
     ({"start": "2026-02-30"}, ["start"], "The date 2026-02-30 does not exist."),
     ({"end": "2026-13-01"}, ["end"], "The date 2026-13-01 does not exist."),
     ({"start": "2020-01-01", "end": "2026-01-01"}, ["end"], "more than 1098 days"),
     ({"start": "2026-05-01", "end": "2026-05-03", "days": "3"}, ["start", "end", "days"], "not all three")],
)  # fmt: skip
def test_a_bad_period_says_what_is_wrong_for_the_api(api_as, params, parameters, says):
    body = problem_of(api_as("viewer").get(f"{API}/metrics/", params), 400)
    assert [error["parameter"] for error in body["errors"]] == parameters
    assert says in body["detail"] and "default period" not in body["detail"]


def test_the_dashboard_has_the_alerts_card(api_as, data):
    from alerts.models import Alert, Rule

    rule = Rule.objects.create(name="Errors per mapping", kind=Rule.Kind.values[0])
    Rule.objects.create(
        name="Broken rule", kind=Rule.Kind.values[0], error="no such mapping", error_since=timezone.now()
    )
    now = timezone.now()
    for n in range(6):
        Alert.objects.create(rule=rule, key=f"mapping:{n}", title=f"Alert {n}", link="/sync/syncs/?status=error",
                             started_at=now - timedelta(minutes=10 - n), fired_at=now)  # fmt: skip
    Alert.objects.create(rule=rule, key="x", title="Cleared", state=Alert.State.RESOLVED, started_at=now, fired_at=now)
    card = api_as("viewer").get(f"{API}/dashboard/").json()["alerts"]
    assert [alert["title"] for alert in card["firing"]] == [f"Alert {n}" for n in range(5)] and card["more"] is True
    assert card["firing"][0]["link"] == "http://testserver/sync/syncs/?status=error"
    assert card["firing"][0]["rule"] == "Errors per mapping"
    assert [rule["name"] for rule in card["failing_rules"]] == ["Broken rule"]
    assert card["history_url"] == "http://testserver/sync/alerts/"


@pytest.mark.parametrize(
    "query, hidden",
    [("token=swt_abcdef123456_s3cr3t", "s3cr3t"), ("x=swt_abcdef123456_s3cr3t", "s3cr3t"),
     ("api_key=hunter2", "hunter2"), ("password=hunter2", "hunter2"), ("client_secret=hunter2", "hunter2")],
)  # fmt: skip
def test_a_secret_in_the_query_is_never_echoed(api_as, client, query, hidden):
    urls = [f"{API}/syncs/?{query}", f"/sync/api/v1/nothing/?{query}", f"/sync/api/metrics?{query}"]
    for response in [client.get(url) for url in urls] + [api_as("viewer").get(urls[0])]:
        assert response.status_code >= 400
        assert hidden not in response.content.decode()
        assert "[removed]" in response.json()["instance"]


def test_a_token_in_the_path_is_never_echoed(client):
    body = problem_of(client.get("/sync/api/v1/swt_abcdef123456_s3cr3t/"), 404)
    assert "s3cr3t" not in body["instance"]


def test_artifact_urls_are_absolute_and_admin_links_only_for_staff(api_as, data):
    Synchronization.objects.filter(pk=data["ok"].pk).update(left_url="/sync/admin/synchronizations/sandboxartifact/7/change/",
                                                           right_url="/issues/8")  # fmt: skip
    viewer = api_as("viewer").get(f"{API}/syncs/{data['ok'].pk}/").json()
    assert viewer["left"]["url"] == "" and viewer["right"]["url"] == "http://testserver/issues/8"
    admin = api_as("admin").get(f"{API}/syncs/", {"q": "WEB-1"}).json()["results"][0]
    assert admin["left"]["url"] == "http://testserver/sync/admin/synchronizations/sandboxartifact/7/change/"
    for sync in api_as("operator").get(f"{API}/syncs/").json()["results"]:
        for url in (sync["url"], sync["left"]["url"], sync["right"]["url"]):
            assert url == "" or url.startswith("http://testserver/") or url.startswith("https://")


def test_an_unknown_parameter_with_an_empty_name_is_a_400(api_as):
    body = problem_of(api_as("viewer").get(f"{API}/syncs/counts/?=x&status=error"), 400)
    assert [error["parameter"] for error in body["errors"]] == [""]
