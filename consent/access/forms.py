from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from bookings.identity import parse_personal_id
from bookings.models import Clinic
from core.errors import DomainError
from core.fields import CareDateField

from .models import AccessLog

# Reads that list many patients at once: a report download logs one row per resident.
LISTINGS = (
    AccessLog.Action.CASE_LIST,
    AccessLog.Action.DESK_LIST,
    AccessLog.Action.REPORT_LIST,
    AccessLog.Action.REPORT_DOWNLOAD,
    AccessLog.Action.ADMIN_LIST,
    AccessLog.Action.WORKLIST,
)
SINGLE = "single"  # the filter value for every read of one patient (no listings)


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
