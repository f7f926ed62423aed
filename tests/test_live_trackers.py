"""The trackers the live tests run against (trackers/): a real Redmine and a real Roundup
answer REST calls the way the connectors will make them; and the machinery that starts
them fails clearly, stops what it started, and backs `make trackers`."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from trackers import TrackerServer, TrackerStartError, free_port
from trackers.__main__ import parse_args
from trackers.local import LocalTrackers
from trackers.redmine import REDMINE_ROOT, RedmineServer
from trackers.roundup import set_ini

ROOT = Path(__file__).resolve().parent.parent
live = pytest.mark.live


# --- Redmine ----------------------------------------------------------------------------


def redmine_api(server, key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url, headers={"X-Redmine-API-Key": key or server.api_key}, timeout=30
    )  # fmt: skip


def names(items: list[dict]) -> list[str]:
    return [item["name"] for item in items]


def ids(api: httpx.Client, collection: str) -> dict[str, int]:
    """{name: id} of a Redmine collection such as "trackers" or "issue_statuses"."""
    return {item["name"]: item["id"] for item in api.get(f"{collection}.json").json()[collection]}


@live
def test_redmine_has_its_default_data_in_english_and_the_seeded_project(redmine_server):
    with redmine_api(redmine_server) as api:
        assert names(api.get("trackers.json").json()["trackers"]) == ["Bug", "Feature", "Support"]
        statuses = names(api.get("issue_statuses.json").json()["issue_statuses"])
        assert statuses[:3] == ["New", "In Progress", "Resolved"] and "Closed" in statuses
        priorities = names(api.get("enumerations/issue_priorities.json").json()["issue_priorities"])
        assert priorities == ["Low", "Normal", "High", "Urgent", "Immediate"]
        project = api.get(f"projects/{redmine_server.project}.json", params={"include": "trackers"}).json()["project"]
    assert project["id"] == redmine_server.project_id
    assert names(project["trackers"]) == ["Bug", "Feature", "Support"]


@live
def test_redmine_has_the_custom_field_for_every_tracker_and_the_second_user_as_a_developer(redmine_server):
    with redmine_api(redmine_server) as api:
        fields = api.get("custom_fields.json").json()["custom_fields"]
        members = api.get(f"projects/{redmine_server.project}/memberships.json").json()["memberships"]
        user = api.get(f"users/{redmine_server.user_id}.json").json()["user"]
    (field,) = [f for f in fields if f["name"] == redmine_server.custom_field]
    assert (field["id"], field["customized_type"], field["field_format"]) == (
        redmine_server.custom_field_id, "issue", "string",
    )  # fmt: skip
    assert names(field["trackers"]) == ["Bug", "Feature", "Support"]
    assert user["login"] == redmine_server.user_login
    roles = {m["user"]["id"]: names(m["roles"]) for m in members}
    assert roles[redmine_server.user_id] == ["Developer"]


@live
def test_redmine_creates_reads_and_updates_an_issue_over_rest(redmine_server):
    server = redmine_server
    with redmine_api(server) as api:
        created = api.post(
            "issues.json",
            json={"issue": {"project_id": server.project_id, "tracker_id": server.tracker_ids[0], "subject": "Hello",
                            "custom_fields": [{"id": server.custom_field_id, "value": "ACME"}]}},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        number = created.json()["issue"]["id"]

        read = api.get(f"issues/{number}.json").json()["issue"]
        assert (read["subject"], read["status"]["name"], read["priority"]["name"]) == ("Hello", "New", "Normal")
        assert read["custom_fields"] == [{"id": server.custom_field_id, "name": "Customer", "value": "ACME"}]

        updated = api.put(
            f"issues/{number}.json",
            json={
                "issue": {
                    "subject": "Hello again",
                    "status_id": ids(api, "issue_statuses")["In Progress"],
                    "assigned_to_id": server.user_id,
                }
            },
        )
        assert updated.status_code == 204, updated.text
        read = api.get(f"issues/{number}.json").json()["issue"]
    assert (read["subject"], read["status"]["name"], read["assigned_to"]["id"]) == (
        "Hello again", "In Progress", server.user_id,
    )  # fmt: skip


@live
def test_redmine_refuses_a_wrong_api_key_and_no_key_with_401(redmine_server):
    with redmine_api(redmine_server, key="0" * 40) as api:
        assert api.get("issues.json").status_code == 401
    anonymous = httpx.get(f"{redmine_server.base_url}issues.json", timeout=30)
    assert anonymous.status_code == 401


@live
def test_redmine_second_user_can_create_and_edit_issues_in_the_project(redmine_server):
    with redmine_api(redmine_server, key=redmine_server.user_api_key) as api:
        assert api.get("users/current.json").json()["user"]["login"] == redmine_server.user_login
        created = api.post("issues.json", json={"issue": {"project_id": redmine_server.project, "subject": "Mine"}})
        assert created.status_code == 201, created.text
        number = created.json()["issue"]["id"]
        assert api.put(f"issues/{number}.json", json={"issue": {"subject": "Still mine"}}).status_code == 204


@live
def test_a_fresh_redmine_project_per_test_is_set_up_like_the_seeded_one(redmine_server, redmine_project):
    with redmine_api(redmine_server) as api:
        created = api.post(
            "issues.json",
            json={"issue": {"project_id": redmine_project["id"], "subject": "Elsewhere",
                            "tracker_id": ids(api, "trackers")["Support"],
                            "assigned_to_id": redmine_server.user_id,
                            "custom_fields": [{"id": redmine_server.custom_field_id, "value": "Globex"}]}},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        in_project = api.get("issues.json", params={"project_id": redmine_project["identifier"]}).json()
    assert [issue["subject"] for issue in in_project["issues"]] == ["Elsewhere"]
    assert in_project["issues"][0]["tracker"]["name"] == "Support"


def test_redmine_instance_variable_leads_to_the_work_directory_however_it_is_resolved(tmp_path):
    server = RedmineServer(tmp_path / "redmine", 1)
    relative = server._instance_variable()
    instances = REDMINE_ROOT / "instances"
    assert os.path.normpath(instances / relative) == str(server.instance_dir)
    if instances.exists():
        server.instance_dir.mkdir(parents=True)
        assert os.path.realpath(instances / relative) == str(server.instance_dir)


# --- Roundup ----------------------------------------------------------------------------


def roundup_api(server, login: str | None = None, password: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.rest_url}data/",
        auth=(login or server.admin_login, password or server.admin_password),
        headers=server.rest_headers,
        timeout=30,
    )


@live
def test_roundup_has_the_classic_statuses_and_priorities_and_the_second_user(roundup_server):
    with roundup_api(roundup_server) as api:
        statuses = api.get("status", params={"@fields": "name"}).json()["data"]["collection"]
        priorities = api.get("priority", params={"@fields": "name"}).json()["data"]["collection"]
        users = api.get("user", params={"@fields": "username,roles"}).json()["data"]["collection"]
    assert names(statuses)[:2] == ["unread", "deferred"] and "resolved" in names(statuses)
    assert names(priorities) == ["critical", "urgent", "bug", "feature", "wish"]
    assert {user["username"]: user["roles"] for user in users}[roundup_server.user_login] == "User"


@live
def test_roundup_creates_reads_and_updates_an_issue_with_if_match(roundup_server):
    with roundup_api(roundup_server) as api:
        created = api.post("issue", json={"title": "Hello", "priority": "bug"})
        assert created.status_code == 201, created.text
        number = created.json()["data"]["id"]

        read = api.get(f"issue/{number}", params={"@verbose": 2})
        attributes = read.json()["data"]["attributes"]
        assert (attributes["title"], attributes["status"]["name"], attributes["priority"]["name"]) == (
            "Hello", "unread", "bug",
        )  # fmt: skip
        etag = read.json()["data"]["@etag"]
        # A compressed answer's ETag header has a suffix; If-Match takes either form.
        assert read.headers["ETag"] in (etag, etag[:-1] + '-gzip"')

        assert api.put(f"issue/{number}", json={"title": "No version"}).status_code == 412
        updated = api.put(f"issue/{number}", json={"title": "Hello again"}, headers={"If-Match": etag})
        assert updated.status_code == 200, updated.text
        stale = api.put(f"issue/{number}", json={"title": "Lost update"}, headers={"If-Match": etag})
        assert stale.status_code == 412

        etag = api.get(f"issue/{number}").headers["ETag"]
        patched = api.patch(
            f"issue/{number}",
            json={"@op": "replace", "status": "in-progress", "assignedto": roundup_server.user_login},
            headers={"If-Match": etag},
        )
        assert patched.status_code == 200, patched.text
        attributes = api.get(f"issue/{number}", params={"@verbose": 2}).json()["data"]["attributes"]
    assert (attributes["title"], attributes["status"]["name"], attributes["assignedto"]["username"]) == (
        "Hello again", "in-progress", roundup_server.user_login,
    )  # fmt: skip


@live
def test_roundup_refuses_a_wrong_password_with_401_and_anonymous_with_403(roundup_server):
    with roundup_api(roundup_server, password="wrong") as api:
        assert api.get("issue").status_code == 401
    assert httpx.get(f"{roundup_server.rest_url}data/issue", timeout=30).status_code == 403


@live
def test_roundup_refuses_a_write_without_x_requested_with(roundup_server):
    response = httpx.post(
        f"{roundup_server.rest_url}data/issue",
        json={"title": "No header"},
        auth=(roundup_server.admin_login, roundup_server.admin_password),
        headers={"Origin": roundup_server.origin},
        timeout=30,
    )
    assert response.status_code == 400
    assert "Required Header Missing" in response.text


@live
def test_roundup_second_user_can_create_and_edit_issues(roundup_server):
    with roundup_api(roundup_server, roundup_server.user_login, roundup_server.user_password) as api:
        created = api.post("issue", json={"title": "Mine"})
        assert created.status_code == 201, created.text
        number = created.json()["data"]["id"]
        etag = api.get(f"issue/{number}").headers["ETag"]
        assert api.put(f"issue/{number}", json={"title": "Still mine"}, headers={"If-Match": etag}).status_code == 200


def test_set_ini_replaces_options_in_place_uncomments_defaults_and_adds_the_missing(tmp_path):
    ini = tmp_path / "config.ini"
    ini.write_text("[main]\n# a comment\nkept = 1\nrounds = 5\n\n[mail]\n#domain = NO DEFAULT\n")
    set_ini(ini, {"main": {"rounds": "1000", "new": "x"}, "mail": {"domain": "example.invalid"}})
    assert ini.read_text() == (
        "[main]\n# a comment\nkept = 1\nrounds = 1000\nnew = x\n\n[mail]\ndomain = example.invalid\n"
    )
    with pytest.raises(KeyError, match="nosuch"):
        set_ini(ini, {"nosuch": {"a": "b"}})


# --- Starting and stopping ---------------------------------------------------------------


class ScriptServer(TrackerServer):
    """A stand-in server: a Python one-liner that never answers."""

    kind = "script"

    def __init__(self, workdir: Path, script: str, timeout: float = 30.0):
        super().__init__(workdir, free_port())
        self.script = script
        self.start_timeout = timeout
        self.pid: int | None = None

    @property
    def base_url(self) -> str:
        return f"{self.origin}/"

    def _command(self) -> list[str]:
        return [sys.executable, "-c", self.script]

    def _answers(self) -> bool:
        self.pid = self._process.pid
        return False


def test_start_names_the_log_file_when_the_server_exits_before_answering(tmp_path):
    server = ScriptServer(tmp_path, "print('cannot open the database'); raise SystemExit(3)")
    with pytest.raises(TrackerStartError) as error:
        server.start()
    message = str(error.value)
    assert "exited (code 3)" in message and str(server.log_path) in message
    assert "cannot open the database" in message
    assert not server.running


def test_start_gives_up_at_its_deadline_and_stops_the_server_with_its_children(tmp_path):
    # A server that started a child of its own, then hangs.
    script = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)"  # noqa: E501
    server = ScriptServer(tmp_path, script, timeout=1.0)
    began = time.monotonic()
    with pytest.raises(TrackerStartError, match=r"did not answer at .* within 1 s; see .*server\.log"):
        server.start()
    assert time.monotonic() - began < 15
    assert not server.running
    # Nothing of its process group is left, once init has reaped the orphaned child.
    deadline = time.monotonic() + 10
    while group_exists(server.pid):
        assert time.monotonic() < deadline, "the server's child is still running"
        time.sleep(0.05)


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def port_in_use():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_start_refuses_a_port_in_use(tmp_path, port_in_use):
    server = ScriptServer(tmp_path, "")
    server.port = port_in_use
    with pytest.raises(TrackerStartError, match=f"port {port_in_use} on 127.0.0.1 is in use"):
        server.start()
    assert not (tmp_path / "server.log").exists()  # nothing was started


# --- `make trackers` ---------------------------------------------------------------------


def test_the_command_refuses_a_port_outside_1024_to_65535(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--roundup-port", "80"])
    assert "between 1024 and 65535" in capsys.readouterr().err


def test_describe_says_why_redmine_was_left_out(tmp_path):
    description = LocalTrackers(tmp_path, free_port(), free_port(), with_redmine=False).describe()
    assert description["redmine"] == {"skipped": "left out (--no-redmine)"}
    assert description["roundup"]["base_url"].startswith("http://127.0.0.1:")
    assert description["roundup"]["scope"] == ""


@live
def test_the_command_serves_roundup_until_interrupted(tmp_path):
    port = free_port()
    issues = f"http://127.0.0.1:{port}/sync-test/rest/data/issue"
    output = tmp_path / "output.txt"
    with open(output, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "trackers", "--no-redmine", "--roundup-port", str(port),
             "--workdir", str(tmp_path / "trackers")],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops them." not in output.read_text():
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, f"no 'Ctrl-C' line within 60 s:\n{output.read_text()}"
            time.sleep(0.1)
        assert answers(issues, auth=("admin", "admin-password"))
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0, output.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    printed = output.read_text()
    assert f"roundup: http://127.0.0.1:{port}/sync-test/" in printed
    assert "admin: admin / admin-password" in printed
    assert "redmine: not started (left out (--no-redmine))" in printed
    assert not answers(issues)


def answers(url: str, **request) -> bool:
    try:
        return httpx.get(url, timeout=5, **request).status_code == 200
    except httpx.ConnectError:
        return False
