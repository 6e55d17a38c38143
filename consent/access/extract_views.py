"""A patient's log extract (loggutdrag, PDL 4:3 and HSLF-FS 2016:40 chapter 4): every
read of their data in a period, in Swedish — when, who (name, HSA-id, role, as they were
then), at which unit, what — as a page to print and as XLSX, ready to send. Making the
extract is itself a read of the patient's data, and is logged."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from bookings.models import Patient
from bookings.units import current_clinic
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record
from core.exports import xlsx_response
from core.staff import AUDIT_ROLES, AuthedRequest, role_required

from .forms import ExtractForm, PeriodForm
from .rows import local, what, who
from .selectors import access_log_of_patient

HEADER = [
    (_lazy("Tid"), 20.0),
    (_lazy("Namn"), 28.0),
    (_lazy("HSA-id (person)"), 26.0),
    (_lazy("Roll"), 24.0),
    (_lazy("Enhet"), 30.0),
    (_lazy("Enhetens HSA-id"), 26.0),
    (_lazy("Vad"), 40.0),
]


@role_required(*AUDIT_ROLES)
def extract_start(request: AuthedRequest) -> HttpResponse:
    """The auditor gives the personnummer by POST (it never travels in a URL) and the
    period; the extract is then addressed by the patient's opaque id."""
    form = ExtractForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        patient = Patient.objects.filter(personal_id=data["patient"]).first()
        if patient is None:
            access_log_record(
                actor=request.user,
                clinic=current_clinic(request),
                action=AccessLog.Action.AUDIT_EXTRACT,
                searched_for=data["patient"],
            )
            form.add_error("patient", _("Ingen patient har det personnumret."))
        else:
            query = urlencode(
                {"date_from": data["date_from"].isoformat(), "date_to": data["date_to"].isoformat()}
            )
            return redirect(f"{reverse('audit-extract', args=[patient.pk])}?{query}")
    return render(request, "consent/extract_start.html", {"form": form}, status=200)


def _rows(entries: Any) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        actor = who(entry)
        rows.append(
            {
                "at": local(entry.created_at),
                "name": actor.name,
                "hsa_id": actor.hsa_id,
                "roles": actor.roles,
                "unit": entry.clinic.name if entry.clinic else "",
                "unit_hsa_id": entry.clinic.hsa_id if entry.clinic else "",
                "what": what(entry),
            }
        )
    return rows


@role_required(*AUDIT_ROLES)
def extract(request: AuthedRequest, patient_id: int) -> HttpResponseBase:
    patient = get_object_or_404(Patient, pk=patient_id)
    period = PeriodForm(request.GET)
    if not period.is_valid():
        return redirect("audit-extract-start")
    date_from: date = period.cleaned_data["date_from"]
    date_to: date = period.cleaned_data["date_to"]
    rows = _rows(access_log_of_patient(patient=patient, date_from=date_from, date_to=date_to))
    # Logged after the rows are read: this extract is in the next one, not in itself.
    access_log_record(
        actor=request.user,
        clinic=current_clinic(request),
        action=AccessLog.Action.AUDIT_EXTRACT,
        patient=patient,
    )
    if request.GET.get("format") == "xlsx":
        return xlsx_response(
            title=_("Loggutdrag"),
            header=[(str(title), width) for title, width in HEADER],
            rows=(
                [
                    r["at"],
                    r["name"],
                    r["hsa_id"],
                    r["roles"],
                    r["unit"],
                    r["unit_hsa_id"],
                    r["what"],
                ]
                for r in rows
            ),
            filename=f"loggutdrag-{date_from.isoformat()}-till-{date_to.isoformat()}.xlsx",
        )
    return render(
        request,
        "consent/extract.html",
        {
            "patient": patient,
            "date_from": date_from,
            "date_to": date_to,
            "rows": rows,
            "made_at": timezone.localtime(),
            "xlsx_query": urlencode(
                {
                    "date_from": date_from.isoformat(),
                    "date_to": date_to.isoformat(),
                    "format": "xlsx",
                }
            ),
        },
    )
