"""The patient's fee on a FHIR Appointment (contract 2, rules 3.5c): one extension,
`EXTENSION_PATIENT_FEE` with a `valueMoney` in SEK, read by `appointment_input` and written
by `appointment_resource`; and, read back only, the payment at self check-in
(`EXTENSION_PATIENT_PAYMENT`, from the app that takes payments). Self-contained so the
Appointment mapping only calls `patient_fee_of` and `fee_extensions`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fhir.resources.R4B.appointment import Appointment as FhirAppointment

from ..models import Appointment
from ..payments import appointment_payment
from .outcome import unprocessable

EXTENSION_PATIENT_FEE = "urn:sms-paminnelser:fhir:extension:patient-fee"
EXTENSION_PATIENT_PAYMENT = "urn:sms-paminnelser:fhir:extension:patient-payment"


def patient_fee_of(resource: FhirAppointment) -> Decimal | None:
    """The fee in SEK the Appointment carries; None (unknown) when it carries none."""
    for i, extension in enumerate(resource.extension or []):
        if extension.url != EXTENSION_PATIENT_FEE:
            continue
        money = extension.valueMoney
        where = f"Appointment.extension[{i}]"
        if money is None or money.value is None or (money.currency or "SEK") != "SEK":
            raise unprocessable(
                "Patientavgiften ska vara valueMoney med value och currency SEK.",
                code="invalid_fee",
                expression=where,
            )
        try:
            fee = Decimal(str(money.value))
            ok = fee >= 0 and fee == fee.quantize(Decimal("0.01")) and fee < 1_000_000
        except InvalidOperation:
            ok = False
        if not ok:
            raise unprocessable(
                "Patientavgiften ska vara 0 eller mer, i kronor med högst två decimaler.",
                code="invalid_fee",
                expression=where,
            )
        return fee.quantize(Decimal("0.01"))
    return None


def fee_extensions(appointment: Appointment) -> list[dict[str, Any]]:
    """The extensions of the stored contact: its fee (when known) and its payment (when a
    payment was started at self check-in)."""
    out: list[dict[str, Any]] = []
    if appointment.patient_fee is not None:
        out.append(
            {
                "url": EXTENSION_PATIENT_FEE,
                "valueMoney": {"value": float(appointment.patient_fee), "currency": "SEK"},
            }
        )
    payment = appointment_payment(appointment)
    if payment is not None:
        parts: list[dict[str, Any]] = [
            {"url": "status", "valueCode": payment["status"]},
            {"url": "method", "valueCode": payment["method"]},
        ]
        if payment.get("amount") is not None:
            parts.append(
                {
                    "url": "amount",
                    "valueMoney": {"value": float(payment["amount"]), "currency": "SEK"},
                }
            )
        if payment.get("paid_at"):
            parts.append({"url": "paidAt", "valueDateTime": payment["paid_at"]})
        if payment.get("reason"):
            parts.append({"url": "reason", "valueCode": payment["reason"]})
        if payment.get("refund"):
            parts.append({"url": "refund", "valueCode": payment["refund"]})
        if payment.get("refunded_at"):
            parts.append({"url": "refundedAt", "valueDateTime": payment["refunded_at"]})
        if payment.get("reference"):
            parts.append({"url": "reference", "valueString": payment["reference"]})
        out.append({"url": EXTENSION_PATIENT_PAYMENT, "extension": parts})
    return out
