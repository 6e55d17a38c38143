"""The payment part of the self check-in page (rules 3.5c): what the page says about
paying, the patient's "new payment" button, the status the page polls while the patient
is in the Swish app, and Swish's callbacks (which only make us read the outcome back)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .checkin import check_in_of
from .models import CheckIn, Message, Payment, PaymentStatus, RefundStatus
from .payments import DESK, NO_FEE, SWISH, payment_kind, payment_refresh, payment_start
from .refunds import refund_send

# Swish's error code for a request nobody answered in time (it expires after minutes).
EXPIRED_CODES = ("TM01",)


def sek(amount: Any) -> str:
    """250.5 → "250,50 kr"."""
    return f"{amount:.2f}".replace(".", ",") + " kr"


def pay_state(check_in: CheckIn | None, payment: Payment | None) -> str:
    """What the page says about paying, one word: desk, no_fee, nothing, preparing,
    waiting, paid, refund, expired, declined, error, cancelled or no_answer."""
    if check_in is None:
        return "nothing"
    if check_in.payment_status == DESK:
        return "desk"
    if check_in.payment_status == NO_FEE:
        return "no_fee"
    if payment is None:
        return "nothing"
    if payment.status == PaymentStatus.PAID:
        return "refund" if payment.refund_status != RefundStatus.NONE else "paid"
    if payment.status == PaymentStatus.STARTED:
        return "preparing"
    if payment.status == PaymentStatus.CREATED:
        return "waiting"
    if payment.status == PaymentStatus.ERROR and payment.reason in EXPIRED_CODES:
        return "expired"
    return str(payment.status)


FINAL_STATES = (
    *("desk", "no_fee", "nothing", "paid", "refund"),
    *("expired", "declined", "error", "cancelled", "no_answer"),
)


def latest_payment(check_in: CheckIn | None, *, refresh: bool) -> Payment | None:
    if check_in is None or check_in.payment_status != SWISH:
        return None
    payment = check_in.payments.order_by("-created_at", "-id").first()
    if (
        payment is not None
        and refresh
        and payment.status
        in (
            PaymentStatus.STARTED,
            PaymentStatus.CREATED,
        )
    ):
        payment = payment_refresh(payment=payment)
    return payment


def pay_context(message: Message, *, refresh: bool = True) -> dict[str, Any]:
    """The page's `pay`: its state, the amount, the link that opens the Swish app."""
    check_in = check_in_of(message)
    payment = latest_payment(check_in, refresh=refresh)
    state = pay_state(check_in, payment)
    fee = message.appointment.patient_fee
    if check_in is None:  # before the check-in: how it will be paid
        kind = payment_kind(message.appointment)
        state = {DESK: "desk", NO_FEE: "no_fee", SWISH: "swish_due"}[kind]
        return {"state": state, "final": True, "amount": sek(fee) if kind == SWISH else ""}
    back = f"{settings.CHECKIN_BASE_URL}{message.checkin_token}/"
    return {
        "state": state,
        "final": state in FINAL_STATES,
        "amount": sek(payment.amount) if payment else "",
        "paid_at": timezone.localtime(payment.paid_at) if payment and payment.paid_at else None,
        "swish_url": (
            f"swish://paymentrequest?token={quote(payment.token, safe='')}"
            f"&callbackurl={quote(back, safe='')}"
            if payment and payment.token
            else ""
        ),
        "refund_done": bool(payment and payment.refund_status == RefundStatus.REFUNDED),
    }


@never_cache
@require_POST
def checkin_pay(request: HttpRequest, token: str) -> HttpResponse:
    """A new payment request after one that ended unpaid (or the open one, never two)."""
    from .views import checkin_message

    message = checkin_message(token)
    check_in = check_in_of(message) if message else None
    if check_in is not None and check_in.payment_status == SWISH:
        payment_start(check_in=check_in)
    return redirect("checkin", token=token) if message else HttpResponse(status=404)


@never_cache
@require_GET
def checkin_pay_status(request: HttpRequest, token: str) -> JsonResponse:
    """Polled by the page while the patient is in the Swish app: the state only."""
    from .views import checkin_message

    message = checkin_message(token)
    if message is None:
        return JsonResponse({"state": "unknown", "final": True}, status=404)
    pay = pay_context(message)
    return JsonResponse({"state": pay["state"], "final": pay["final"]})


def _callback_id(request: HttpRequest) -> str:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return ""
    return str(body.get("id", "")) if isinstance(body, dict) else ""


@csrf_exempt
@require_POST
def swish_callback(request: HttpRequest) -> HttpResponse:
    """Swish's callback of a payment request. Not trusted as such: it only makes us read
    the request back from Swish over mutual TLS. The same callback twice changes nothing."""
    instruction_id = _callback_id(request)
    payment = (
        Payment.objects.filter(instruction_id=instruction_id).first() if instruction_id else None
    )
    if payment is not None:
        payment_refresh(payment=payment, force=True)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def swish_refund_callback(request: HttpRequest) -> HttpResponse:
    """Swish's callback of a refund: read back, like the payment's."""
    refund_id = _callback_id(request)
    payment = Payment.objects.filter(refund_id=refund_id).first() if refund_id else None
    if payment is not None:
        refund_send(payment_id=payment.pk)
    return HttpResponse(status=200)
