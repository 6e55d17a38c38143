"""The auditors' page: the access log and the consent events, searched alike."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from bookings.exports import safe_row
from bookings.staff import AUDIT_ROLES, AuthedRequest, role_required

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


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(log: Any) -> StreamingHttpResponse:
    """The filtered access log as `;`-separated UTF-8, streamed, every cell formula-safe."""
    writer = csv.writer(_Echo(), delimiter=";")

    def rows() -> Iterator[str]:
        yield writer.writerow(["tid", "aktor", "typ", "mottagning", "patient", "atgard"])
        for a in log.iterator(chunk_size=1000):
            yield writer.writerow(
                safe_row(
                    [
                        timezone.localtime(a.created_at).isoformat(timespec="seconds"),
                        a.actor_name,
                        a.actor_kind,
                        a.clinic.hsa_id if a.clinic else "",
                        a.patient.personal_id if a.patient else a.searched_for,
                        a.action,
                    ]
                )
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="access-log.csv"'
    return response
