"""The auditors' page: the access log and the consent events, searched alike, with the
alerts first; and the log's downloads (CSV and XLSX). The auditors' own reads are kept
apart, a read repeated on one day is one row with its count, codes read as Swedish labels
and every HSA-id and username stands beside a name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from bookings.units import current_clinic
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record_many
from core.exports import csv_response, xlsx_response
from core.params import page_number
from core.staff import AUDIT_ROLES, AuthedRequest, role_required

from .alerts import audit_alerts
from .forms import AuditFilterForm
from .rows import local, spreadsheet_time, what, who
from .selectors import access_log_grouped, access_log_rows, access_log_search, unusual_readers

HEADER = [
    (_lazy("Senast"), 20.0),
    (_lazy("Första"), 20.0),
    (_lazy("Antal gånger"), 12.0),
    (_lazy("Namn"), 26.0),
    (_lazy("Användarnamn eller system"), 22.0),
    (_lazy("HSA-id (person)"), 26.0),
    (_lazy("Roll"), 22.0),
    (_lazy("Enhet"), 28.0),
    (_lazy("Enhetens HSA-id"), 26.0),
    (_lazy("Personnummer"), 16.0),
    (_lazy("Vad"), 36.0),
]
ALERT_DAYS = 30  # the alerts on the audit page look this far back
PAGE = 50
NARROWING = ("patient", "user", "clinic", "date_from", "date_to")


@role_required(*AUDIT_ROLES)
def audit(request: AuthedRequest) -> HttpResponseBase:
    """The log and the events name patients: each one shown (or downloaded) is logged as
    read by the auditor, like any other list (rules 3.10)."""
    data = request.GET.copy()
    today = timezone.localdate()
    if not any(data.get(name) for name in NARROWING):
        # The whole log grouped is seconds of work: without a filter, today's reads (the
        # form shows the dates, and the auditor widens them).
        data["date_from"] = data["date_to"] = today.isoformat()
    form = AuditFilterForm(data)
    filters = form.cleaned_data if form.is_valid() else {}
    # Nothing written after the page (or the download) began is in it: not its own read.
    log, events = access_log_search(**filters)
    newest = AccessLog.objects.order_by("-id").values_list("id", flat=True).first() or 0
    log = log.filter(id__lte=newest)
    groups = access_log_grouped(log)
    if request.GET.get("format") in ("csv", "xlsx"):
        return _download(request, groups, request.GET["format"])
    # No count of the groups (it costs as much as the page): a page and whether there is
    # a next one.
    number = page_number(request.GET.get("sida")) or 1
    found = list(groups[(number - 1) * PAGE : number * PAGE + 1])
    log_page = {"number": number, "has_previous": number > 1, "has_next": len(found) > PAGE}
    rows = access_log_rows(found[:PAGE])
    events_page = Paginator(events, 50).get_page(page_number(request.GET.get("hsida")) or 1)
    access_log_record_many(
        actor=request.user,
        clinic=current_clinic(request),
        action=AccessLog.Action.AUDIT_LIST,
        patient_ids=[a.patient_id for a in rows if a.patient_id is not None]
        + [e.patient_id for e in events_page],
    )
    alerts = audit_alerts(today - timedelta(days=ALERT_DAYS - 1), today)
    return render(
        request,
        "consent/audit.html",
        {
            "form": form,
            "log": log_page,
            "rows": [(row, who(row), what(row)) for row in rows],
            "events": events_page,
            "alerts": [(a, a.rows.count()) for a in alerts],
            "alert_days": ALERT_DAYS,
            "unusual": unusual_readers(on=today, threshold=settings.STAFF_READ_ALERT_THRESHOLD),
            "query": _query_without(request, "sida", "hsida", "format"),
        },
    )


def _query_without(request: AuthedRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _cells(groups: Iterable[dict[str, Any]], *, times_as_text: bool) -> Iterator[list[Any]]:
    for row in access_log_rows(list(groups)):
        actor = who(row)
        first: Any = row.first_at  # type: ignore[attr-defined]
        yield [
            spreadsheet_time(row.created_at) if times_as_text else local(row.created_at),
            spreadsheet_time(first) if times_as_text else local(first),
            row.times,  # type: ignore[attr-defined]
            actor.name,
            actor.username or row.actor_name,
            actor.hsa_id,
            actor.roles,
            row.clinic.name if row.clinic else "",
            row.clinic.hsa_id if row.clinic else "",
            row.patient.personal_id if row.patient else row.searched_for,
            what(row),
        ]


def _download(request: AuthedRequest, groups: Any, kind: str) -> HttpResponseBase:
    """The filtered log, grouped as on the page, a thousand groups at a time, each
    thousand's patients logged as downloaded by the auditor. The CSV streams (its first
    bytes leave at once and the browser shows the download growing)."""
    here = current_clinic(request)

    def chunks() -> Iterator[list[dict[str, Any]]]:
        chunk: list[dict[str, Any]] = []
        for group in groups.iterator(chunk_size=1000):
            chunk.append(group)
            if len(chunk) == 1000:
                yield _logged(chunk)
                chunk = []
        yield _logged(chunk)

    logged: set[int] = set()  # a patient in many rows is logged once per download

    def _logged(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh = [g["patient_id"] for g in chunk if g["patient_id"] not in logged]
        fresh = [pk for pk in fresh if pk is not None]
        logged.update(fresh)
        access_log_record_many(
            actor=request.user,
            clinic=here,
            action=AccessLog.Action.AUDIT_DOWNLOAD,
            patient_ids=fresh,
        )
        return chunk

    def rows(times_as_text: bool) -> Iterator[list[Any]]:
        for chunk in chunks():
            yield from _cells(chunk, times_as_text=times_as_text)

    name = f"åtkomstlogg-{timezone.localdate().isoformat()}"
    if kind == "xlsx":
        return xlsx_response(
            title=_("Åtkomstlogg"),
            header=[(str(title), width) for title, width in HEADER],
            rows=rows(False),
            filename=f"{name}.xlsx",
        )
    response = csv_response(
        _with_header([str(title) for title, _width in HEADER], rows(True)), f"{name}.csv"
    )
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.csv") or ""
    return response


def _with_header(header: list[str], rows: Iterator[list[Any]]) -> Iterator[list[Any]]:
    yield header
    yield from rows
