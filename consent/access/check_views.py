"""Systematic checks of the access log (HSLF-FS 2016:40 chapter 4): the auditor draws a
random sample of a unit's reads for a period, and reviews each read drawn — in order, or
a deviation with a note. The list shows the checks done and open per unit and month."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bookings.models import Clinic
from bookings.units import current_clinic
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record_many
from core.errors import DomainError
from core.params import object_id
from core.staff import AUDIT_ROLES, AuthedRequest, role_required

from .forms import CheckDrawForm, ReviewForm
from .models import AccessCheck, AccessCheckItem
from .rows import local, what, who
from .selectors import access_check_items, access_checks
from .services import access_check_draw, access_check_review


def _last_month() -> dict[str, str]:
    first_of_this = timezone.localdate().replace(day=1)
    last_of_previous = first_of_this - timedelta(days=1)
    return {
        "date_from": last_of_previous.replace(day=1).isoformat(),
        "date_to": last_of_previous.isoformat(),
        "size": "20",
    }


@role_required(*AUDIT_ROLES)
def checks(request: AuthedRequest) -> HttpResponseBase:
    form = CheckDrawForm(request.POST or None, initial=_last_month())
    if request.method == "POST" and form.is_valid():
        try:
            check = access_check_draw(actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field, error.message)
        else:
            return redirect("audit-check", check_id=check.pk)
    wanted = object_id(request.GET.get("enhet"))
    shown = Clinic.objects.filter(pk=wanted).first() if wanted else None
    return render(
        request,
        "consent/checks.html",
        {
            "form": form,
            "checks": access_checks(clinic=shown),
            "clinics": Clinic.objects.order_by("name"),
            "shown": shown,
        },
    )


@role_required(*AUDIT_ROLES)
def check_detail(request: AuthedRequest, check_id: int) -> HttpResponse:
    """The reads drawn name patients: showing them is logged as the auditor's read."""
    check = get_object_or_404(AccessCheck.objects.select_related("clinic", "drawn_by"), pk=check_id)
    items = access_check_items(check)
    access_log_record_many(
        actor=request.user,
        clinic=current_clinic(request),
        action=AccessLog.Action.AUDIT_CHECK,
        patient_ids=[i.entry.patient_id for i in items if i.entry.patient_id is not None],
    )
    rows = [
        {
            "item": item,
            "at": local(item.entry.created_at),
            "who": who(item.entry),
            "what": what(item.entry),
            "latest": next(iter(item.reviews.all()), None),
        }
        for item in items
    ]
    return render(
        request,
        "consent/check_detail.html",
        {
            "check": check,
            "rows": rows,
            "reviewed": sum(1 for r in rows if r["latest"]),
        },
    )


@require_POST
@role_required(*AUDIT_ROLES)
def check_review(request: AuthedRequest, check_id: int, item_id: int) -> HttpResponse:
    item = get_object_or_404(AccessCheckItem, pk=item_id, check_run_id=check_id)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Välj om läsningen var i sin ordning eller en avvikelse."))
    else:
        try:
            access_check_review(actor=request.user, item=item, **form.cleaned_data)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Läsning %(n)s är granskad.") % {"n": item.position})
    return redirect(reverse("audit-check", args=[check_id]) + f"#item-{item.position}")
