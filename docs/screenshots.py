"""Takes the README's screenshots of the operator's features (the export button,
dark mode, the environment label) by running their browser tests with
SYNCWEB_TEST_SCREENSHOTS=1, which makes them save docs/*.png:

    .venv/bin/python docs/screenshots.py
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = [
    "tests/test_browser_operator.py::test_export_the_filtered_syncs_the_button_says_how_many",
    "tests/test_browser_operator.py::test_dark_mode_follows_the_system_and_the_switch_is_remembered",
    "tests/test_browser_operator.py::test_the_environment_label_is_in_every_header_and_title",
]

if __name__ == "__main__":
    environment = {**os.environ, "SYNCWEB_TEST_SCREENSHOTS": "1"}
    # Our own interpreter and test ids, no outside input.
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", *TESTS], cwd=ROOT, env=environment))  # noqa: S603
