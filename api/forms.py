"""The form that makes a personal API token (the token page and the admin)."""

from datetime import timedelta

from django import forms
from django.utils import timezone

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
