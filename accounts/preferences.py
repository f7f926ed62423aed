"""Reading and changing a user's display preferences (accounts.models.Preference)
during a request. The session holds a copy, filled at login (and on the first
request of an older session), so that reading them costs no query; a change is
written to both."""

import zoneinfo
from dataclasses import asdict, dataclass

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import DEFAULT_PER_PAGE, PER_PAGE_CHOICES, Preference, available_time_zones

SESSION_KEY = "syncweb_preferences"


@dataclass(frozen=True)
class Preferences:
    """A user's preferences with the defaults filled in: ``time_zone`` an IANA
    name ("" = settings.TIME_ZONE), ``theme`` auto/light/dark, ``per_page`` one of
    PER_PAGE_CHOICES."""

    time_zone: str = ""
    theme: str = Preference.Theme.AUTO
    per_page: int = DEFAULT_PER_PAGE

    @property
    def zone_name(self) -> str:
        """The display zone's name: the user's, or the server's TIME_ZONE."""
        return self.time_zone or settings.TIME_ZONE

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.zone_name)

    @classmethod
    def from_row(cls, row: Preference | None) -> "Preferences":
        if row is None:
            return cls()
        return cls._checked(row.time_zone, row.theme, row.per_page)

    @classmethod
    def _checked(cls, time_zone, theme, per_page) -> "Preferences":
        """The values where they are valid, the defaults where not (a zone this
        machine no longer knows, a hand-edited session)."""
        default = cls()
        return cls(
            time_zone if isinstance(time_zone, str) and time_zone in available_time_zones() else default.time_zone,
            theme if theme in Preference.Theme.values else default.theme,
            per_page if per_page in PER_PAGE_CHOICES else default.per_page,
        )


def get(request: HttpRequest) -> Preferences:
    """The signed-in user's preferences (the defaults for an anonymous visitor)."""
    cached = getattr(request, "_syncweb_preferences", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        preferences = Preferences()
    elif isinstance(request.session.get(SESSION_KEY), dict):
        stored = request.session[SESSION_KEY]
        preferences = Preferences._checked(stored.get("time_zone"), stored.get("theme"), stored.get("per_page"))
    else:
        preferences = _load(request)
    request._syncweb_preferences = preferences
    return preferences


def _load(request: HttpRequest) -> Preferences:
    preferences = Preferences.from_row(Preference.objects.filter(user=request.user).first())
    request.session[SESSION_KEY] = asdict(preferences)
    return preferences


def save(request: HttpRequest, **changes) -> Preferences:
    """Changes the signed-in user's preferences (``time_zone``, ``theme``,
    ``per_page``: values already validated) in the database and the session."""
    current = asdict(get(request))
    current.update(changes)
    Preference.objects.update_or_create(user=request.user, defaults=current)
    preferences = Preferences(**current)
    request.session[SESSION_KEY] = current
    request._syncweb_preferences = preferences
    return preferences


@receiver(user_logged_in, dispatch_uid="accounts.preferences.load_at_login")
def load_at_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """Copies the user's stored preferences into the new session."""
    if request is not None and hasattr(request, "session"):
        request.user = user
        request.__dict__.pop("_syncweb_preferences", None)
        _load(request)


class DisplayZoneMiddleware:
    """Shows every time of the request in the user's display zone (Django's
    current time zone); the default zone for everyone else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        timezone.activate(get(request).zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
