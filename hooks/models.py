"""A repository's webhook (its secret, when it was last received) and the deliveries
received, kept to answer a redelivery without acting twice."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse

from synchronizations import credentials
from synchronizations.models import Repository

# Deliveries are remembered this long, to recognise a redelivery. The vendors
# redeliver within this: Jira Cloud retries for up to about 30 minutes, GitHub offers
# manual redelivery of the last 3 days, GitLab resends on request. Older records are
# deleted when a new delivery is recorded (Delivery.prune), so the table holds about
# 30 days of one repository's issue events.
DELIVERY_RETENTION = timedelta(days=30)


class Webhook(models.Model):
    """The webhook of one repository: the shared secret that proves a delivery comes
    from the tracker (encrypted like Repository.secret, synchronizations/credentials.py),
    and the last delivery received. At most one per repository; without one (or with
    an empty secret) every delivery to the repository is refused."""

    repository = models.OneToOneField(Repository, on_delete=models.CASCADE, primary_key=True, related_name="webhook")
    # Encrypted (credentials.encrypt); set it with set_secret(), read it with secret_value().
    secret = models.TextField(blank=True, editable=False)
    secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_received_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_event = models.CharField(max_length=100, blank=True, editable=False)

    class Meta:
        verbose_name = "webhook"

    def __str__(self) -> str:
        return f"Webhook of {self.repository_id}"

    def set_secret(self, plain: str, now: datetime) -> None:
        """Stores ``plain`` encrypted ("" removes the secret: deliveries are refused);
        save() to keep it."""
        self.secret = credentials.encrypt(plain)
        self.secret_set_at = now if plain else None

    def secret_value(self) -> str:
        """The secret in plain text ("" when none is set). Raises
        credentials.CredentialError when no key in force decrypts it."""
        return credentials.decrypt(self.secret)

    @staticmethod
    def url_of(repository_id: int | None) -> str:
        """The address to give the tracker for repository ``repository_id``:
        SYNCWEB_BASE_URL (where the console is reached) and /sync/hooks/<id>/; "" for
        a repository not saved yet."""
        if repository_id is None:
            return ""
        return settings.SYNCWEB_BASE_URL.rstrip("/") + reverse("hooks:receive", args=[str(repository_id)])


class DeliveryQuerySet(models.QuerySet):
    def prune(self, now: datetime) -> int:
        """Deletes the records older than DELIVERY_RETENTION; returns how many. One
        statement (the received_at index)."""
        deleted, _ = self.filter(received_at__lt=now - DELIVERY_RETENTION).delete()
        return deleted


class Delivery(models.Model):
    """One delivery acted upon: a redelivery (the same ``delivery_id`` for the same
    repository) is answered "already received" and starts nothing. Recorded only once
    change detection of its mappings was queued, so that a delivery that could not be
    acted on can be delivered again."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="+")
    # The vendor's delivery id (X-GitHub-Delivery, Idempotency-Key or
    # X-Gitlab-Event-UUID, X-Atlassian-Webhook-Identifier), or "sha256:" and a digest
    # (see hooks/vendors.py: delivery_id()).
    delivery_id = models.CharField(max_length=200)
    event = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField()
    mappings = models.PositiveIntegerField(default=0, help_text="Change detections queued.")

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            # What makes a redelivery harmless, even two at once.
            models.UniqueConstraint(fields=["repository", "delivery_id"], name="hooks_delivery_once"),
        ]
        indexes = [
            # DeliveryQuerySet.prune(), and the admin's list (newest first).
            models.Index(fields=["received_at"], name="hooks_delivery_received"),
        ]

    def __str__(self) -> str:
        return f"{self.event or 'delivery'} {self.delivery_id}"
