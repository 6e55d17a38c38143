"""The arrival desk: today's contacts at the clinic worked at; register arrivals with the
SMS question, or mark a contact as not arrived."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bookings.models import Appointment, AppointmentStatus, Clinic
from bookings.selectors import unit_clinic_ids
from bookings.services import appointment_set_status
from bookings.units import current_clinic
from core.errors import DomainError
from core.params import object_id
from core.staff import CARE_ROLES, AuthedRequest, role_required

from ..access.models import AccessLog
from ..access.services import access_log_record_many
from ..reasons import reason_label
from .models import ArrivalOutcome
from .selectors import desk_rows
from .services import arrival_register


@role_required(*CARE_ROLES)
def desk(request: AuthedRequest) -> HttpResponse:
    """Today's contacts at the clinic worked at: register arrivals, ask the SMS question."""
    clinic = current_clinic(request)
    rows = desk_rows(clinic, timezone.localdate()) if clinic else []
    access_log_record_many(
        actor=request.user,
        clinic=clinic,
        action=AccessLog.Action.DESK_LIST,
        patient_ids=[row.appointment.patient_id for row in rows],
    )
    served = list(clinic.serves.order_by("name")) if clinic else []
    return render(
        request,
        "consent/desk.html",
        {"clinic": clinic, "served": served, "rows": rows, "outcomes": ArrivalOutcome},
    )


def _desk_appointment(request: AuthedRequest, appointment_id: int) -> tuple[Appointment, Clinic]:
    """The contact and the unit registering it: the clinic worked at, which must be the
    contact's clinic or a central reception serving it."""
    appointment = get_object_or_404(
        Appointment.objects.select_related("clinic", "patient"), pk=appointment_id
    )
    unit = current_clinic(request)
    if unit is None or appointment.clinic_id not in unit_clinic_ids(unit):
        raise PermissionDenied(_("Kontakten hör inte till mottagningen du arbetar på."))
    return appointment, unit


@require_POST
@role_required(*CARE_ROLES)
def desk_arrive(request: AuthedRequest, appointment_id: int) -> HttpResponse:
    appointment, unit = _desk_appointment(request, appointment_id)
    try:
        reblock = [pk for raw in request.POST.getlist("reblock") if (pk := object_id(raw))]
        question = arrival_register(
            appointment=appointment,
            actor=request.user,
            outcome=request.POST.get("outcome"),
            at=unit,
            reblock=reblock,
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(time)s %(name)s: ankomst registrerad.")
            % {
                "time": timezone.localtime(appointment.starts_at).strftime("%H:%M"),
                "name": appointment.patient.full_name or appointment.patient.display_id,
            },
        )
        if question.outcome == ArrivalOutcome.ACTIVATED and question.reason:
            messages.warning(
                request,
                _("Sms-påminnelse är aktiverad, men inga sms skickas: %s")
                % reason_label(question.reason),
            )
    return redirect("desk")


@require_POST
@role_required(*CARE_ROLES)
def desk_no_show(request: AuthedRequest, appointment_id: int) -> HttpResponse:
    appointment, _unit = _desk_appointment(request, appointment_id)
    try:
        appointment_set_status(
            appointment=appointment, status=AppointmentStatus.NO_SHOW, via="desk"
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Markerad som utebliven."))
    return redirect("desk")
