"""Payment at self check-in (rules 3.5c): what the patient pays comes from the booking
system (`Appointment.patient_fee`), never from the page. `CHECKIN_PAYMENT=swish` and a
clinic with `mobile_payment` take a known fee above 0 with Swish m-commerce; a fee of 0 is
nothing to pay; an unknown fee, or a clinic or region without mobile payment, is paid at
the reception.

A Swish payment request (`Payment`) is made under our own instruction id, written before
Swish is asked, so two taps, two tabs or a retry never make two requests: the check-in's
row lock lets only one open request exist (and a unique index says so too), and only the
process that stamps `requested_at` sends it. The outcome is what Swish says when asked over
mutual TLS (`payment_refresh`); a callback only makes us ask.

    started ──201──▶ created ──read back──▶ paid | declined | error | cancelled
       │ 4xx: error       └── Swish unreachable past SWISH_ANSWER_WINDOW ──▶ no_answer
       └── no answer to the PUT: read back; Swish has none: asked again under the same id;
           Swish has it (but we never got its token): cancelled there, then a new one
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bookings.models import Appointment

from . import rules
from .models import PAYMENT_OPEN, CheckIn, Payment, PaymentStatus
from .swish import SwishRefused, SwishUnavailable, new_instruction_id, swish_client

logger = logging.getLogger(__name__)

DESK, NO_FEE, SWISH = "pay_at_desk", "no_fee", "swish"
# Shown in the payer's Swish app and bank statement: the region only, nothing about the
# patient or the care (a clinic's name can say too much).
SWISH_MESSAGE = "Patientavgift Region Halland"
# Swish's word for each final status, as our status.
OUTCOMES = {
    "PAID": PaymentStatus.PAID,
    "DECLINED": PaymentStatus.DECLINED,
    "ERROR": PaymentStatus.ERROR,
    "CANCELLED": PaymentStatus.CANCELLED,
}
READ_BACK_EVERY = timedelta(seconds=2)  # the page's polls ask Swish at most this often


def payment_kind(appointment: Appointment) -> str:
    """How this contact is paid at self check-in: SWISH, NO_FEE or DESK."""
    fee = appointment.patient_fee
    if settings.CHECKIN_PAYMENT != "swish" or not appointment.clinic.mobile_payment:
        return DESK
    if fee is None:
        return DESK
    return NO_FEE if fee == 0 else SWISH


def callback_url() -> str:
    base: str = settings.PUBLIC_BASE_URL
    return base.rstrip("/") + reverse("swish-callback")


def request_body(payment: Payment) -> dict[str, str]:
    return {
        "payeePaymentReference": f"P{payment.pk}",
        "callbackUrl": callback_url(),
        "payeeAlias": payment.payee_alias,
        "amount": f"{payment.amount:.2f}",
        "currency": "SEK",
        "message": SWISH_MESSAGE,
    }


def refund_due_reason(payment: Payment, appointment: Appointment) -> str:
    """Why a paid payment must be paid back now, or "" (rules 3.5c): the contact is no
    longer the arrival it paid for (`rules.refund_reason`), or the check-in was already
    paid by an earlier request."""
    reason = rules.refund_reason(
        status=appointment.status,
        starts_at=appointment.starts_at,
        checked_in_for=payment.check_in.message.starts_at,
    )
    if reason:
        return reason
    paid_before = (
        Payment.objects.filter(check_in_id=payment.check_in_id, status=PaymentStatus.PAID)
        .exclude(pk=payment.pk)
        .filter(paid_at__lte=payment.paid_at or timezone.now())
    )
    return "paid_twice" if paid_before.exists() else ""


@transaction.atomic
def _open_or_new(check_in: CheckIn) -> Payment | None:
    """The check-in's request that is open, paid or unanswered (no new one beside it),
    else a new one when there is something to pay; None when there is nothing to pay."""
    check_in = (
        CheckIn.objects.select_for_update(of=("self",))
        .select_related("message__appointment__clinic")
        .get(pk=check_in.pk)
    )
    keep = (*PAYMENT_OPEN, PaymentStatus.PAID, PaymentStatus.NO_ANSWER)
    current = check_in.payments.filter(status__in=keep).order_by("-created_at").first()
    if current is not None:
        return current
    appointment = check_in.message.appointment
    fee = appointment.patient_fee
    if payment_kind(appointment) != SWISH or fee is None:
        return None
    if rules.refund_reason(
        status=appointment.status,
        starts_at=appointment.starts_at,
        checked_in_for=check_in.message.starts_at,
    ):
        return None  # the contact is no longer this arrival: nothing to pay for
    clinic = appointment.clinic
    return Payment.objects.create(
        check_in=check_in,
        clinic=clinic,
        instruction_id=new_instruction_id(),
        payee_alias=clinic.swish_payee_alias or settings.SWISH_PAYEE_ALIAS,
        amount=fee,
    )


def payment_start(*, check_in: CheckIn) -> Payment | None:
    """The check-in's payment request: the open one, else a new one asked of Swish. None
    when there is nothing to pay with Swish."""
    payment = _open_or_new(check_in)
    if payment is not None and payment.status == PaymentStatus.STARTED:
        _send(payment)
        payment.refresh_from_db()
    return payment


def _send(payment: Payment) -> None:
    """PUTs the request, once per process that stamps it; the outcome of a PUT nobody
    answered is read back later."""
    now = timezone.now()
    stamped = Payment.objects.filter(
        pk=payment.pk, status=PaymentStatus.STARTED, requested_at__isnull=True
    ).update(requested_at=now, updated_at=now)
    if not stamped:
        return
    try:
        with swish_client() as swish:
            token = swish.payment_request_create(payment.instruction_id, request_body(payment))
    except SwishRefused as refused:
        if refused.status != 409:  # 409: Swish has this id already; read back later
            _end(payment, PaymentStatus.ERROR, refused.code, from_=(PaymentStatus.STARTED,))
        return
    except SwishUnavailable:
        return
    Payment.objects.filter(pk=payment.pk, status=PaymentStatus.STARTED).update(
        status=PaymentStatus.CREATED, token=token, checked_at=now, updated_at=timezone.now()
    )


def _end(payment: Payment, status: str, reason: str, *, from_: tuple[str, ...]) -> bool:
    now = timezone.now()
    return bool(
        Payment.objects.filter(pk=payment.pk, status__in=from_).update(
            status=status, reason=reason, ended_at=now, checked_at=now, updated_at=now
        )
    )


def payment_refresh(*, payment: Payment, force: bool = False) -> Payment:
    """What Swish says of the request now, recorded (at most every READ_BACK_EVERY unless
    `force`). Used by the page's polls, the callback and the tick."""
    payment.refresh_from_db()
    now = timezone.now()
    recent = payment.checked_at is not None and now - payment.checked_at < READ_BACK_EVERY
    if recent and not force:
        return payment
    if payment.status == PaymentStatus.STARTED:
        _resolve_started(payment, now=now)
    elif payment.status in (PaymentStatus.CREATED, PaymentStatus.NO_ANSWER):
        _read_back(payment, now=now)
    payment.refresh_from_db()
    return payment


def _overdue(since: datetime | None, now: datetime) -> bool:
    return since is None or now - since > timedelta(seconds=settings.SWISH_ANSWER_WINDOW)


def _resolve_started(payment: Payment, *, now: datetime) -> None:
    if payment.requested_at is None:
        _send(payment)
        return
    if now - payment.requested_at < timedelta(seconds=settings.SWISH_TIMEOUT + 2):
        return  # its PUT may still be under way
    try:
        with swish_client() as swish:
            found = swish.payment_request_get(payment.instruction_id)
            if found is None:
                # The PUT never reached Swish: ask again under the same id.
                Payment.objects.filter(
                    pk=payment.pk,
                    status=PaymentStatus.STARTED,
                    requested_at=payment.requested_at,
                ).update(requested_at=None)
                _send(payment)
                return
            if found.get("status") == "CREATED":
                # Swish made it but its token never reached us: the app cannot be opened
                # for it, so it is cancelled there before another is made.
                found = swish.payment_request_cancel(payment.instruction_id) or found
                if found.get("status") == "CANCELLED":
                    found = {**found, "errorCode": "token_lost"}
    except (SwishUnavailable, SwishRefused):
        if _overdue(payment.requested_at, now):
            _end(payment, PaymentStatus.NO_ANSWER, "no_answer", from_=(PaymentStatus.STARTED,))
        return
    _apply(payment, found, now=now)


def _read_back(payment: Payment, *, now: datetime) -> None:
    try:
        with swish_client() as swish:
            found = swish.payment_request_get(payment.instruction_id)
    except (SwishUnavailable, SwishRefused):
        found = None
    if found is None:
        Payment.objects.filter(pk=payment.pk).update(checked_at=now)
        if payment.status == PaymentStatus.CREATED and _overdue(payment.requested_at, now):
            _end(payment, PaymentStatus.NO_ANSWER, "no_answer", from_=(PaymentStatus.CREATED,))
        return
    _apply(payment, found, now=now)


def _amount(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _apply(payment: Payment, found: dict[str, object], *, now: datetime) -> None:
    """Records Swish's status of the request. Only an open (or unanswered) request
    changes, so the same outcome read twice is recorded once."""
    status = OUTCOMES.get(str(found.get("status", "")))
    if status is None:
        Payment.objects.filter(pk=payment.pk).update(checked_at=now)
        if payment.status == PaymentStatus.CREATED and _overdue(payment.requested_at, now):
            _end(payment, PaymentStatus.NO_ANSWER, "no_answer", from_=(PaymentStatus.CREATED,))
        return
    from_ = (*PAYMENT_OPEN, PaymentStatus.NO_ANSWER)
    if status != PaymentStatus.PAID:
        reason = str(found.get("errorCode") or status.upper())
        _end(payment, status, reason, from_=from_)
        return
    if _amount(found.get("amount")) != payment.amount:
        logger.error(
            "Swish paid %s for payment %s of %s", found.get("amount"), payment.pk, payment.amount
        )
    paid_at = parse_datetime(str(found.get("datePaid") or "")) or now
    with transaction.atomic():
        changed = Payment.objects.filter(pk=payment.pk, status__in=from_).update(
            status=PaymentStatus.PAID,
            reason="",
            payment_reference=str(found.get("paymentReference") or "")[:64],
            payer_alias=str(found.get("payerAlias") or "")[:16],
            paid_at=paid_at,
            ended_at=now,
            checked_at=now,
            updated_at=now,
        )
        if not changed:
            return
        from .refunds import refund_decide

        refund_decide(payment_id=payment.pk)
