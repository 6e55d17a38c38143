"""The auditors' page: the access log and the consent events, searched alike."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from bookings.staff import AUDIT_ROLES, AuthedRequest, role_required

from .forms import AuditFilterForm
from .selectors import access_log_search


@role_required(*AUDIT_ROLES)
def audit(request: AuthedRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    log, events = access_log_search(**filters)
    return render(
        request,
        "consent/audit.html",
        {
            "form": form,
            "log": Paginator(log, 50).get_page(request.GET.get("sida")),
            "events": Paginator(events, 50).get_page(request.GET.get("hsida")),
        },
    )
