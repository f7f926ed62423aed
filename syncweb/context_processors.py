"""What every page's frame (templates/base.html) needs: the environment label, the
user's theme and display zone."""

from django.conf import settings
from django.http import HttpRequest

from accounts import preferences

# SYNCWEB_ENVIRONMENT names that read as production get red, as staging orange;
# any other name (test, dev, demo, ...) blue.
_PRODUCTION = ("prod", "live")
_STAGING = ("stag", "preprod", "pre-prod", "uat", "acceptance")


def environment_colour(name: str) -> str:
    """The band's colour for an environment name: "danger" (production), "warning"
    (staging) or "info" (anything else)."""
    lowered = name.lower()
    if lowered.startswith(_STAGING) or "stag" in lowered:
        return "warning"
    if any(word in lowered for word in _PRODUCTION):
        return "danger"
    return "info"


def console(request: HttpRequest) -> dict:
    """``environment`` (SYNCWEB_ENVIRONMENT, "" for none) and its ``environment_colour``;
    ``preferences`` (accounts.preferences.Preferences) of the signed-in user."""
    name = settings.SYNCWEB_ENVIRONMENT
    return {
        "environment": name,
        "environment_colour": environment_colour(name) if name else "",
        "preferences": preferences.get(request),
    }
