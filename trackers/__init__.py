"""Real issue trackers started on this machine, for the live tests and for trying
syncweb against something real: a private Redmine from Debian's packages
(trackers.redmine) and a Roundup tracker from PyPI (trackers.roundup), each bound to
127.0.0.1 with its state in a work directory. Not a Django app.

    with RoundupServer(tmp_path / "roundup", free_port()) as roundup:
        httpx.get(f"{roundup.rest_url}data/issue", auth=(roundup.admin_login, roundup.admin_password))

`python -m trackers` (`make trackers`) starts both on fixed ports until Ctrl-C.
"""

from trackers.base import TrackerServer, TrackerStartError, free_port
from trackers.redmine import RedmineServer
from trackers.roundup import RoundupServer

__all__ = ["RedmineServer", "RoundupServer", "TrackerServer", "TrackerStartError", "free_port"]
