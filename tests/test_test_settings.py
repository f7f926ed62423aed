"""The test settings do not read the SYNCWEB_* variables of the shell the suite runs in."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Loads the test settings in a fresh interpreter and prints what they and the
# environment hold afterwards.
PROBE = """
import json, os
from django.conf import settings
settings.SYNCWEB_PORT  # loads syncweb.test_settings
print(json.dumps({
    "port": settings.SYNCWEB_PORT,
    "var_dir": str(settings.VAR_DIR),
    "tick": settings.SYNCWEB_TICK,
    "redis_port": settings.TEST_REDIS_PORT,
    "environ": sorted(name for name in os.environ if name.startswith("SYNCWEB_")),
}))
"""


def load_test_settings(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SYNCWEB_") and k != "DJANGO_SETTINGS_MODULE"}
    clean |= {"DJANGO_SETTINGS_MODULE": "syncweb.test_settings", **env}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_users_syncweb_variables_are_not_read(tmp_path):
    plain = load_test_settings()
    shell = load_test_settings(
        SYNCWEB_USERNAME="ops",
        SYNCWEB_PASSWORD="chosen-by-the-operator",
        SYNCWEB_PORT="9999",
        SYNCWEB_TICK="7",
        SYNCWEB_VAR_DIR=str(tmp_path),
    )
    assert shell["port"] == plain["port"] == 8080
    assert shell["tick"] == plain["tick"]
    assert shell["var_dir"] == plain["var_dir"] != str(tmp_path)
    # Gone from the environment too, so commands under test and worker processes do
    # not see them either.
    assert "SYNCWEB_USERNAME" not in shell["environ"]
    assert "SYNCWEB_PASSWORD" not in shell["environ"]


def test_the_test_machinerys_own_variables_are_kept():
    loaded = load_test_settings(SYNCWEB_TEST_REDIS_PORT="6555", SYNCWEB_CHROMIUM="/opt/chromium")
    assert loaded["redis_port"] == 6555
    assert loaded["environ"] == ["SYNCWEB_CHROMIUM", "SYNCWEB_TEST_REDIS_PORT"]
