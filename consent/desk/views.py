"""The arrival desk: today's contacts at the clinic worked at; register arrivals with the
SMS question, or mark a contact as not arrived."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.messages.storage.base import Message
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bookings.models import Appointment, Clinic
from bookings.selectors import appointment_with_parties, unit_serves
from bookings.units import current_clinic
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record_many
from core.errors import DomainError, Forbidden
from core.params import object_id
from core.staff import CARE_ROLES, AuthedRequest, role_required

from ..reasons import reason_label
from ..selectors import decision_for, guardian_chosen
from .models import ArrivalOutcome
from .selectors import desk_rows, number_advice
from .services import (
    UNDO_MINUTES,
    arrival_register,
    desk_undo,
    guardian_number_at_desk,
    no_show_register,
)


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
    at_rows, page_messages = _outcomes_by_row(request)
    shown = {row.appointment.pk for row in rows}
    page_messages += [m for pk, found in at_rows.items() if pk not in shown for m in found]
    return render(
        request,
        "consent/desk.html",
        {
            "clinic": clinic,
            "served": served,
            "rows": [(row, at_rows.get(row.appointment.pk, [])) for row in rows],
            "page_messages": page_messages,
            "outcomes": ArrivalOutcome,
            "undo_minutes": UNDO_MINUTES,
        },
    )


ROW_TAG = "desk-row-"


def _row_tag(appointment_id: int) -> str:
    """The extra tag that puts a message at the contact's row instead of the page's top."""
    return f"{ROW_TAG}{appointment_id}"


def _outcomes_by_row(request: AuthedRequest) -> tuple[dict[int, list[Message]], list[Message]]:
    """The messages for the page, split: those about one row (shown at the row, where the
    page opens after a registration, and read out by the live region) and the rest."""
    at_rows: dict[int, list[Message]] = defaultdict(list)
    rest: list[Message] = []
    for message in messages.get_messages(request):
        tags = message.extra_tags.split() if message.extra_tags else []
        row = next((t.removeprefix(ROW_TAG) for t in tags if t.startswith(ROW_TAG)), "")
        if row.isdigit():
            at_rows[int(row)].append(message)
        else:
            rest.append(message)
    return at_rows, rest


def _who(appointment: Appointment) -> str:
    start = timezone.localtime(appointment.starts_at).strftime("%H:%M")
    return f"{start} {appointment.patient.full_name or appointment.patient.display_id}"


def _desk_appointment(request: AuthedRequest, appointment_id: int) -> tuple[Appointment, Clinic]:
    """The contact and the unit registering it: the clinic worked at, which must be the
    contact's clinic or a central reception serving it."""
    appointment = appointment_with_parties(appointment_id)
    if appointment is None:
        raise Http404
    unit = current_clinic(request)
    if unit is None or not unit_serves(unit, appointment.clinic_id):
        raise _not_served_here()
    return appointment, unit


def _not_served_here() -> PermissionDenied:
    return PermissionDenied(_("Kontakten hör inte till mottagningen du arbetar på."))


@require_POST
@role_required(*CARE_ROLES)
def desk_arrive(request: AuthedRequest, appointment_id: int) -> HttpResponse:
    unit = current_clinic(request)
    if unit is None:
        raise _not_served_here()
    reblock = [pk for raw in request.POST.getlist("reblock") if (pk := object_id(raw))]
    try:
        # The arrival's only read of the contact: locked, in its transaction.
        question = arrival_register(
            appointment_id=appointment_id,
            actor=request.user,
            outcome=request.POST.get("outcome"),
            at=unit,
            reblock=reblock,
        )
    except Appointment.DoesNotExist:
        raise Http404 from None
    except Forbidden:
        raise _not_served_here() from None
    except DomainError as error:
        messages.error(request, error.message, extra_tags=_row_tag(appointment_id))
        return redirect(_back_to_row(appointment_id))
    appointment = question.appointment
    text = _("%(who)s: ankomst registrerad (%(answer)s).") % {
        "who": _who(appointment),
        "answer": question.get_outcome_display(),
    }
    if question.outcome == ArrivalOutcome.ACTIVATED:
        advice = _number_advice(appointment)
        text += " " + _("Sms-påminnelser är aktiverade.") + (f" {advice}" if advice else "")
    messages.success(request, text + " " + _undo_hint(), extra_tags=_row_tag(appointment.pk))
    if question.outcome == ArrivalOutcome.ACTIVATED and question.reason:
        messages.warning(
            request,
            _("Sms-påminnelse är aktiverad, men inga sms skickas: %s")
            % reason_label(question.reason),
            extra_tags=_row_tag(appointment.pk),
        )
    return redirect(_back_to_row(appointment.pk))


def _undo_hint() -> str:
    return _("Fel? Ångra på raden inom %(minutes)d minuter.") % {"minutes": UNDO_MINUTES}


def _back_to_row(appointment_id: int) -> str:
    return reverse("desk") + f"#row-{appointment_id}"


def _number_advice(appointment: Appointment) -> str:
    """What to tell the patient when reminders were activated but a number is missing."""
    decision = decision_for(appointment.patient, clinic=appointment.clinic)
    return number_advice(decision.reasons)


@require_POST
@role_required(*CARE_ROLES)
def desk_no_show(request: AuthedRequest, appointment_id: int) -> HttpResponse:
    """ "Uteblev", confirmed on the row (the button opens a confirmation first)."""
    appointment, unit = _desk_appointment(request, appointment_id)
    try:
        no_show_register(appointment=appointment, actor=request.user, at=unit)
    except DomainError as error:
        messages.error(request, error.message, extra_tags=_row_tag(appointment.pk))
    else:
        messages.success(
            request,
            _("%(who)s: markerad som utebliven.") % {"who": _who(appointment)} + " " + _undo_hint(),
            extra_tags=_row_tag(appointment.pk),
        )
    return redirect(_back_to_row(appointment.pk))


@require_POST
@role_required(*CARE_ROLES)
def desk_undo_view(request: AuthedRequest, appointment_id: int) -> HttpResponse:
    """Takes back the arrival or no-show just registered: the contact is booked again."""
    appointment, unit = _desk_appointment(request, appointment_id)
    try:
        undo = desk_undo(appointment=appointment, actor=request.user, at=unit)
    except DomainError as error:
        messages.error(request, error.message, extra_tags=_row_tag(appointment.pk))
    else:
        text = _("%(who)s: ångrat – kontakten är bokad igen.") % {"who": _who(appointment)}
        question = undo.question
        if question is not None and question.outcome == ArrivalOutcome.ACTIVATED:
            text += " " + _("Aktiveringen av sms-påminnelser är också ångrad.")
        messages.success(request, text, extra_tags=_row_tag(appointment.pk))
    return redirect(_back_to_row(appointment.pk))


@require_POST
@role_required(*CARE_ROLES)
def desk_guardian_number(request: AuthedRequest, appointment_id: int) -> HttpResponse:
    """A guardian gives their number for the child at the desk."""
    appointment, unit = _desk_appointment(request, appointment_id)
    child = appointment.patient
    guardian = guardian_chosen(child, request.POST.get("guardian"), among=child.guardians.all())
    if guardian is None or guardian.protected_identity:
        messages.error(
            request, _("Välj en av barnets vårdnadshavare."), extra_tags=_row_tag(appointment.pk)
        )
        return redirect(_back_to_row(appointment.pk))
    try:
        activated = guardian_number_at_desk(
            child=child,
            guardian=guardian,
            number=request.POST.get("number", ""),
            actor=request.user,
            at=unit,
        )
    except DomainError as error:
        messages.error(request, error.message, extra_tags=_row_tag(appointment.pk))
    else:
        text = _("%(who)s: vårdnadshavarens nummer är registrerat.") % {"who": _who(appointment)}
        if activated:
            text += " " + _("Sms-påminnelser är aktiverade.")
        messages.success(request, text, extra_tags=_row_tag(appointment.pk))
    return redirect(_back_to_row(appointment.pk))
