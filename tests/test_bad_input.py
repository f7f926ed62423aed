"""Bad input anywhere gives a page with a message (or a 4xx), never a 500; a
command refuses it with a clear error, never a traceback.

The sweep tries every parameter of every page, data view and command with the
kinds of text that broke them before: non-ASCII digits ("²" passes str.isdigit()
and fails int(); "١٢" passes int()), huge and negative numbers, empty values,
NUL bytes. The parameter lists are checked against the sources, so a new
parameter cannot be left out of the sweep."""

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from synchronizations.filters import LogFilter, SyncFilter
from synchronizations.forms import FILTER_FIELDS
from synchronizations.models import SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent

BAD_VALUES = [
    "²", "١٢", "9" * 30, "-1", "-99999999999999999999", "0", "", "%00", "\x00", "1.5", "NaN", "1e308", " ",
    # Times that exist, but not in UTC: an offset pushes them past what a date holds.
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00|1",
    # Cursors of the Syncs tab: a bar with no id, text with one, a NUL, a too long value.
    "|", "abc|1", "\x00|1", "x" * 600 + "|1", "csv",
]  # fmt: skip

# Page or data view -> the query parameters it reads ({sync}, {mapping} and
# {operation} are filled with real ids).
SYNCS_PARAMS = sorted({*SyncFilter.base_filters, "page", "sort", "after", "before", "per_page", "export"})
LOGS_PARAMS = sorted({*LogFilter.base_filters, "before", "per_page", "export"})
PERIOD_PARAMS = ["start", "days", "end", "mapping"]
PAGES = {
    "/sync/": ["x"],
    "/sync/syncs/": SYNCS_PARAMS,
    "/sync/syncs/{sync}/": ["page"],
    "/sync/logs/": LOGS_PARAMS,
    "/sync/mappings/": ["x"],
    "/sync/mappings/{mapping}/": ["x"],
    "/sync/mappings/{mapping}/reprocess/": ["x"],
    "/sync/mappings/{mapping}/rescan/": ["x"],
    "/sync/operations/{operation}/": ["x"],
    "/sync/metrics/": PERIOD_PARAMS,
    "/sync/metrics/daily.json": PERIOD_PARAMS,
    "/sync/metrics/grouped.json": PERIOD_PARAMS,
    "/sync/metrics/daily.csv": PERIOD_PARAMS,
    "/sync/health/": ["x"],
    "/sync/alerts/": ["state", "page"],
    "/sync/preferences/": ["x"],
    "/sync/support-bundle.zip": ["x"],
}
PATHS = [
    "/sync/syncs/1x/",
    "/sync/syncs/99999999999999999999/",
    "/sync/syncs/²/",
    "/sync/mappings/99999999999999999999/",
    "/sync/operations/99999999999999999999/",
]


def test_the_sweep_knows_every_parameter_the_views_read():
    read = set()
    for path in [*ROOT.glob("*/views.py"), ROOT / "metrics" / "periods.py"]:
        read |= set(re.findall(r"""(?:GET|params)(?:\.get\(|\[)["'](\w+)["']""", path.read_text()))
    swept = {name for params in PAGES.values() for name in params}
    assert read - swept == set()


@pytest.fixture
def ids(operator):
    mapping = factories.mapping()
    sync = factories.sync(mapping, "WEB-1", SyncStatus.ERROR)
    from synchronizations import operations

    operation = operations.perform("retry", [sync.pk], user=operator)
    return {"sync": sync.pk, "mapping": mapping.pk, "operation": operation.pk}


def cases():
    for page, params in PAGES.items():
        for param in params:
            for value in BAD_VALUES:
                yield page, param, value


@pytest.mark.parametrize(("page", "param", "value"), list(cases()))
def test_every_parameter_of_every_page_never_gives_a_server_error(client_as, viewer, ids, page, param, value):
    client = client_as(viewer)
    client.raise_request_exception = False
    response = client.get(page.format(**ids), {param: value})
    # The health check answers 503 when Redis or the workers are down (as here): by design.
    allowed = {503} if page == "/sync/health/" else set()
    assert response.status_code < 500 or response.status_code in allowed, (page, param, value, response.status_code)


@pytest.mark.parametrize("path", PATHS)
def test_bad_paths_are_not_found_not_a_server_error(client_as, viewer, path):
    client = client_as(viewer)
    client.raise_request_exception = False
    assert client.get(path).status_code == 404


def test_unicode_digits_are_refused_and_said_so(client_as, viewer, ids):
    client = client_as(viewer)
    assert "The page &#x27;²&#x27; was ignored" in client.get("/sync/syncs/", {"page": "²"}).content.decode()
    page = client.get("/sync/logs/", {"sync": "١٢"}).content.decode()
    assert "The sync filter &#x27;١٢&#x27; was ignored" in page
    metrics = client.get("/sync/metrics/", {"days": "²"}).content.decode()
    assert "The length &#x27;²&#x27; must be a number of days" in metrics


ACTION_FIELDS = ["ids", "action", "select_all", "confirmed", "next", "count", "digest", "max_id", *FILTER_FIELDS]


@pytest.mark.parametrize("field", ACTION_FIELDS)
@pytest.mark.parametrize("value", BAD_VALUES)
def test_actions_never_fail_with_a_server_error_and_change_nothing_on_bad_input(client_as, operator, ids, field, value):
    from synchronizations.models import Operation, Synchronization

    before = list(Synchronization.objects.values_list("pk", "status"))
    operations_before = Operation.objects.count()
    client = client_as(operator)
    client.raise_request_exception = False
    base = {"action": "clear", "select_all": "1", "status": "error", "confirmed": "1"}
    if field in ("ids", "select_all"):
        base = {"action": "clear", "ids": [str(ids["sync"])]}
    response = client.post("/sync/syncs/actions/", {**base, field: value})
    assert response.status_code < 500, (field, value)
    if field in ("ids", "action", "status", "mapping", "confirmed", "count", "digest", "max_id"):
        # A bad value of these is refused (or asks again): nothing acted on.
        assert list(Synchronization.objects.values_list("pk", "status")) == before, (field, value)
        assert Operation.objects.count() == operations_before, (field, value)


COMMAND_OPTIONS = {
    "retry_syncs": ["--ids", "--older-than", "--mapping"],
    "clear_errors": ["--ids", "--older-than", "--mapping"],
    "seed_demo": ["--syncs", "--days", "--seed"],
    "demo_traffic": ["--interval", "--count", "--seed"],
    "probe_worker": ["--timeout"],
    "run_redis": ["--grace"],
    "rebuild_rollup": ["--from", "--to"],
}
COMMAND_BAD_VALUES = ["²", "١٢", "9" * 30, "-1", "", "nan", "inf", "1e308", "0001-01-01", "9999-12-31"]


def test_the_sweep_knows_every_numeric_option_of_every_command():
    options = set()
    for path in ROOT.glob("*/management/commands/*.py"):
        for name, kind in re.findall(r'add_argument\(\s*"(--[\w-]+)"[^)]*?type=(\w+)', path.read_text(), re.S):
            options.add((path.stem, name, kind))
    swept = {(command, option) for command, names in COMMAND_OPTIONS.items() for option in names}
    assert {(command, option) for command, option, _ in options} <= swept


def test_numeric_options_use_the_one_parser():
    for path in ROOT.glob("*/management/commands/*.py"):
        assert not re.search(r"type=(int|float)\b", path.read_text()), path


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [(c, o, v) for c, options in COMMAND_OPTIONS.items() for o in options for v in COMMAND_BAD_VALUES],
)
def test_every_command_option_refuses_bad_values_clearly(ids, command, option, value):
    if command == "rebuild_rollup" and value in ("0001-01-01", "9999-12-31") == False:
        pass
    args = [option, value]
    if command == "rebuild_rollup" and option == "--to":
        args = ["--from", "2026-01-01", *args]
    if command in ("retry_syncs", "clear_errors"):
        args += ["--dry-run"]
    if command == "demo_traffic":
        args += ["--count", "1"] if option != "--count" else []
    try:
        call_command(command, *args)
    except CommandError:
        return  # refused, with a message
    except SystemExit as exit_:
        assert exit_.code not in (None, 0), (command, option, value)
        return
    # Accepted: only values that are valid for it (e.g. --mapping "" is no filter).
    assert (command, option, value) in ACCEPTABLE, (command, option, value)


# Values a command may accept: they are within what it handles.
ACCEPTABLE = {
    ("rebuild_rollup", "--to", ""),  # empty: the default, today
}


ADMIN_LISTS = {
    "/sync/admin/synchronizations/synchronization/": "last_processed_at",
    "/sync/admin/synchronizations/logentry/": "timestamp",
    "/sync/admin/synchronizations/operation/": "requested_at",
    "/sync/admin/metrics/syncevent/": "occurred_at",
    "/sync/admin/metrics/hourlyrollup/": "hour",
}


@pytest.mark.parametrize("url", sorted(ADMIN_LISTS))
@pytest.mark.parametrize(
    "query",
    [
        {"__year": "99999999999999999999"},
        {"__year": "9999", "__month": "12", "__day": "31"},
        {"__year": "2026", "__month": "2", "__day": "30"},
        {"__year": "²"},
        {"__year": "2026", "__month": "13"},
    ],
)
def test_the_admins_date_drill_down_never_gives_a_server_error(client_as, admin_user, ids, url, query):
    client = client_as(admin_user)
    client.raise_request_exception = False
    field = ADMIN_LISTS[url]
    response = client.get(url, {f"{field}{part}": value for part, value in query.items()}, follow=True)
    assert response.status_code == 200, (url, query)
    assert "That date does not exist" in response.content.decode()


def _admins_with_json_fields():
    """Every registered ModelAdmin whose add form has a JSON field: (admin, field names)."""
    from django.contrib import admin
    from django.db import models

    found = []
    for model, model_admin in admin.site._registry.items():
        names = [f.name for f in model._meta.get_fields() if isinstance(f, models.JSONField) and f.editable]
        if names:
            found.append((model_admin, names))
    return found


def test_every_admin_with_a_json_field_bounds_its_nesting(rf, admin_user):
    """Django's JSON form field answered HTTP 500 (RecursionError) for 1,000 nested
    brackets typed into a mapping's field map or a repository's settings."""
    from syncweb.admin import BoundedJSONField

    checked = 0
    for model_admin, names in _admins_with_json_fields():
        request = rf.get("/")
        request.user = admin_user
        form = model_admin.get_form(request)()
        for name in names:
            if name in form.fields:
                assert isinstance(form.fields[name], BoundedJSONField), (model_admin, name)
                checked += 1
    assert checked >= 3, "the field map, the repository settings and the sandbox artifact's fields at least"


@pytest.mark.parametrize("deep", ["[" * 5000 + "]" * 5000, "[" * 40 + "]" * 40, '{"a":' * 50 + "1" + "}" * 50])
def test_deeply_nested_json_in_the_admin_is_refused_with_a_message(client_as, admin_user, deep):
    from synchronizations.models import Repository

    left = Repository.objects.create(name="L", kind="sandbox")
    right = Repository.objects.create(name="R", kind="sandbox")
    client = client_as(admin_user)
    client.raise_request_exception = False
    answers = [
        client.post(
            "/sync/admin/synchronizations/mapping/add/",
            {"name": "Deep", "left": left.pk, "right": right.pk, "field_map": deep, "conflict_policy": "left"},
        ),
        client.post(
            f"/sync/admin/synchronizations/repository/{left.pk}/change/",
            {"name": "L", "kind": "sandbox", "settings": deep},
        ),
        client.post("/sync/admin/synchronizations/sandboxartifact/add/", {"repository": left.pk, "fields": deep}),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert "nested too deeply: at most 32 levels" in answer.content.decode()
    assert not Repository.objects.filter(settings__isnull=False).exclude(settings={}).exists()


@pytest.mark.parametrize("value", ['{"overlap_seconds": 1e309}', '{"x": NaN}', "[Infinity]", '{"a": [-Infinity]}'])
def test_json_numbers_no_database_stores_are_refused_in_the_admin_with_a_message(client_as, admin_user, value):
    """Found by a user trial: Python's json reads NaN, Infinity and 1e309, which
    SQLite's JSON_VALID check then refused with an HTTP 500."""
    from synchronizations.models import Repository

    left = Repository.objects.create(name="L", kind="sandbox")
    right = Repository.objects.create(name="R", kind="sandbox")
    client = client_as(admin_user)
    client.raise_request_exception = False
    answers = [
        client.post(
            "/sync/admin/synchronizations/repository/add/", {"name": "N", "kind": "sandbox", "settings": value}
        ),
        client.post(
            "/sync/admin/synchronizations/mapping/add/",
            {"name": "M", "left": left.pk, "right": right.pk, "field_map": value, "conflict_policy": "left"},
        ),
        client.post("/sync/admin/synchronizations/sandboxartifact/add/", {"repository": left.pk, "fields": value}),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert "JSON has no NaN or Infinity" in answer.content.decode()
    assert not Repository.objects.filter(name="N").exists()


def test_a_bad_host_header_is_logged_in_one_line_without_a_traceback(client):
    """Found by a user trial: every request with a Host header not in ALLOWED_HOSTS
    (scanners send them all day) printed Django's whole traceback."""
    import io
    import logging

    from syncweb.log_filters import WithoutTraceback

    [handler] = [
        h
        for h in logging.getLogger("django.security").handlers
        if any(isinstance(f, WithoutTraceback) for f in h.filters)
    ]
    written = io.StringIO()
    previous = handler.setStream(written)
    try:
        client.raise_request_exception = False
        answer = client.get("/sync/api/metrics", HTTP_HOST="192.0.2.2:8093")
    finally:
        handler.setStream(previous)
    assert answer.status_code == 400
    assert "Invalid HTTP_HOST header: '192.0.2.2:8093'" in written.getvalue()
    assert "Traceback" not in written.getvalue()
