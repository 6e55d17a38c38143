"""The back office's patient pages: look-up and the patient's SMS page with its consent
actions. Views parse, call a service, render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from bookings.models import Patient
from bookings.units import current_clinic
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record
from core.errors import DomainError
from core.ratelimit import staff_read_refused
from core.staff import CARE_ROLES, AuthedRequest, role_required

from . import rules, selectors, services
from .forms import (
    ClinicActionForm,
    ConsentActionForm,
    GuardianNumberForm,
    GuardianRemoveForm,
    PatientSearchForm,
    clinics_patients_block,
)


# --- Patients ------------------------------------------------------------------------------
@role_required(*CARE_ROLES)
def patient_search(request: AuthedRequest) -> HttpResponse:
    """The look-up is a POST, so a personnummer never travels in a URL (nor in a proxy's
    or our own request log); the patient's page is addressed by an opaque id."""
    form = PatientSearchForm(request.POST if request.method == "POST" else None)
    if form.is_valid() and (refused := staff_read_refused(request)):
        return refused
    if form.is_valid():
        personal_id = form.cleaned_data["q"]
        patient = Patient.objects.filter(personal_id=personal_id).first()
        access_log_record(
            actor=request.user,
            clinic=current_clinic(request),
            action=AccessLog.Action.LOOKUP,
            patient=patient,
            searched_for="" if patient else personal_id,
        )
        if patient:
            return redirect("patient", page_key=patient.page_key)
        messages.error(
            request,
            _("Ingen patient med personnumret %s finns i registret.")
            % f"{personal_id[:8]}-{personal_id[8:]}",
        )
    return render(request, "consent/patient_search.html", {"form": form})


def _patient_or_404(page_key: UUID) -> Patient:
    return get_object_or_404(Patient.objects.prefetch_related("guardians"), page_key=page_key)


@role_required(*CARE_ROLES)
def patient_detail(request: AuthedRequest, page_key: UUID) -> HttpResponse:
    refused = staff_read_refused(request)
    if refused:
        return refused
    patient = _patient_or_404(page_key)
    here = current_clinic(request)
    access_log_record(
        actor=request.user, clinic=here, action=AccessLog.Action.VIEW, patient=patient
    )
    status = selectors.sms_status_for_staff(patient, clinic=here)
    blockable = clinics_patients_block()
    blocked_ids = [c.pk for c in status["blocked"]]
    return render(
        request,
        "consent/patient_detail.html",
        {
            "patient": patient,
            **status,
            "decisions": [(here, status["decision"])],
            "guardian_numbers": selectors.guardian_numbers_of(patient),
            "blocked_before": list(selectors.blocked_in_old_system(patient)),
            "history": selectors.consent_history(patient)[:200],
            "is_child": rules.age_on(patient.birth_date, timezone.localdate())
            < rules.GUARDIAN_SMS_AGE_LIMIT,
            "action_form": ConsentActionForm(),
            # Only the actions that apply: a state's own way out, a clinic block for
            # clinics not yet blocked, its removal for those that are.
            "can_activate": status["state"] == rules.NOT_ACTIVATED,
            "can_unblock": status["state"] == rules.BLOCKED,
            "can_block": status["state"] != rules.BLOCKED,
            # No clinic chosen in advance (the one worked at is not always the one meant).
            "clinic_form": ClinicActionForm(choices=blockable.exclude(pk__in=blocked_ids)),
            "unblock_clinic_form": ClinicActionForm(choices=blockable.filter(pk__in=blocked_ids))
            if blocked_ids
            else None,
            "guardian_form": GuardianNumberForm(child=patient),
            "guardian_remove_form": GuardianRemoveForm(child=patient),
            "here": here,
            "panels": _panels_from_other_apps(request, patient),
        },
    )


def _panels_from_other_apps(request: AuthedRequest, patient: Patient) -> list[str]:
    """Sections the apps above add to the patient page (the SMS history is reminders'),
    through `AppConfig.patient_panels`: this app never imports them."""
    from django.apps import apps
    from django.utils.safestring import mark_safe

    panels: list[str] = []
    for config in apps.get_app_configs():
        hook = getattr(config, "patient_panels", None)
        if hook is not None:
            panels += [mark_safe(html) for html in hook(request, patient)]  # noqa: S308
    return panels


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
def patient_action(request: AuthedRequest, page_key: UUID, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise PermissionDenied
    patient = _patient_or_404(page_key)
    form_class, service, done = ACTIONS[action]
    guardian_form = form_class in (GuardianNumberForm, GuardianRemoveForm)
    extra: dict[str, Any] = {"child": patient} if guardian_form else {}
    form = form_class(request.POST, **extra)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("patient", page_key=patient.page_key)
    data = dict(form.cleaned_data)
    kwargs: dict[str, Any] = {
        "actor": request.user,
        "handled_at_clinic": current_clinic(request),
        "channel": data.pop("channel"),
        "note": data.pop("note"),
    }
    if guardian_form:
        kwargs["child"] = patient
    else:
        kwargs["patient"] = patient
    if action in CONFIRMED and request.POST.get("confirmed") != "yes":
        return _confirm_block(request, patient, action, form, kwargs["handled_at_clinic"])
    try:
        service(**kwargs, **data)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("patient", page_key=patient.page_key)
    # The wish is recorded whatever else stops the SMS (as the e-service and the desk do);
    # the answer then says that no SMS will come, and why, instead of "activated".
    stopped = ""
    if action in TURNS_ON:
        facts, decision = selectors.sms_status(patient, clinic=kwargs["handled_at_clinic"])
        stopped = selectors.no_sms_despite_consent(facts.state, decision)
    if stopped:
        messages.warning(request, TURNS_ON[action] % stopped)
    else:
        messages.success(request, _(done))
    return redirect("patient", page_key=patient.page_key)


# Changes that stop reminders: asked again, naming what will stop, before they are made.
CONFIRMED = ("block", "block-clinic")


def _confirm_block(
    request: AuthedRequest, patient: Patient, action: str, form: Any, here: Any
) -> HttpResponse:
    """The confirmation of a block: what will stop (every clinic's reminders, or one
    clinic's) and the patient's booked contacts whose reminders stop with it. Nothing is
    changed until "Ja, blockera" is pressed."""
    from bookings.models import Appointment, AppointmentStatus

    clinic = form.cleaned_data.get("clinic")
    upcoming = Appointment.objects.filter(
        patient=patient, status=AppointmentStatus.BOOKED, starts_at__gte=timezone.now()
    ).select_related("clinic")
    if clinic is not None:
        upcoming = upcoming.filter(clinic=clinic)
    access_log_record(
        actor=request.user, clinic=here, action=AccessLog.Action.VIEW, patient=patient
    )
    return render(
        request,
        "consent/confirm_block.html",
        {
            "patient": patient,
            "action": action,
            "clinic": clinic,
            "channel": form.cleaned_data["channel"],
            "channel_label": dict(form.fields["channel"].choices)[form.cleaned_data["channel"]],
            "note": form.cleaned_data["note"],
            "upcoming": list(upcoming.order_by("starts_at")[:20]),
        },
    )


# Changes that should make SMS come, and what staff are told when something beyond the
# patient's wish still stops them (rules 3.1: protected identity, no number, …).
TURNS_ON = {
    "activate": _lazy("Sms-påminnelse är aktiverad, men inga sms skickas: %s"),
    "unblock": _lazy("Blockeringen är borttagen, men inga sms skickas: %s"),
    "unblock-clinic": _lazy("Blockeringen av mottagningen är borttagen, men inga sms skickas: %s"),
    "guardian-number": _lazy("Vårdnadshavarens nummer är registrerat, men inga sms skickas: %s"),
}
