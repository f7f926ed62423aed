"""The forms that make a personal API token: the token page's and the admin's."""

from datetime import timedelta

from django import forms
from django.utils import timezone

from api.models import ApiToken

# The expiries the token page offers, in days (None: never).
EXPIRY_CHOICES = [("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year"), ("", "Never")]


class NewTokenForm(forms.Form):
    """A name and an expiry: 30, 90 or 365 days from now, or never."""

    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'nightly retry job'.")
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, initial="90", label="Expires")

    def expires_at(self):
        """The expiry time the choice means (None: never). Call after is_valid()."""
        days = self.cleaned_data.get("expires")
        return timezone.now() + timedelta(days=int(days)) if days else None


class ApiTokenAdminForm(forms.ModelForm):
    """The admin's form for a new token: an expiry, if given, must be in the
    future (a token that has already expired would be refused at its first use)."""

    class Meta:
        model = ApiToken
        fields = ["user", "name", "expires_at"]

    def clean_expires_at(self):
        """The expiry; ValidationError for one that is not after now."""
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            shown = timezone.localtime(expires_at).strftime("%Y-%m-%d %H:%M %Z")
            raise forms.ValidationError(
                f"The expiry {shown} has already passed: give a time in the future, or none for a token that never "
                "expires."
            )
        return expires_at
