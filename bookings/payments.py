"""The payment of a contact at self check-in, as the booking system reads it back
(contract 1 and 2). Payments are taken by an app above this one, which answers through its
AppConfig's `appointment_payment(appointment)`: a dict (status, method, amount, paid_at,
reason, refund, refunded_at, reference) or None when no payment was started."""

from __future__ import annotations

from typing import Any

from django.apps import apps

from .models import Appointment

PAYMENT_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "The payment at self check-in; null when none was started (contract 1).",
    "properties": {
        "method": {"type": "string", "enum": ["swish"]},
        "status": {
            "type": "string",
            "enum": ["started", "created", "paid", "declined", "error", "cancelled", "no_answer"],
        },
        "reason": {"type": "string", "example": "TM01"},
        "amount": {"type": "string", "example": "250.00"},
        "paid_at": {"type": "string", "format": "date-time", "nullable": True},
        "reference": {"type": "string", "description": "Swish's payment reference"},
        "refund": {"type": "string", "enum": ["", "due", "requested", "refunded", "failed"]},
        "refunded_at": {"type": "string", "format": "date-time", "nullable": True},
    },
}


def appointment_payment(appointment: Appointment) -> dict[str, Any] | None:
    for config in apps.get_app_configs():
        hook = getattr(config, "appointment_payment", None)
        if hook is not None:
            found = hook(appointment)
            if found is not None:
                return found  # type: ignore[no-any-return]
    return None
