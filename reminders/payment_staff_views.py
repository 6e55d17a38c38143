"""The cash office's daily list of Swish payments per clinic (rules 3.5c), on the page and
as a Swedish CSV or XLSX file. No patient is named; the payer's number is masked; every
patient whose contact a row is about is in the access log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from django.http import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from bookings.units import current_clinic
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record_many
from core.exports import csv_response, xlsx_response
from core.staff import CARE_ROLES, AuthedRequest, role_required

from .models import Payment
from .payment_list import day_totals, mask_number, payments_of_day

COLUMNS = (
    ("Skapad", 17),
    ("Besök (bokningens id)", 22),
    ("Besökstid", 17),
    ("Belopp (kr)", 12),
    ("Status", 22),
    ("Orsak", 14),
    ("Betald", 17),
    ("Swish-referens", 34),
    ("Betalare", 14),
    ("Återbetalning", 24),
    ("Återbetald", 17),
)


def _when(moment: Any) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else ""


def payment_row(payment: Payment) -> tuple[Any, ...]:
    appointment = payment.check_in.message.appointment
    return (
        _when(payment.created_at),
        appointment.external_id,
        _when(appointment.starts_at),
        payment.amount,
        payment.get_status_display(),
        payment.reason,
        _when(payment.paid_at),
        payment.payment_reference,
        mask_number(payment.payer_alias),
        payment.get_refund_status_display() if payment.refund_status else "",
        _when(payment.refunded_at),
    )


def _day(request: AuthedRequest) -> date:
    """The day asked for (YYYY-MM-DD, this century), else today."""
    try:
        day = date.fromisoformat(request.GET.get("dag", ""))
    except ValueError:
        return timezone.localdate()
    return day if 2000 <= day.year <= 2099 else timezone.localdate()


@role_required(*CARE_ROLES)
def payments_day(request: AuthedRequest) -> HttpResponseBase:
    clinic = current_clinic(request)
    day = _day(request)
    payments = payments_of_day(clinic, day) if clinic else []
    wanted = request.GET.get("format", "")
    action = AccessLog.Action.REPORT_DOWNLOAD if wanted else AccessLog.Action.REPORT_LIST
    access_log_record_many(
        actor=request.user,
        clinic=clinic,
        action=action,
        patient_ids=sorted({p.check_in.message.appointment.patient_id for p in payments}),
    )
    totals = day_totals(payments, day)
    if clinic is not None and wanted in ("csv", "xlsx"):
        name = f"swish-{clinic.hsa_id}-{day:%Y-%m-%d}.{wanted}"

        def rows() -> Iterator[tuple[Any, ...]]:
            yield from (payment_row(p) for p in payments)
            yield ()
            yield ("Inbetalt", "", "", totals.paid, f"{totals.paid_count} betalningar")
            yield (
                "Återbetalt",
                "",
                "",
                totals.refunded,
                f"{totals.refunded_count} återbetalningar",
            )
            yield ("Netto", "", "", totals.net)

        if wanted == "csv":
            return csv_response([tuple(n for n, _ in COLUMNS), *rows()], name)
        return xlsx_response(
            title=f"Swish {day:%Y-%m-%d}", header=COLUMNS, rows=rows(), filename=name
        )
    return render(
        request,
        "reminders/payments.html",
        {
            "clinic": clinic,
            "day": day,
            "rows": [payment_row(p) for p in payments],
            "columns": [n for n, _ in COLUMNS],
            "totals": totals,
        },
    )
