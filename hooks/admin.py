"""The webhook in the admin: an inline on the Repository's page (GitHub, GitLab and
Jira repositories) that shows the address to give the tracker, whether a secret is
set (never the secret), and when a delivery was last received; and where an
administrator enters the secret the tracker holds, or has syncweb generate one,
shown once on the page that follows the save and never again. Also the deliveries
received, read-only.

The Repository admin is synchronizations/admin.py's, registered again with the
inline (Django's way of extending another app's admin; "hooks" comes after
"synchronizations" in INSTALLED_APPS for that)."""

import secrets

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone

from hooks.models import Delivery, Webhook
from hooks.vendors import VENDORS
from synchronizations import admin as synchronizations_admin
from synchronizations.models import Repository
from syncweb import zones
from syncweb.admin import HistoryAdmin

# An entered secret at least this long: it is all that tells a tracker's delivery
# from anyone's. A generated one is 43 characters (32 random bytes, URL-safe base64).
SECRET_MIN_LENGTH = 16


class WebhookForm(forms.ModelForm):
    """Sets the secret: typed (to match one the tracker generated), generated here,
    or removed; leaving all three alone keeps it. ``generated`` holds a generated
    secret in plain text after save(), for the page that shows it once."""

    new_secret = forms.CharField(
        label="New secret",
        required=False,
        max_length=1000,
        strip=False,  # a space is part of what the tracker signs with: never dropped unsaid
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=f"The secret the tracker holds (at least {SECRET_MIN_LENGTH} characters). Stored encrypted and "
        "never shown; leave empty to keep the current one.",
    )
    generate = forms.BooleanField(
        label="Generate a new secret",
        required=False,
        help_text="syncweb makes a random secret and shows it once, after saving: copy it into the tracker.",
    )
    remove = forms.BooleanField(
        label="Remove the secret", required=False, help_text="Every delivery is refused until a secret is set again."
    )

    class Meta:
        model = Webhook
        fields = []

    generated = ""

    def clean(self):
        cleaned = super().clean()
        typed, generate, remove = cleaned.get("new_secret") or "", cleaned.get("generate"), cleaned.get("remove")
        if sum([bool(typed), bool(generate), bool(remove)]) > 1:
            raise forms.ValidationError("Choose one: type a new secret, generate one, or remove it.")
        if typed and typed != typed.strip():
            self.add_error(
                "new_secret",
                "The secret starts or ends with a space or a line break: trackers do not keep those the same way, "
                "so deliveries would be refused. Type it without them.",
            )
        elif typed and len(typed) < SECRET_MIN_LENGTH:
            self.add_error("new_secret", f"A secret needs at least {SECRET_MIN_LENGTH} characters (or generate one).")
        return cleaned

    def save(self, commit=True):
        now = timezone.now()
        if self.cleaned_data.get("generate"):
            self.generated = secrets.token_urlsafe(32)
            self.instance.set_secret(self.generated, now)
        elif self.cleaned_data.get("new_secret"):
            self.instance.set_secret(self.cleaned_data["new_secret"], now)
        elif self.cleaned_data.get("remove"):
            self.instance.set_secret("", now)
        return super().save(commit)


class WebhookFormSet(forms.BaseInlineFormSet):
    """The inline's formset. A Repository form posted without the webhook's fields
    (a script, or a test written before webhooks) leaves the webhook as it is,
    instead of Django's "ManagementForm data is missing" refusing the whole save."""

    def __init__(self, data=None, files=None, instance=None, save_as_new=False, prefix=None, queryset=None, **kwargs):
        name = f"{prefix or self.get_default_prefix()}-TOTAL_FORMS"
        if data is not None and name not in data:
            data = data.copy()
            data.update({name: "0", name.replace("TOTAL", "INITIAL"): "0"})
        super().__init__(data, files, instance, save_as_new, prefix, queryset, **kwargs)


class WebhookInline(admin.StackedInline):
    model = Webhook
    form = WebhookForm
    formset = WebhookFormSet
    can_delete = False
    extra = 1
    max_num = 1
    verbose_name = "webhook"
    verbose_name_plural = "webhook (GitHub, GitLab, Jira)"
    fields = ["webhook_url", "secret_state", "last_received", "new_secret", "generate", "remove"]
    readonly_fields = ["webhook_url", "secret_state", "last_received"]

    @admin.display(description="address for the tracker")
    def webhook_url(self, obj: Webhook | None) -> str:
        url = Webhook.url_of(obj.repository_id if obj is not None else None)
        return url or "Shown once the repository is saved."

    @admin.display(description="secret")
    def secret_state(self, obj: Webhook | None) -> str:
        if obj is None or not obj.secret:
            return "Not set: every delivery is refused."
        return f"Set {zones.text(obj.secret_set_at)}." if obj.secret_set_at else "Set."

    @admin.display(description="last received")
    def last_received(self, obj: Webhook | None) -> str:
        if obj is None or obj.last_received_at is None:
            return "Nothing received yet."
        return f"{zones.text(obj.last_received_at)} ({obj.last_event or 'no event named'})"


admin.site.unregister(Repository)


@admin.register(Repository)
class RepositoryAdmin(synchronizations_admin.RepositoryAdmin):
    """synchronizations' Repository admin with the webhook inline (on the page of a
    new repository, and of a GitHub, GitLab or Jira one) and a column saying when
    its last webhook came."""

    inlines = [*synchronizations_admin.RepositoryAdmin.inlines, WebhookInline]
    list_display = [*synchronizations_admin.RepositoryAdmin.list_display, "last_webhook"]
    list_select_related = ["webhook"]

    @admin.display(description="webhook")
    def last_webhook(self, obj: Repository) -> str:
        try:
            hook = obj.webhook
        except Webhook.DoesNotExist:
            return "–"
        if hook.last_received_at is not None:
            return f"received {zones.text(hook.last_received_at)}"
        return "secret set, nothing received yet" if hook.secret else "–"

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if obj is not None and obj.kind not in VENDORS:
            return [inline for inline in inlines if not isinstance(inline, WebhookInline)]
        return inlines

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        for inline_form in formset.forms:
            if getattr(inline_form, "generated", ""):
                request.generated_webhook_secret = inline_form.generated

    def _secret_page(self, request, obj: Repository) -> TemplateResponse | None:
        """The page that shows a secret generated by this save, once (None when none
        was generated)."""
        generated = getattr(request, "generated_webhook_secret", "")
        if not generated:
            return None
        return TemplateResponse(
            request,
            "admin/hooks/secret_generated.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Webhook secret of {obj.name}",
                "repository": obj,
                "secret": generated,
                "url": Webhook.url_of(obj.pk),
                "vendor": VENDORS[obj.kind].name if obj.kind in VENDORS else "the tracker",
                "opts": self.model._meta,
            },
        )

    def response_add(self, request, obj, post_url_continue=None):
        return self._secret_page(request, obj) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._secret_page(request, obj) or super().response_change(request, obj)


@admin.register(Delivery)
class DeliveryAdmin(HistoryAdmin):
    """The deliveries acted upon (kept DELIVERY_RETENTION), newest first."""

    list_display = ["received_at", "repository", "event", "delivery_id", "mappings"]
    list_filter = ["repository"]
    list_select_related = ["repository"]
    search_fields = ["delivery_id", "event"]
    date_hierarchy = "received_at"
    ordering = ["-received_at"]
