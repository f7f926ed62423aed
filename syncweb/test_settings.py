"""Settings for the test suite: the production settings with fast password hashing,
eager Celery (tests that need the real queue turn it off), a Redis on a free port
that the tests start, and a file-based SQLite test database that a real worker
process can open too."""

import os
import socket


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Variables of the test machinery itself, kept from the environment.
# (Those named SYNCWEB_TEST_* are kept too: e.g. SYNCWEB_TEST_PG_RESTART, the command
# with which the chaos suite restarts the PostgreSQL server that CI started; and
# SYNCWEB_CONFORMANCE_*, which point the conformance suite at a user's own tracker.)
TEST_MACHINERY_VARIABLES = frozenset({"SYNCWEB_TEST_REDIS_PORT", "SYNCWEB_CHROMIUM"})


def _drop_the_users_variables() -> None:
    """The suite must not depend on the shell it runs in: a user's SYNCWEB_* variables
    (the README has them set SYNCWEB_USERNAME, SYNCWEB_PORT, ...) are dropped before
    the settings read them, and so before the commands under test or the worker
    processes the tests start could see them. A test that wants one sets it itself."""
    for name in [name for name in os.environ if name.startswith("SYNCWEB_")]:
        if name not in TEST_MACHINERY_VARIABLES and not name.startswith(("SYNCWEB_TEST_", "SYNCWEB_CONFORMANCE_")):
            del os.environ[name]


_drop_the_users_variables()
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-the-checks-0123456789")
# A port of this run's own, so that two test runs on one machine never share a Redis.
TEST_REDIS_PORT = int(os.environ.get("SYNCWEB_TEST_REDIS_PORT") or _free_port())
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{TEST_REDIS_PORT}/0"

from syncweb.settings import *  # noqa: E402, F403
from syncweb.settings import DATABASES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file of this run's own (a real worker process opens it too), so that two runs
    # on one machine, in two clones or at once, never share a test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns about a missing root)
