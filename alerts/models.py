"""Alerts: where notifications go (Channel), what is watched (Rule), what fired
(Alert), each notification sent or tried (Delivery), the error kinds already seen,
and the evaluator's lease (one evaluator at a time, whatever the number of beat and
worker processes)."""

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import apprise
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from synchronizations import credentials


class ChannelURLError(ValueError):
    """An Apprise URL that Apprise cannot read (unknown scheme, missing token, bad address)."""


# What stands for everything after the host: always the same, so that nothing about
# the user, the path, the query or the fragment shows (not even whether there is one).
MASK = "…"
# A host (or Apprise's masked form of a token in its place, "T...2") that may be shown.
_SHOWN_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~*-]+")
_HOST_PORT = re.compile(r"(?P<host>\[[^\]]*\]|[^:]*)(?::(?P<port>\d{1,5}))?")


def _scheme_hint(plain: str) -> str:
    scheme = plain.partition("://")[0] if "://" in plain else ""
    return f" (scheme {scheme!r})" if scheme and len(scheme) <= 20 and scheme.isalnum() else ""


def redacted_url(plain: str) -> str:
    """What may be shown of ``plain`` (an Apprise URL): its scheme and host (and port)
    as Apprise writes them with its secrets masked, and MASK for everything else
    (user, password, path, query, fragment), whatever the scheme: Apprise's own
    redacted form keeps a webhook's headers, query tokens and path as they are.
    "json://127.0.0.1:8926/…", "mailtos://smtp.example.com/…", "slack://T...2/…".
    Raises ChannelURLError, without repeating the URL, when Apprise cannot read it
    or finds no host in it."""
    plugin = apprise.Apprise.instantiate(plain) if plain else None
    if not plugin:
        raise ChannelURLError(
            f"Apprise cannot read this URL{_scheme_hint(plain)}: check the scheme and the parts it needs "
            "(https://github.com/caronc/apprise/wiki)."
        )
    parts = urlsplit(plugin.url(privacy=True))
    found = _HOST_PORT.fullmatch(parts.netloc.rpartition("@")[2])
    if not found or not found["host"]:
        raise ChannelURLError(
            f"Apprise finds no host in this URL{_scheme_hint(plain)}: check the host and the port "
            "(one port only, host:port)."
        )
    host = found["host"] if _SHOWN_HOST.fullmatch(found["host"]) else MASK
    port = f":{found['port']}" if found["port"] else ""
    return f"{parts.scheme}://{host}{port}/{MASK}"


def url_secrets(plain: str) -> set[str]:
    """The parts of ``plain`` (an Apprise URL) that its redacted form hides and that
    may be secret: the user and password, the host when Apprise masks it (a token in
    its place: slack://TokenA/…), each path segment, each query value, the fragment;
    each as written, decoded and encoded. Never raises."""
    try:
        shown = redacted_url(plain)
    except ChannelURLError:
        shown = ""
    parts = urlsplit(plain)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host = hostport.rsplit(":", 1)[0] if not hostport.endswith("]") else hostport
    found = {userinfo, *userinfo.split(":", 1), parts.path, *parts.path.split("/"), parts.fragment, parts.query}
    found.update(value for _, value in parse_qsl(parts.query, keep_blank_values=True))
    found.update(value for _, value in parse_qsl(parts.query.replace("+", "%2B"), keep_blank_values=True))
    if host and host not in shown:
        found.add(host)
    variants = set()
    for part in found:
        variants |= {part, unquote(part), quote(unquote(part), safe=""), quote(unquote(part), safe="@")}
    return {part for part in variants if part}


# The bounds of a rule's numbers: a window or repeat interval of at most a year (a
# longer one cannot be told from "never"; a far longer one does not fit a date), a
# threshold of at most a million (the size of the largest installation measured).
MAX_MINUTES = 525_600
MAX_THRESHOLD = 1_000_000
_MINUTES_MESSAGE = f"At most {MAX_MINUTES:,} minutes (one year)."


class Channel(models.Model):
    """A destination of notifications: any Apprise URL (mailto://, slack://, msteams://,
    matrix://, json://, …). The URL carries passwords and tokens, so it is stored
    encrypted like Repository.secret (synchronizations/credentials.py) and only its
    scheme and host (redacted_url) are ever shown, stored in clear or logged."""

    name = models.CharField(max_length=100, unique=True)
    # Encrypted (credentials.encrypt); set it with set_url(), read it with url_value().
    url = models.TextField(help_text="Apprise URL (stored encrypted, never shown).")
    # What may be shown: the scheme and host only (redacted_url).
    url_redacted = models.CharField("address (secrets hidden)", max_length=1000, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_url(self, plain: str) -> None:
        """Stores the Apprise URL ``plain`` encrypted, and its redacted form (save()
        to keep them). Raises ChannelURLError when Apprise cannot read it."""
        self.url_redacted = redacted_url(plain.strip())
        self.url = credentials.encrypt(plain.strip())

    def url_value(self) -> str:
        """The URL in plain text, for sending only. Raises credentials.CredentialError
        when it cannot be decrypted with the keys in force."""
        return credentials.decrypt(self.url)


class RuleQuerySet(models.QuerySet):
    def failing(self) -> list["Rule"]:
        """The rules whose last evaluation failed (Rule.error), by name (one query)."""
        return list(self.exclude(error="").order_by("name"))


class Rule(models.Model):
    """What is watched, and whom to tell. How each kind reads the threshold and the
    window (alerts/evaluator.py):

    - new error kind: an error pattern never seen before is in error (neither used);
    - mapping errors: ``threshold`` syncs of one mapping went into error within the
      last ``window_minutes``;
    - repository unhealthy: unhealthy for more than ``window_minutes`` (0: at once);
      the notification names the mappings it pauses;
    - no worker: no worker heartbeat for more than ``window_minutes``;
    - backlog: the oldest pending sync due for processing has waited more than
      ``window_minutes``;
    - operation failed: ``threshold`` operations failed within the last ``window_minutes``.

    A firing alert notifies once, then again every ``repeat_minutes`` while it lasts
    (0: never again), and once more when it clears."""

    class Kind(models.TextChoices):
        NEW_ERROR_KIND = "new_error_kind", "A new kind of error appears"
        MAPPING_ERRORS = "mapping_errors", "Errors in a mapping reach N within M minutes"
        REPOSITORY_UNHEALTHY = "repository_unhealthy", "A repository is unhealthy for more than M minutes"
        NO_WORKER = "no_worker", "No worker alive for more than M minutes"
        BACKLOG = "backlog", "The oldest pending sync has waited more than M minutes"
        OPERATION_FAILED = "operation_failed", "Operations failed: N within M minutes"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    threshold = models.PositiveIntegerField(
        default=1,
        validators=[MaxValueValidator(MAX_THRESHOLD, f"At most {MAX_THRESHOLD:,}.")],
        help_text=f"N: errors (mapping errors) or failed operations (operation failed), 1 to {MAX_THRESHOLD:,}; "
        "ignored otherwise.",
    )
    window_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MaxValueValidator(MAX_MINUTES, _MINUTES_MESSAGE)],
        help_text=f"M, in minutes (0 to {MAX_MINUTES:,}, one year): how far back to count, or how long a "
        "condition must last.",
    )
    repeat_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(MAX_MINUTES, _MINUTES_MESSAGE)],
        help_text=f"Notify again every so many minutes while the alert fires (0: only once; at most {MAX_MINUTES:,}).",
    )
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules", help_text="Who is told.")
    # Why the last evaluation of this rule failed ("" when it worked), and since when
    # it fails: shown on the Dashboard's Alerts card and the history page.
    error = models.TextField(blank=True, editable=False)
    error_since = models.DateTimeField(null=True, blank=True, editable=False)

    NUMBERS = ("threshold", "window_minutes", "repeat_minutes")

    objects = RuleQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def check_numbers(self) -> None:
        """Raises ValidationError when a number of the rule is out of its bounds (a
        rule written outside the admin: the shell, a fixture, an older version)."""
        self.clean_fields(exclude=[f.name for f in self._meta.fields if f.name not in self.NUMBERS])

    def clean(self) -> None:
        if self.kind in (self.Kind.MAPPING_ERRORS, self.Kind.OPERATION_FAILED) and self.threshold < 1:
            raise ValidationError({"threshold": "N must be at least 1."})
        if self.kind in (self.Kind.MAPPING_ERRORS, self.Kind.OPERATION_FAILED) and self.window_minutes < 1:
            raise ValidationError({"window_minutes": "A window of at least one minute is needed to count in."})

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def repeat(self) -> timedelta | None:
        """The repeat interval, None for "never again"."""
        return timedelta(minutes=self.repeat_minutes) if self.repeat_minutes else None


class AlertQuerySet(models.QuerySet):
    def firing(self) -> "AlertQuerySet":
        """The alerts firing now, the longest-standing first (index alert_state_started)."""
        return self.filter(state=Alert.State.FIRING).select_related("rule").order_by("started_at", "pk")

    def for_dashboard(self, limit: int = 5) -> list["Alert"]:
        """The Dashboard's Alerts card: up to ``limit`` firing alerts (one query)."""
        return list(self.firing()[:limit])


class Alert(models.Model):
    """One occurrence of a rule's condition for one subject (``key``: "mapping:3",
    "repository:1", "pattern:<text>", "workers", …), from when it fired until it
    cleared. At most one firing alert per rule and key."""

    class State(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    # A deleted rule's alerts are kept (history), with its name; their firing ones resolved.
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    rule_name = models.CharField(max_length=100, blank=True, help_text="The rule's name, kept when it is deleted.")
    key = models.CharField(max_length=400)
    state = models.CharField(max_length=10, choices=State.choices, default=State.FIRING)
    # What is wrong, how much, since when, and the console view that shows it.
    title = models.CharField(max_length=500)
    detail = models.TextField(blank=True)
    value = models.FloatField(default=0, help_text="How much: errors, minutes, operations.")
    link = models.CharField(max_length=1000, blank=True, help_text="Path of the console view that shows it.")
    started_at = models.DateTimeField(help_text="Since when the condition holds.")
    fired_at = models.DateTimeField(help_text="When the evaluator saw it and fired.")
    last_notified_at = models.DateTimeField(null=True, blank=True)
    notifications = models.PositiveIntegerField(default=0, help_text="Firing notifications queued (first + repeats).")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True, help_text="Why it cleared.")

    objects = AlertQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "key"], condition=Q(state="firing"), name="alert_one_firing_per_rule_key"
            ),
        ]
        indexes = [
            # Dashboard card and evaluator: WHERE state = 'firing' ORDER BY started_at.
            models.Index(fields=["state", "started_at"], name="alert_state_started"),
            # History page: ORDER BY fired_at DESC, id DESC.
            models.Index(fields=["-fired_at", "-id"], name="alert_fired"),
        ]

    def __str__(self) -> str:
        return f"{self.get_state_display()}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("alerts") + f"#alert-{self.pk}"

    @property
    @admin.display(description="rule")
    def rule_label(self) -> str:
        """The rule's name, or the name it had, saying it was deleted."""
        return self.rule.name if self.rule_id else f"{self.rule_name or 'a rule'} (deleted)"


class DeliveryQuerySet(models.QuerySet):
    def due(self, now: datetime) -> "DeliveryQuerySet":
        """Pending deliveries whose (next) attempt time has come (index delivery_state_next)."""
        return self.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now, channel__isnull=False).order_by(
            "next_attempt_at", "pk"
        )


class Delivery(models.Model):
    """One notification to one channel: what it says, and its attempts. Pending ones
    are sent by the evaluator's rounds; a failed attempt is tried again with backoff,
    and after SYNCWEB_ALERT_DELIVERY_ATTEMPTS attempts the delivery is marked failed."""

    class Kind(models.TextChoices):
        FIRING = "firing", "Firing"
        REPEAT = "repeat", "Still firing"
        RESOLVED = "resolved", "Resolved"
        TEST = "test", "Test"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    # A deleted channel's deliveries are kept (history), with its name; pending ones failed.
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    channel_name = models.CharField(
        max_length=100, blank=True, help_text="The channel's name, kept when it is deleted."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    title = models.CharField(max_length=500)
    body = models.TextField()
    created_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Why the last attempt failed, with the channel's secrets masked.
    last_error = models.TextField(blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            # Rounds: WHERE state = 'pending' AND next_attempt_at <= now.
            models.Index(fields=["state", "next_attempt_at"], name="delivery_state_next"),
            # History page: the latest deliveries, ORDER BY created_at DESC.
            models.Index(fields=["-created_at", "-id"], name="delivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.channel_label}: {self.get_state_display()}"

    @property
    @admin.display(description="channel")
    def channel_label(self) -> str:
        """The channel's name, or the name it had, saying it was deleted."""
        return self.channel.name if self.channel_id else f"{self.channel_name or 'a channel'} (deleted)"


@receiver(pre_delete, sender=Channel)
def _keep_the_deliveries_of_a_deleted_channel(sender, instance: Channel, **kwargs) -> None:
    """A channel deleted (by an admin who regrets its URL): its deliveries stay in the
    history under its name; those not sent yet never will be."""
    deliveries = Delivery.objects.filter(channel=instance)
    deliveries.filter(state=Delivery.State.PENDING).update(
        state=Delivery.State.FAILED, next_attempt_at=None, last_error="The channel was deleted."
    )
    deliveries.update(channel_name=instance.name)


@receiver(pre_delete, sender=Rule)
def _keep_the_alerts_of_a_deleted_rule(sender, instance: Rule, **kwargs) -> None:
    """A rule deleted: its alerts stay in the history under its name; those firing
    are resolved (nothing evaluates them any more), without notification."""
    alerts = Alert.objects.filter(rule=instance)
    alerts.filter(state=Alert.State.FIRING).update(
        state=Alert.State.RESOLVED, resolved_at=timezone.now(), resolution="the rule was deleted"
    )
    alerts.update(rule_name=instance.name)


class SeenErrorPattern(models.Model):
    """An error pattern (Synchronization.error_pattern) the evaluator has seen: one
    that is not here yet is a new kind of error."""

    pattern = models.CharField(max_length=300, unique=True)
    first_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.pattern


class EvaluatorLease(models.Model):
    """The one row (pk 1) that says who evaluates now, and what the evaluator
    remembers between rounds. Claimed by a conditional UPDATE (like
    synchronizations.engine.detect.claim_mapping), so that one round runs at a time
    across every beat and worker process and machine."""

    holder = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_round_at = models.DateTimeField(null=True, blank=True, help_text="When the last round finished.")
    # Until when errors were looked at for new kinds (the next round starts there).
    errors_seen_until = models.DateTimeField(null=True, blank=True)
    # The last time a worker was seen alive (None: not looked yet).
    workers_seen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"evaluator lease ({self.holder or 'free'})"


def dashboard_alerts(limit: int = 5) -> dict:
    """What the Dashboard's Alerts card shows (its template tag and the API's
    dashboard): ``firing``, the alerts firing now (up to ``limit``, longest-standing
    first); ``more``, whether more fire; ``failing``, the rules that cannot be
    evaluated (their alerts are not up to date). Two queries."""
    firing = list(Alert.objects.firing()[: limit + 1])
    return {"firing": firing[:limit], "more": len(firing) > limit, "failing": Rule.objects.failing()}
