"""The preferences form: every field optional, so that the header's theme switch
and the tabs' rows-per-page selector can post one field alone."""

from django import forms

from accounts.models import PER_PAGE_CHOICES, Preference, available_time_zones


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(required=False, label="Display time zone")
    theme = forms.ChoiceField(required=False, choices=Preference.Theme.choices, label="Theme")
    per_page = forms.TypedChoiceField(
        required=False, coerce=int, choices=[(str(n), str(n)) for n in PER_PAGE_CHOICES], label="Rows per page"
    )

    def __init__(self, *args, server_zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [("", f"The server's ({server_zone})")] + [
            (name, name) for name in available_time_zones()
        ]

    def changes(self) -> dict:
        """The valid fields that were posted, as Preference values (call after is_valid())."""
        return {name: self.cleaned_data[name] for name in self.fields if name in self.data}
