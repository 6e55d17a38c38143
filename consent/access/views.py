"""The auditors' page: the access log and the consent events, searched alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from core.exports import csv_response
from core.staff import AUDIT_ROLES, AuthedRequest, role_required

from .forms import AuditFilterForm
from .selectors import access_log_search


@role_required(*AUDIT_ROLES)
def audit(request: AuthedRequest) -> HttpResponseBase:
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    log, events = access_log_search(**filters)
    if request.GET.get("format") == "csv":
        return _csv(log)
    return render(
        request,
        "consent/audit.html",
        {
            "form": form,
            "log": Paginator(log, 50).get_page(request.GET.get("sida")),
            "events": Paginator(events, 50).get_page(request.GET.get("hsida")),
        },
    )


def _csv(log: Any) -> StreamingHttpResponse:
    """The filtered access log as CSV, streamed."""

    def rows() -> Iterator[list[str]]:
        yield ["tid", "aktor", "typ", "mottagning", "patient", "atgard"]
        for a in log.iterator(chunk_size=1000):
            yield [
                timezone.localtime(a.created_at).isoformat(timespec="seconds"),
                a.actor_name,
                a.actor_kind,
                a.clinic.hsa_id if a.clinic else "",
                a.patient.personal_id if a.patient else a.searched_for,
                a.action,
            ]

    return csv_response(rows(), "access-log.csv")
