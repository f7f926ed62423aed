"""The form of the Syncs tab's actions: what was asked for, and on which syncs."""

from urllib.parse import urlencode

from django import forms
from django.http import QueryDict
from django.urls import reverse

from synchronizations import operations
from synchronizations.filters import SyncFilter
from synchronizations.models import Operation, Synchronization
from syncweb.inputs import MAX_ID, parse_id, parse_int

FILTER_FIELDS = ("status", "mapping", "q", "pattern")
# Ids that are not ids, kept at most (each cut to 40 characters) to say what was left out.
MAX_UNKNOWN_SHOWN = 20


class SyncActionForm(forms.Form):
    """Retry / Clear Errors / Clear Errors and Ignore Changes, on the checked ``ids``
    or, with ``select_all``, on every sync matching the Syncs tab's filters (sent
    along). ``cleaned_data["selection"]`` is the operations.Selection to act on;
    an action that breaks a rule (operations.check) or filters that are not valid
    are form errors, and nothing is changed."""

    action = forms.CharField()
    # "1" or not: the page's hidden input sends "0" when the box is off (a
    # BooleanField's checkbox widget would read any non-empty text as on).
    select_all = forms.CharField(required=False)
    confirmed = forms.CharField(required=False)

    def clean_select_all(self) -> bool:
        return self.cleaned_data["select_all"] == "1"

    def clean_confirmed(self) -> bool:
        return self.cleaned_data["confirmed"] == "1"

    # What the confirmation page showed for "all matching": the bound, how many, and
    # the fingerprint of the set (operations.Selection.digest).
    max_id = forms.CharField(required=False)
    count = forms.CharField(required=False)
    digest = forms.CharField(required=False)

    def clean_max_id(self) -> int | None:
        raw = self.cleaned_data["max_id"]
        if not raw:
            return None
        value = parse_int(raw, minimum=0, maximum=MAX_ID)
        if value is None:
            raise forms.ValidationError(f"The confirmation's bound {raw!r} is not one this page made.")
        return value

    def clean_action(self) -> str:
        action = self.cleaned_data["action"]
        if action not in operations.SYNC_ACTIONS:
            raise forms.ValidationError(f"Unknown action {action!r}.")
        return action

    @property
    def label(self) -> str:
        """The action's name as the page shows it (the raw value if unknown)."""
        action = self.data.get("action", "")
        return Operation.Action(action).label if action in Operation.Action.values else action

    @property
    def all_matching(self) -> bool:
        return bool(self.cleaned_data.get("select_all"))

    @property
    def confirmed_as_shown(self) -> bool:
        """Confirmed, and (for "all matching") the set is still the one the
        confirmation page showed. False: ask (again)."""
        if not self.cleaned_data.get("confirmed"):
            return False
        if not self.all_matching:
            return True
        return self.cleaned_data.get("digest") == self.cleaned_data["selection"].digest

    @property
    def shown_count(self) -> int | None:
        """How many syncs the confirmation page said, when it said a number."""
        return parse_int(self.cleaned_data.get("count") or "", minimum=0, maximum=MAX_ID)

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned.get("select_all"):
            filters = {name: self.data.get(name, "") for name in FILTER_FIELDS}
            filterset = SyncFilter(filters, queryset=Synchronization.objects.all())
            if filterset.problems():
                raise forms.ValidationError(" ".join(filterset.problems()))
            selection = operations.select_matching(
                filterset.qs, {k: v for k, v in filters.items() if v}, max_id=cleaned.get("max_id")
            )
        else:
            raw = self.data.getlist("ids") if isinstance(self.data, QueryDict) else list(self.data.get("ids", []))
            parsed = {value: parse_id(value) for value in raw}
            selection = operations.select_ids(pk for pk in parsed.values() if pk is not None)
            # Reported, never acted on; kept short (they are stored with the Operation).
            selection.unknown += [value[:40] for value, pk in parsed.items() if pk is None][:MAX_UNKNOWN_SHOWN]
        try:
            operations.check(cleaned["action"], selection)
        except operations.ActionRefused as refusal:
            raise forms.ValidationError(str(refusal)) from None
        cleaned["selection"] = selection
        return cleaned

    def list_url(self) -> str:
        """The Syncs tab with the filters the form was sent with (to go back to)."""
        filters = {name: self.data.get(name, "") for name in FILTER_FIELDS}
        query = urlencode({name: value for name, value in filters.items() if value})
        return reverse("syncs") + (f"?{query}" if query else "")

    def refusal(self) -> str:
        """Why the action was refused, every error of the form in a few sentences,
        ending by saying that nothing was changed."""
        text = " ".join(error for errors in self.errors.values() for error in errors)
        return text if text.endswith("Nothing was changed.") else f"{text} Nothing was changed."


class ConfirmedSelectionForm(forms.Form):
    """What a confirmation page for a fixed set of syncs (Process all artifacts of a
    mapping) showed: the bound of the set, how many, and its fingerprint
    (operations.Selection.digest), sent back with the confirmation. A bound this
    page did not make is a form error."""

    max_id = forms.CharField(required=False)
    count = forms.CharField(required=False)
    digest = forms.CharField(required=False)

    def clean_max_id(self) -> int | None:
        raw = self.cleaned_data["max_id"]
        value = parse_int(raw, minimum=0, maximum=MAX_ID) if raw else None
        if raw and value is None:
            raise forms.ValidationError(f"The confirmation's bound {raw!r} is not one this page made.")
        return value

    def clean_count(self) -> int | None:
        return parse_int(self.cleaned_data["count"] or "", minimum=0, maximum=MAX_ID)

    def refusal(self) -> str:
        """Why the confirmation was refused, ending by saying that nothing was changed."""
        return " ".join(error for errors in self.errors.values() for error in errors) + " Nothing was changed."

    def confirms(self, selection: "operations.Selection") -> bool:
        """Whether the page confirmed exactly ``selection`` (same fingerprint)."""
        return (
            self.is_valid()
            and self.cleaned_data["max_id"] is not None
            and (self.cleaned_data["digest"] == selection.digest)
        )
