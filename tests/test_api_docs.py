"""The API's schema and documentation page: the schema describes every endpoint;
the page (Swagger UI, vendored) works in chromium under the Content-Security-
Policy, for a signed-in user, and its "Try it out" calls the API with the session."""

import re

import pytest
from django.core.cache import cache
from playwright.sync_api import expect
from pytest_django.asserts import assertRedirects

from tests import factories
from tests.test_browser_csp import WATCH
from tests.test_browser_frame import log_in


@pytest.mark.django_db
def test_the_schema_is_public_and_describes_every_endpoint(client):
    schema = client.get("/sync/api/schema/?format=json").json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert {"/sync/api/v1/syncs/", "/sync/api/v1/syncs/actions/", "/sync/api/v1/operations/{id}/",
            "/sync/api/v1/metrics/", "/sync/api/v1/logs/", "/sync/api/v1/dashboard/"} <= paths  # fmt: skip
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            assert "application/problem+json" in operation["responses"]["401"]["content"], (method, path)
            for parameter in operation.get("parameters", []):
                assert parameter.get("description"), f"{method} {path}: {parameter['name']} is not described"
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "swt_<prefix>_<secret>",
        "description": "A personal API token, from the console's API tokens page (or an admin).",
    }  # fmt: skip


@pytest.mark.django_db
def test_every_parameter_has_a_description_and_an_example_and_every_2xx_answer_too(client):
    schema = client.get("/sync/api/schema/?format=json").json()
    faults = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                name = f"{method} {path} {parameter['name']}"
                if len(parameter.get("description", "").split()) < 3:
                    faults.append(f"{name}: no description")
                if "example" not in parameter and not parameter.get("examples"):
                    faults.append(f"{name}: no example")
            for code, answer in operation["responses"].items():
                if code.startswith("2"):
                    if not answer.get("description"):
                        faults.append(f"{method} {path} {code}: no description")
                    if not all(
                        content.get("examples") or "example" in content for content in answer["content"].values()
                    ):
                        faults.append(f"{method} {path} {code}: no example")
    assert faults == []


@pytest.mark.django_db
def test_the_counts_document_their_filters(client):
    schema = client.get("/sync/api/schema/?format=json").json()
    parameters = schema["paths"]["/sync/api/v1/syncs/counts/"]["get"]["parameters"]
    assert {parameter["name"] for parameter in parameters} == {"status", "mapping", "q", "pattern"}


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["%00", "a%0d%0aX:1", "a%22b", "2"])
def test_a_version_the_api_does_not_have_is_a_400_problem_and_never_a_header(client, version):
    response = client.get(f"/sync/api/schema/?version={version}")
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["parameter"] == "version"
    assert "X" not in response.headers.get("Content-Disposition", "")


@pytest.mark.django_db
@pytest.mark.parametrize("query, suffix", [("", "yaml"), ("?format=json", "json"), ("?format=json&version=1", "json")])
def test_the_schema_has_a_fixed_file_name(client, query, suffix):
    response = client.get(f"/sync/api/schema/{query}")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'inline; filename="syncweb-api.{suffix}"'


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, query, status, parameter",
    [("post", "", 405, None), ("delete", "?format=json", 405, None), ("get", "?format=bogus", 400, "format"),
     ("get", "?lang=xx", 400, "lang")],
)  # fmt: skip
def test_the_schemas_errors_are_json_problems(client, method, query, status, parameter):
    response = getattr(client, method)(f"/sync/api/schema/{query}")
    assert response.status_code == status and response["Content-Type"] == "application/problem+json"
    body = response.json()  # JSON, not YAML
    assert body["status"] == status and body["detail"]
    if parameter:
        assert body["errors"][0]["parameter"] == parameter


@pytest.mark.django_db
def test_the_docs_page_needs_a_login(client):
    assertRedirects(client.get("/sync/api/docs/"), "/sync/login/?next=/sync/api/docs/")


@pytest.mark.django_db
def test_the_docs_script_carries_the_csrf_token_for_try_it_out(client_as, operator):
    client = client_as(operator)
    client.get("/sync/api/docs/")
    script = client.get("/sync/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert re.search(r'request\.headers\["X-CSRFTOKEN"\] = "[A-Za-z0-9]{32,}"', script.content.decode())


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_page_works_under_the_policy_and_tries_a_call(page, live_server, operator, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    cache.clear()
    factories.mapping("Web ↔ QA")
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH)
    log_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/sync/api/docs/")
    operation = page.locator("#operations-mappings-mappings_list")
    expect(operation).to_be_visible()
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tr.response .response-col_status").first).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text("Web ↔ QA")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__cspViolations") == []
    assert [text for text in console if "Content Security Policy" in text] == []
