"""Payment at self check-in is a plug-in (rules 3.5): `CHECKIN_PAYMENT_BACKEND` names a class
with `start(appointment) -> PaymentResult`. The default records "pay at the desk"; a real
backend (Swish, card) would return a redirect URL and report back through its own webhook."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from bookings.models import Appointment


@dataclass(frozen=True)
class PaymentResult:
    status: str  # "pay_at_desk", "paid", "redirect"
    message: str  # shown to the patient, in Swedish
    reference: str = ""
    redirect_url: str = ""


class PayAtDesk:
    name = "pay_at_desk"

    def start(self, appointment: Appointment) -> PaymentResult:
        return PaymentResult(
            status="pay_at_desk",
            message="Betala i receptionen eller med fakturan som kommer hem.",
        )


def payment_backend() -> PayAtDesk:
    return import_string(settings.CHECKIN_PAYMENT_BACKEND)()  # type: ignore[no-any-return]
