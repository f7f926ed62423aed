"""API tokens in the Django admin: an admin makes a token for any user (shown
once, in the message after saving) and revokes tokens; nothing else is edited."""

from django.contrib import admin, messages
from django.utils import timezone

from api.forms import ApiTokenAdminForm
from api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "shown_prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")
    list_select_related = ("user",)
    readonly_fields = ("shown_prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ["revoke"]
    form = ApiTokenAdminForm

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name", "expires_at")
        return ("user", "name", "shown_prefix", "expires_at", "created_at", "created_by", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else (*self.readonly_fields, "user", "name", "expires_at")

    def save_model(self, request, obj, form, change):
        """A new token is made by ApiTokenQuerySet.issue() and shown once here."""
        if change:
            return
        token, plain = ApiToken.objects.issue(
            form.cleaned_data["user"],
            form.cleaned_data["name"],
            expires_at=form.cleaned_data.get("expires_at"),
            created_by=request.user,
        )
        obj.__dict__.update(token.__dict__)  # the admin's log and redirect name the token made
        messages.warning(request, f"The token for {token.user}: {plain} — copy it now, it is not shown again.")

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        count = queryset.revoke(timezone.now())
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
