"""The case queue per clinic: open a case, see the patient's state, apply or reject it
with a standard reply."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bookings.units import clinics_for, current_clinic
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record_many
from core.errors import DomainError
from core.staff import CARE_ROLES, AuthedRequest, role_required

from ..rules import GUARDIAN_SMS_AGE_LIMIT, age_on
from ..selectors import sms_status_for_staff
from . import services
from .forms import CaseDecisionForm
from .models import CaseStatus, EServiceCase
from .selectors import handled_cases, open_cases, reply_preview


@role_required(*CARE_ROLES)
def case_queue(request: AuthedRequest) -> HttpResponse:
    clinics = clinics_for(request.user)
    waiting, handled = list(open_cases(clinics)), list(handled_cases(clinics))
    access_log_record_many(
        actor=request.user,
        clinic=current_clinic(request),
        action=AccessLog.Action.CASE_LIST,
        patient_ids=[case.subject_id for case in waiting + handled],
    )
    today = timezone.localdate()
    return render(
        request,
        "consent/case_queue.html",
        {
            "open_cases": [
                (case, age_on(case.subject.birth_date, today) < GUARDIAN_SMS_AGE_LIMIT)
                for case in waiting
            ],
            "handled": handled,
        },
    )


def _case_for(request: AuthedRequest, case_id: int) -> EServiceCase:
    case = get_object_or_404(
        EServiceCase.objects.select_related(
            "received_at_clinic", "subject", "submitted_by", "clinic"
        ),
        pk=case_id,
    )
    if not clinics_for(request.user).filter(pk=case.received_at_clinic_id).exists():
        raise PermissionDenied(_("Ärendet kom in till en annan mottagning."))
    return case


@role_required(*CARE_ROLES)
def case_detail(request: AuthedRequest, case_id: int) -> HttpResponse:
    case = _case_for(request, case_id)
    access_log_record_many(  # the subject, and the guardian who submitted it
        actor=request.user,
        clinic=current_clinic(request),
        action=AccessLog.Action.CASE_VIEW,
        patient_ids=[case.subject_id, case.submitted_by_id],
    )
    reject_form = CaseDecisionForm(outcome=CaseStatus.REJECTED, action=case.action)
    return render(
        request,
        "consent/case_detail.html",
        {
            "case": case,
            **sms_status_for_staff(case.subject, clinic=case.clinic),
            "preview": reply_preview(case) if case.status == CaseStatus.RECEIVED else None,
            "apply_form": CaseDecisionForm(outcome=CaseStatus.RESOLVED, action=case.action),
            "reject_form": reject_form,
            # Each rejection's text, shown as the reply is before it is sent.
            "rejections": {
                str(r.pk): r.text
                for r in reject_form.fields["reply"].queryset  # type: ignore[attr-defined]
            },
            "is_child": age_on(case.subject.birth_date, timezone.localdate())
            < GUARDIAN_SMS_AGE_LIMIT,
        },
    )


@require_POST
@role_required(*CARE_ROLES)
def case_decide(request: AuthedRequest, case_id: int, outcome: str) -> HttpResponse:
    case = _case_for(request, case_id)
    status = CaseStatus.RESOLVED if outcome == "apply" else CaseStatus.REJECTED
    form = CaseDecisionForm(request.POST, outcome=status, action=case.action)
    if not form.is_valid():
        messages.error(request, _("Välj ett standardsvar (och högst 500 tecken anteckning)."))
        return redirect("case", case_id=case.pk)
    try:
        if status == CaseStatus.RESOLVED:
            services.case_apply(case=case, actor=request.user, note=form.cleaned_data["note"])
            messages.success(request, _("Ärendet är utfört och svaret skickat till e-tjänsten."))
        else:
            services.case_reject(case=case, actor=request.user, reply=form.cleaned_data["reply"])
            messages.success(request, _("Ärendet är avslaget och svaret skickat till e-tjänsten."))
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("case", case_id=case.pk)
    # On to the next case waiting in the user's queues, oldest first.
    following = open_cases(clinics_for(request.user)).exclude(pk=case.pk).first()
    if following is not None:
        return redirect("case", case_id=following.pk)
    return redirect("cases")
