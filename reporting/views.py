"""Reports for clinic managers and regional admins (rules 3.8; contract 5): HTML, CSV and XLSX.
Managers see their clinics only; protected-identity patients are counted, never shown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateformat import format as date_format

from bookings.identity import parse_hsa_id
from bookings.models import Clinic
from bookings.units import clinics_for, current_clinic
from consent.reasons import reason_label
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record_many
from core.errors import DomainError
from core.exports import csv_response, xlsx_response
from core.params import page_number
from core.staff import REPORT_ROLES, role_required
from reminders.models import Status

from . import downloads, kept, left_out, selectors


def month_name(month: Any) -> str:
    """A report's month as people say it: "juni 2026" (the language is Swedish); the
    running month says it is not over ("december 2026 (pågår)")."""
    today = timezone.localdate()
    running = (month.year, month.month) == (today.year, today.month)
    return date_format(month, "F Y") + (" (pågår)" if running else "")


# The dashboard's choice of every clinic of the user's ("Alla mina").
ALL_MINE = "alla"

# A share of fewer contacts than this is not plotted (a month of 3 contacts would draw 0 %
# or 33 %): the table shows it greyed with its count.
MIN_CONTACTS = 20


def _plotted(rate: float | None, contacts: int) -> float | None:
    return rate if contacts >= MIN_CONTACTS else None


def _view(request: HttpRequest) -> str:
    """Which of the two views of a clinic's list: "blockerade" (had blocked this clinic,
    the default) or "bokade" (left out for any block, booked here soon)."""
    view = request.GET.get("vy", "blockerade")
    return view if view in left_out.VIEWS else "blockerade"


def _clinic_for(request: HttpRequest, hsa_id: str) -> Clinic:
    try:
        clinic = Clinic.objects.filter(hsa_id=parse_hsa_id(hsa_id)).first()
    except DomainError:
        raise Http404 from None
    if clinic is None:
        raise Http404
    if not clinics_for(request.user).filter(pk=clinic.pk).exists():
        raise PermissionDenied("Rapporten gäller en mottagning du inte arbetar vid.")
    return clinic


@role_required(*REPORT_ROLES)
def exclusions(request: HttpRequest) -> HttpResponse:
    clinics = clinics_for(request.user)
    rows = left_out.exclusion_table(clinics)
    recent = selectors.recent_no_shows(clinics)
    return render(
        request,
        "reporting/exclusions.html",
        {
            "rows": [(r, recent.get(r.clinic.pk)) for r in rows],
            "total": sum(r.excluded for r in rows),
        },
    )


@role_required(*REPORT_ROLES)
def exclusions_csv(request: HttpRequest) -> HttpResponseBase:
    rows = left_out.exclusion_table(clinics_for(request.user))
    return downloads.table_response(downloads.exclusions_table(rows), "csv")


@role_required(*REPORT_ROLES)
def exclusions_xlsx(request: HttpRequest) -> HttpResponseBase:
    rows = left_out.exclusion_table(clinics_for(request.user))
    return downloads.table_response(downloads.exclusions_table(rows), "xlsx")


def _logged(
    request: HttpRequest, patients: Iterator[left_out.ExcludedPatient]
) -> Iterator[left_out.ExcludedPatient]:
    """The residents of a download as they are written, each logged as read (in bulk, a
    chunk at a time: the download streams)."""
    here = current_clinic(request)
    chunk: list[int] = []
    for patient in patients:
        chunk.append(patient.patient_id)
        if len(chunk) == 500:
            _log_download(request, here, chunk)
            chunk = []
        yield patient
    _log_download(request, here, chunk)


def _log_download(request: HttpRequest, here: Clinic | None, ids: list[int]) -> None:
    if ids:
        access_log_record_many(
            actor=request.user,
            clinic=here,
            action=AccessLog.Action.REPORT_DOWNLOAD,
            patient_ids=ids,
        )


def _patient_rows(patients: Iterator[left_out.ExcludedPatient]) -> Iterator[tuple[Any, ...]]:
    for p in patients:
        next_contact = (
            timezone.localtime(p.next_contact).strftime("%Y-%m-%d %H:%M") if p.next_contact else ""
        )
        yield (
            p.personal_id,
            p.name,
            ", ".join(p.blocked_clinics),
            next_contact,
            "ja" if p.activated_since else "nej",
        )


@role_required(*REPORT_ROLES)
def exclusions_clinic(request: HttpRequest, hsa_id: str) -> HttpResponse:
    """On screen a page at a time; the downloads hold the whole list."""
    clinic = _clinic_for(request, hsa_id)
    page = page_number(request.GET.get("sida")) or 1
    view = _view(request)
    protected, total, patients = left_out.excluded_patients_page(
        clinic, page=page, size=PAGE_SIZE, view=view
    )
    access_log_record_many(
        actor=request.user,
        clinic=current_clinic(request),
        action=AccessLog.Action.REPORT_LIST,
        patient_ids=[p.patient_id for p in patients],
    )
    pages = max(1, -(-total // PAGE_SIZE))
    return render(
        request,
        "reporting/exclusions_clinic.html",
        {
            "clinic": clinic,
            "view": view,
            "weeks": left_out.UPCOMING_WEEKS,
            "protected": protected,
            "patients": patients,
            "total": total,
            "page": page,
            "pages": pages,
            "previous": page - 1 if page > 1 else None,
            "next": page + 1 if page < pages else None,
        },
    )


PAGE_SIZE = 250


@role_required(*REPORT_ROLES)
def exclusions_clinic_csv(request: HttpRequest, hsa_id: str) -> StreamingHttpResponse:
    clinic = _clinic_for(request, hsa_id)
    view = _view(request)
    protected, patients = left_out.excluded_patients(clinic, view)

    def rows() -> Iterator[tuple[Any, ...]]:
        yield tuple(name for name, _width in PATIENT_COLUMNS)
        yield from _patient_rows(_logged(request, patients))
        if protected:
            yield (f"Dessutom {protected} med skyddad identitet (visas inte)", "", "", "", "")

    return csv_response(rows(), f"ej-flyttade-{clinic.hsa_id}-{view}.csv")


# The XLSX columns: Swedish names and widths (characters) to read them by.
PATIENT_COLUMNS = (
    ("Personnummer", 15),
    ("Namn", 28),
    ("Blockerade mottagningar", 45),
    ("Nästa bokade kontakt här", 22),
    ("Aktiverad sedan", 15),
)


@role_required(*REPORT_ROLES)
def exclusions_clinic_xlsx(request: HttpRequest, hsa_id: str) -> FileResponse:
    clinic = _clinic_for(request, hsa_id)
    view = _view(request)
    protected, patients = left_out.excluded_patients(clinic, view)

    def rows() -> Iterator[tuple[Any, ...]]:
        yield from _patient_rows(_logged(request, patients))
        if protected:
            yield (f"Dessutom {protected} med skyddad identitet (visas inte)",)

    return xlsx_response(
        title="Ej migrerade",
        header=PATIENT_COLUMNS,
        rows=rows(),
        filename=f"ej-flyttade-{clinic.hsa_id}-{view}.xlsx",
    )


@role_required(*REPORT_ROLES)
def caught(request: HttpRequest) -> HttpResponseBase:
    rows = left_out.caught_since(clinics_for(request.user))
    if request.GET.get("format") in ("csv", "xlsx"):
        return downloads.table_response(downloads.caught_table(rows), request.GET["format"])
    weeks = sorted({r.week for r in rows})
    chart = {  # every clinic's week summed: the line over time (the table has each clinic)
        "weeks": [f"v. {w.isocalendar().week} {w.isocalendar().year}" for w in weeks],
        "asked": [sum(r.asked for r in rows if r.week == w) for w in weeks],
        "activated": [sum(r.activated for r in rows if r.week == w) for w in weeks],
    }
    return render(request, "reporting/caught.html", {"rows": rows, "chart": chart})


@role_required(*REPORT_ROLES)
def dashboard(request: HttpRequest) -> HttpResponseBase:
    """No-shows with and without reminders against the 2023 baseline, coverage, the SMS
    question at arrival, and delivery: charts, the numbers as tables, CSV downloads."""
    clinics = clinics_for(request.user)
    chosen = request.GET.get("clinic")
    if chosen is None:
        # One choice: the page opens on the unit the header names, "Alla mina" on request.
        here = current_clinic(request)
        mine = here is not None and clinics.filter(pk=here.pk).exists()
        chosen = here.hsa_id if mine and here is not None else ALL_MINE
    if chosen and chosen != ALL_MINE:
        try:
            clinics = clinics.filter(hsa_id=parse_hsa_id(chosen))
        except DomainError:
            raise Http404 from None
    months = selectors.monthly_outcomes(clinics)
    deliveries = selectors.delivery(clinics)
    baseline = selectors.baseline_rate(clinics)
    export, _dot, fmt = (request.GET.get("format") or "").partition(".")
    scope = chosen if chosen and chosen != ALL_MINE else "alla-mina"
    if export == "outcomes" and fmt in ("csv", "xlsx"):
        table = downloads.outcomes_table(months, baseline, scope)
        return downloads.table_response(table, fmt)
    if export == "delivery" and fmt in ("csv", "xlsx"):
        return downloads.table_response(downloads.delivery_table(deliveries, scope), fmt)
    statuses = sorted({d.status for d in deliveries})
    delivery_months = sorted({d.month for d in deliveries})
    per_status = {
        s: [
            sum(d.messages for d in deliveries if d.status == s and d.month == m)
            for m in delivery_months
        ]
        for s in statuses
    }
    suppressed: dict[str, int] = {}
    for d in deliveries:
        if d.status == "suppressed":
            label = reason_label(d.reason)
            suppressed[label] = suppressed.get(label, 0) + d.messages
    recent = selectors.recent_no_shows(clinics)
    by_id = {c.pk: c for c in clinics}
    chart = {
        "months": [month_name(m.month) for m in months],
        "reminded": [_plotted(m.no_show_rate_reminded, m.reminded_contacts) for m in months],
        "not_reminded": [
            _plotted(m.no_show_rate_not_reminded, m.not_reminded_contacts) for m in months
        ],
        "baseline": [baseline for _ in months],
        "coverage": [_plotted(m.coverage, m.booked) for m in months],
        "compliance": [_plotted(m.question_compliance, m.desk_arrivals) for m in months],
        "delivery_months": [month_name(m) for m in delivery_months],
        "delivery": per_status,
        "status_labels": {code: str(label) for code, label in Status.choices},
        # "Alla mina": each clinic's last four weeks against its 2023 (table-recent too).
        "clinic_names": [by_id[pk].name for pk in sorted(recent, key=lambda i: by_id[i].name)],
        "clinic_rates": [recent[pk].rate for pk in sorted(recent, key=lambda i: by_id[i].name)],
        "clinic_baselines": [
            recent[pk].baseline for pk in sorted(recent, key=lambda i: by_id[i].name)
        ],
    }
    return render(
        request,
        "reporting/dashboard.html",
        {
            "months": [(m, month_name(m.month)) for m in months],
            "min_contacts": MIN_CONTACTS,
            # The delivery chart as a table: a row per month, a column per status.
            "delivery_statuses": [str(dict(Status.choices).get(s, s)) for s in statuses],
            "delivery_rows": [
                (month_name(m), [per_status[s][i] for s in statuses])
                for i, m in enumerate(delivery_months)
            ],
            "baseline": baseline,
            "chart": chart,
            "suppressed": suppressed,
            "segments": sum(d.segments for d in deliveries),
            "sent": sum(d.messages for d in deliveries if d.status in ("sent", "delivered")),
            "clinics": clinics_for(request.user),
            "chosen": chosen or ALL_MINE,
            "showing": ", ".join(c.name for c in clinics) if chosen != ALL_MINE else "",
            "recent": sorted(
                ((by_id[pk], r) for pk, r in recent.items()),
                key=lambda pair: (not pair[1].above_baseline, pair[0].name),
            ),
            "flagged": sorted(
                ((by_id[pk], r) for pk, r in recent.items() if r.above_baseline),
                key=lambda pair: pair[0].name,
            ),
            "failed_sms": selectors.failed_sms_waiting(clinics),
            # Counts older than the cache keeps them (the refresh task has not run): said.
            "as_of": kept.kept_as_of(
                [
                    (selectors.MONTHLY, selectors.monthly_suffix(), selectors.monthly_earlier()),
                    ("report:delivery", "", None),
                    ("report:recent", "", None),
                    ("report:failed", "", None),
                ],
                by_id,
            ),
        },
    )
