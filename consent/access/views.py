"""The auditors' page: the access log and the consent events, searched alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from bookings.units import current_clinic
from core.exports import csv_response
from core.params import page_number
from core.staff import AUDIT_ROLES, AuthedRequest, role_required

from .forms import AuditFilterForm
from .models import AccessLog
from .selectors import access_log_search, unusual_readers
from .services import access_log_record_many


@role_required(*AUDIT_ROLES)
def audit(request: AuthedRequest) -> HttpResponseBase:
    """The log and the events name patients: each one shown (or downloaded) is logged as
    read by the auditor, like any other list (rules 3.10)."""
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    log, events = access_log_search(**filters)
    if request.GET.get("format") == "csv":
        return _csv(request, log)
    log_page = Paginator(log, 50).get_page(page_number(request.GET.get("sida")) or 1)
    events_page = Paginator(events, 50).get_page(page_number(request.GET.get("hsida")) or 1)
    access_log_record_many(
        actor=request.user,
        clinic=current_clinic(request),
        action=AccessLog.Action.AUDIT_LIST,
        patient_ids=[a.patient_id for a in log_page if a.patient_id is not None]
        + [e.patient_id for e in events_page],
    )
    unusual = unusual_readers(
        on=timezone.localdate(), threshold=settings.STAFF_READ_ALERT_THRESHOLD
    )
    return render(
        request,
        "consent/audit.html",
        {"form": form, "log": log_page, "events": events_page, "unusual": unusual},
    )


def _csv(request: AuthedRequest, log: Any) -> StreamingHttpResponse:
    """The filtered access log as CSV, streamed; its patients logged a chunk at a time."""
    here = current_clinic(request)

    def logged(entries: Iterator[AccessLog]) -> Iterator[AccessLog]:
        chunk: list[AccessLog] = []
        for entry in entries:
            chunk.append(entry)
            if len(chunk) == 1000:
                yield from _read(chunk)
                chunk = []
        yield from _read(chunk)

    def _read(chunk: list[AccessLog]) -> list[AccessLog]:
        access_log_record_many(
            actor=request.user,
            clinic=here,
            action=AccessLog.Action.AUDIT_DOWNLOAD,
            patient_ids=[a.patient_id for a in chunk if a.patient_id is not None],
        )
        return chunk

    def rows() -> Iterator[list[str]]:
        yield ["tid", "aktor", "typ", "mottagning", "patient", "atgard"]
        for a in logged(log.iterator(chunk_size=1000)):
            yield [
                timezone.localtime(a.created_at).isoformat(timespec="seconds"),
                a.actor_name,
                a.actor_kind,
                a.clinic.hsa_id if a.clinic else "",
                a.patient.personal_id if a.patient else a.searched_for,
                a.action,
            ]

    return csv_response(rows(), "access-log.csv")
