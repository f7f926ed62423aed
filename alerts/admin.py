"""Admins manage channels and rules here; alerts and deliveries are history (read-only)."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property

from alerts import delivery
from alerts.models import Alert, Channel, ChannelURLError, Delivery, Rule, redacted_url
from synchronizations import credentials
from syncweb import zones
from syncweb.admin import HistoryAdmin


class ChannelForm(forms.ModelForm):
    """The URL is written, never shown back: the field starts empty, and left empty
    on a change it keeps the stored one."""

    url = forms.CharField(
        label="Apprise URL",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"size": 80, "autocomplete": "off"}),
        help_text=(
            "Any Apprise URL: mailtos://user:password@smtp.example.com?to=ops@example.com, "
            "slack://TokenA/TokenB/TokenC/#channel, msteams://…, matrix://…, json://host/path. "
            "Stored encrypted and never shown; leave empty to keep the current one."
        ),
    )

    class Meta:
        model = Channel
        fields = ["name", "url", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stored_url = self.instance.url  # encrypted; the form writes the plain one over it

    @cached_property
    def changed_data(self) -> list[str]:
        """The fields changed, the URL only when one was entered and it differs from
        the stored one (left empty it is kept): the admin's history says so."""
        changed = [name for name in super().changed_data if name != "url"]
        plain = (self.cleaned_data.get("url") if hasattr(self, "cleaned_data") else self.data.get("url")) or ""
        if plain.strip():
            try:
                same = bool(self._stored_url) and credentials.decrypt(self._stored_url) == plain.strip()
            except credentials.CredentialError:
                same = False
            if not same:
                changed.insert(1, "url")
        return changed

    def clean_url(self) -> str:
        plain = self.cleaned_data["url"].strip()
        if not plain and not (self.instance.pk and self.instance.url):
            raise forms.ValidationError("A channel needs its Apprise URL.")
        if plain:
            try:
                redacted_url(plain)
            except ChannelURLError as exc:
                raise forms.ValidationError(str(exc)) from None
        return plain

    def save(self, commit: bool = True) -> Channel:
        plain = self.cleaned_data["url"]
        channel = super().save(commit=False)
        if plain:
            channel.set_url(plain)
        else:
            channel.url = self._stored_url
        if commit:
            channel.save()
        return channel


def _report_test(modeladmin, request, channel: Channel) -> None:
    if not channel.enabled:
        # A test that reached a disabled channel would say it works while no alert reaches it.
        modeladmin.message_user(
            request,
            f"Test not sent to '{channel.name}': the channel is disabled, so no notification goes to it. "
            "Enable it (and save) to test it.",
            messages.WARNING,
        )
        return
    sent = delivery.send_test(channel, timezone.now())
    if sent.state == Delivery.State.SENT:
        modeladmin.message_user(request, f"Test sent to '{channel.name}'.", messages.SUCCESS)
    else:
        modeladmin.message_user(request, f"Test to '{channel.name}' failed: {sent.last_error}", messages.ERROR)


@admin.action(description="Send test (enabled channels only)")
def send_test(modeladmin, request, queryset):
    """Sends a test notification to each selected channel and says how it went
    (a disabled one is refused, saying so)."""
    for channel in queryset:
        _report_test(modeladmin, request, channel)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    actions = [send_test]
    list_display = ["name", "url_redacted", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["name"]
    readonly_fields = ["url_redacted"]
    change_form_template = "admin/alerts/channel/change_form.html"

    def get_fields(self, request, obj=None):
        return ["name", "url", "url_redacted", "enabled"] if obj else ["name", "url", "enabled"]

    def get_urls(self):
        test = self.admin_site.admin_view(self.send_test_view)
        return [path("<int:pk>/send-test/", test, name="alerts_channel_send_test"), *super().get_urls()]

    def send_test_view(self, request, pk: int):
        """The change page's Send test button (POST only, with change permission)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        channel = get_object_or_404(Channel, pk=pk)
        if not self.has_change_permission(request, channel):
            return HttpResponseRedirect(reverse("admin:index"))
        _report_test(self, request, channel)
        return HttpResponseRedirect(reverse("admin:alerts_channel_change", args=[pk]))


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = [
        "name", "kind", "enabled", "threshold", "window_minutes", "repeat_minutes", "channel_names", "evaluation",
    ]  # fmt: skip
    list_filter = ["kind", "enabled"]
    list_editable = ["enabled"]
    filter_horizontal = ["channels"]
    fields = ["name", "kind", "enabled", "threshold", "window_minutes", "repeat_minutes", "channels", "evaluation"]
    readonly_fields = ["evaluation"]

    @admin.display(description="evaluation")
    def evaluation(self, obj: Rule) -> str:
        if not obj.error:
            return "no error"
        return f"fails since {zones.text(obj.error_since)}: {obj.error}" if obj.error_since else f"fails: {obj.error}"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("channels")

    @admin.display(description="channels")
    def channel_names(self, obj: Rule) -> str:
        return ", ".join(channel.name for channel in obj.channels.all()) or "(none: shown on the Dashboard only)"


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ["channel_label", "kind", "state", "attempts", "created_at", "sent_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(HistoryAdmin):
    list_display = ["title", "rule_label", "state", "started_at", "fired_at", "resolved_at", "notifications"]
    list_select_related = ["rule"]
    list_filter = ["state", "rule"]
    date_hierarchy = "fired_at"
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(HistoryAdmin):
    list_display = ["title", "channel_label", "kind", "state", "attempts", "created_at", "sent_at"]
    list_filter = ["state", "kind", "channel"]
    list_select_related = ["channel"]
    date_hierarchy = "created_at"
