"""The back office for consent: patient look-up, the patient's SMS page and its actions,
the e-service case queue, and the audit search. Views parse, call a service, render."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bookings.errors import DomainError
from bookings.models import Appointment, AppointmentStatus, Clinic, Patient
from bookings.roles import Role, clinics_for, has_role
from bookings.services import appointment_set_status

from . import rules, selectors, services
from .forms import (
    AuditFilterForm,
    CaseDecisionForm,
    ClinicActionForm,
    ConsentActionForm,
    GuardianNumberForm,
    GuardianRemoveForm,
    PatientSearchForm,
)
from .models import AccessLog, ArrivalOutcome, CaseStatus, EServiceCase, ReasonText, State

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    class AuthedRequest(HttpRequest):
        user: User
else:
    AuthedRequest = HttpRequest

CARE_ROLES = (Role.RECEPTION, Role.MANAGER, Role.REGIONAL_ADMIN)
AUDIT_ROLES = (Role.AUDITOR, Role.REGIONAL_ADMIN)


def role_required(*roles: str) -> Callable[[Callable[..., HttpResponseBase]], Any]:
    def decorate(view: Callable[..., HttpResponseBase]) -> Any:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_role(request.user, *roles):
                raise PermissionDenied(_("Din roll har inte tillgång till den här sidan."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def current_clinic(request: HttpRequest) -> Clinic | None:
    """The clinic the user works at right now (chosen in the header; default the first)."""
    allowed = clinics_for(request.user)
    chosen = request.session.get("clinic_id")
    clinic = allowed.filter(pk=chosen).first() if chosen else None
    return clinic or request.user.clinics.order_by("name").first()  # type: ignore[union-attr]


@require_POST
@login_required
def choose_clinic(request: AuthedRequest) -> HttpResponse:
    clinic = clinics_for(request.user).filter(pk=request.POST.get("clinic") or 0).first()
    if clinic is not None:
        request.session["clinic_id"] = clinic.pk
    return redirect(request.POST.get("next") or "home")


# --- Patients ------------------------------------------------------------------------------
@role_required(*CARE_ROLES)
def patient_search(request: AuthedRequest) -> HttpResponse:
    form = PatientSearchForm(request.GET or None)
    if form.is_valid():
        personal_id = form.cleaned_data["q"]
        patient = Patient.objects.filter(personal_id=personal_id).first()
        services.access_log_record(
            user=request.user,
            clinic=current_clinic(request),
            action=AccessLog.Action.LOOKUP,
            patient=patient,
            searched_for="" if patient else personal_id,
        )
        if patient:
            return redirect("patient", personal_id=patient.personal_id)
        messages.error(
            request,
            _("Ingen patient med personnumret %s finns i registret.")
            % f"{personal_id[:8]}-{personal_id[8:]}",
        )
    return render(request, "consent/patient_search.html", {"form": form})


def _patient_or_404(personal_id: str) -> Patient:
    return get_object_or_404(Patient.objects.prefetch_related("guardians"), personal_id=personal_id)


@role_required(*CARE_ROLES)
def patient_detail(request: AuthedRequest, personal_id: str) -> HttpResponse:
    patient = _patient_or_404(personal_id)
    here = current_clinic(request)
    services.access_log_record(
        user=request.user, clinic=here, action=AccessLog.Action.VIEW, patient=patient
    )
    facts, decision = selectors.sms_status(patient, clinic=here)
    decisions = [(here, _explain(decision))]
    return render(
        request,
        "consent/patient_detail.html",
        {
            "patient": patient,
            "state": facts.state,
            "state_label": State(facts.state).label,
            "blocked": selectors.clinics_named(facts.blocked_clinics),
            "decisions": decisions,
            "guardian_numbers": selectors.guardian_numbers_of(patient),
            "history": selectors.consent_history(patient)[:200],
            "is_child": rules.age_on(patient.birth_date, timezone.localdate())
            < rules.GUARDIAN_SMS_AGE_LIMIT,
            "action_form": ConsentActionForm(),
            "clinic_form": ClinicActionForm(initial={"clinic": here}),
            "guardian_form": GuardianNumberForm(child=patient),
            "guardian_remove_form": GuardianRemoveForm(child=patient),
            "here": here,
        },
    )


def _explain(decision: rules.Decision) -> dict[str, Any]:
    return {
        "will_receive": decision.will_receive,
        "recipients": decision.recipients,
        "reasons": [str(ReasonText(code).label) for code in decision.reasons],
    }


ACTIONS: dict[str, tuple[type[ConsentActionForm], Callable[..., Any], str]] = {
    "activate": (ConsentActionForm, services.consent_activate, "Sms-påminnelser är aktiverade."),
    "block": (ConsentActionForm, services.consent_block, "Sms-påminnelser är blockerade."),
    "unblock": (ConsentActionForm, services.consent_unblock, "Blockeringen är borttagen."),
    "block-clinic": (
        ClinicActionForm,
        services.consent_block_clinic,
        "Mottagningen är blockerad för sms.",
    ),
    "unblock-clinic": (
        ClinicActionForm,
        services.consent_unblock_clinic,
        "Blockeringen av mottagningen är borttagen.",
    ),
    "guardian-number": (
        GuardianNumberForm,
        services.guardian_number_register,
        "Vårdnadshavarens nummer är registrerat.",
    ),
    "remove-guardian-number": (
        GuardianRemoveForm,
        services.guardian_number_remove,
        "Vårdnadshavarens nummer är borttaget.",
    ),
}


@require_POST
@role_required(*CARE_ROLES)
def patient_action(request: AuthedRequest, personal_id: str, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise PermissionDenied
    patient = _patient_or_404(personal_id)
    form_class, service, done = ACTIONS[action]
    guardian_form = form_class in (GuardianNumberForm, GuardianRemoveForm)
    extra: dict[str, Any] = {"child": patient} if guardian_form else {}
    form = form_class(request.POST, **extra)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("patient", personal_id=patient.personal_id)
    data = dict(form.cleaned_data)
    kwargs: dict[str, Any] = {
        "actor": request.user,
        "handled_at": current_clinic(request),
        "channel": data.pop("channel"),
        "note": data.pop("note"),
    }
    if guardian_form:
        kwargs["child"] = patient
    else:
        kwargs["patient"] = patient
    try:
        service(**kwargs, **data)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _(done))
    return redirect("patient", personal_id=patient.personal_id)


# --- E-service cases -------------------------------------------------------------------------
@role_required(*CARE_ROLES)
def case_queue(request: AuthedRequest) -> HttpResponse:
    clinics = clinics_for(request.user)
    return render(
        request,
        "consent/case_queue.html",
        {
            "open_cases": selectors.open_cases(clinics),
            "handled": selectors.handled_cases(clinics),
        },
    )


def _case_for(request: AuthedRequest, case_id: int) -> EServiceCase:
    case = get_object_or_404(
        EServiceCase.objects.select_related("received_at", "subject", "submitted_by", "clinic"),
        pk=case_id,
    )
    if not clinics_for(request.user).filter(pk=case.received_at_id).exists():
        raise PermissionDenied(_("Ärendet kom in till en annan mottagning."))
    return case


@role_required(*CARE_ROLES)
def case_detail(request: AuthedRequest, case_id: int) -> HttpResponse:
    case = _case_for(request, case_id)
    services.access_log_record(
        user=request.user,
        clinic=current_clinic(request),
        action=AccessLog.Action.CASE_VIEW,
        patient=case.subject,
    )
    facts, decision = selectors.sms_status(case.subject, clinic=case.clinic)
    return render(
        request,
        "consent/case_detail.html",
        {
            "case": case,
            "state": facts.state,
            "state_label": State(facts.state).label,
            "blocked": selectors.clinics_named(facts.blocked_clinics),
            "decision": _explain(decision),
            "apply_form": CaseDecisionForm(outcome=CaseStatus.RESOLVED, action=case.action),
            "reject_form": CaseDecisionForm(outcome=CaseStatus.REJECTED, action=case.action),
        },
    )


@require_POST
@role_required(*CARE_ROLES)
def case_decide(request: AuthedRequest, case_id: int, outcome: str) -> HttpResponse:
    case = _case_for(request, case_id)
    status = CaseStatus.RESOLVED if outcome == "apply" else CaseStatus.REJECTED
    form = CaseDecisionForm(request.POST, outcome=status, action=case.action)
    if not form.is_valid():
        messages.error(request, _("Välj ett standardsvar."))
        return redirect("case", case_id=case.pk)
    try:
        if status == CaseStatus.RESOLVED:
            services.case_apply(
                case=case,
                user=request.user,
                reply=form.cleaned_data["reply"],
                note=form.cleaned_data["note"],
            )
            messages.success(request, _("Ärendet är utfört och svaret skickat till e-tjänsten."))
        else:
            services.case_reject(case=case, user=request.user, reply=form.cleaned_data["reply"])
            messages.success(request, _("Ärendet är avslaget och svaret skickat till e-tjänsten."))
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("case", case_id=case.pk)
    return redirect("cases")


# --- Audit ---------------------------------------------------------------------------------------
@role_required(*AUDIT_ROLES)
def audit(request: AuthedRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    log, events = selectors.access_log_search(**filters)
    return render(
        request,
        "consent/audit.html",
        {
            "form": form,
            "log": Paginator(log, 50).get_page(request.GET.get("sida")),
            "events": Paginator(events, 50).get_page(request.GET.get("hsida")),
        },
    )


# --- The arrival desk ----------------------------------------------------------------------------
@role_required(*CARE_ROLES)
def desk(request: AuthedRequest) -> HttpResponse:
    """Today's contacts at the clinic worked at: register arrivals, ask the SMS question."""
    clinic = current_clinic(request)
    rows = selectors.desk_rows(clinic, timezone.localdate()) if clinic else []
    return render(
        request, "consent/desk.html", {"clinic": clinic, "rows": rows, "outcomes": ArrivalOutcome}
    )


def _desk_appointment(request: AuthedRequest, appointment_id: int) -> Appointment:
    appointment = get_object_or_404(
        Appointment.objects.select_related("clinic", "patient"), pk=appointment_id
    )
    if not clinics_for(request.user).filter(pk=appointment.clinic_id).exists():
        raise PermissionDenied(_("Kontakten är på en annan mottagning."))
    return appointment


@require_POST
@role_required(*CARE_ROLES)
def desk_arrive(request: AuthedRequest, appointment_id: int) -> HttpResponse:
    appointment = _desk_appointment(request, appointment_id)
    try:
        services.arrival_register(
            appointment=appointment, user=request.user, outcome=request.POST.get("outcome")
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
    return redirect("desk")


@require_POST
@role_required(*CARE_ROLES)
def desk_no_show(request: AuthedRequest, appointment_id: int) -> HttpResponse:
    appointment = _desk_appointment(request, appointment_id)
    try:
        appointment_set_status(
            appointment=appointment, status=AppointmentStatus.NO_SHOW, via="desk"
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Markerad som utebliven."))
    return redirect("desk")
