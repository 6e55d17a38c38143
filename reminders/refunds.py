"""Refunds of payments at self check-in (rules 3.5c), and the tick that settles what is
still open.

A paid payment whose contact is cancelled, moved or whose arrival is taken back (or a
second payment of one check-in) is refunded through Swish's refund API, once: the refund
gets its own instruction id when it is decided (`refund_due`), a refund that was sent and
not answered is read back by that id before it is ever sent again, and only a refund Swish
never received is sent again (under the same id).

    (none) ──decided──▶ due ──201──▶ requested ──read back──▶ refunded | failed
                         │ ▲ no answer/5xx: the tick tries again (reading back first)
                         └─┴─ refused (4xx) ──▶ failed (the cash office refunds by hand)
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment, AppointmentStatus
from bookings.signals import AppointmentSnapshot

from .models import PAYMENT_OPEN, Payment, PaymentStatus, RefundStatus
from .swish import SwishRefused, SwishUnavailable, new_instruction_id, swish_client

REFUND_MESSAGE = "Återbetald patientavgift Region Halland"


def refund_decide(*, payment_id: int) -> bool:
    """Marks a paid payment for refund when it must be paid back (in the caller's
    transaction); sends it when that commits. True when it was marked now."""
    from .payments import refund_due_reason

    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("check_in__message__appointment")
        .get(pk=payment_id)
    )
    if payment.status != PaymentStatus.PAID or payment.refund_status != RefundStatus.NONE:
        return False
    reason = refund_due_reason(payment, payment.check_in.message.appointment)
    if not reason:
        return False
    payment.refund_status, payment.refund_reason = RefundStatus.DUE, reason
    payment.refund_id = new_instruction_id()
    payment.save(update_fields=["refund_status", "refund_reason", "refund_id", "updated_at"])
    transaction.on_commit(lambda: refund_send(payment_id=payment_id))
    return True


def payments_on_contact_change(
    *, appointment: Appointment, previous: AppointmentSnapshot | None
) -> None:
    """In the booking change's transaction: an arrival that is no longer this arrival
    (cancelled, moved, taken back) refunds what was paid and cancels what is open."""
    if previous is None or previous.status != AppointmentStatus.ARRIVED:
        return
    same = appointment.starts_at == previous.starts_at
    if same and appointment.status in (AppointmentStatus.ARRIVED, AppointmentStatus.COMPLETED):
        return
    payments = Payment.objects.filter(check_in__message__appointment=appointment)
    for payment_id in payments.filter(status=PaymentStatus.PAID).values_list("pk", flat=True):
        refund_decide(payment_id=payment_id)
    open_ids = list(payments.filter(status__in=PAYMENT_OPEN).values_list("pk", flat=True))
    if open_ids:
        transaction.on_commit(lambda: _cancel_open(open_ids))


def _cancel_open(ids: list[int]) -> None:
    """Cancels at Swish the requests of a contact that is no longer this arrival; one that
    was paid meanwhile is recorded paid, and so refunded."""
    from .payments import _apply

    for payment in Payment.objects.filter(pk__in=ids, status__in=PAYMENT_OPEN):
        if payment.status == PaymentStatus.STARTED and payment.requested_at is None:
            Payment.objects.filter(pk=payment.pk, requested_at__isnull=True).update(
                status=PaymentStatus.CANCELLED,
                reason="appointment_changed",
                ended_at=timezone.now(),
            )
            continue
        try:
            with swish_client() as swish:
                found = swish.payment_request_cancel(payment.instruction_id)
        except (SwishUnavailable, SwishRefused):
            continue  # the tick reads it back
        if found is not None:
            _apply(payment, found, now=timezone.now())


def refund_callback_url() -> str:
    base: str = settings.PUBLIC_BASE_URL
    return base.rstrip("/") + reverse("swish-refund-callback")


def refund_send(*, payment_id: int) -> str:
    """Sends a due refund (reading back first whether an earlier try reached Swish), or
    reads back a requested one. Its refund status afterwards."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.refund_status == RefundStatus.REQUESTED:
        return _refund_read_back(payment)
    if payment.refund_status != RefundStatus.DUE:
        return payment.refund_status
    now = timezone.now()
    try:
        with swish_client() as swish:
            if payment.refund_attempts and swish.refund_get(payment.refund_id) is not None:
                _refund_set(payment, RefundStatus.REQUESTED)
                return _refund_read_back(payment)
            Payment.objects.filter(pk=payment.pk).update(
                refund_attempts=payment.refund_attempts + 1, updated_at=now
            )
            swish.refund_create(
                payment.refund_id,
                {
                    "payerPaymentReference": f"R{payment.pk}",
                    "originalPaymentReference": payment.payment_reference,
                    "callbackUrl": refund_callback_url(),
                    "payerAlias": payment.payee_alias,
                    "amount": f"{payment.amount:.2f}",
                    "currency": "SEK",
                    "message": REFUND_MESSAGE,
                },
            )
    except SwishUnavailable:
        return RefundStatus.DUE  # the tick tries again
    except SwishRefused as refused:
        if refused.status == 409:  # Swish has a refund by this id already: read it back
            _refund_set(payment, RefundStatus.REQUESTED)
            return _refund_read_back(payment)
        _refund_set(payment, RefundStatus.FAILED, reason=refused.code)
        return RefundStatus.FAILED
    _refund_set(payment, RefundStatus.REQUESTED)
    return RefundStatus.REQUESTED


def _refund_set(payment: Payment, status: str, *, reason: str = "", at: Any = None) -> None:
    fields: dict[str, Any] = {"refund_status": status, "updated_at": timezone.now()}
    if reason:
        fields["refund_reason"] = f"{payment.refund_reason}: {reason}"[:64]
    if at is not None:
        fields["refunded_at"] = at
    Payment.objects.filter(pk=payment.pk).exclude(
        refund_status__in=(RefundStatus.REFUNDED, RefundStatus.FAILED)
    ).update(**fields)


def _refund_read_back(payment: Payment) -> str:
    try:
        with swish_client() as swish:
            found = swish.refund_get(payment.refund_id)
    except (SwishUnavailable, SwishRefused):
        return RefundStatus.REQUESTED
    status = str((found or {}).get("status", ""))
    if status == "PAID":
        _refund_set(payment, RefundStatus.REFUNDED, at=timezone.now())
    elif status == "ERROR":
        _refund_set(payment, RefundStatus.FAILED, reason=str(found and found.get("errorCode")))
    payment.refresh_from_db()
    return payment.refund_status


def payments_settle(*, now: datetime) -> Counter[str]:
    """The tick (every minute): reads back requests whose outcome nobody has asked for
    lately (a callback that never came), unanswered ones of the last day, and sends or
    reads back refunds."""
    from .payments import payment_refresh

    counts: Counter[str] = Counter()
    stale = now - timedelta(seconds=30)
    open_ = Payment.objects.filter(
        Q(status__in=PAYMENT_OPEN, created_at__lt=stale)
        & (Q(checked_at__isnull=True) | Q(checked_at__lt=stale))
    )
    unanswered = Payment.objects.filter(
        status=PaymentStatus.NO_ANSWER,
        created_at__gte=now - timedelta(days=1),
        checked_at__lt=now - timedelta(minutes=5),
    )
    for payment in [*open_[:200], *unanswered[:200]]:
        counts[payment_refresh(payment=payment, force=True).status] += 1
    refunds = Payment.objects.filter(refund_status__in=(RefundStatus.DUE, RefundStatus.REQUESTED))
    for payment_id in refunds.values_list("pk", flat=True)[:200]:
        counts[f"refund_{refund_send(payment_id=payment_id)}"] += 1
    return counts
