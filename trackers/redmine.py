"""A private Redmine server from Debian's packages (``redmine``, ``redmine-sqlite``,
``ruby-webrick``): its own SQLite database, logs and files under a work directory, on
127.0.0.1, without touching the package's ``default`` instance.

How: Debian's Redmine keeps per-instance state under ``Rails.root/instances/$REDMINE_INSTANCE``
(``config/database.yml``, ``log/``, ``tmp/``, ``files/``; see
/usr/share/redmine/lib/redmine/multi_tenancy.rb and config/multitenancy_environment.rb).
``REDMINE_INSTANCE`` is set to a relative path that climbs from there to the root and
down into our work directory, with enough ``..`` that a lexical and a physical
resolution agree (/usr/share/redmine/instances is a symlink to /var/lib/redmine). Bundler
reads a Gemfile of ours (``BUNDLE_GEMFILE``) that evaluates Redmine's and adds ``webrick``
(and ``sqlite3``, which Redmine's Gemfile only adds for database.yml files it can read),
so its lock file is ours too and nothing under /usr/share/redmine is written.

The database is migrated, seeded with Redmine's default data in English and with what
the tests use (redmine_seed.rb, one ``rails runner`` boot), once per Redmine version
and seed: the result is kept as a template under ``var/trackers-cache/`` and later
starts copy it. The server is ``bundle exec rackup -s webrick``.

What a REST client must know (Redmine 5.0 on Debian 12):

- URLs are ``{base_url}issues.json``, ``{base_url}issues/N.json`` and so on (``base_url``
  ends with ``/``); JSON bodies wrap the object: ``{"issue": {...}}``.
- Authenticate with the header ``X-Redmine-API-Key: {api_key}`` (or HTTP basic auth with
  a login and password). Login is required, so a missing or wrong key is a 401.
- ``POST /issues.json`` answers 201 with the issue; ``PUT /issues/N.json`` answers 204
  with no body; a validation failure is a 422 ``{"errors": [...]}``. Redmine has no
  ETag or If-Match: detect a concurrent edit by comparing ``updated_on`` (whole seconds)
  or the journal count before writing.
- Custom fields go as ``"custom_fields": [{"id": custom_field_id, "value": "..."}]``;
  the assignee as ``"assigned_to_id"``; status, tracker and priority by id
  (``/issue_statuses.json``, ``/trackers.json``, ``/enumerations/issue_priorities.json``).
"""

import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

import httpx

from trackers.base import HOST, ROOT, TrackerServer, TrackerStartError, http_ok, run_step

REDMINE_ROOT = Path("/usr/share/redmine")
SEED_SCRIPT = Path(__file__).with_name("redmine_seed.rb")
DEFAULT_CACHE_DIR = ROOT / "var" / "trackers-cache"

# Migrating and seeding a fresh database; seconds.
PROVISION_TIMEOUT = 600.0

GEMFILE = """\
# Written by trackers/redmine.py: Redmine's own Gemfile, plus a web server and the
# SQLite adapter, with the lock file kept beside this one.
eval_gemfile "/usr/share/redmine/Gemfile"
gem "webrick" unless dependencies.any? { |d| d.name == "webrick" }
gem "sqlite3", "~> 1.4.0" unless dependencies.any? { |d| d.name == "sqlite3" }
"""

# Variables that would point Redmine elsewhere: syncweb's own DATABASE_URL above all
# (Rails merges it into database.yml), and Debian's older name for the instance.
FOREIGN_VARIABLES = ("DATABASE_URL", "X_DEBIAN_SITEID", "RAILS_RELATIVE_URL_ROOT", "RACK_ENV", "BUNDLE_GEMFILE")


@functools.cache
def is_available() -> tuple[bool, str]:
    """(True, "") when Debian's Redmine can be started here, else (False, why)."""
    if not (REDMINE_ROOT / "config.ru").exists():
        return False, f"Redmine is not installed ({REDMINE_ROOT} is missing): apt-get install redmine redmine-sqlite"
    for program in ("ruby", "bundle"):
        if shutil.which(program) is None:
            return False, f"Redmine needs `{program}` on PATH"
    try:
        probe = subprocess.run(
            ["ruby", "-e", "require 'sqlite3'; require 'webrick'"], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return False, "ruby did not answer within 60 s"
    if probe.returncode != 0:
        return False, f"ruby cannot load sqlite3 and webrick (apt-get install ruby-webrick): {probe.stderr.strip()}"
    return True, ""


def redmine_version() -> str:
    """Redmine's version as MAJOR.MINOR.TINY, from lib/redmine/version.rb."""
    text = (REDMINE_ROOT / "lib" / "redmine" / "version.rb").read_text()
    parts = [re.search(rf"{name}\s*=\s*(\d+)", text) for name in ("MAJOR", "MINOR", "TINY")]
    return ".".join(part.group(1) if part else "0" for part in parts)


def _key(name: str) -> str:
    """A fixed 40-character API key (the shape of Redmine's own)."""
    return hashlib.sha256(f"syncweb live tests: {name}".encode()).hexdigest()[:40]


class RedmineServer(TrackerServer):
    """A private Redmine on 127.0.0.1:``port``, its state under ``workdir``.

    Known before ``start()``: ``base_url`` (``http://127.0.0.1:PORT/``, ending with
    ``/``), ``admin_login`` / ``admin_password`` / ``api_key`` (an administrator),
    ``user_login`` / ``user_password`` / ``user_api_key`` (a second user, Developer in
    the project: adds, edits and can be assigned issues), ``project`` (the identifier
    of a public project with every tracker and module enabled, both users members),
    ``custom_field`` (the name of a string issue custom field for all trackers and
    projects). Set by ``start()`` (ints): ``project_id``, ``custom_field_id``,
    ``admin_id``, ``user_id``, ``developer_role_id``, ``manager_role_id``, and
    ``tracker_ids`` and ``module_names`` (lists). ``provisioned`` says how the database came to be:
    "migrated" (a cold start), "template" (copied from the cache) or "existing" (a
    work directory started before).

    ``start()`` blocks until the REST API answers (``start_timeout`` seconds) and raises
    TrackerStartError naming the log file otherwise; set-up steps log into
    ``setup_log_path``, the server into ``log_path``, Rails into
    ``workdir/instance/log/production.log``.
    """

    kind = "redmine"
    start_timeout = 120.0
    stop_signal = signal.SIGINT  # rackup shuts WEBrick down on SIGINT; SIGTERM logs a FATAL trace

    admin_login = "admin"
    admin_password = "admin-password"  # noqa: S105  (a throwaway local tracker)
    api_key = _key("admin")
    user_login = "tester"
    user_password = "tester-password"  # noqa: S105
    user_api_key = _key("tester")
    project = "sync-test"
    project_name = "Sync test"
    custom_field = "Customer"

    def __init__(self, workdir: Path, port: int, cache_dir: Path | None = None):
        super().__init__(workdir, port)
        self.cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR
        self.instance_dir = self.workdir / "instance"
        self.database_path = self.instance_dir / "db.sqlite3"
        self.seed_path = self.workdir / "seed.json"
        self.setup_log_path = self.workdir / "setup.log"
        self.provisioned: str | None = None
        self.project_id: int | None = None
        self.custom_field_id: int | None = None
        self.admin_id: int | None = None
        self.user_id: int | None = None
        self.developer_role_id: int | None = None
        self.manager_role_id: int | None = None
        self.tracker_ids: list[int] = []
        self.module_names: list[str] = []

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def describe(self) -> dict:
        return {
            **super().describe(),
            "username": self.admin_login,
            "password": self.admin_password,
            "api_key": self.api_key,
            "scope": self.project,
            "user": {"username": self.user_login, "password": self.user_password, "api_key": self.user_api_key},
            "custom_field": self.custom_field,
        }

    def create_project(self, identifier: str, name: str | None = None) -> dict:
        """A new public project ``identifier`` (lower case letters, digits, dashes) like
        ``project``: every tracker and module, the custom field, the second user as a
        Developer. Returns Redmine's JSON of it ({"id", "identifier", "name", ...}).
        Raises httpx.HTTPStatusError when Redmine refuses (422: identifier taken or
        invalid)."""
        headers = {"X-Redmine-API-Key": self.api_key}
        payload = {
            "project": {
                "name": name or identifier,
                "identifier": identifier,
                "is_public": True,
                "tracker_ids": self.tracker_ids,
                "issue_custom_field_ids": [self.custom_field_id],
                "enabled_module_names": self.module_names,
            }
        }
        response = httpx.post(f"{self.base_url}projects.json", json=payload, headers=headers, timeout=30)
        response.raise_for_status()
        project = response.json()["project"]
        membership = {"membership": {"user_id": self.user_id, "role_ids": [self.developer_role_id]}}
        httpx.post(
            f"{self.base_url}projects/{project['id']}/memberships.json", json=membership, headers=headers, timeout=30
        ).raise_for_status()
        return project

    # --- set-up --------------------------------------------------------------------

    def template_name(self) -> str:
        """The cache's name for the migrated, seeded database of this Redmine and seed:
        ``redmine-VERSION-HASH`` (HASH covers the migrations, the seed and this Gemfile)."""
        digest = hashlib.sha256()
        digest.update((REDMINE_ROOT / "lib" / "redmine" / "version.rb").read_bytes())
        digest.update("\n".join(sorted(os.listdir(REDMINE_ROOT / "db" / "migrate"))).encode())
        digest.update(SEED_SCRIPT.read_bytes())
        digest.update(GEMFILE.encode())
        digest.update(json.dumps(self._seed_variables(), sort_keys=True).encode())
        return f"redmine-{redmine_version()}-{digest.hexdigest()[:12]}"

    def _prepare(self) -> None:
        ok, reason = is_available()
        if not ok:
            raise TrackerStartError(reason)
        (self.workdir / "Gemfile").write_text(GEMFILE)
        for name in ("config", "log", "tmp", "files"):
            (self.instance_dir / name).mkdir(parents=True, exist_ok=True)
        config = self.instance_dir / "config"
        (config / "database.yml").write_text(
            f"production:\n  adapter: sqlite3\n  database: {json.dumps(str(self.database_path))}\n  timeout: 5000\n"
        )
        secret = config / "secret_key.txt"
        if not secret.exists():
            secret.write_text(secrets.token_hex(32))
        if self.database_path.exists() and self.seed_path.exists():
            self.provisioned = "existing"
        elif self._copy_template():
            self.provisioned = "template"
        else:
            self._migrate_and_seed()
            self.provisioned = "migrated"
        seed = json.loads(self.seed_path.read_text())
        for name in ("project_id", "custom_field_id", "admin_id", "user_id", "developer_role_id", "manager_role_id"):
            setattr(self, name, seed[name])
        self.tracker_ids = seed["tracker_ids"]
        self.module_names = seed["module_names"]

    def _copy_template(self) -> bool:
        template = self.cache_dir / f"{self.template_name()}.sqlite3"
        seed = template.with_suffix(".json")
        if not (template.exists() and seed.exists()):
            return False
        shutil.copyfile(seed, self.seed_path)
        shutil.copyfile(template, self.database_path)
        return True

    def _migrate_and_seed(self) -> None:
        self.database_path.unlink(missing_ok=True)
        run_step(
            ["bundle", "exec", "rails", "runner", str(SEED_SCRIPT)],
            log_path=self.setup_log_path, timeout=PROVISION_TIMEOUT, what="Migrating and seeding Redmine's database",
            cwd=REDMINE_ROOT, env={**self._env(), **self._seed_variables(), "SEED_OUTPUT": str(self.seed_path)},
        )  # fmt: skip
        try:
            self._save_template()
        except OSError as exc:  # a cache we cannot write only costs the next start time
            with open(self.setup_log_path, "a") as log:
                log.write(f"Not kept as a template: {exc}\n")

    def _save_template(self) -> None:
        """Into the cache: the seed first, then the database under a temporary name
        renamed into place, so that a reader sees both or no template at all."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        name = self.template_name()
        shutil.copyfile(self.seed_path, self.cache_dir / f"{name}.json")
        partial = self.cache_dir / f"{name}.{os.getpid()}.partial"
        shutil.copyfile(self.database_path, partial)
        os.replace(partial, self.cache_dir / f"{name}.sqlite3")

    def _seed_variables(self) -> dict[str, str]:
        return {
            "SEED_ADMIN_PASSWORD": self.admin_password,
            "SEED_ADMIN_API_KEY": self.api_key,
            "SEED_USER_LOGIN": self.user_login,
            "SEED_USER_PASSWORD": self.user_password,
            "SEED_USER_API_KEY": self.user_api_key,
            "SEED_PROJECT": self.project,
            "SEED_PROJECT_NAME": self.project_name,
            "SEED_CUSTOM_FIELD": self.custom_field,
        }

    def _instance_variable(self) -> str:
        """REDMINE_INSTANCE for our work directory: ``../`` up to the root from
        Rails.root/instances (as written and as resolved), then the absolute path."""
        instances = REDMINE_ROOT / "instances"
        depth = max(len(instances.parts), len(instances.resolve().parts)) - 1
        return "../" * depth + str(self.instance_dir).lstrip("/")

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
        return {
            **env,
            "RAILS_ENV": "production",
            "REDMINE_INSTANCE": self._instance_variable(),
            "BUNDLE_GEMFILE": str(self.workdir / "Gemfile"),
            "BUNDLE_APP_CONFIG": str(self.workdir / ".bundle"),
            "VERBOSE": "false",  # no migration chatter
        }

    # --- the server ------------------------------------------------------------------

    def _command(self) -> list[str]:
        return [
            "bundle", "exec", "rackup", "--server", "webrick", "--host", HOST, "--port", str(self.port),
            "--env", "deployment", str(REDMINE_ROOT / "config.ru"),
        ]  # fmt: skip

    def _cwd(self) -> Path:
        return REDMINE_ROOT

    def _answers(self) -> bool:
        return http_ok(f"{self.base_url}users/current.json", headers={"X-Redmine-API-Key": self.api_key})
