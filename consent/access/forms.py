from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bookings.identity import parse_personal_id
from bookings.models import Clinic
from core.access_log.models import AccessLog
from core.errors import DomainError
from core.fields import CareDateField

from .models import AUDIT_READS, LISTINGS, ReviewOutcome

__all__ = ["AUDIT_READS", "LISTINGS"]

SINGLE = "single"  # the filter value for every read of one patient (no listings)
AUDIT = "audit"  # the filter value for the auditors' own reads, kept apart otherwise


class AuditFilterForm(forms.Form):
    patient = forms.CharField(label=_("Personnummer"), required=False, max_length=20)
    user = forms.CharField(label=_("Användare eller API-klient"), required=False, max_length=150)
    clinic = forms.ModelChoiceField(
        label=_("Mottagning"), queryset=Clinic.objects.all(), required=False
    )
    action = forms.ChoiceField(
        label=_("Åtgärd"),
        required=False,
        choices=[
            ("", _("Alla")),
            (SINGLE, _("Enskilda uppslag (utan listor och rapporter)")),
            (AUDIT, _("Granskningens egna läsningar")),
            *AccessLog.Action.choices,
        ],
    )
    date_from = CareDateField(
        label=_("Från och med"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = CareDateField(
        label=_("Till och med"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_patient(self) -> str:
        raw = self.cleaned_data["patient"]
        if not raw:
            return ""
        try:
            return parse_personal_id(raw).value
        except DomainError as error:
            raise forms.ValidationError(error.message) from None


class ExtractForm(forms.Form):
    """A patient's request for the log of their data: who, and which period."""

    patient = forms.CharField(label=_("Personnummer"), max_length=20)
    date_from = CareDateField(
        label=_("Från och med"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = CareDateField(label=_("Till och med"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean_patient(self) -> str:
        try:
            return parse_personal_id(self.cleaned_data["patient"]).value
        except DomainError as error:
            raise forms.ValidationError(error.message) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError(_("Perioden slutar innan den börjar."))
        return data


class PeriodForm(forms.Form):
    """The period of an extract already asked for (in the extract's address)."""

    date_from = CareDateField()
    date_to = CareDateField()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError(_("Perioden slutar innan den börjar."))
        return data


class CheckDrawForm(forms.Form):
    clinic = forms.ModelChoiceField(label=_("Enhet"), queryset=Clinic.objects.all())
    date_from = CareDateField(
        label=_("Från och med"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = CareDateField(label=_("Till och med"), widget=forms.DateInput(attrs={"type": "date"}))
    size = forms.IntegerField(
        label=_("Antal läsningar i urvalet"), min_value=1, max_value=500, initial=20
    )
    seed = forms.IntegerField(
        label=_("Startvärde (lämna tomt för ett nytt slumpat urval)"),
        required=False,
        min_value=0,
        max_value=2**62,
    )


class ReviewForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Bedömning"), choices=ReviewOutcome.choices, widget=forms.RadioSelect
    )
    note = forms.CharField(
        label=_("Anteckning"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
