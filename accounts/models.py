"""Each user's display preferences: the time zone times are shown in, the colour
theme, and how many rows a page of the Syncs and Logs tabs has.

Stored here (one row per user, created on the first change) so that they follow
the user from browser to browser and survive logging out; each request reads
them from the session, where accounts.preferences copies them at login, so no
page pays a query for them."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

# The page sizes the Syncs and Logs tabs offer.
PER_PAGE_CHOICES = (25, 50, 100, 200)
DEFAULT_PER_PAGE = 50


def validate_time_zone(value: str) -> None:
    """An IANA time zone name known to this machine's zoneinfo, or "" (the server's)."""
    if value and value not in available_time_zones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. Europe/Berlin).")


def available_time_zones() -> list[str]:
    """The IANA time zone names a user may choose, sorted (zoneinfo's list, cached)."""
    global _ZONES
    if _ZONES is None:
        _ZONES = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
    return _ZONES


_ZONES: list[str] | None = None


class Preference(models.Model):
    """One user's display preferences; a blank or missing value means the default."""

    class Theme(models.TextChoices):
        AUTO = "auto", "Auto (follow the system)"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    time_zone = models.CharField(
        max_length=64, blank=True, validators=[validate_time_zone], help_text="Empty: the server's TIME_ZONE."
    )
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.AUTO)
    per_page = models.PositiveSmallIntegerField(
        choices=[(n, str(n)) for n in PER_PAGE_CHOICES], default=DEFAULT_PER_PAGE
    )

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
