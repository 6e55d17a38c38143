"""Reads of payments at self check-in (rules 3.5c) for staff and the booking system: the
desk row's label, the cash office's day per clinic with its totals, and a contact's
payment as the JSON and FHIR appointment carry it. The payer's number is personal data:
masked wherever it is shown."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from bookings.models import Appointment, Clinic

from .models import PAYMENT_OPEN, Payment, PaymentStatus, RefundStatus


def mask_number(number: str) -> str:
    """The payer's Swish number with all but its last two digits hidden: 46701234567 →
    "••••••••67". Empty stays empty (erased after RETENTION_DAYS)."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return "•" * (len(digits) - 2) + digits[-2:] if len(digits) > 2 else ""


def _latest_by_appointment(appointment_ids: list[int]) -> dict[int, Payment]:
    latest: dict[int, Payment] = {}
    for payment in (
        Payment.objects.filter(check_in__message__appointment_id__in=appointment_ids)
        .select_related("check_in__message")
        .order_by("created_at", "id")
    ):
        appointment_id = payment.check_in.message.appointment_id
        current = latest.get(appointment_id)
        # A paid one stands for the contact even when a later one ended unpaid.
        if current is None or current.status != PaymentStatus.PAID:
            latest[appointment_id] = payment
    return latest


def desk_payment_labels(appointments: list[Appointment]) -> dict[int, str]:
    """The desk row's payment: "Betald med Swish 14:02", "Betalning pågår", "Ej betald",
    "Ingen avgift" (or the refund); nothing when the fee is unknown and nothing was
    started (paid at the desk as ever). One query, and none for a day without fees or
    self check-ins (a payment is only ever made for a contact that had a fee)."""
    fees = {a.pk: a.patient_fee for a in appointments}
    asked = [a.pk for a in appointments if a.patient_fee is not None or a.arrived_via]
    latest = _latest_by_appointment(asked) if asked else {}
    labels: dict[int, str] = {}
    for appointment_id, fee in fees.items():
        payment = latest.get(appointment_id)
        if payment is not None and payment.status == PaymentStatus.PAID:
            paid_at = timezone.localtime(payment.paid_at or payment.updated_at)
            label = f"Betald med Swish {paid_at:%H:%M}"
            if payment.refund_status == RefundStatus.REFUNDED:
                label += ", återbetald"
            elif payment.refund_status == RefundStatus.FAILED:
                label += ", återbetalning misslyckades"
            elif payment.refund_status:
                label += ", återbetalas"
            labels[appointment_id] = label
        elif payment is not None and payment.status in PAYMENT_OPEN:
            labels[appointment_id] = "Betalning pågår"
        elif fee is not None and fee == 0:
            labels[appointment_id] = "Ingen avgift"
        elif fee is not None or payment is not None:
            labels[appointment_id] = "Ej betald"
    return labels


def appointment_payment(appointment: Appointment) -> dict[str, Any] | None:
    """The contact's payment for the booking system (contract 1 and 2), or None. No query
    for a contact without a fee that never arrived (as the desk: a payment is only made
    for a contact with a fee, at its check-in): the booking system's every PUT answers
    with its contact."""
    if appointment.patient_fee is None and not appointment.arrived_via:
        return None
    payment = _latest_by_appointment([appointment.pk]).get(appointment.pk)
    if payment is None:
        return None
    return {
        "method": payment.method,
        "status": payment.status,
        "reason": payment.reason,
        "amount": f"{payment.amount:.2f}",
        "paid_at": payment.paid_at.isoformat() if payment.paid_at else None,
        "reference": payment.payment_reference,
        "refund": payment.refund_status,
        "refunded_at": payment.refunded_at.isoformat() if payment.refunded_at else None,
    }


@dataclass(frozen=True)
class DayTotals:
    paid: Decimal
    paid_count: int
    refunded: Decimal
    refunded_count: int
    open_count: int

    @property
    def net(self) -> Decimal:
        return self.paid - self.refunded


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
    return start, start + timedelta(days=1)


def payments_of_day(clinic: Clinic, day: date) -> list[Payment]:
    """The clinic's payment requests made, paid or refunded on a local day, oldest first."""
    start, end = _day_bounds(day)
    return list(
        Payment.objects.filter(clinic=clinic)
        .filter(
            Q(created_at__gte=start, created_at__lt=end)
            | Q(paid_at__gte=start, paid_at__lt=end)
            | Q(refunded_at__gte=start, refunded_at__lt=end)
        )
        .select_related("check_in__message__appointment__patient")
        .order_by("created_at", "id")
    )


def day_totals(payments: list[Payment], day: date) -> DayTotals:
    """What came in with Swish on the day, and what went back (the refunds made that
    day), for the cash office's reconciliation with the bank."""
    start, end = _day_bounds(day)
    sums: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, int] = defaultdict(int)
    for p in payments:
        if p.status == PaymentStatus.PAID and p.paid_at and start <= p.paid_at < end:
            sums["paid"] += p.amount
            counts["paid"] += 1
        if (
            p.refund_status == RefundStatus.REFUNDED
            and p.refunded_at
            and start <= p.refunded_at < end
        ):
            sums["refunded"] += p.amount
            counts["refunded"] += 1
        if p.status in PAYMENT_OPEN:
            counts["open"] += 1
    return DayTotals(
        paid=sums["paid"],
        paid_count=counts["paid"],
        refunded=sums["refunded"],
        refunded_count=counts["refunded"],
        open_count=counts["open"],
    )
