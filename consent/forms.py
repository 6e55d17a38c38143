"""Back-office forms: parse input only; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bookings.contact import contact_hidden
from bookings.identity import parse_personal_id
from bookings.models import Clinic, Patient
from core.errors import DomainError

from .models import Channel
from .selectors import guardian_choice, guardian_chosen

STAFF_CHANNELS = [
    (c.value, c.label) for c in Channel if c not in (Channel.MIGRATION, Channel.ESERVICE_CASE)
]


class PatientSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Personnummer"),
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "placeholder": "ÅÅÅÅMMDD-NNNN",
                "inputmode": "numeric",
                "autocomplete": "off",
            }
        ),
    )

    def clean_q(self) -> str:
        try:
            return parse_personal_id(self.cleaned_data["q"]).value
        except DomainError as error:
            raise forms.ValidationError(error.message) from None


class ConsentActionForm(forms.Form):
    # Nothing chosen in advance: a change is made only through the channel staff name.
    channel = forms.ChoiceField(
        label=_("Hur kom önskemålet in?"),
        choices=[("", _("Välj hur")), *STAFF_CHANNELS],
        error_messages={"required": _("Välj hur önskemålet kom in.")},
    )
    note = forms.CharField(
        label=_("Anteckning"),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": _("Valfri")}),
    )


def clinics_patients_block() -> Any:
    """The clinics a patient may block: every clinic but the central receptions, which
    send no reminders of their own (they register arrivals for others)."""
    return Clinic.objects.filter(serves__isnull=True).order_by("name")


class ClinicActionForm(ConsentActionForm):
    clinic = forms.ModelChoiceField(
        label=_("Mottagning"),
        queryset=Clinic.objects.none(),
        empty_label=_("Välj mottagning"),
        error_messages={"required": _("Välj mottagning.")},
    )

    def __init__(self, *args: Any, choices: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = (  # type: ignore[attr-defined]
            clinics_patients_block() if choices is None else choices
        )


class GuardianChoiceField(forms.ModelChoiceField[Patient]):
    """A child's guardians by personnummer, except where that is contact data of a
    protected person (rules 3.10): a protected guardian's, and every guardian of a
    protected child. Staff can still pick them: an option's value is a keyed hash of the
    child and the guardian (selectors.guardian_choice), resolved here among this child's
    guardians; never an id or page key that leads to the guardian's page."""

    child: Patient | None = None

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Patient):
            assert self.child is not None
            return guardian_choice(self.child, value)
        return value

    def to_python(self, value: Any) -> Patient | None:
        if value in self.empty_values:
            return None
        assert self.child is not None
        guardian = guardian_chosen(self.child, value, among=self.queryset)  # type: ignore[arg-type]
        if guardian is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return guardian

    def label_from_instance(self, obj: Any) -> str:
        if contact_hidden(obj):
            return str(_("Vårdnadshavare med skyddad identitet"))
        if contact_hidden(self.child):
            return str(_("Vårdnadshavare (barnet har skyddad identitet)"))
        return f"{obj.full_name} ({obj.display_id})" if obj.full_name else str(obj.display_id)


class GuardianNumberForm(ConsentActionForm):
    guardian = GuardianChoiceField(
        label=_("Vårdnadshavare"), queryset=Patient.objects.none(), empty_label=None
    )
    number = forms.CharField(
        label=_("Mobilnummer"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "placeholder": "070-123 45 67"}),
    )

    def __init__(self, *args: Any, child: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["guardian"].queryset = child.guardians.all()  # type: ignore[attr-defined]
        self.fields["guardian"].child = child  # type: ignore[attr-defined]


class GuardianRemoveForm(ConsentActionForm):
    guardian = GuardianChoiceField(label=_("Vårdnadshavare"), queryset=Patient.objects.none())

    def __init__(self, *args: Any, child: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["guardian"].queryset = Patient.objects.filter(  # type: ignore[attr-defined]
            pk__in=child.guardian_numbers.values("guardian_id")
        )
        self.fields["guardian"].child = child  # type: ignore[attr-defined]
